//! Bilinear resizing of NCHW tensors (`shaders/resize.wgsl`) with PyTorch's
//! `F.interpolate(mode="bilinear", align_corners=False)` semantics (no antialiasing), the
//! resize pytorch-fid applies before Inception-v3. Forward only: it serves evaluation under
//! `no_grad`, and refuses inputs that require grad.

use super::items_per_invocation;
use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(BILINEAR = "resize"::"bilinear" [Read, ReadWrite]);

const OP: &str = "resize_bilinear";

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    items: u32,
    _pad: [u32; 2],
}

impl Tensor {
    /// Resizes each plane of `self` ([B, C, H, W] f32) to `oh`×`ow` by bilinear interpolation
    /// with half-pixel centres: output o samples the input at (o + 0.5)·in/out − 0.5, clamped
    /// below at 0 and at the last row/column above (PyTorch's `align_corners=False`). Up- and
    /// downsampling alike; the same size copies. Forward only.
    pub fn resize_bilinear(&self, oh: usize, ow: usize) -> Result<Tensor> {
        self.expect_f32(OP)?;
        if crate::grad_enabled() && self.requires_grad() {
            return Err(Error::Invalid {
                op: OP,
                msg: "has no backward: run it under no_grad on inputs that need no gradient".into(),
            });
        }
        let &[b, c, h, w] = self.shape() else {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("needs [B, C, H, W], got shape {:?}", self.shape()),
            });
        };
        // The kernel forms (2·out + 1)·in in i32.
        let small = |n: usize, o: usize| (2 * o + 1).checked_mul(n).is_some_and(|v| v < 1 << 31);
        if oh == 0 || ow == 0 || !small(h, oh) || !small(w, ow) || b * c * oh * ow >= 1 << 32 {
            return Err(Error::Invalid {
                op: OP,
                msg: format!(
                    "cannot resize {:?} to {oh}x{ow} (sizes must be > 0 and within the \
                     kernel's 32-bit index maths)",
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
            items: items_per_invocation(self.device()),
            _pad: [0; 2],
        };
        let y = Tensor::empty(self.device(), OP, &[b, c, oh, ow], DType::F32)?;
        let runs = ow.div_ceil(p.items as usize);
        self.device().dispatch(
            OP,
            &BILINEAR,
            &[],
            bytemuck::bytes_of(&p),
            vec![Res::Buf(self.buf().clone()), Res::Buf(y.buf().clone())],
            grid_1d(b * c * oh * runs, WG),
            &[(y.buf(), y.numel())],
        )?;
        Ok(y)
    }
}
