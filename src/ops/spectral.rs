//! Spectral norms and SVDs of stacks of small matrices (`shaders/spectral.wgsl`), for gSR's
//! per-class, per-layer spectral regularizer: every class of every layer is one matrix of the
//! stack, so a whole power-iteration update is one dispatch.
//!
//! - [`PowerIteration`]: warm-started power iteration with persistent `u`, `v` (SN-GAN style);
//!   `σ = uᵀ W v` is differentiable in `W` with `u`, `v` held constant.
//! - [`svd`]: exact thin SVD by one-sided Jacobi, for logging and evaluation (no gradient).

use crate::runtime::{grid_1d, Device, Kernel, Res, SOFTWARE_LOOP_BUDGET, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(POWER = "spectral"::"power_iter" [Read, Read, Read, ReadWrite, ReadWrite, ReadWrite]);
kernel!(OUTER = "spectral"::"outer" [Read, Read, Read, ReadWrite]);
kernel!(SVD_START = "spectral"::"svd_start" [Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite]);
kernel!(SVD_SWEEP = "spectral"::"svd_sweep" [Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite]);
kernel!(SVD_FINISH = "spectral"::"svd_finish" [Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite]);

/// An error for a matrix whose smallest unit of work exceeds the software loop budget.
fn too_big(op: &'static str, rows: usize, cols: usize) -> Error {
    Error::Invalid {
        op,
        msg: format!(
            "{rows}x{cols} matrices need more than {} loop iterations per invocation, \
             which llvmpipe/lavapipe cannot run (its shaders stop every loop after 65535 in total)",
            SOFTWARE_LOOP_BUDGET
        ),
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    batch: u32,
    rows: u32,
    cols: u32,
    iters: u32,
    eps: f32,
    trans: u32,
    step0: u32,
    step1: u32,
}

/// `[batch, rows, cols]` of a rank-3 f32 tensor.
fn dims3(op: &'static str, w: &Tensor) -> Result<(usize, usize, usize)> {
    w.expect_f32(op)?;
    match *w.shape() {
        [b, r, c] => Ok((b, r, c)),
        _ => Err(Error::Invalid {
            op,
            msg: format!(
                "expects a [batch, rows, cols] stack, got shape {:?}",
                w.shape()
            ),
        }),
    }
}

/// Batched power iteration over `W [batch, rows, cols]` with persistent, warm-started vectors
/// `u [batch, rows]`, `v [batch, cols]`. Each iteration is `v ← normalize(Wᵀu)`,
/// `u ← normalize(Wv)` with `normalize(a) = a / max(‖a‖₂, eps)` (the order and eps of gSR's
/// code), and [`PowerIteration::sigma`] returns `σ_b = u_bᵀ W_b v_b` with gradient
/// `g_b · u_b v_bᵀ` (SN-GAN: `u`, `v` are constants of the graph).
///
/// Each call replaces `u` and `v` by fresh tensors instead of overwriting them, so the backward of
/// a σ always uses the vectors its own forward produced, even after later calls.
pub struct PowerIteration {
    u: Tensor,
    v: Tensor,
    iters: u32,
    eps: f32,
}

/// splitmix64: a deterministic host-side init without a rand dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `batch` unit vectors of length `len` from N(0, 1) (Box-Muller), as gSR initializes them.
fn unit_normals(state: &mut u64, batch: usize, len: usize) -> Vec<f32> {
    let uniform = |s: &mut u64| ((splitmix(s) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut out = Vec::with_capacity(batch * len);
    for _ in 0..batch {
        let row: Vec<f64> = (0..len)
            .map(|_| {
                let (a, b) = (uniform(state), uniform(state));
                (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
            })
            .collect();
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        out.extend(row.iter().map(|x| (x / norm) as f32));
    }
    out
}

/// Splits `iters` power iterations into per-dispatch counts whose loop iterations (the kernel's
/// loops, counted as trips + 1 per loop entry) fit `budget`.
fn iteration_chunks(budget: u64, rows: usize, cols: usize, iters: u32) -> Result<Vec<u32>> {
    if budget == u64::MAX {
        return Ok(vec![iters]);
    }
    let (r, c) = (rows as u64, cols as u64);
    let fixed = 2 * (r + c + 2) + 16; // copy-in and final normalization
    let per_iter = c * (r + 2) + r * (c + 2) + 3;
    if iters == 0 {
        return match fixed + r * (c + 2) < budget {
            true => Ok(vec![0]),
            false => Err(too_big("power_iteration", rows, cols)),
        };
    }
    let per_dispatch = budget.saturating_sub(fixed) / per_iter;
    if per_dispatch == 0 {
        return Err(too_big("power_iteration", rows, cols));
    }
    let per_dispatch = per_dispatch.min(u32::MAX as u64) as u32;
    let mut left = iters;
    let mut chunks = Vec::new();
    while left > 0 {
        chunks.push(left.min(per_dispatch));
        left -= left.min(per_dispatch);
    }
    Ok(chunks)
}

impl PowerIteration {
    /// State for a `[batch, rows, cols]` stack: `u`, `v` are seeded N(0, 1) draws normalized to
    /// unit length. `iters` is the per-call iteration count (gSR: 4, with 40 on the first call via
    /// [`PowerIteration::sigma_iters`]); `eps` the normalization floor (gSR: 1e-3).
    pub fn new(
        dev: &Device,
        batch: usize,
        rows: usize,
        cols: usize,
        seed: u64,
        iters: u32,
        eps: f32,
    ) -> Result<PowerIteration> {
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::Invalid {
                op: "power_iteration",
                msg: format!("eps must be positive and finite, got {eps}"),
            });
        }
        let mut state = seed;
        let u = unit_normals(&mut state, batch, rows);
        let v = unit_normals(&mut state, batch, cols);
        Ok(PowerIteration {
            u: Tensor::from_slice(dev, &u, &[batch, rows])?,
            v: Tensor::from_slice(dev, &v, &[batch, cols])?,
            iters,
            eps,
        })
    }

    /// `iters` iterations (see [`PowerIteration::sigma_iters`]).
    pub fn sigma(&mut self, w: &Tensor) -> Result<Tensor> {
        self.sigma_iters(w, self.iters)
    }

    /// Runs `iters` iterations on `w [batch, rows, cols]`, keeps the new `u`, `v`, and returns
    /// `σ [batch]`, differentiable in `w`. `iters = 0` evaluates `uᵀWv` of the stored vectors
    /// without updating them. One dispatch (plus one in backward); on software devices one per
    /// chunk of iterations that fits the loop budget (a 16x16 stack fits ~100 per dispatch).
    pub fn sigma_iters(&mut self, w: &Tensor, iters: u32) -> Result<Tensor> {
        let (batch, rows, cols) = dims3("power_iteration", w)?;
        if [batch, rows] != *self.u.shape() || [batch, cols] != *self.v.shape() {
            return Err(Error::Shape {
                op: "power_iteration",
                lhs: w.shape().to_vec(),
                rhs: vec![self.u.shape()[0], self.u.shape()[1], self.v.shape()[1]],
            });
        }
        let dev = w.device();
        let chunks = iteration_chunks(dev.loop_budget(), rows, cols, iters)?;
        let sigma = Tensor::empty(dev, "power_iteration", &[batch], DType::F32)?;
        let p = Params {
            batch: batch as u32,
            rows: rows as u32,
            cols: cols as u32,
            iters: 0,
            eps: self.eps,
            trans: 0,
            step0: 0,
            step1: 0,
        };
        for iters in chunks {
            let u = Tensor::empty(dev, "power_iteration", &[batch, rows], DType::F32)?;
            let v = Tensor::empty(dev, "power_iteration", &[batch, cols], DType::F32)?;
            dev.dispatch(
                "power_iteration",
                &POWER,
                &[],
                bytemuck::bytes_of(&Params { iters, ..p }),
                [w, &self.u, &self.v, &u, &v, &sigma]
                    .iter()
                    .map(|t| Res::Buf(t.buf().clone()))
                    .collect(),
                grid_1d(batch, WG),
                &[
                    (u.buf(), u.numel()),
                    (v.buf(), v.numel()),
                    (sigma.buf(), batch),
                ],
            )?;
            (self.u, self.v) = (u, v);
        }
        let (u, v) = (self.u.clone(), self.v.clone());
        Ok(sigma.with_grad1("power_iteration", w, move |g| {
            let dw = Tensor::empty(
                g.device(),
                "power_iteration_bw",
                &[batch, rows, cols],
                DType::F32,
            )?;
            let n = dw.numel();
            g.device().dispatch(
                "power_iteration_bw",
                &OUTER,
                &[],
                bytemuck::bytes_of(&p),
                [g, &u, &v, &dw]
                    .iter()
                    .map(|t| Res::Buf(t.buf().clone()))
                    .collect(),
                grid_1d(n, WG),
                &[(dw.buf(), n)],
            )?;
            Ok(dw)
        }))
    }

    /// Left vectors `[batch, rows]` (for checkpoints).
    pub fn u(&self) -> &Tensor {
        &self.u
    }

    /// Right vectors `[batch, cols]` (for checkpoints).
    pub fn v(&self) -> &Tensor {
        &self.v
    }

    /// Restores `u`, `v` from a checkpoint (shapes must match the current ones).
    pub fn set_state(&mut self, u: Tensor, v: Tensor) -> Result<()> {
        for (new, old) in [(&u, &self.u), (&v, &self.v)] {
            new.expect_f32("power_iteration")?;
            if new.shape() != old.shape() {
                return Err(Error::Shape {
                    op: "power_iteration",
                    lhs: new.shape().to_vec(),
                    rhs: old.shape().to_vec(),
                });
            }
        }
        (self.u, self.v) = (u.detach(), v.detach());
        Ok(())
    }
}

/// Largest `rows` and `cols` that [`svd`] accepts: one invocation does O(k²·max(rows, cols))
/// work per sweep, so bigger matrices would stall a GPU (or a CPU core) for too long.
pub const SVD_MAX_DIM: usize = 64;
/// Default rotation threshold of [`svd`]: columns j, k count as orthogonal once
/// `|a_jᵀa_k| ≤ tol · ‖a_j‖ ‖a_k‖`; a few f32 ulps, reachable by f32 dot products of ≤ 64 terms.
pub const SVD_TOL: f32 = 4.0 * f32::EPSILON;
/// Default sweep cap of [`svd`] (≤ 64×64 matrices converge in about 6-10 sweeps).
pub const SVD_SWEEPS: u32 = 30;
/// Largest sweep cap [`svd_with`] accepts (Jacobi converges quadratically; more never helps).
pub const SVD_MAX_SWEEPS: u32 = 1000;

/// Thin SVD of each matrix of `w [batch, rows, cols]`: `(s [batch, k], U [batch, rows, k],
/// V [batch, cols, k])` with `k = min(rows, cols)`, `W = U diag(s) Vᵀ`, `s` descending.
/// See [`svd_with`]; uses [`SVD_TOL`] and [`SVD_SWEEPS`].
pub fn svd(w: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    svd_with(w, SVD_TOL, SVD_SWEEPS)
}

/// Splits `steps` steps of cost `cost(step)` into ranges whose sum, plus `base` per range, fits
/// `budget` (a single range when the budget is unlimited).
fn ranges(budget: u64, steps: u64, base: u64, cost: impl Fn(u64) -> u64) -> Vec<(u32, u32)> {
    if budget == u64::MAX {
        return vec![(0, steps as u32)];
    }
    let mut out = Vec::new();
    let (mut start, mut spent) = (0, base);
    for step in 0..steps {
        let c = cost(step);
        debug_assert!(base + c <= budget, "one step exceeds the loop budget");
        if spent + c > budget {
            out.push((start as u32, step as u32));
            (start, spent) = (step, base);
        }
        spent += c;
    }
    out.push((start as u32, steps as u32));
    out
}

/// The dispatches of an SVD of m x n (m >= n) working matrices: (kernel, step ranges). Costs
/// mirror the loops of `shaders/spectral.wgsl`, each loop counted as trips + 1, plus 2 a step.
fn svd_plan(budget: u64, m: u64, n: u64, sweeps: u32) -> Vec<(&'static Kernel, Vec<(u32, u32)>)> {
    let rotations = sweeps as u64 * (n * (n - 1) / 2);
    let rotate = 2 * (m + 1) + (n + 1) + 2;
    let column = |j: u64| {
        let sort = (n - j + 1) + (m + 1) + (n + 1);
        let complete = m * (j + 2) + 1 + (m + 1) + 2 * (j * (2 * m + 3) + 1) + 1 + 2 * (m + 1);
        let renorm = 2 * (n + 1);
        let sign = (m.max(n) + 1) + (m + 1) + (n + 1);
        sort + (m + 1) + complete + renorm + sign + 2
    };
    let mut plan = vec![(&SVD_START, vec![(0, 0)])];
    if rotations > 0 {
        plan.push((&SVD_SWEEP, ranges(budget, rotations, n + 8, |_| rotate)));
    }
    // The first finishing range also computes the column norms.
    let finish = ranges(budget, n, n * (m + 2) + 8, column);
    plan.push((&SVD_FINISH, finish));
    plan
}

/// [`svd`] with an explicit rotation threshold and sweep cap. One-sided Jacobi (Hestenes), one
/// invocation per matrix, three dispatches on GPUs (start, sweeps, finish); on software devices
/// the sweeps and the finish are cut into ranges under the loop budget (60×16×16 with 30 sweeps:
/// 6 dispatches; 40×32: 34; 64×64: 215, most of them no-ops once every matrix has converged).
/// Signs: the largest-magnitude entry of each column of V is positive (the first one on ties),
/// and U follows. A numerically null singular value (below ~1e-15 · max|W|) gets a unit U (or V)
/// column orthogonal to the others. No gradient: the outputs are not part of the graph (use
/// [`PowerIteration`] for a differentiable σ_max).
pub fn svd_with(w: &Tensor, tol: f32, max_sweeps: u32) -> Result<(Tensor, Tensor, Tensor)> {
    let (batch, rows, cols) = dims3("svd", w)?;
    if rows.max(cols) > SVD_MAX_DIM {
        return Err(Error::Invalid {
            op: "svd",
            msg: format!(
                "{rows}x{cols} matrices are too large: rows and cols must be <= {SVD_MAX_DIM}"
            ),
        });
    }
    if !(tol.is_finite() && tol >= 0.0) || max_sweeps > SVD_MAX_SWEEPS {
        return Err(Error::Invalid {
            op: "svd",
            msg: format!("needs a finite tol >= 0 and max_sweeps <= {SVD_MAX_SWEEPS}, got {tol}, {max_sweeps}"),
        });
    }
    let dev = w.device();
    let k = rows.min(cols);
    let s = Tensor::empty(dev, "svd", &[batch, k], DType::F32)?;
    let u = Tensor::empty(dev, "svd", &[batch, rows, k], DType::F32)?;
    let v = Tensor::empty(dev, "svd", &[batch, cols, k], DType::F32)?;
    let aux = Tensor::empty(dev, "svd", &[batch, 4], DType::F32)?;
    let trans = rows < cols;
    // The kernel orthogonalizes the tall side's columns in `a` and accumulates rotations in `r`.
    let (a, r) = if trans { (&v, &u) } else { (&u, &v) };
    let (m, n) = (rows.max(cols) as u64, k as u64);
    let plan = svd_plan(dev.loop_budget(), m, n, max_sweeps);
    for (kernel, steps) in &plan {
        for &(step0, step1) in steps {
            let p = Params {
                batch: batch as u32,
                rows: rows as u32,
                cols: cols as u32,
                iters: 0,
                eps: tol,
                trans: trans as u32,
                step0,
                step1,
            };
            // Outputs are complete (and worth a NaN check) only after the last dispatch.
            let last = std::ptr::eq(*kernel, &SVD_FINISH) && step1 as u64 == n;
            dev.dispatch(
                "svd",
                kernel,
                &[],
                bytemuck::bytes_of(&p),
                [w, a, r, &s, &aux]
                    .iter()
                    .map(|t| Res::Buf(t.buf().clone()))
                    .collect(),
                grid_1d(batch, WG),
                &[
                    (s.buf(), s.numel()),
                    (a.buf(), a.numel()),
                    (r.buf(), r.numel()),
                ][..3 * last as usize],
            )?;
        }
    }
    Ok((s, u, v))
}
