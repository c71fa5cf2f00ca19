//! Fused spectral normalisation of one weight (`shaders/spectral_norm.wgsl`), the kernels behind
//! [`nn::SpectralNorm`](crate::nn::SpectralNorm): the power-iteration update, σ = uᵀW₂v and W/σ
//! in one dispatch, and the gradient through W/σ (u, v constant) in one more.
//!
//! One workgroup of [`THREADS`] threads per weight. Every pass over W₂ costs each thread about
//! `numel / THREADS` loop trips, three passes forward and two backward, so on software adapters a
//! weight of up to ~5 M elements fits the loop budget (SNGAN's largest, 256×2304, takes ~7 000);
//! larger ones are refused.

use crate::runtime::{DeviceClass, Res};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};
use std::cell::Cell;

kernel!(FORWARD = "spectral_norm"::"forward" [Read, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite, ReadWrite]);
kernel!(BACKWARD = "spectral_norm"::"backward" [Read, Read, Read, Read, Read, ReadWrite]);

/// Threads of the one workgroup (`WG` in the shader; a power of two).
pub const THREADS: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    la: u32,
    lb: u32,
    eps: f32,
    _pad: [u32; 3],
}

/// log2 of the threads per column (`la`, column passes) and per row (`lb`, row passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Split {
    la: u32,
    lb: u32,
}

thread_local! {
    static FORCED: Cell<Option<DeviceClass>> = const { Cell::new(None) };
}

/// While alive, spectral norms on this thread split their work as on adapters of this class.
pub struct SplitGuard(Option<DeviceClass>);

impl Drop for SplitGuard {
    fn drop(&mut self) {
        FORCED.with(|c| c.set(self.0));
    }
}

/// Splits work as for `class` until the guard drops, whatever the adapter (tests run the GPU
/// split on lavapipe). The loop budget stays the adapter's.
pub fn force_split(class: DeviceClass) -> SplitGuard {
    SplitGuard(FORCED.with(|c| c.replace(Some(class))))
}

fn bufs(ts: &[&Tensor]) -> Vec<Res> {
    ts.iter().map(|t| Res::Buf(t.buf().clone())).collect()
}

/// `⌈log2 x⌉`.
fn log2_up(x: usize) -> u32 {
    x.next_power_of_two().trailing_zeros()
}

/// Enough threads per row (column) that one pass covers all rows (columns) when there are fewer
/// than [`THREADS`]: on lavapipe nothing more, since every level of a segment tree is a barrier,
/// i.e. a coroutine switch per 8-lane group. On GPUs rows get at least a warp of 32 threads so
/// that the loads along a row coalesce; columns are contiguous across threads already.
fn split(class: DeviceClass, rows: usize, cols: usize) -> Split {
    let wg = THREADS.trailing_zeros();
    let la = wg.saturating_sub(log2_up(cols));
    let lb = wg.saturating_sub(log2_up(rows));
    match class {
        DeviceClass::Software => Split { la, lb },
        DeviceClass::Gpu => Split {
            la,
            lb: lb.max(log2_up(cols).min(5)),
        },
    }
}

/// Loop trips (each loop counted as trips + 1) of one thread in `(forward, backward)`, mirroring
/// the shader's loops.
fn loop_cost(rows: usize, cols: usize, s: Split, train: bool) -> (u64, u64) {
    let (t, r, c) = (THREADS as u64, rows as u64, cols as u64);
    let (la, lb) = (1u64 << s.la, 1u64 << s.lb);
    let seg = |lg: u32| if lg == 0 { 0 } else { lg as u64 + 1 };
    let tree = t.trailing_zeros() as u64 + 1;
    let (pa, pb) = (c.div_ceil(t / la), r.div_ceil(t / lb));
    let row_pass = pb + 1 + pb * (c.div_ceil(lb) + 1 + seg(s.lb));
    let update = match train {
        true => {
            (pa + 1) + pa * (r.div_ceil(la) + 1 + seg(s.la)) + tree + (pa + 1) + tree + (pb + 1)
        }
        false => c.div_ceil(t) + 1,
    };
    let forward = update + row_pass + tree + (r * c).div_ceil(t) + 1;
    let backward = 2 * (pb + 1 + pb * (c.div_ceil(lb) + 1)) + tree;
    (forward, backward)
}

/// `W / σ` for `w` viewed as `[rows, numel / rows]` (`rows = shape[0]`), σ = uᵀW₂v, with the
/// vectors `u [rows]`, `v [numel / rows]` of the module's state. `train`: one power iteration
/// first, written to `u` and `v` in place. Differentiable in `w`, with the σ and the u, v of this
/// call held constant (copies, so later updates of the state do not reach this gradient).
pub(crate) fn spectral_norm(
    w: &Tensor,
    u: &Tensor,
    v: &Tensor,
    eps: f32,
    train: bool,
) -> Result<Tensor> {
    const OP: &str = "spectral_norm";
    w.expect_f32(OP)?;
    let (rows, cols) = (w.shape()[0], w.numel() / w.shape()[0]);
    if u.shape() != [rows] || v.shape() != [cols] {
        return Err(Error::Shape {
            op: OP,
            lhs: w.shape().to_vec(),
            rhs: vec![u.numel(), v.numel()],
        });
    }
    let dev = w.device();
    let class = FORCED.with(Cell::get).unwrap_or(dev.class());
    let s = split(class, rows, cols);
    let (fwd_cost, bwd_cost) = loop_cost(rows, cols, s, train);
    let budget = dev.loop_budget();
    if fwd_cost.max(bwd_cost) > budget {
        return Err(Error::Invalid {
            op: OP,
            msg: format!(
                "a {rows}x{cols} weight needs {} loop iterations per invocation, more than this \
                 adapter runs ({budget}; llvmpipe/lavapipe stop every loop after 65535 in total)",
                fwd_cost.max(bwd_cost)
            ),
        });
    }
    let p = Params {
        rows: rows as u32,
        cols: cols as u32,
        la: s.la,
        lb: s.lb,
        eps,
        _pad: [0; 3],
    };
    let u_out = Tensor::empty(dev, OP, &[rows], DType::F32)?;
    let v_out = Tensor::empty(dev, OP, &[cols], DType::F32)?;
    let sigma = Tensor::empty(dev, OP, &[1], DType::F32)?;
    let y = Tensor::empty(dev, OP, w.shape(), DType::F32)?;
    dev.dispatch(
        OP,
        &FORWARD,
        &[("WG", THREADS as f64), ("TRAIN", train as u32 as f64)],
        bytemuck::bytes_of(&p),
        bufs(&[w, u, v, &u_out, &v_out, &sigma, &y]),
        [1, 1, 1],
        &[
            (y.buf(), y.numel()),
            (sigma.buf(), 1),
            (u_out.buf(), rows),
            (v_out.buf(), cols),
        ],
    )?;
    let w_saved = w.detach();
    Ok(y.with_grad1(OP, w, move |g| {
        let dev = g.device();
        let dw = Tensor::empty(dev, "spectral_norm_bw", w_saved.shape(), DType::F32)?;
        dev.dispatch(
            "spectral_norm_bw",
            &BACKWARD,
            &[("WG", THREADS as f64)],
            bytemuck::bytes_of(&p),
            bufs(&[g, &w_saved, &u_out, &v_out, &sigma, &dw]),
            [1, 1, 1],
            &[(dw.buf(), dw.numel())],
        )?;
        Ok(dw)
    }))
}
