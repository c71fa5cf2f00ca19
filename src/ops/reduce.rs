//! Reductions over one axis (`shaders/reduce.wgsl`, `shaders/argmax.wgsl`): sum, mean, max,
//! argmax, var, plus `sum_to` for broadcasting backward. Deterministic: fixed loop order, no atomics.

use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(SUM = "reduce"::"sum" [Read, ReadWrite]);
kernel!(MAX = "reduce"::"max_" [Read, ReadWrite]);
kernel!(ARGMAX = "argmax"::"main" [Read, Read, ReadWrite, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    outer: u32,
    n: u32,
    inner: u32,
    chunk: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ArgmaxParams {
    outer: u32,
    n: u32,
    inner: u32,
    chunk: u32,
    first: u32,
    _pad: [u32; 3],
}

/// Outputs below this count leave GPU lanes idle, so a long axis is split into chunks.
const TARGET_OUTPUTS: usize = 4096;
const MIN_CHUNK: usize = 256;
/// Longest run one invocation reduces per pass: far inside the software loop budget
/// (`runtime::SOFTWARE_LOOP_BUDGET`), and the same on every device so results match bit for bit.
const MAX_CHUNK: usize = 16_384;

/// Elements per invocation for a pass over `n` with `outs` outputs.
fn chunk_for(outs: usize, n: usize) -> usize {
    let want = if outs >= TARGET_OUTPUTS || n <= MIN_CHUNK {
        n
    } else {
        n.div_ceil(TARGET_OUTPUTS.div_ceil(outs)).max(MIN_CHUNK)
    };
    want.min(MAX_CHUNK)
}

fn check_axis(op: &'static str, t: &Tensor, axis: usize) -> Result<(usize, usize, usize)> {
    t.expect_f32(op)?;
    if axis >= t.rank() {
        return Err(Error::Invalid {
            op,
            msg: format!("axis {axis} out of range for shape {:?}", t.shape()),
        });
    }
    let s = t.shape();
    Ok((
        s[..axis].iter().product(),
        s[axis],
        s[axis + 1..].iter().product(),
    ))
}

/// One pass of sum/max over [outer, n, inner] in chunks of `chunk`: output [outer, chunks, inner].
fn pass(
    k: &'static crate::runtime::Kernel,
    op: &'static str,
    x: &Tensor,
    dims: (usize, usize, usize),
    chunk: usize,
) -> Result<Tensor> {
    let (outer, n, inner) = dims;
    let chunks = n.div_ceil(chunk);
    let dev = x.device();
    let y = Tensor::empty(dev, op, &[outer, chunks, inner], DType::F32)?;
    let p = Params {
        outer: outer as u32,
        n: n as u32,
        inner: inner as u32,
        chunk: chunk as u32,
    };
    let outs = outer * chunks * inner;
    dev.dispatch(
        op,
        k,
        &[],
        bytemuck::bytes_of(&p),
        vec![Res::Buf(x.buf().clone()), Res::Buf(y.buf().clone())],
        grid_1d(outs, WG),
        &[(y.buf(), outs)],
    )?;
    Ok(y)
}

/// Reduces the axis in passes of at most `MAX_CHUNK` elements per invocation until one remains.
fn reduce_raw(
    k: &'static crate::runtime::Kernel,
    op: &'static str,
    x: &Tensor,
    axis: usize,
) -> Result<Tensor> {
    let (outer, n, inner) = check_axis(op, x, axis)?;
    let (mut y, mut len) = (x.clone(), n);
    loop {
        let chunk = chunk_for(outer * inner, len);
        y = pass(k, op, &y, (outer, len, inner), chunk)?;
        len = len.div_ceil(chunk);
        if len == 1 {
            break;
        }
    }
    let mut shape = x.shape().to_vec();
    shape[axis] = 1;
    y.reshape(&shape)
}

/// One argmax pass: `n` candidates (values `x`, indices `cand` unless `first`) per output into
/// `ceil(n / chunk)` (value, index) pairs.
fn argmax_pass(
    x: &Tensor,
    cand: &Tensor,
    dims: (usize, usize, usize),
    chunk: usize,
    first: bool,
) -> Result<(Tensor, Tensor)> {
    let (outer, n, inner) = dims;
    let chunks = n.div_ceil(chunk);
    let dev = x.device();
    let best = Tensor::empty(dev, "argmax", &[outer, chunks, inner], DType::F32)?;
    let arg = Tensor::empty(dev, "argmax", &[outer, chunks, inner], DType::U32)?;
    let p = ArgmaxParams {
        outer: outer as u32,
        n: n as u32,
        inner: inner as u32,
        chunk: chunk as u32,
        first: first as u32,
        _pad: [0; 3],
    };
    let res = [x, cand, &best, &arg]
        .map(|t| Res::Buf(t.buf().clone()))
        .to_vec();
    dev.dispatch(
        "argmax",
        &ARGMAX,
        &[],
        bytemuck::bytes_of(&p),
        res,
        grid_1d(outer * chunks * inner, WG),
        &[],
    )?;
    Ok((best, arg))
}

fn squeeze(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut s = shape.to_vec();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
        if s.is_empty() {
            s.push(1);
        }
    }
    s
}

impl Tensor {
    /// Sum over `axis`.
    pub fn sum(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let y =
            reduce_raw(&SUM, "sum", self, axis)?.reshape(&squeeze(self.shape(), axis, keepdim))?;
        let (in_shape, kept) = (self.shape().to_vec(), squeeze(self.shape(), axis, true));
        Ok(y.with_grad1("sum", self, move |g| {
            g.reshape(&kept)?.broadcast_to(&in_shape)
        }))
    }

    /// Sum of every element, shape [1].
    pub fn sum_all(&self) -> Result<Tensor> {
        self.reshape(&[self.numel()])?.sum(0, false)
    }

    /// Mean over `axis`.
    pub fn mean(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let n = check_axis("mean", self, axis)?.1;
        self.sum(axis, keepdim)?.scale(1.0 / n as f32)
    }

    /// Mean of every element, shape [1].
    pub fn mean_all(&self) -> Result<Tensor> {
        self.sum_all()?.scale(1.0 / self.numel() as f32)
    }

    /// Biased variance (divides by n) over `axis`, as batch norm uses it.
    pub fn var(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let mu = self.mean(axis, true)?;
        let d = self.sub(&mu)?;
        d.mul(&d)?.mean(axis, keepdim)
    }

    /// Maximum over `axis`; the gradient is shared equally among tied maxima.
    pub fn max(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let m = reduce_raw(&MAX, "max", self, axis)?;
        let y = m.reshape(&squeeze(self.shape(), axis, keepdim))?;
        let (x, kept) = (self.detach(), squeeze(self.shape(), axis, true));
        Ok(y.with_grad1("max", self, move |g| {
            let mask = x.eq(&m)?;
            let share = mask.div(&mask.sum(axis, true)?)?;
            share.mul(&g.reshape(&kept)?)
        }))
    }

    /// Index of the first maximum over `axis`, as a u32 tensor (no gradient).
    pub fn argmax(&self, axis: usize, keepdim: bool) -> Result<Tensor> {
        let (outer, n, inner) = check_axis("argmax", self, axis)?;
        let chunk = n.min(MAX_CHUNK);
        // The first pass binds x again in place of the (unused) candidate indices.
        let (mut best, mut arg) = argmax_pass(self, self, (outer, n, inner), chunk, true)?;
        let mut len = n.div_ceil(chunk);
        while len > 1 {
            let chunk = len.min(MAX_CHUNK);
            (best, arg) = argmax_pass(&best, &arg, (outer, len, inner), chunk, false)?;
            len = len.div_ceil(chunk);
        }
        arg.reshape(&squeeze(self.shape(), axis, keepdim))
    }

    /// Sums broadcast dimensions away so the result has `shape` (the adjoint of `broadcast_to`).
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self
            .rank()
            .checked_sub(shape.len())
            .ok_or_else(|| Error::Shape {
                op: "sum_to",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            })?;
        let mut t = self.clone();
        if lead > 0 {
            let rest: usize = self.shape()[lead..].iter().product();
            t = t
                .reshape(&[self.shape()[..lead].iter().product(), rest])?
                .sum(0, false)?;
            t = t.reshape(&self.shape()[lead..])?;
        }
        for (d, &s) in shape.iter().enumerate() {
            if s == 1 && t.shape()[d] != 1 {
                t = t.sum(d, true)?;
            } else if s != t.shape()[d] {
                return Err(Error::Shape {
                    op: "sum_to",
                    lhs: self.shape().to_vec(),
                    rhs: shape.to_vec(),
                });
            }
        }
        t.reshape(shape)
    }
}
