//! Zero padding of NCHW tensors with separate top/bottom/left/right amounts
//! (`shaders/pad.wgsl`): the 1×7, 7×1, 1×3 and 3×1 convolutions of Inception-v3 pad one axis
//! only, and conv2d takes one symmetric `pad`, so they pad here and convolve with pad 0. The
//! backward rule is the crop (two slices).

use super::items_per_invocation;
use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(FORWARD = "pad"::"forward" [Read, ReadWrite]);

const OP: &str = "pad2d";

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    top: u32,
    left: u32,
    items: u32,
}

/// Amounts of zero padding on each side of an H×W plane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pad2d {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Pad2d {
    /// `ph` rows above and below, `pw` columns left and right (PyTorch's `padding=(ph, pw)`).
    pub fn symmetric(ph: usize, pw: usize) -> Pad2d {
        Pad2d {
            top: ph,
            bottom: ph,
            left: pw,
            right: pw,
        }
    }
}

impl Tensor {
    /// Pads `self` ([B, C, H, W] f32) with zeros: [B, C, top + H + bottom, left + W + right],
    /// `y[b, c, top + i, left + j] = x[b, c, i, j]`. Differentiable (the backward crops).
    pub fn pad2d(&self, pad: Pad2d) -> Result<Tensor> {
        self.expect_f32(OP)?;
        let &[b, c, h, w] = self.shape() else {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("needs [B, C, H, W], got shape {:?}", self.shape()),
            });
        };
        let (oh, ow) = (h + pad.top + pad.bottom, w + pad.left + pad.right);
        if b * c * oh * ow > u32::MAX as usize || oh > i32::MAX as usize || ow > i32::MAX as usize {
            return Err(Error::Invalid {
                op: OP,
                msg: format!(
                    "{:?} padded by {pad:?} is past 32-bit indices",
                    self.shape()
                ),
            });
        }
        let p = Params {
            planes: (b * c) as u32,
            h: h as u32,
            w: w as u32,
            oh: oh as u32,
            ow: ow as u32,
            top: pad.top as u32,
            left: pad.left as u32,
            items: items_per_invocation(self.device()),
        };
        let y = Tensor::empty(self.device(), OP, &[b, c, oh, ow], DType::F32)?;
        let runs = ow.div_ceil(p.items as usize);
        self.device().dispatch(
            OP,
            &FORWARD,
            &[],
            bytemuck::bytes_of(&p),
            vec![Res::Buf(self.buf().clone()), Res::Buf(y.buf().clone())],
            grid_1d(b * c * oh * runs, WG),
            &[(y.buf(), y.numel())],
        )?;
        Ok(y.with_grad1(OP, self, move |g| {
            g.slice(2, pad.top, pad.top + h)?
                .slice(3, pad.left, pad.left + w)
        }))
    }
}
