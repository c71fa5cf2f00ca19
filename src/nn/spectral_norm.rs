//! Spectral normalisation (Miyato et al. 2018) as PyTorch's `torch.nn.utils.spectral_norm`, the
//! version SN-GAN, StudioGAN and gSR use: the layer trains `weight_orig` and uses
//! `W / σ̂` with `σ̂ = uᵀ W₂ v`, `W₂ = W.reshape([O, numel / O])`.
//!
//! - [`Mode::Train`]: one power iteration first, `v ← nrm(W₂ᵀu)`, `u ← nrm(W₂v)` with
//!   `nrm(a) = a / max(‖a‖, eps)`, in PyTorch's order, without a graph, stored in place in the
//!   buffers `weight_u [O]` and `weight_v [numel / O]`. The gradient flows through σ̂ with u, v
//!   held constant (`∂σ̂/∂W₂ = u vᵀ`), as in PyTorch.
//! - [`Mode::Eval`]: no update; σ̂ from the stored u, v (PyTorch's eval, hence v is stored too).
//!
//! State names follow PyTorch's (`weight_orig`, `weight_u`, `weight_v`), so checkpoints keep the
//! vectors and map one to one onto a PyTorch state dict. The whole forward (update, σ̂, `W / σ̂`)
//! is one dispatch of the fused `spectral_norm` kernel, and so is the backward
//! (`dW = (g − (Σ g⊙y)·u vᵀ) / σ̂`), in either mode; see [`crate::ops::spectral_norm`]. A backward
//! keeps its own forward's u, v and σ̂ (copies written by that forward), so a second forward
//! before it (D on real, then on fake data) does not change its gradient, as PyTorch's clones.

use super::embedding::{lookup, upload_labels};
use super::{buffer, param, Conv2d, Embedding, Linear, Mode, Module, State, Stateful};
use crate::ops::matmul::{matmul_ex, Variant};
use crate::ops::spectral_norm::spectral_norm;
use crate::{no_grad, Device, Error, Generator, Result, Tensor};

/// The normalisation floor of the GAN configs (StudioGAN, gSR: `spectral_norm(.., eps=1e-6)`).
pub const SN_EPS: f32 = 1e-6;
/// PyTorch's default floor.
pub const TORCH_SN_EPS: f32 = 1e-12;

/// A spectrally normalised weight: the parameter, the power-iteration vectors and eps.
pub struct SpectralNorm {
    weight: Tensor,
    u: Tensor,
    v: Tensor,
    eps: f32,
}

/// `a / max(‖a‖₂, eps)` over all of `a`.
fn normalize(a: &Tensor, eps: f32) -> Result<Tensor> {
    a.div(&a.mul(a)?.sum_all()?.sqrt()?.clamp(eps, f32::MAX)?)
}

impl SpectralNorm {
    /// Wraps the parameter `weight` (f32, any rank; `O = shape[0]`). u and v start as
    /// normalised N(0, 1) draws from `gen`, u first, as PyTorch draws them. `eps > 0`: see
    /// [`SN_EPS`] and [`TORCH_SN_EPS`].
    pub fn new(weight: Tensor, gen: &mut Generator, eps: f32) -> Result<SpectralNorm> {
        weight.expect_f32("spectral_norm")?;
        if weight.rank() == 0 {
            return Err(Error::Invalid {
                op: "spectral_norm",
                msg: "needs a weight of rank >= 1, got a scalar".to_string(),
            });
        }
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::Invalid {
                op: "spectral_norm",
                msg: format!("eps must be finite and > 0, got {eps}"),
            });
        }
        let (o, n) = matrix_dims(&weight);
        let dev = weight.device().clone();
        let _g = no_grad();
        let u = normalize(&gen.randn(&dev, &[o])?, eps)?;
        let v = normalize(&gen.randn(&dev, &[n])?, eps)?;
        Ok(SpectralNorm { weight, u, v, eps })
    }

    /// The trained parameter (`weight_orig`).
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The left singular vector estimate `[O]` (`weight_u`).
    pub fn u(&self) -> &Tensor {
        &self.u
    }

    /// The right singular vector estimate `[numel / O]` (`weight_v`).
    pub fn v(&self) -> &Tensor {
        &self.v
    }

    pub fn eps(&self) -> f32 {
        self.eps
    }

    /// `W / σ̂`, with one power iteration first in `Mode::Train` (see the module docs).
    pub fn weight_sn(&self, mode: Mode) -> Result<Tensor> {
        let train = matches!(mode, Mode::Train);
        spectral_norm(&self.weight, &self.u, &self.v, self.eps, train)
    }
}

