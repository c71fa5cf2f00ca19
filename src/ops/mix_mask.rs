//! Real-weight masks for sample mixing in GAN training (`shaders/mix_mask.wgsl`, methods.md
//! §A.3.2): `a[i, 0, v, u]` is the weight of the real image at pixel (u, v) of pair i, so a mixed
//! sample is a ⊙ x_real + (1 − a) ⊙ x_fake. The masks are constants of the D step: no gradient.
//! `gan::mixing` draws the parameters on the CPU; this op only evaluates them.

use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Device, Error, Result, Tensor};

kernel!(MASK = "mix_mask"::"main" [Read, ReadWrite]);

/// Floats per pair in the parameter tensor: λ, u1, u2, v1, v2, τ_u, τ_v and one unused.
pub const PARAM_LEN: usize = 8;

/// How a row of [`MaskParams`] becomes a mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// Mixup: a ≡ λ.
    Constant,
    /// CutMix: a = 1 − 1[u1 ≤ u < u2]·1[v1 ≤ v < v2] on the integer pixel index (u, v); the edges
    /// are meant to be integers (any float works: it is compared with the index).
    Box,
    /// SRMix: a = 1 − b_u·b_v with the logistic ramps b_u = s((x − u1)/τ_u) − s((x − u2)/τ_u) at
    /// the pixel centre x = u + 0.5 (likewise b_v).
    Logistic,
    /// SRMix's Gaussian alternative: b_u = Φ((x − u1)/τ_u) − Φ((x − u2)/τ_u), the exact blur of
    /// the continuous box indicator by a Gaussian of σ = τ_u (σ = τ_v along v), evaluated at the
    /// pixel centres. Already in [0, 1]: the clip of A.3.2 is a no-op.
    Gaussian,
}

impl MaskKind {
    fn code(self) -> u32 {
        match self {
            MaskKind::Constant => 0,
            MaskKind::Box => 1,
            MaskKind::Logistic => 2,
            MaskKind::Gaussian => 3,
        }
    }
}

/// One pair's mask parameters, in pixel units: the box is [u1, u2) along W and [v1, v2) along H,
/// with u1 ≤ u2, v1 ≤ v2 (edges outside the image are fine); τ_u, τ_v > 0 (the smooth kinds only).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MaskParams {
    pub lambda: f32,
    pub u1: f32,
    pub u2: f32,
    pub v1: f32,
    pub v2: f32,
    pub tau_u: f32,
    pub tau_v: f32,
}

impl MaskParams {
    /// The row this op reads.
    pub fn row(&self) -> [f32; PARAM_LEN] {
        let p = self;
        [p.lambda, p.u1, p.u2, p.v1, p.v2, p.tau_u, p.tau_v, 0.0]
    }

    /// The rows of `pairs` as a `[B, PARAM_LEN]` tensor.
    pub fn upload(dev: &Device, pairs: &[MaskParams]) -> Result<Tensor> {
        let rows: Vec<f32> = pairs.iter().flat_map(MaskParams::row).collect();
        Tensor::from_slice(dev, &rows, &[pairs.len(), PARAM_LEN])
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    b: u32,
    h: u32,
    w: u32,
    kind: u32,
}

/// The `[B, 1, H, W]` masks of the `[B, PARAM_LEN]` parameter rows `params` (see
/// [`MaskParams::upload`]). No gradient flows into `params`.
pub fn mix_mask(params: &Tensor, kind: MaskKind, h: usize, w: usize) -> Result<Tensor> {
    let op = "mix_mask";
    params.expect_f32(op)?;
    let [b, PARAM_LEN] = *params.shape() else {
        return Err(Error::Invalid {
            op,
            msg: format!(
                "parameters must be [B, {PARAM_LEN}], got {:?}",
                params.shape()
            ),
        });
    };
    let y = Tensor::empty(params.device(), op, &[b, 1, h, w], DType::F32)?;
    let n = y.numel();
    if u32::try_from(n).is_err() {
        return Err(Error::Invalid {
            op,
            msg: format!("{n} mask elements exceed the kernel's u32 index"),
        });
    }
    let p = Params {
        b: b as u32,
        h: h as u32,
        w: w as u32,
        kind: kind.code(),
    };
    params.device().dispatch(
        op,
        &MASK,
        &[],
        bytemuck::bytes_of(&p),
        vec![Res::Buf(params.buf().clone()), Res::Buf(y.buf().clone())],
        grid_1d(n, WG),
        &[(y.buf(), n)],
    )?;
    Ok(y)
}
