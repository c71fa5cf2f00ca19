//! 2-D convolution (NCHW) as im2col + matmul (`shaders/conv2d.wgsl`): the unfold is the only new
//! kernel, and its adjoint (`col2im`) the only new backward rule; the product, the layout change
//! and the bias reuse matmul, permute and add with their own rules. Correct on every adapter and
//! the reference for faster implicit-GEMM variants to come.

use crate::runtime::{grid_1d, Res, WG};
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
    fn cols_shape(&self) -> [usize; 2] {
        [
            (self.b * self.oh * self.ow) as usize,
            (self.c * self.kh * self.kw) as usize,
        ]
    }
}

fn launch(
    p: &Params,
    entry: &'static crate::runtime::Kernel,
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

/// cols [B·OH·OW, C·KH·KW] of x, differentiable (backward: col2im).
fn im2col(x: &Tensor, p: Params) -> Result<Tensor> {
    let cols = launch(&p, &IM2COL, "im2col", x, &p.cols_shape())?;
    let in_shape = x.shape().to_vec();
    Ok(cols.with_grad(
        "im2col",
        &[x],
        Box::new(move |g| Ok(vec![Some(launch(&p, &COL2IM, "col2im", g, &in_shape)?)])),
    ))
}

impl Tensor {
    /// y = conv2d(x, w) (+ bias): x [B, C, H, W], w [O, C, KH, KW], bias [O] → y [B, O, OH, OW]
    /// with OH = (H + 2·pad − KH) / stride + 1 (likewise OW).
    pub fn conv2d(
        &self,
        w: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        pad: usize,
    ) -> Result<Tensor> {
        let op = "conv2d";
        self.expect_f32(op)?;
        w.expect_f32(op)?;
        let (xs, ws) = (self.shape(), w.shape());
        if xs.len() != 4 || ws.len() != 4 || xs[1] != ws[1] {
            return Err(Error::Shape {
                op,
                lhs: xs.to_vec(),
                rhs: ws.to_vec(),
            });
        }
        if stride == 0 || xs[2] + 2 * pad < ws[2] || xs[3] + 2 * pad < ws[3] {
            return Err(Error::Invalid {
                op,
                msg: format!(
                    "kernel {:?} with stride {stride}, pad {pad} does not fit input {xs:?}",
                    &ws[2..]
                ),
            });
        }
        // col2im loops over the kernel taps: keep that inside the device's loop budget.
        if ((ws[2] + 1) * (ws[3] + 1) + 1) as u64 > self.device().loop_budget() {
            return Err(Error::Invalid {
                op,
                msg: format!("a {}x{} kernel is too large for this adapter", ws[2], ws[3]),
            });
        }
        let (b, o) = (xs[0], ws[0]);
        let (oh, ow) = (
            (xs[2] + 2 * pad - ws[2]) / stride + 1,
            (xs[3] + 2 * pad - ws[3]) / stride + 1,
        );
        let p = Params {
            b: b as u32,
            c: xs[1] as u32,
            h: xs[2] as u32,
            w: xs[3] as u32,
            kh: ws[2] as u32,
            kw: ws[3] as u32,
            oh: oh as u32,
            ow: ow as u32,
            stride: stride as u32,
            pad: pad as u32,
            _pad: [0; 2],
        };
        let cols = im2col(self, p)?;
        let wm = w.reshape(&[o, ws[1] * ws[2] * ws[3]])?;
        // [B·OH·OW, K] · [O, K]ᵀ → [B, OH·OW, O] → [B, O, OH, OW]
        let y = crate::ops::matmul::matmul_ex(
            &cols,
            &wm,
            false,
            true,
            crate::ops::matmul::Variant::Auto,
        )?;
        let y = y
            .reshape(&[b, oh * ow, o])?
            .permute(&[0, 2, 1])?
            .reshape(&[b, o, oh, ow])?;
        match bias {
            None => Ok(y),
            Some(bias) if bias.shape() == [o] => y.add(&bias.reshape(&[1, o, 1, 1])?),
            Some(bias) => Err(Error::Shape {
                op,
                lhs: vec![o],
                rhs: bias.shape().to_vec(),
            }),
        }
    }
}