/// `(O, numel / O)`: the matrix PyTorch normalises (`dim = 0`).
fn matrix_dims(w: &Tensor) -> (usize, usize) {
    let o = w.shape()[0];
    (o, w.numel() / o)
}

impl Stateful for SpectralNorm {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "weight_orig", &self.weight);
        buffer(out, prefix, "weight_u", &self.u);
        buffer(out, prefix, "weight_v", &self.v);
    }
}

/// Pushes an optional bias, then the normalised weight's state (PyTorch's state-dict order).
fn sn_state(sn: &SpectralNorm, bias: Option<&Tensor>, prefix: &str, out: &mut Vec<State>) {
    if let Some(b) = bias {
        param(out, prefix, "bias", b);
    }
    sn.state(prefix, out);
}

/// A [`Conv2d`] with a spectrally normalised weight.
pub struct SnConv2d {
    pub sn: SpectralNorm,
    pub bias: Option<Tensor>,
    pub stride: usize,
    pub pad: usize,
}

impl SnConv2d {
    /// Normalises `conv`'s weight; u, v are drawn from `gen` after the layer's own init.
    pub fn new(conv: Conv2d, gen: &mut Generator, eps: f32) -> Result<SnConv2d> {
        let Conv2d {
            weight,
            bias,
            stride,
            pad,
        } = conv;
        let sn = SpectralNorm::new(weight, gen, eps)?;
        Ok(SnConv2d {
            sn,
            bias,
            stride,
            pad,
        })
    }
}

impl Stateful for SnConv2d {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        sn_state(&self.sn, self.bias.as_ref(), prefix, out);
    }
}

impl Module for SnConv2d {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let w = self.sn.weight_sn(mode)?;
        x.conv2d(&w, self.bias.as_ref(), self.stride, self.pad)
    }
}

/// A [`Linear`] with a spectrally normalised weight.
pub struct SnLinear {
    pub sn: SpectralNorm,
    pub bias: Option<Tensor>,
}

impl SnLinear {
    /// Normalises `linear`'s weight; u, v are drawn from `gen` after the layer's own init.
    pub fn new(linear: Linear, gen: &mut Generator, eps: f32) -> Result<SnLinear> {
        let Linear { weight, bias } = linear;
        let sn = SpectralNorm::new(weight, gen, eps)?;
        Ok(SnLinear { sn, bias })
    }
}

impl Stateful for SnLinear {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        sn_state(&self.sn, self.bias.as_ref(), prefix, out);
    }
}

impl Module for SnLinear {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let w = self.sn.weight_sn(mode)?;
        let y = matmul_ex(x, &w, false, true, Variant::Auto)?;
        match &self.bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }
}

/// An [`Embedding`] with a spectrally normalised table (D's projection): the whole `[K, D]`
/// table is normalised, then rows are picked.
pub struct SnEmbedding {
    pub sn: SpectralNorm,
}

impl SnEmbedding {
    /// Normalises `emb`'s table; u, v are drawn from `gen` after the table's own init.
    pub fn new(emb: Embedding, gen: &mut Generator, eps: f32) -> Result<SnEmbedding> {
        let sn = SpectralNorm::new(emb.weight, gen, eps)?;
        Ok(SnEmbedding { sn })
    }

    /// As [`Embedding::labels`]: host labels checked against the table, then uploaded.
    pub fn labels(&self, dev: &Device, labels: &[u32]) -> Result<Tensor> {
        upload_labels(dev, labels, self.sn.weight.shape()[0])
    }
}

impl Stateful for SnEmbedding {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        self.sn.state(prefix, out);
    }
}

impl Module for SnEmbedding {
    /// `labels`: u32 `[B]`; rows of `W / σ̂`, NaN for a label past the table.
    fn forward(&self, labels: &Tensor, mode: Mode) -> Result<Tensor> {
        lookup(&self.sn.weight_sn(mode)?, labels)
    }
}
