//! Copies that change layout, all through one strided-copy kernel (`shaders/layout.wgsl`):
//! permute, transpose, slice, broadcast_to, concat.

use super::broadcast::{broadcast_shape, broadcast_strides, collapse, pack8};
use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::check_shape;
use crate::{kernel, Error, Result, Tensor};

kernel!(COPY = "layout"::"main" [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    rank: u32,
    in_off: u32,
    out_off: u32,
    shape: [u32; 8],
    si: [u32; 8],
    so: [u32; 8],
}

fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Copies the index space `shape` from `x` (strides `si`, offset `in_off`) into `y` (`so`, `out_off`).
fn strided_copy(
    op: &'static str,
    x: &Tensor,
    y: &Tensor,
    shape: &[usize],
    si: &[usize],
    so: &[usize],
    offs: (usize, usize),
) -> Result<()> {
    let (cs, st) = collapse(shape, &[si.to_vec(), so.to_vec()]);
    let n: usize = shape.iter().product();
    let p = Params {
        n: n as u32,
        rank: cs.len() as u32,
        in_off: offs.0 as u32,
        out_off: offs.1 as u32,
        shape: pack8(op, &cs)?,
        si: pack8(op, &st[0])?,
        so: pack8(op, &st[1])?,
    };
    let check = if y.dtype() == crate::DType::F32 {
        vec![(y.buf(), y.numel())]
    } else {
        vec![]
    };
    let items = super::items_per_invocation(x.device());
    x.device().dispatch(
        op,
        &COPY,
        &[("ITEMS", items as f64)],
        bytemuck::bytes_of(&p),
        vec![Res::Buf(x.buf().clone()), Res::Buf(y.buf().clone())],
        grid_1d(n, WG * items),
        &check,
    )
}

impl Tensor {
    /// Reorders dimensions: output dim i is input dim `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        let mut seen = vec![false; self.rank()];
        if perm.len() != self.rank()
            || perm
                .iter()
                .any(|&p| p >= self.rank() || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::Invalid {
                op: "permute",
                msg: format!(
                    "{perm:?} is not a permutation of the dims of {:?}",
                    self.shape()
                ),
            });
        }
        let out_shape: Vec<usize> = perm.iter().map(|&p| self.shape()[p]).collect();
        let y = Tensor::empty(self.device(), "permute", &out_shape, self.dtype())?;
        let src = contiguous_strides(self.shape());
        let si: Vec<usize> = perm.iter().map(|&p| src[p]).collect();
        strided_copy(
            "permute",
            self,
            &y,
            &out_shape,
            &si,
            &contiguous_strides(&out_shape),
            (0, 0),
        )?;
        let mut inv = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        Ok(y.with_grad1("permute", self, move |g| g.permute(&inv)))
    }

    /// Swaps two dimensions.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        if a >= self.rank() || b >= self.rank() {
            return Err(Error::Invalid {
                op: "transpose",
                msg: format!("dims ({a}, {b}) out of range for {:?}", self.shape()),
            });
        }
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Elements `start..end` of dimension `axis`.
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> Result<Tensor> {
        if axis >= self.rank() || start >= end || end > self.shape()[axis] {
            return Err(Error::Invalid {
                op: "slice",
                msg: format!(
                    "axis {axis} range {start}..{end} invalid for shape {:?}",
                    self.shape()
                ),
            });
        }
        let mut out_shape = self.shape().to_vec();
        out_shape[axis] = end - start;
        let y = Tensor::empty(self.device(), "slice", &out_shape, self.dtype())?;
        let si = contiguous_strides(self.shape());
        strided_copy(
            "slice",
            self,
            &y,
            &out_shape,
            &si,
            &contiguous_strides(&out_shape),
            (start * si[axis], 0),
        )?;
        let in_shape = self.shape().to_vec();
        Ok(y.with_grad1("slice", self, move |g| {
            // Adjoint: place g into zeros of the input shape.
            let dx = Tensor::zeros(g.device(), &in_shape)?;
            let so = contiguous_strides(&in_shape);
            strided_copy(
                "slice_backward",
                g,
                &dx,
                g.shape(),
                &contiguous_strides(g.shape()),
                &so,
                (0, start * so[axis]),
            )?;
            Ok(dx)
        }))
    }

    /// Repeats size-1 (or missing leading) dimensions to reach `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        check_shape("broadcast_to", shape)?;
        if broadcast_shape("broadcast_to", self.shape(), shape)? != shape {
            return Err(Error::Shape {
                op: "broadcast_to",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let y = Tensor::empty(self.device(), "broadcast_to", shape, self.dtype())?;
        strided_copy(
            "broadcast_to",
            self,
            &y,
            shape,
            &broadcast_strides(self.shape(), shape),
            &contiguous_strides(shape),
            (0, 0),
        )?;
        let in_shape = self.shape().to_vec();
        Ok(y.with_grad1("broadcast_to", self, move |g| g.sum_to(&in_shape)))
    }

    /// Joins tensors along `axis`; all other dimensions must match.
    pub fn concat(parts: &[&Tensor], axis: usize) -> Result<Tensor> {
        let first = parts.first().ok_or(Error::Invalid {
            op: "concat",
            msg: "no tensors given".into(),
        })?;
        if axis >= first.rank() {
            return Err(Error::Invalid {
                op: "concat",
                msg: format!("axis {axis} out of range for {:?}", first.shape()),
            });
        }
        let mut out_shape = first.shape().to_vec();
        out_shape[axis] = 0;
        for p in parts {
            let same = p.rank() == first.rank()
                && p.dtype() == first.dtype()
                && (0..p.rank()).all(|d| d == axis || p.shape()[d] == first.shape()[d]);
            if !same {
                return Err(Error::Shape {
                    op: "concat",
                    lhs: first.shape().to_vec(),
                    rhs: p.shape().to_vec(),
                });
            }
            out_shape[axis] += p.shape()[axis];
        }
        let y = Tensor::empty(first.device(), "concat", &out_shape, first.dtype())?;
        let so = contiguous_strides(&out_shape);
        let mut at = 0;
        let mut bounds = Vec::new();
        for p in parts {
            strided_copy(
                "concat",
                p,
                &y,
                p.shape(),
                &contiguous_strides(p.shape()),
                &so,
                (0, at * so[axis]),
            )?;
            bounds.push((at, at + p.shape()[axis]));
            at += p.shape()[axis];
        }
        Ok(y.with_grad(
            "concat",
            parts,
            Box::new(move |g, need| {
                bounds
                    .iter()
                    .zip(need)
                    .map(|(&(s, e), &n)| n.then(|| g.slice(axis, s, e)).transpose())
                    .collect()
            }),
        ))
    }
}
