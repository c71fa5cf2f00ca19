//! The flat layout the optimizers share: every parameter at a vec4-aligned offset of one buffer,
//! gradients and state in buffers of the same layout, and the copies in and out of it.

use crate::runtime::{grid_1d, Kernel, Res, WG};
use crate::tensor::DType;
use crate::{Device, Error, Result, Tensor};
use std::sync::Arc;

/// vec4s each invocation of `shaders/optim.wgsl` updates.
const ITEMS: u32 = 4;

/// Uniform block of `shaders/optim.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    pub offset: u32,
    pub count: u32,
    pub momentum_on: u32,
    pub nesterov: u32,
    pub lr: f32,
    pub l2: f32,
    pub decay: f32,
    pub mu: f32,
    pub beta2: f32,
    pub eps: f32,
    pub step_size: f32,
    pub inv_bc2_sqrt: f32,
}

pub(crate) struct Flat {
    pub params: Vec<Tensor>,
    /// Element offset of each parameter, a multiple of 4.
    offsets: Vec<usize>,
    /// Padded length of every flat buffer, in elements.
    len: usize,
    /// Parameter values, staged in and out each step.
    pub p: Tensor,
    /// Gradients, staged in each step. The padding is zero and never written.
    pub g: Tensor,
}

/// A run of consecutive parameters updated by one dispatch, in vec4 units of the flat buffers.
pub(crate) struct Run<K> {
    pub offset: u32,
    pub count: u32,
    pub key: K,
}

impl Flat {
    pub fn new(op: &'static str, params: Vec<Tensor>) -> Result<Flat> {
        let Some(first) = params.first() else {
            return Err(Error::Invalid {
                op,
                msg: "empty parameter list".into(),
            });
        };
        let dev = first.device().clone();
        for (i, t) in params.iter().enumerate() {
            t.expect_f32(op)?;
            if params[..i].iter().any(|u| Arc::ptr_eq(u.buf(), t.buf())) {
                return Err(Error::Invalid {
                    op,
                    msg: format!("parameter {i} shares its buffer with an earlier one"),
                });
            }
        }
        let mut offsets = Vec::with_capacity(params.len());
        let mut len = 0;
        for t in &params {
            offsets.push(len);
            len += t.numel().next_multiple_of(4);
        }
        let p = Tensor::zeros(&dev, &[len])?;
        let g = Tensor::zeros(&dev, &[len])?;
        Ok(Flat {
            params,
            offsets,
            len,
            p,
            g,
        })
    }

    pub fn device(&self) -> &Device {
        self.p.device()
    }

    /// A zeroed state buffer with the flat layout.
    pub fn zeros(&self) -> Result<Tensor> {
        Tensor::zeros(self.device(), &[self.len])
    }

    /// Each parameter's gradient, checked against its parameter before anything is recorded.
    pub fn grads(&self, op: &'static str) -> Result<Vec<Option<Tensor>>> {
        self.params
            .iter()
            .map(|t| {
                let Some(g) = t.grad() else { return Ok(None) };
                if g.dtype() != DType::F32 || g.shape() != t.shape() {
                    return Err(Error::Shape {
                        op,
                        lhs: t.shape().to_vec(),
                        rhs: g.shape().to_vec(),
                    });
                }
                Ok(Some(g))
            })
            .collect()
    }

    /// Records copies of each parameter that has a gradient, and of the gradient, into the flat
    /// buffers.
    pub fn gather(&self, grads: &[Option<Tensor>]) {
        let dev = self.device();
        for ((t, g), &off) in self.params.iter().zip(grads).zip(&self.offsets) {
            if let Some(g) = g {
                let bytes = 4 * t.numel() as u64;
                dev.copy(t.buf(), 0, self.p.buf(), 4 * off as u64, bytes);
                dev.copy(g.buf(), 0, self.g.buf(), 4 * off as u64, bytes);
            }
        }
    }

    /// Records copies of the updated values back into each parameter's own buffer.
    pub fn scatter(&self, grads: &[Option<Tensor>]) {
        let dev = self.device();
        for ((t, g), &off) in self.params.iter().zip(grads).zip(&self.offsets) {
            if g.is_some() {
                dev.copy(
                    self.p.buf(),
                    4 * off as u64,
                    t.buf(),
                    0,
                    4 * t.numel() as u64,
                );
            }
        }
    }

