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
    Unrouted,
}

/// Builds a gradient only when it is `need`ed.
fn when(need: bool, grad: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
    need.then(grad).transpose()
}

impl Op {
    /// The family's derivative table: (da, db) at the output's shape from the upstream `g`, the
    /// operands and the output `y`, each built only when `need`ed.
    fn grads(
        self,
        g: &Tensor,
        (a, b, y): (&Tensor, &Tensor, &Tensor),
        [need_a, need_b]: [bool; 2],
    ) -> Result<[Option<Tensor>; 2]> {
        Ok(match self {
            Op::Add => [
                when(need_a, || Ok(g.clone()))?,
                when(need_b, || Ok(g.clone()))?,
            ],
            Op::Sub => [when(need_a, || Ok(g.clone()))?, when(need_b, || g.neg())?],
            Op::Mul => [when(need_a, || g.mul(b))?, when(need_b, || g.mul(a))?],
            Op::Div => {
                let ga = g.div(b)?;
                // -g·a/b² = -(g/b)·(a/b)
                let gb = when(need_b, || ga.mul(&a.div(b)?)?.neg())?;
                [need_a.then_some(ga), gb]
            }
            // On ties the gradient goes to a: the mask routes to b only where b wins.
            Op::Max | Op::Min => {
                let to_b = match self {
                    Op::Max => b.gt(a)?,
                    _ => b.lt(a)?,
                };
                [
                    when(need_a, || to_b.unrouted(g))?,
                    when(need_b, || g.mul(&to_b))?,
                ]
            }
            Op::Pow => [
                // b·a^(b-1) = b·y/a
                when(need_a, || g.mul(b)?.mul(y)?.div(a))?,
                when(need_b, || g.mul(y)?.mul(&a.log()?))?,
            ],
            _ => unreachable!("comparisons and backward helpers record no graph"),
        })
    }
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

/// Runs one binary op and records its derivatives from [`Op::grads`], summed back to each
/// operand's shape.
fn apply(a: &Tensor, b: &Tensor, op: Op, name: &'static str) -> Result<Tensor> {
    let y = launch(a, b, op, 0.0, 0.0, name)?;
    let (ad, bd, yd) = (a.detach(), b.detach(), y.detach());
    Ok(y.with_grad(
        name,
        &[a, b],
        Box::new(move |g, need| {
            let grads = op.grads(g, (&ad, &bd, &yd), [need[0], need[1]])?;
            let shapes = [ad.shape(), bd.shape()];
            grads
                .into_iter()
                .zip(shapes)
                .map(|(d, shape)| d.map(|d| d.sum_to(shape)).transpose())
                .collect()
        }),
    ))
}

impl Tensor {
    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        apply(self, rhs, Op::Add, "add")
    }

    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        apply(self, rhs, Op::Sub, "sub")
    }

    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        apply(self, rhs, Op::Mul, "mul")
    }

    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        apply(self, rhs, Op::Div, "div")
    }

    /// Elementwise maximum; on ties the gradient goes to `self`.
    pub fn maximum(&self, rhs: &Tensor) -> Result<Tensor> {
        apply(self, rhs, Op::Max, "maximum")
    }

    /// Elementwise minimum; on ties the gradient goes to `self`.
    pub fn minimum(&self, rhs: &Tensor) -> Result<Tensor> {
        apply(self, rhs, Op::Min, "minimum")
    }

    /// a^b elementwise for a > 0.
    pub fn pow(&self, rhs: &Tensor) -> Result<Tensor> {
        apply(self, rhs, Op::Pow, "pow")
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

    /// g − g·self for a 0/1 mask `self`: the part of g the mask does not route (one kernel for
    /// the `sub` of the `mul`).
    fn unrouted(&self, g: &Tensor) -> Result<Tensor> {
        launch(self, g, Op::Unrouted, 0.0, 0.0, "unrouted")
    }
}
