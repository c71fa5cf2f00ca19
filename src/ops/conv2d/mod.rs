//! 2-D convolution (NCHW): `x [B, C, H, W] * w [O, C, KH, KW] (+ bias [O]) → y [B, O, OH, OW]`,
//! with its input, weight and bias gradients.
//!
//! Variants (`Variant::Auto` picks per device class; `TAILGRAD_CONV` overrides it):
//! - `Texture` (software adapters with `rgba32float` storage textures): implicit GEMM reading
//!   x (or dy) and the weights through read-only storage textures, packed once per call
//!   (`texture.rs`);
//! - `Tiled` (real GPUs): implicit GEMM with workgroup-memory tiles gathered straight from the
//!   NCHW buffers (`tiled.rs`);
//! - `Im2col`: unfold + matmul, the reference (and the fallback on software adapters without
//!   storage textures).
//!
//! In `Texture` and `Tiled` the input gradient runs the forward kernel once per stride phase
//! (a transposed convolution without the zeros of a dilated dy, see `geom.rs`), and the weight
//! gradient is a deterministic split-K kernel: a fixed partition of the B·OH·OW pixels into
//! runs within `Device::loop_budget()`, partial results in a buffer, summed in a fixed order.

mod geom;
mod im2col;
mod texture;
mod tiled;

pub use geom::Geom;

use crate::runtime::{Device, DeviceClass};
use crate::{Error, Result, Tensor};

/// The split-K tail of the implicit-GEMM variants: `fill` writes `splits` partial outputs of
/// n = ∏`shape` elements into one `[splits, n]` buffer, summed here in a fixed order.
fn sum_partials(
    dev: &Device,
    splits: usize,
    shape: &[usize],
    fill: impl FnOnce(&Tensor, usize) -> Result<()>,
) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let out = Tensor::empty(dev, "conv2d", &[splits, n], crate::tensor::DType::F32)?;
    fill(&out, n)?;
    let y = if splits == 1 { out } else { out.sum(0, false)? };
    y.reshape(shape)
}

/// Which kernels compute a convolution and its gradients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// `Texture` on software adapters that can run it, `Tiled` on GPUs, else `Im2col`.
    Auto,
    /// im2col + matmul, backward through col2im: the reference.
    Im2col,
    /// Software adapters: implicit GEMM through read-only storage textures.
    Texture,
    /// Real GPUs: implicit GEMM with workgroup-memory tiles.
    Tiled,
}

impl Variant {
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Auto => "auto",
            Variant::Im2col => "im2col",
            Variant::Texture => "texture",
            Variant::Tiled => "tiled",
        }
    }

    /// The variant forced by `TAILGRAD_CONV`, if set.
    fn from_env() -> Result<Option<Variant>> {
        let Ok(v) = std::env::var("TAILGRAD_CONV") else {
            return Ok(None);
        };
        [
            Variant::Auto,
            Variant::Im2col,
            Variant::Texture,
            Variant::Tiled,
        ]
        .into_iter()
        .find(|x| x.name() == v.to_ascii_lowercase())
        .map(Some)
        .ok_or_else(|| Error::Invalid {
            op: "conv2d",
            msg: format!("TAILGRAD_CONV={v:?}: use auto, im2col, texture or tiled"),
        })
    }

    /// The concrete variant that runs `g` on `dev` (refusing a forced one that cannot).
    fn resolve(self, dev: &Device, g: &Geom) -> Result<Variant> {
        let v = match self {
            Variant::Auto => Variant::from_env()?.unwrap_or(Variant::Auto),
            v => v,
        };
        Ok(match v {
            Variant::Auto => match dev.class() {
                DeviceClass::Gpu => Variant::Tiled,
                DeviceClass::Software if texture::fits(dev, g) => Variant::Texture,
                DeviceClass::Software => Variant::Im2col,
            },
            Variant::Texture => {
                texture::check(dev, g)?;
                Variant::Texture
            }
            v => v,
        })
    }
}

/// The variants that can run on `dev` (at shapes within their limits).
pub fn variants(dev: &Device) -> Vec<Variant> {
    let mut v = vec![Variant::Im2col];
    if dev.storage_textures() {
        v.push(Variant::Texture);
    }
    v.push(Variant::Tiled);
    v
}

pub(crate) fn u32s(op: &'static str, v: &[usize]) -> Result<Vec<u32>> {
    v.iter()
        .map(|&x| {
            u32::try_from(x).map_err(|_| Error::Invalid {
                op,
                msg: format!("index {x} exceeds the 32-bit range of the kernels"),
            })
        })
        .collect()
}

impl Tensor {
    /// y = conv2d(x, w) (+ bias): x [B, C, H, W], w [O, C, KH, KW], bias [O] → y [B, O, OH, OW]
    /// with OH = (H + 2·pad − KH) / stride + 1 (likewise OW), zero padding. Gradients flow to
    /// x, w and bias.
    pub fn conv2d(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        pad: usize,
    ) -> Result<Tensor> {
        conv2d_ex(self, w, bias, stride, pad, Variant::Auto)
    }
}

