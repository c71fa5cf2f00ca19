//! gSR, group spectral regularization of G's class-conditional BN tables (methods.md §2.3–2.5).
//!
//! Each CBN layer l has tables E0 (γ_y = gain − 1) and E1 (β_y) of shape [K, C]. Every class row
//! is reshaped row-major into an `n_g × n_c` matrix (n_g = the largest divisor of C that is
//! ≤ √C); all L·2·K matrices form one `[L·2·K, n_g, n_c]` stack, and one batched
//! [`PowerIteration`] call (40 iterations on the first call, then 4, eps 1e-3, warm-started)
//! estimates σ = uᵀWv, differentiable into the table rows with u, v constant. Then
//! `R = weight · Σ_l Σ_y λ̂_y (σ_Γ(l,y)² + σ_B(l,y)²) / (L·K)` with λ̂ the effective-number
//! weights (β 0.999) normalised to mean 1, so `λ_y = weight · λ̂_y` is the code's λ_y
//! (weight = λ_gSR = 0.5). The caller adds R to the G loss as is.
//!
//! [`GsrVariant::BetaSlip`] reproduces the official code's slip: the β matrices' left vector is
//! updated from the γ matrix's right vector, `u_B ← nrm(W_B v_Γ)`; it runs the iteration with
//! elementwise ops instead of the fused kernel. [`Grouping::Ungrouped`] is the §2.5 ablation: each
//! whole K×C table is one matrix and `R = weight · Σ_{l, table} σ` (the plain 2-norm, no λ, no
//! square, no 1/(L·K)).

use crate::autograd::no_grad;
use crate::data::long_tail::effective_weights;
use crate::nn::CondBatchNorm2d;
use crate::ops::spectral::PowerIteration;
use crate::tensor::DType;
use crate::{Device, Error, Result, Tensor};
use serde::{Deserialize, Serialize};

const OP: &str = "gsr";
const NAMES: [&str; 2] = ["gsr.u", "gsr.v"];

/// Which power iteration runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GsrVariant {
    /// `v ← nrm(Wᵀu)`, `u ← nrm(Wv)` for every matrix (default).
    Correct,
    /// The official code: β's `u ← nrm(W_B v_Γ)`, with γ's freshly updated v of the same class
    /// and layer (for parity studies).
    BetaSlip,
}

/// How a table becomes matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    /// One `n_g × n_c` matrix per class (gSR).
    Grouped,
    /// One K×C matrix per table (the §2.5 "no grouping" ablation).
    Ungrouped,
}

/// A TOML table (`[gsr]` of a GAN run); unknown keys are errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GsrConfig {
    /// λ_gSR (`sn_reg_weight`): 0.5 for the CIFAR/LSUN configs.
    pub weight: f32,
    /// β of the effective numbers (0.999 SNGAN, 0.99 BigGAN).
    pub beta: f64,
    /// Iterations of the first call (10 × `iters`).
    pub first_iters: u32,
    /// Iterations of later calls.
    pub iters: u32,
    /// Normalisation floor of the iteration.
    pub eps: f32,
    pub variant: GsrVariant,
    pub grouping: Grouping,
}

impl Default for GsrConfig {
    fn default() -> GsrConfig {
        GsrConfig {
            weight: 0.5,
            beta: 0.999,
            first_iters: 40,
            iters: 4,
            eps: 1e-3,
            variant: GsrVariant::Correct,
            grouping: Grouping::Grouped,
        }
    }
}

/// `(n_g, n_c)`: n_g the largest divisor of `c` with n_g² ≤ c (1 for c = 0) (§2.3: 256 → 16×16, 384 → 16×24).
pub fn group_shape(c: usize) -> (usize, usize) {
    let g = (1..=c)
        .take_while(|g| g * g <= c)
        .filter(|&g| c.is_multiple_of(g))
        .last()
        .unwrap_or(1);
    (g, c / g)
}

/// The gSR regularizer: persistent power-iteration state over all tables of G's CBN layers.
pub struct Gsr {
    cfg: GsrConfig,
    power: PowerIteration,
    /// `[layers, 2, m, rows, cols]`: m = K grouped, 1 ungrouped.
    dims: [usize; 5],
    /// λ̂ tiled over the stack `[L·2·K]` (grouped only).
    lambda: Option<Tensor>,
    warm: bool,
    sigmas: Option<Tensor>,
}

impl Gsr {
    /// For `layers` CBN layers sharing one [K, C] table shape; `counts` are the K training class
    /// counts; `seed` seeds u, v (N(0, 1), unit length).
    pub fn new(
        dev: &Device,
        layers: &[&CondBatchNorm2d],
        counts: &[usize],
        cfg: GsrConfig,
        seed: u64,
    ) -> Result<Gsr> {
        let shape = layers.first().map(|l| l.e0.shape().to_vec());
        let (k, c) = match shape.as_deref() {
            Some(&[k, c]) if k == counts.len() && k > 0 && c > 0 => (k, c),
            _ => {
                return Err(Error::Invalid {
                    op: OP,
                    msg: format!("needs ≥ 1 layer with [K, C] tables, K = {}", counts.len()),
                })
            }
        };
        if let Some(l) = layers
            .iter()
            .flat_map(|l| [&l.e0, &l.e1])
            .find(|t| t.shape() != [k, c])
        {
            return Err(Error::Shape {
                op: OP,
                lhs: vec![k, c],
                rhs: l.shape().to_vec(),
            });
        }
        let dims = match cfg.grouping {
            Grouping::Grouped => {
                let (g, n) = group_shape(c);
                [layers.len(), 2, k, g, n]
            }
            Grouping::Ungrouped => [layers.len(), 2, 1, k, c],
        };
        let lambda = match cfg.grouping {
            Grouping::Grouped => {
                let lam = effective_weights(counts, cfg.beta);
                let tiled: Vec<f32> = lam
                    .iter()
                    .cycle()
                    .take(2 * layers.len() * k)
                    .copied()
                    .collect();
                Some(Tensor::from_slice(dev, &tiled, &[tiled.len()])?)
            }
            Grouping::Ungrouped => None,
        };
        let power = PowerIteration::new(
            dev,
            dims[0] * 2 * dims[2],
            dims[3],
            dims[4],
            seed,
            cfg.iters,
            cfg.eps,
        )?;
        Ok(Gsr {
            cfg,
            power,
            dims,
            lambda,
            warm: false,
            sigmas: None,
        })
    }

