//! DiffAugment's random translation and cutout in one gather (`shaders/translate_cutout.wgsl`),
//! with the reference's semantics (mit-han-lab/data-efficient-gans, `rand_translation` then
//! `rand_cutout`; gan.md §4). The per-sample integers are derived on the GPU from uniform draws,
//! so draws made by the Philox generator are used without a readback. The backward rule launches
//! the adjoint kernel, also a gather.

use super::items_per_invocation;
use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(FORWARD = "translate_cutout"::"forward" [Read, Read, ReadWrite]);
kernel!(ADJOINT = "translate_cutout"::"adjoint" [Read, Read, ReadWrite]);

const OP: &str = "translate_cutout";

/// How far [`Tensor::translate_cutout`] shifts and how much it cuts, as ratios of the image side
/// (the reference's `ratio` arguments). A ratio of 0 turns that part off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TranslateCutout {
    /// Shifts up to int(H·r + 0.5) rows and int(W·r + 0.5) columns each way (0.125: 4 at 32).
    pub translation_ratio: f64,
    /// Zeroes an int(H·r + 0.5) × int(W·r + 0.5) rectangle, clipped at the borders (0.5: 16×16).
    pub cutout_ratio: f64,
}

impl Default for TranslateCutout {
    fn default() -> Self {
        TranslateCutout {
            translation_ratio: 0.125,
            cutout_ratio: 0.5,
        }
    }
}

/// int(n·r + 0.5) as Python's `int` (truncation; the value is ≥ 0).
fn side(n: usize, r: f64) -> usize {
    (n as f64 * r + 0.5) as usize
}

impl TranslateCutout {
    /// The largest shift along H and along W for H×W images.
    pub fn shifts(&self, h: usize, w: usize) -> [usize; 2] {
        [
            side(h, self.translation_ratio),
            side(w, self.translation_ratio),
        ]
    }

    /// The cutout's side along H and along W (0: no cutout).
    pub fn cut(&self, h: usize, w: usize) -> [usize; 2] {
        [side(h, self.cutout_ratio), side(w, self.cutout_ratio)]
    }

    pub(crate) fn check(&self) -> Result<()> {
        for (what, r) in [
            ("translation_ratio", self.translation_ratio),
            ("cutout_ratio", self.cutout_ratio),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(Error::Invalid {
                    op: OP,
                    msg: format!("{what} must be in [0, 1], got {r}"),
                });
            }
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    planes: u32,
    c: u32,
    h: u32,
    w: u32,
    cols: u32,
    sx: u32,
    sy: u32,
    kx: u32,
    ky: u32,
    items: u32,
    _pad: [u32; 2],
}

impl Tensor {
    /// Translates each image of `self` ([B, C, H, W] f32) with zero fill, then zeroes a cutout
    /// rectangle of it, all channels alike. Sample b's parameters are the last four columns of
    /// row b of `draws` ([B, ≥ 4] f32 uniforms in [0, 1)): with n choices, k = min(floor(u·n),
    /// n − 1) gives
    /// - tx = k − s_H for n = 2·s_H + 1 (rows; s from [`TranslateCutout::shifts`]), ty likewise
    ///   along W: `y[b, c, i, j] = x[b, c, i + tx, j + ty]`, 0 out of range;
    /// - the cutout offset ox = k for n = H + 1 − (k_H mod 2) (k_H from
    ///   [`TranslateCutout::cut`]); rows ox − ⌊k_H/2⌋ ≤ i < ox − ⌊k_H/2⌋ + k_H, clipped, meet
    ///   the columns from oy likewise in the zeroed rectangle.
    ///
    /// Differentiable in `self` (the draws get no gradient: the output is piecewise constant in
    /// them).
    pub fn translate_cutout(&self, draws: &Tensor, tc: &TranslateCutout) -> Result<Tensor> {
        self.expect_f32(OP)?;
        tc.check()?;
        if self.rank() != 4 {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("needs [B, C, H, W] images, got shape {:?}", self.shape()),
            });
        }
        if draws.dtype() != DType::F32 {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("draws must be f32 uniforms, got {draws:?}"),
            });
        }
        let &[b, c, h, w] = self.shape() else {
            unreachable!("rank checked")
        };
        if draws.rank() != 2 || draws.shape()[0] != b || draws.shape()[1] < 4 {
            return Err(Error::Shape {
                op: OP,
                lhs: self.shape().to_vec(),
                rhs: draws.shape().to_vec(),
            });
        }
        if self.numel() > u32::MAX as usize || draws.numel() > u32::MAX as usize {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("{:?} is past the kernel's 32-bit indices", self.shape()),
            });
        }
        let ([sx, sy], [kx, ky]) = (tc.shifts(h, w), tc.cut(h, w));
        let p = Params {
            planes: (b * c) as u32,
            c: c as u32,
            h: h as u32,
            w: w as u32,
            cols: draws.shape()[1] as u32,
            sx: sx as u32,
            sy: sy as u32,
            kx: kx as u32,
            ky: ky as u32,
            items: items_per_invocation(self.device()),
            _pad: [0; 2],
        };
        let y = launch(&FORWARD, OP, &p, self, draws)?;
        let draws = draws.detach();
        Ok(y.with_grad1(OP, self, move |g| {
            launch(&ADJOINT, "translate_cutout_backward", &p, g, &draws)
        }))
    }
}

fn launch(
    k: &'static crate::runtime::Kernel,
    op: &'static str,
    p: &Params,
    src: &Tensor,
    draws: &Tensor,
) -> Result<Tensor> {
    let dst = Tensor::empty(src.device(), op, src.shape(), DType::F32)?;
    let runs = (p.w as usize).div_ceil(p.items as usize);
    src.device().dispatch(
        op,
        k,
        &[],
        bytemuck::bytes_of(p),
        vec![
            Res::Buf(src.buf().clone()),
            Res::Buf(draws.buf().clone()),
            Res::Buf(dst.buf().clone()),
        ],
        grid_1d(p.planes as usize * p.h as usize * runs, WG),
        &[(dst.buf(), dst.numel())],
    )?;
    Ok(dst)
}
