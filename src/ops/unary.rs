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

impl Tensor {
    pub fn neg(&self) -> Result<Tensor> {
        let y = launch(self, Op::Neg, 0.0, 0.0, "neg")?;
        Ok(y.with_grad1("neg", self, |g| g.neg()))
    }

    pub fn exp(&self) -> Result<Tensor> {
        let y = launch(self, Op::Exp, 0.0, 0.0, "exp")?;
        let yd = y.detach();
        Ok(y.with_grad1("exp", self, move |g| g.mul(&yd)))
    }

    pub fn log(&self) -> Result<Tensor> {
        let y = launch(self, Op::Log, 0.0, 0.0, "log")?;
        let x = self.detach();
        Ok(y.with_grad1("log", self, move |g| g.div(&x)))
    }

    pub fn sqrt(&self) -> Result<Tensor> {
        let y = launch(self, Op::Sqrt, 0.0, 0.0, "sqrt")?;
        let yd = y.detach();
        // d sqrt(x) = 1 / (2 sqrt(x))
        Ok(y.with_grad1("sqrt", self, move |g| g.div(&yd)?.scale(0.5)))
    }

    pub fn rsqrt(&self) -> Result<Tensor> {
        let y = launch(self, Op::Rsqrt, 0.0, 0.0, "rsqrt")?;
        let yd = y.detach();
        // d x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
        Ok(y.with_grad1("rsqrt", self, move |g| g.mul(&yd.powf(3.0)?)?.scale(-0.5)))
    }

    pub fn abs(&self) -> Result<Tensor> {
        let y = launch(self, Op::Abs, 0.0, 0.0, "abs")?;
        let x = self.detach();
        Ok(y.with_grad1("abs", self, move |g| g.mul(&x.sign()?)))
    }

    /// sign(x) ∈ {-1, 0, 1}; its gradient is zero.
    pub fn sign(&self) -> Result<Tensor> {
        launch(self, Op::Sign, 0.0, 0.0, "sign")
    }

    pub fn relu(&self) -> Result<Tensor> {
        let y = launch(self, Op::Relu, 0.0, 0.0, "relu")?;
        let x = self.detach();
        Ok(y.with_grad1("relu", self, move |g| x.relu_backward(g)))
    }

    pub fn leaky_relu(&self, slope: f32) -> Result<Tensor> {
        let y = launch(self, Op::LeakyRelu, slope, 0.0, "leaky_relu")?;
        let x = self.detach();
        Ok(y.with_grad1("leaky_relu", self, move |g| x.leaky_relu_backward(g, slope)))
    }

    pub fn tanh(&self) -> Result<Tensor> {
        let y = launch(self, Op::Tanh, 0.0, 0.0, "tanh")?;
        let yd = y.detach();
        // 1 - y²
        Ok(y.with_grad1("tanh", self, move |g| {
            g.mul(&yd.mul(&yd)?.affine(-1.0, 1.0)?)
        }))
    }

    pub fn sigmoid(&self) -> Result<Tensor> {
        let y = launch(self, Op::Sigmoid, 0.0, 0.0, "sigmoid")?;
        let yd = y.detach();
        // y (1 - y)
        Ok(y.with_grad1("sigmoid", self, move |g| {
            g.mul(&yd.mul(&yd.affine(-1.0, 1.0)?)?)
        }))
    }

    /// Clamps to `[lo, hi]`; the gradient passes only strictly inside.
    pub fn clamp(&self, lo: f32, hi: f32) -> Result<Tensor> {
        let y = launch(self, Op::Clamp, lo, hi, "clamp")?;
        let x = self.detach();
        Ok(y.with_grad1("clamp", self, move |g| x.clamp_backward(g, lo, hi)))
    }

    /// x^e for a scalar exponent (negative bases allowed for integer e).
    pub fn powf(&self, e: f32) -> Result<Tensor> {
        let y = launch(self, Op::Powf, e, 0.0, "powf")?;
        let x = self.detach();
        Ok(y.with_grad1("powf", self, move |g| g.mul(&x.powf(e - 1.0)?)?.scale(e)))
    }

    /// a·x + b with scalars.
    pub fn affine(&self, a: f32, b: f32) -> Result<Tensor> {
        let y = launch(self, Op::Affine, a, b, "affine")?;
        Ok(y.with_grad1("affine", self, move |g| g.scale(a)))
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