    pub fn config(&self) -> &GsrConfig {
        &self.cfg
    }

    /// `[L·2·m, rows, cols]`: the tables in order (l, γ/β, class), differentiable.
    fn stack(&self, layers: &[&CondBatchNorm2d]) -> Result<Tensor> {
        let [l, _, m, r, c] = self.dims;
        if layers.len() != l {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("built for {l} layers, got {}", layers.len()),
            });
        }
        let parts: Vec<&Tensor> = layers.iter().flat_map(|x| [&x.e0, &x.e1]).collect();
        Tensor::concat(&parts, 0)?.reshape(&[l * 2 * m, r, c])
    }

    /// R for the current tables (one call of the iteration: 40 iterations the first time, then
    /// 4). Differentiable into every table; records σ for [`Gsr::sigmas`].
    pub fn regularize(&mut self, layers: &[&CondBatchNorm2d]) -> Result<Tensor> {
        let w = self.stack(layers)?;
        let iters = match self.warm {
            true => self.cfg.iters,
            false => self.cfg.first_iters,
        };
        let sigma = match self.cfg.variant {
            GsrVariant::Correct => self.power.sigma_iters(&w, iters)?,
            GsrVariant::BetaSlip => {
                let (u, v) = self.slipped(&w, iters)?;
                self.power.set_state(u, v)?;
                self.power.sigma_iters(&w, 0)?
            }
        };
        self.warm = true;
        let [l, _, m, _, _] = self.dims;
        self.sigmas = Some(sigma.detach().reshape(&[l, 2, m])?);
        match &self.lambda {
            Some(lam) => sigma
                .mul(&sigma)?
                .mul(lam)?
                .sum_all()?
                .scale(self.cfg.weight / (l * m) as f32),
            None => sigma.sum_all()?.scale(self.cfg.weight),
        }
    }

    /// The official code's iteration with the β-branch slip, without a graph: `(u, v)`.
    fn slipped(&self, w: &Tensor, iters: u32) -> Result<(Tensor, Tensor)> {
        let _guard = no_grad();
        let [l, _, m, r, c] = self.dims;
        let n = l * 2 * m;
        let w = w.detach();
        let eps = self.cfg.eps;
        let nrm = |a: Tensor| -> Result<Tensor> {
            let norm = a.mul(&a)?.sum(1, true)?.sqrt()?.clamp(eps, f32::MAX)?;
            a.div(&norm)
        };
        // Both branches of each (layer, class) take γ's v: select index 0 of axis 1 twice.
        let gamma = Tensor::from_u32(w.device(), &[0, 0], &[2])?;
        let (mut u, mut v) = (self.power.u().clone(), self.power.v().clone());
        for _ in 0..iters {
            v = nrm(w.mul(&u.reshape(&[n, r, 1])?)?.sum(1, false)?)?;
            let vg = v.reshape(&[l, 2, m * c])?.index_select(1, &gamma)?;
            u = nrm(w.mul(&vg.reshape(&[n, 1, c])?)?.sum(2, false)?)?;
        }
        Ok((u, v))
    }

    /// The σ of the last call, `[L, 2, m]` (γ then β; m = K, or 1 ungrouped), detached; no sync.
    pub fn sigmas(&self) -> Option<&Tensor> {
        self.sigmas.as_ref()
    }

    /// Replaces u `[L·2·m, rows]` and v `[L·2·m, cols]` without ending the cold start (the next
    /// call still runs `first_iters`): an explicit initial state, e.g. for golden tests.
    pub fn set_state(&mut self, u: Tensor, v: Tensor) -> Result<()> {
        self.power.set_state(u, v)
    }

    /// The state to checkpoint, by name (for `StateWriter::tensor`).
    pub fn tensors(&self) -> [(&'static str, &Tensor); 2] {
        [(NAMES[0], self.power.u()), (NAMES[1], self.power.v())]
    }

    /// Restores u, v saved under [`Gsr::tensors`]' names (`get(name, shape)`, e.g.
    /// `|n, s| reader.tensor(n, DType::F32, s)`); later calls are warm (`iters` each).
    pub fn load(&mut self, get: impl Fn(&str, &[usize]) -> Result<Tensor>) -> Result<()> {
        let (u, v) = (self.power.u(), self.power.v());
        let (u, v) = (get(NAMES[0], u.shape())?, get(NAMES[1], v.shape())?);
        if u.dtype() != DType::F32 || v.dtype() != DType::F32 {
            return Err(Error::Invalid {
                op: "gsr.load",
                msg: format!("u, v must be F32, got {u:?}, {v:?}"),
            });
        }
        self.power.set_state(u, v)?;
        self.warm = true;
        Ok(())
    }
}
