//! The reference variant: im2col + matmul (`shaders/conv2d.wgsl`). The unfold is the only
//! kernel of its own, and its adjoint (`col2im`) the only backward rule; the product and the
//! layout change reuse matmul and permute with their own rules. Correct on every adapter, and
//! the baseline the implicit-GEMM variants are tested and timed against.

use super::geom::Geom;
use crate::ops::matmul::{matmul_ex, Variant as Mm};
use crate::runtime::{grid_1d, Kernel, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(IM2COL = "conv2d"::"im2col" [Read, ReadWrite]);
kernel!(COL2IM = "conv2d"::"col2im" [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    b: u32,
    c: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    oh: u32,
    ow: u32,
    stride: u32,
    pad: u32,
    _pad: [u32; 2],
}

impl Params {
    fn new(g: &Geom) -> Result<Params> {
        // col2im loops over the kernel taps: keep that inside the device's loop budget.
        let v = super::u32s(
            "conv2d",
            &[g.b, g.c, g.h, g.w, g.kh, g.kw, g.oh, g.ow, g.stride, g.pad],
        )?;
        Ok(Params {
            b: v[0],
            c: v[1],
            h: v[2],
            w: v[3],
            kh: v[4],
            kw: v[5],
            oh: v[6],
            ow: v[7],
            stride: v[8],
            pad: v[9],
            _pad: [0; 2],
        })
    }
}

fn launch(
    p: &Params,
    entry: &'static Kernel,
    op: &'static str,
    src: &Tensor,
    shape: &[usize],
) -> Result<Tensor> {
    let dst = Tensor::empty(src.device(), op, shape, DType::F32)?;
    let n = dst.numel();
    let res = vec![Res::Buf(src.buf().clone()), Res::Buf(dst.buf().clone())];
    src.device().dispatch(
        op,
        entry,
        &[],
        bytemuck::bytes_of(p),
        res,
        grid_1d(n, WG),
        &[(dst.buf(), n)],
    )?;
    Ok(dst)
}

fn check_taps(x: &Tensor, g: &Geom) -> Result<()> {
    if ((g.kh + 1) * (g.kw + 1) + 1) as u64 > x.device().loop_budget() {
        return Err(Error::Invalid {
            op: "conv2d",
            msg: format!("a {}x{} kernel is too large for this adapter", g.kh, g.kw),
        });
    }
    Ok(())
}

/// cols [B·OH·OW, C·KH·KW] of x, differentiable (backward: col2im).
fn im2col(x: &Tensor, g: &Geom) -> Result<Tensor> {
    check_taps(x, g)?;
    let p = Params::new(g)?;
    let cols = launch(&p, &IM2COL, "im2col", x, &[g.pixels(), g.c * g.kh * g.kw])?;
    let in_shape = x.shape().to_vec();
    Ok(cols.with_grad1("im2col", x, move |dc| {
        launch(&p, &COL2IM, "col2im", dc, &in_shape)
    }))
}

/// y = conv2d(x, w) without bias, differentiable through im2col, matmul and permute.
pub(super) fn forward(x: &Tensor, w: &Tensor, g: &Geom) -> Result<Tensor> {
    let cols = im2col(x, g)?;
    let wm = w.reshape(&[g.o, g.c * g.kh * g.kw])?;
    // [B·OH·OW, K] · [O, K]ᵀ → [B, OH·OW, O] → [B, O, OH, OW]
    matmul_ex(&cols, &wm, false, true, Mm::Auto)?
        .reshape(&[g.b, g.oh * g.ow, g.o])?
        .permute(&[0, 2, 1])?
        .reshape(&g.y_shape())
}

/// dy [B, O, OH, OW] as the matrix [B·OH·OW, O].
fn dy_rows(dy: &Tensor, g: &Geom) -> Result<Tensor> {
    dy.reshape(&[g.b, g.o, g.oh * g.ow])?
        .permute(&[0, 2, 1])?
        .reshape(&[g.pixels(), g.o])
}

/// dx = col2im(dy · W).
pub(super) fn grad_input(dy: &Tensor, w: &Tensor, g: &Geom) -> Result<Tensor> {
    check_taps(dy, g)?;
    let wm = w.reshape(&[g.o, g.c * g.kh * g.kw])?;
    let dcols = matmul_ex(&dy_rows(dy, g)?, &wm, false, false, Mm::Auto)?;
    launch(&Params::new(g)?, &COL2IM, "col2im", &dcols, &g.x_shape())
}

/// dW = dyᵀ · im2col(x).
pub(super) fn grad_weight(x: &Tensor, dy: &Tensor, g: &Geom) -> Result<Tensor> {
    let cols = im2col(x, g)?;
    matmul_ex(&dy_rows(dy, g)?, &cols, true, false, Mm::Auto)?.reshape(&g.w_shape())
}
