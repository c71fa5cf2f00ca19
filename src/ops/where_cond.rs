//! `where_cond(cond, a, b)` = a where cond ≠ 0 else b, broadcasting all three (`shaders/where_cond.wgsl`).

use super::broadcast::{broadcast_shape, broadcast_strides, collapse, pack8};
use crate::runtime::{grid_1d, Res, WG};
use crate::{kernel, Result, Tensor};

kernel!(WHERE = "where_cond"::"main" [Read, Read, Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    rank: u32,
    _pad: [u32; 2],
    shape: [u32; 8],
    sc: [u32; 8],
    sa: [u32; 8],
    sb: [u32; 8],
}

impl Tensor {
    /// Picks `a` where `cond` ≠ 0, else `b`. Gradients flow to the branch that was picked.
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        for t in [cond, a, b] {
            t.expect_f32("where_cond")?;
        }
        let out = broadcast_shape(
            "where_cond",
            &broadcast_shape("where_cond", cond.shape(), a.shape())?,
            b.shape(),
        )?;
        let strides = [cond, a, b].map(|t| broadcast_strides(t.shape(), &out));
        let (shape, st) = collapse(&out, &strides);
        let dev = a.device();
        let y = Tensor::empty(dev, "where_cond", &out, a.dtype())?;
        let n = y.numel();
        let p = Params {
            n: n as u32,
            rank: shape.len() as u32,
            _pad: [0; 2],
            shape: pack8("where_cond", &shape)?,
            sc: pack8("where_cond", &st[0])?,
            sa: pack8("where_cond", &st[1])?,
            sb: pack8("where_cond", &st[2])?,
        };
        let res = [cond, a, b, &y].map(|t| Res::Buf(t.buf().clone())).to_vec();
        dev.dispatch(
            "where_cond",
            &WHERE,
            &[],
            bytemuck::bytes_of(&p),
            res,
            grid_1d(n, WG),
            &[(y.buf(), n)],
        )?;
        let (c, sa, sb) = (cond.detach(), a.shape().to_vec(), b.shape().to_vec());
        Ok(y.with_grad(
            "where_cond",
            &[a, b],
            Box::new(move |g, need| {
                let zero = Tensor::zeros(g.device(), &[1])?;
                let ga = need[0].then(|| Tensor::where_cond(&c, g, &zero)?.sum_to(&sa));
                let gb = need[1].then(|| Tensor::where_cond(&c, &zero, g)?.sum_to(&sb));
                Ok(vec![ga.transpose()?, gb.transpose()?])
            }),
        ))
    }
}
