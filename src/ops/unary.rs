//! Elementwise unary ops (`shaders/unary.wgsl`) and their backward rules.

use crate::runtime::{grid_1d, Res, WG};
use crate::{kernel, Result, Tensor};

kernel!(UNARY = "unary"::"main" [Read, ReadWrite]);
kernel!(UNARY_TEX = "unary"::"tex" [ReadStorageTexture, ReadWrite]);
kernel!(UNARY_VEC4 = "unary"::"flat4" [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    _pad: u32,
    alpha: f32,
    beta: f32,
}

/// Op codes of `shaders/unary.wgsl`.
#[derive(Clone, Copy, Debug)]
#[repr(u32)]
enum Op {
    Neg = 0,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Abs,
    Relu,
    LeakyRelu,
    Tanh,
    Sigmoid,
    Clamp,
    Powf,
    Affine,
    Sign,
    Softplus,
}

impl Op {
    /// The family's derivative table: dx from the upstream `g`, the input `x` and the output `y`.
    fn grad(self, g: &Tensor, x: &Tensor, y: &Tensor, alpha: f32, beta: f32) -> Result<Tensor> {
        match self {
            Op::Neg => g.neg(),
            Op::Exp => g.mul(y),
            Op::Log => g.div(x),
            // 1 / (2 sqrt(x))
            Op::Sqrt => g.div(y)?.scale(0.5),
            // d x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
            Op::Rsqrt => g.mul(&y.powf(3.0)?)?.scale(-0.5),
            Op::Abs => g.mul(&x.sign()?),
            Op::Relu => x.relu_backward(g),
            Op::LeakyRelu => x.leaky_relu_backward(g, alpha),
            // 1 - y²
            Op::Tanh => g.mul(&y.mul(y)?.affine(-1.0, 1.0)?),
            // y (1 - y)
            Op::Sigmoid => g.mul(&y.mul(&y.affine(-1.0, 1.0)?)?),
            Op::Clamp => x.clamp_backward(g, alpha, beta),
            Op::Powf => g.mul(&x.powf(alpha - 1.0)?)?.scale(alpha),
            Op::Affine => g.scale(alpha),
            Op::Sign => unreachable!("sign records no graph"),
            Op::Softplus => g.mul(&x.sigmoid()?),
        }
    }
}

/// Runs one unary op with no graph.
fn launch(x: &Tensor, op: Op, alpha: f32, beta: f32, name: &'static str) -> Result<Tensor> {
    x.expect_f32(name)?;
    let dev = x.device();
    let y = Tensor::empty(dev, name, x.shape(), x.dtype())?;
    let n = x.numel();
    let p = Params {
        n: n as u32,
        _pad: 0,
        alpha,
        beta,
    };
    let items = super::items_per_invocation(dev);
    let (kernel, src, grid) = match super::texture_rows(dev, n) {
        Some(rows) => (
            &UNARY_TEX,
            Res::Tex(super::stage_texture(x, name, rows)?),
            grid_1d(n / 4, WG * items),
        ),
        None if super::vec4_path(dev, n) => (
            &UNARY_VEC4,
            Res::Buf(x.buf().clone()),
            grid_1d(n / 4, WG * super::VEC4_ITEMS),
        ),
        None => (&UNARY, Res::Buf(x.buf().clone()), grid_1d(n, WG * items)),
    };
    let consts = [("OP", op as u32 as f64), ("ITEMS", items as f64)];
    let res = vec![src, Res::Buf(y.buf().clone())];
    dev.dispatch(
        name,
        kernel,
        &consts,
        bytemuck::bytes_of(&p),
        res,
        grid,
        &[(y.buf(), n)],
    )?;
    Ok(y)
}

/// Runs one unary op and records its derivative from [`Op::grad`].
fn apply(x: &Tensor, op: Op, alpha: f32, beta: f32, name: &'static str) -> Result<Tensor> {
    let y = launch(x, op, alpha, beta, name)?;
    let (xd, yd) = (x.detach(), y.detach());
    Ok(y.with_grad1(name, x, move |g| op.grad(g, &xd, &yd, alpha, beta)))
}

impl Tensor {
    pub fn neg(&self) -> Result<Tensor> {
        apply(self, Op::Neg, 0.0, 0.0, "neg")
    }

    pub fn exp(&self) -> Result<Tensor> {
        apply(self, Op::Exp, 0.0, 0.0, "exp")
    }

    pub fn log(&self) -> Result<Tensor> {
        apply(self, Op::Log, 0.0, 0.0, "log")
    }

    pub fn sqrt(&self) -> Result<Tensor> {
        apply(self, Op::Sqrt, 0.0, 0.0, "sqrt")
    }

    pub fn rsqrt(&self) -> Result<Tensor> {
        apply(self, Op::Rsqrt, 0.0, 0.0, "rsqrt")
    }

    pub fn abs(&self) -> Result<Tensor> {
        apply(self, Op::Abs, 0.0, 0.0, "abs")
    }

    /// sign(x) ∈ {-1, 0, 1}; its gradient is zero.
    pub fn sign(&self) -> Result<Tensor> {
        launch(self, Op::Sign, 0.0, 0.0, "sign")
    }

    pub fn relu(&self) -> Result<Tensor> {
        apply(self, Op::Relu, 0.0, 0.0, "relu")
    }

    pub fn leaky_relu(&self, slope: f32) -> Result<Tensor> {
        apply(self, Op::LeakyRelu, slope, 0.0, "leaky_relu")
    }

    pub fn tanh(&self) -> Result<Tensor> {
        apply(self, Op::Tanh, 0.0, 0.0, "tanh")
    }

    pub fn sigmoid(&self) -> Result<Tensor> {
        apply(self, Op::Sigmoid, 0.0, 0.0, "sigmoid")
    }

    /// ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^−|x|) so it never overflows; the gradient is
    /// sigmoid(x).
    pub fn softplus(&self) -> Result<Tensor> {
        apply(self, Op::Softplus, 0.0, 0.0, "softplus")
    }

    /// Clamps to `[lo, hi]`; the gradient passes only strictly inside.
    pub fn clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        apply(self, Op::Clamp, lo, hi, "clamp")
    }

    /// x^e for a scalar exponent (negative bases allowed for integer e).
    pub fn powf(&self, e: f32) -> Result<Tensor> {
        apply(self, Op::Powf, e, 0.0, "powf")
    }

    /// a·x + b with scalars.
    pub fn affine(&self, a: f32, b: f32) -> Result<Tensor> {
        apply(self, Op::Affine, a, b, "affine")
    }

    /// a·x.
    pub fn scale(&self, a: f32) -> Result<Tensor> {
        self.affine(a, 0.0)
    }

    /// x + b for a scalar b.
    pub fn add_scalar(&self, b: f32) -> Result<Tensor> {
        self.affine(1.0, b)
    }

    /// A contiguous copy (no graph link); used by in-place-style updates.
    pub fn copy(&self) -> Result<Tensor> {
        launch(self, Op::Affine, 1.0, 0.0, "copy")
    }
}