    /// Maximal runs of consecutive parameters with the same `Some` key (`None` = skip).
    pub fn runs<K: PartialEq + Copy>(&self, key: impl Fn(usize) -> Option<K>) -> Vec<Run<K>> {
        let mut runs: Vec<(usize, usize, K)> = Vec::new();
        for i in 0..self.params.len() {
            let Some(k) = key(i) else { continue };
            match runs.last_mut() {
                Some((_, end, rk)) if *end == i && *rk == k => *end = i + 1,
                _ => runs.push((i, i + 1, k)),
            }
        }
        runs.into_iter()
            .map(|(start, end, key)| {
                let last = end - 1;
                let stop = (self.offsets[last] + self.params[last].numel()).div_ceil(4);
                let offset = self.offsets[start] / 4;
                Run {
                    offset: offset as u32,
                    count: (stop - offset) as u32,
                    key,
                }
            })
            .collect()
    }

    /// Records one update dispatch over `count` vec4s; `res` follows the flat parameter buffer.
    pub fn dispatch(
        &self,
        op: &'static str,
        k: &'static Kernel,
        params: &[u8],
        count: u32,
        res: &[&Tensor],
    ) -> Result<()> {
        let mut bufs = vec![Res::Buf(self.p.buf().clone())];
        bufs.extend(res.iter().map(|t| Res::Buf(t.buf().clone())));
        self.device().dispatch(
            op,
            k,
            &[],
            params,
            bufs,
            grid_1d(count as usize, WG * ITEMS),
            &[(self.p.buf(), self.len)],
        )
    }

    /// Unpadded length: the parameters' element counts summed.
    fn numel(&self) -> usize {
        self.params.iter().map(Tensor::numel).sum()
    }

    /// An unpadded snapshot of a flat state buffer (parameters concatenated in order).
    pub fn export(&self, state: &Tensor) -> Result<Tensor> {
        let dev = self.device();
        let out = Tensor::empty(dev, "optimizer_state", &[self.numel()], DType::F32)?;
        let mut at = 0;
        for (t, &off) in self.params.iter().zip(&self.offsets) {
            let bytes = 4 * t.numel() as u64;
            dev.copy(state.buf(), 4 * off as u64, out.buf(), at, bytes);
            at += bytes;
        }
        Ok(out)
    }

    /// Refuses a snapshot entry that does not fit this layout.
    pub fn check_state(&self, op: &'static str, name: &str, src: &Tensor) -> Result<()> {
        if src.dtype() == DType::F32 && src.shape() == [self.numel()] {
            return Ok(());
        }
        Err(Error::Invalid {
            op,
            msg: format!(
                "state {name:?} must be f32 of shape [{}], got {:?} {:?}",
                self.numel(),
                src.dtype(),
                src.shape()
            ),
        })
    }

    /// Copies a checked [`export`](Flat::export)ed snapshot back into a flat state buffer.
    pub fn import(&self, src: &Tensor, dst: &Tensor) {
        let dev = self.device();
        let mut at = 0;
        for (t, &off) in self.params.iter().zip(&self.offsets) {
            let bytes = 4 * t.numel() as u64;
            dev.copy(src.buf(), at, dst.buf(), 4 * off as u64, bytes);
            at += bytes;
        }
    }
}

/// The tensors named `names` in a state snapshot, refusing missing and unexpected entries.
pub(crate) fn pick<'a, const N: usize>(
    op: &'static str,
    state: &'a [(String, Tensor)],
    names: [&str; N],
) -> Result<[&'a Tensor; N]> {
    if let Some((extra, _)) = state.iter().find(|(n, _)| !names.contains(&n.as_str())) {
        return Err(Error::Invalid {
            op,
            msg: format!("unexpected state entry {extra:?} (expected {names:?})"),
        });
    }
    let mut out = Vec::with_capacity(N);
    for name in names {
        let (_, t) = state
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::Invalid {
                op,
                msg: format!("state has no {name:?} entry"),
            })?;
        out.push(t);
    }
    Ok(out
        .try_into()
        .unwrap_or_else(|_| unreachable!("one tensor per name")))
}
