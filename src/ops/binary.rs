//! Elementwise binary ops with broadcasting (`shaders/binary.wgsl`) and their backward rules.

use super::broadcast::{broadcast_shape, broadcast_strides, collapse, pack8};
use crate::runtime::{grid_1d, Res, WG};
use crate::{kernel, Result, Tensor};

kernel!(BINARY = "binary"::"main" [Read, Read, ReadWrite]);
kernel!(BINARY_TEX = "binary"::"tex" [ReadStorageTexture, ReadStorageTexture, ReadWrite]);
kernel!(BINARY_VEC4 = "binary"::"flat4" [Read, Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    _pad0: u32,
    rank: u32,
    _pad: u32,
    alpha: f32,
    beta: f32,
    _pad2: [f32; 2],
    shape: [u32; 8],
    sa: [u32; 8],
    sb: [u32; 8],
}

#[derive(Clone, Copy)]
#[repr(u32)]
enum Op {
    Add = 0,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    Gt,
    ReluBackward,
    LeakyBackward,
    ClampBackward,
    Pow,
    Eq,
    Lt,
}

fn launch(
    a: &Tensor,
    b: &Tensor,
    op: Op,
    alpha: f32,
    beta: f32,
    name: &'static str,
) -> Result<Tensor> {
    a.expect_f32(name)?;
    b.expect_f32(name)?;
    let out_shape = broadcast_shape(name, a.shape(), b.shape())?;
    let dev = a.device();
    let y = Tensor::empty(dev, name, &out_shape, a.dtype())?;
    let n = y.numel();
    let strides = [
        broadcast_strides(a.shape(), &out_shape),
        broadcast_strides(b.shape(), &out_shape),
    ];
    let (shape, st) = collapse(&out_shape, &strides);
    let items = super::items_per_invocation(dev);
    let p = Params {
        n: n as u32,
        _pad0: 0,
        rank: shape.len() as u32,
        _pad: 0,
        alpha,
        beta,
        _pad2: [0.0; 2],
        shape: pack8(name, &shape)?,
        sa: pack8(name, &st[0])?,
        sb: pack8(name, &st[1])?,
    };
    let same_shape = shape.len() == 1 && st[0][0] == 1 && st[1][0] == 1;
    let (kernel, res, grid) = match super::texture_rows(dev, n).filter(|_| same_shape) {
        Some(rows) => {
            let (ta, tb) = (
                super::stage_texture(a, name, rows)?,
                super::stage_texture(b, name, rows)?,
            );
            let res = vec![
                Res::Tex(ta.clone()),
                Res::Tex(tb.clone()),
                Res::Buf(y.buf().clone()),
            ];
            (&BINARY_TEX, res, grid_1d(n / 4, WG * items))
        }
        None => {
            let res = [a, b, &y].map(|t| Res::Buf(t.buf().clone())).to_vec();
            if same_shape && super::vec4_path(dev, n) {
                (&BINARY_VEC4, res, grid_1d(n / 4, WG * super::VEC4_ITEMS))
            } else {
                (&BINARY, res, grid_1d(n, WG * items))
            }
        }
    };
    let consts = [("OP", op as u32 as f64), ("ITEMS", items as f64)];
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
    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        let y = launch(self, rhs, Op::Add, 0.0, 0.0, "add")?;
        let (sa, sb) = (self.shape().to_vec(), rhs.shape().to_vec());
        Ok(y.with_grad(
            "add",
            &[self, rhs],
            Box::new(move |g| Ok(vec![Some(g.sum_to(&sa)?), Some(g.sum_to(&sb)?)])),
        ))
    }

    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        let y = launch(self, rhs, Op::Sub, 0.0, 0.0, "sub")?;
        let (sa, sb) = (self.shape().to_vec(), rhs.shape().to_vec());
        Ok(y.with_grad(
            "sub",
            &[self, rhs],
            Box::new(move |g| Ok(vec![Some(g.sum_to(&sa)?), Some(g.neg()?.sum_to(&sb)?)])),
        ))
    }

    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        let y = launch(self, rhs, Op::Mul, 0.0, 0.0, "mul")?;
        let (a, b) = (self.detach(), rhs.detach());
        Ok(y.with_grad(
            "mul",
            &[self, rhs],
            Box::new(move |g| {
                Ok(vec![
                    Some(g.mul(&b)?.sum_to(a.shape())?),
                    Some(g.mul(&a)?.sum_to(b.shape())?),
                ])
            }),
        ))
    }

    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        let y = launch(self, rhs, Op::Div, 0.0, 0.0, "div")?;
        let (a, b) = (self.detach(), rhs.detach());
        Ok(y.with_grad(
            "div",
            &[self, rhs],
            Box::new(move |g| {
                let ga = g.div(&b)?;
                // -g·a/b² = -(g/b)·(a/b)
                let gb = ga.mul(&a.div(&b)?)?.neg()?;
                Ok(vec![
                    Some(ga.sum_to(a.shape())?),
                    Some(gb.sum_to(b.shape())?),
                ])
            }),
        ))
    }

    /// Elementwise maximum; on ties the gradient goes to `self`.
    pub fn maximum(&self, rhs: &Tensor) -> Result<Tensor> {
        let y = launch(self, rhs, Op::Max, 0.0, 0.0, "maximum")?;
        let (a, b) = (self.detach(), rhs.detach());
        Ok(y.with_grad(
            "maximum",
            &[self, rhs],
            Box::new(move |g| split_by_mask(g, &b.gt(&a)?, &a, &b)),
        ))
    }

    /// Elementwise minimum; on ties the gradient goes to `self`.
    pub fn minimum(&self, rhs: &Tensor) -> Result<Tensor> {
        let y = launch(self, rhs, Op::Min, 0.0, 0.0, "minimum")?;
        let (a, b) = (self.detach(), rhs.detach());
        Ok(y.with_grad(
            "minimum",
            &[self, rhs],
            Box::new(move |g| split_by_mask(g, &b.lt(&a)?, &a, &b)),
        ))
    }

    /// a^b elementwise for a > 0.
    pub fn pow(&self, rhs: &Tensor) -> Result<Tensor> {
        let y = launch(self, rhs, Op::Pow, 0.0, 0.0, "pow")?;
        let (a, b, yd) = (self.detach(), rhs.detach(), y.detach());
        Ok(y.with_grad(
            "pow",
            &[self, rhs],
            Box::new(move |g| {
                let ga = g.mul(&b)?.mul(&yd)?.div(&a)?; // b·a^(b-1) = b·y/a
                let gb = g.mul(&yd)?.mul(&a.log()?)?;
                Ok(vec![
                    Some(ga.sum_to(a.shape())?),
                    Some(gb.sum_to(b.shape())?),
                ])
            }),
        ))
    }

    /// 1.0 where self > rhs, else 0.0 (no gradient).
    pub fn gt(&self, rhs: &Tensor) -> Result<Tensor> {
        launch(self, rhs, Op::Gt, 0.0, 0.0, "gt")
    }

    /// 1.0 where self < rhs, else 0.0 (no gradient).
    pub fn lt(&self, rhs: &Tensor) -> Result<Tensor> {
        launch(self, rhs, Op::Lt, 0.0, 0.0, "lt")
    }

    /// 1.0 where self == rhs, else 0.0 (no gradient).
    pub fn eq(&self, rhs: &Tensor) -> Result<Tensor> {
        launch(self, rhs, Op::Eq, 0.0, 0.0, "eq")
    }

    /// g where self > 0, else 0 (self is the relu input).
    pub(crate) fn relu_backward(&self, g: &Tensor) -> Result<Tensor> {
        launch(self, g, Op::ReluBackward, 0.0, 0.0, "relu_backward")
    }

    pub(crate) fn leaky_relu_backward(&self, g: &Tensor, slope: f32) -> Result<Tensor> {
        launch(
            self,
            g,
            Op::LeakyBackward,
            slope,
            0.0,
            "leaky_relu_backward",
        )
    }

    pub(crate) fn clamp_backward(&self, g: &Tensor, lo: f32, hi: f32) -> Result<Tensor> {
        launch(self, g, Op::ClampBackward, lo, hi, "clamp_backward")
    }
}

/// Gradient of max/min: `to_b` (1.0 where b wins) routes g to b, the rest to a.
fn split_by_mask(g: &Tensor, to_b: &Tensor, a: &Tensor, b: &Tensor) -> Result<Vec<Option<Tensor>>> {
    let gb = g.mul(to_b)?;
    let ga = g.sub(&gb)?;
    Ok(vec![
        Some(ga.sum_to(a.shape())?),
        Some(gb.sum_to(b.shape())?),
    ])
}