fn check(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Geom> {
    x.expect_f32("conv2d")?;
    w.expect_f32("conv2d")?;
    Geom::new("conv2d", x.shape(), w.shape(), stride, pad)
}

/// [`Tensor::conv2d`] computed by `variant` (its backward uses the same variant).
pub fn conv2d_ex(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
    variant: Variant,
) -> Result<Tensor> {
    let g = check(x, w, stride, pad)?;
    if let Some(b) = bias {
        b.expect_f32("conv2d")?;
        if b.shape() != [g.o] {
            return Err(Error::Shape {
                op: "conv2d",
                lhs: vec![g.o],
                rhs: b.shape().to_vec(),
            });
        }
    }
    let v = variant.resolve(x.device(), &g)?;
    // The texture variant keeps x as its weight gradient reads it (copied or packed) while w
    // trains; the backward packs x again if w is unfrozen in between.
    let keep_x = w.requires_grad() && crate::grad_enabled();
    let (y, xs) = match v {
        Variant::Im2col => {
            let y = im2col::forward(x, w, &g)?;
            return match bias {
                Some(b) => y.add(&b.reshape(&[1, g.o, 1, 1])?),
                None => Ok(y),
            };
        }
        Variant::Texture => {
            let (y, xs) = texture::forward(x, w, bias, &g)?;
            (y, keep_x.then_some(xs))
        }
        _ => (tiled::forward(x, w, bias, &g)?, None),
    };
    let mut parents = vec![x, w];
    parents.extend(bias);
    let (xd, wd) = (x.detach(), w.detach());
    Ok(y.with_grad(
        "conv2d",
        &parents,
        Box::new(move |dy, need| {
            let (dx, dw) = backward(&xd, &wd, dy, &g, v, (need[0], need[1]), xs.as_ref())?;
            let mut out = vec![dx, dw];
            if let Some(&need_b) = need.get(2) {
                out.push(need_b.then(|| bias_grad(dy, &g)).transpose()?);
            }
            Ok(out)
        }),
    ))
}

/// The gradients of x and w that are `need`ed (in the texture variant from one copy of dy, and
/// x as the forward pass kept it, when it did).
fn backward(
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    g: &Geom,
    v: Variant,
    (need_x, need_w): (bool, bool),
    xs: Option<&texture::SavedX>,
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    match v {
        Variant::Texture => {
            let dl = texture::linear(dy)?;
            let dx = need_x.then(|| texture::grad_input(&dl, w, g)).transpose()?;
            let dw = match (need_w, xs) {
                (false, _) => None,
                (true, Some(xs)) => Some(texture::grad_weight(xs, &dl, g)?),
                (true, None) => Some(texture::grad_weight(&texture::saved_x(x, g)?, &dl, g)?),
            };
            Ok((dx, dw))
        }
        Variant::Tiled => Ok((
            need_x.then(|| tiled::grad_input(dy, w, g)).transpose()?,
            need_w.then(|| tiled::grad_weight(x, dy, g)).transpose()?,
        )),
        _ => Ok((
            need_x.then(|| im2col::grad_input(dy, w, g)).transpose()?,
            need_w.then(|| im2col::grad_weight(x, dy, g)).transpose()?,
        )),
    }
}

/// dbias[o] = Σ dy[b, o, :, :].
fn bias_grad(dy: &Tensor, g: &Geom) -> Result<Tensor> {
    dy.reshape(&[g.b, g.o, g.oh * g.ow])?
        .sum(2, false)?
        .sum(0, false)
}

/// Checks dy against the output shape of x * w.
fn check_dy(g: &Geom, dy: &Tensor) -> Result<()> {
    dy.expect_f32("conv2d")?;
    if dy.shape() != g.y_shape() {
        return Err(Error::Shape {
            op: "conv2d",
            lhs: g.y_shape().to_vec(),
            rhs: dy.shape().to_vec(),
        });
    }
    Ok(())
}

/// The input gradient of a conv2d of an input of `x_shape`: dx = conv_transpose(dy, w).
/// No graph.
pub fn conv2d_grad_input(
    dy: &Tensor,
    w: &Tensor,
    x_shape: &[usize],
    stride: usize,
    pad: usize,
    variant: Variant,
) -> Result<Tensor> {
    w.expect_f32("conv2d")?;
    let g = Geom::new("conv2d", x_shape, w.shape(), stride, pad)?;
    check_dy(&g, dy)?;
    let v = variant.resolve(w.device(), &g)?;
    let _guard = crate::no_grad();
    let (dx, _) = backward(dy, w, dy, &g, v, (true, false), None)?;
    Ok(dx.expect("requested"))
}

/// The weight gradient of a conv2d with weights of `w_shape`: dW[o, c, ky, kx] = Σ dy · x.
/// No graph.
pub fn conv2d_grad_weight(
    x: &Tensor,
    dy: &Tensor,
    w_shape: &[usize],
    stride: usize,
    pad: usize,
    variant: Variant,
) -> Result<Tensor> {
    x.expect_f32("conv2d")?;
    let g = Geom::new("conv2d", x.shape(), w_shape, stride, pad)?;
    check_dy(&g, dy)?;
    let v = variant.resolve(x.device(), &g)?;
    let _guard = crate::no_grad();
    let (_, dw) = backward(x, dy, dy, &g, v, (false, true), None)?;
    Ok(dw.expect("requested"))
}
