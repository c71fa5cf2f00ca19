//! Fused softmax cross-entropy (`shaders/cross_entropy.wgsl`): logits [B, C] and u32 labels [B]
//! give the (optionally class-weighted) mean loss, shape [1].
//!
//! The forward kernel also writes the gradient w·(softmax − onehot) for every row into a buffer
//! that the backward closure keeps, so backward is one elementwise kernel computing grad·g/Σw
//! with g read on the GPU (no recompute, no readback). The mean is a second, single-workgroup pass in a fixed order.
//!
//! A label ≥ C cannot be reported without a readback: its row's loss and weight are NaN, so the
//! loss and the whole gradient are NaN and `TAILGRAD_DEBUG=sync` names `cross_entropy`. With weights, a batch whose
//! labels all have weight 0 gives 0/0 = NaN, as in PyTorch.

use super::softmax::{launch_shape, pick, Variant};
use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{autograd, kernel, Error, Result, Tensor};

kernel!(ROWS_ROW = ["online_softmax", "cross_entropy"]::"rows_row" [Read, Read, Read, ReadWrite, ReadWrite]);
kernel!(ROWS_WG = ["online_softmax", "cross_entropy"]::"rows_wg" [Read, Read, Read, ReadWrite, ReadWrite]);
kernel!(MEAN = ["online_softmax", "cross_entropy"]::"mean" [Read, ReadWrite, ReadWrite]);
kernel!(BACKWARD = ["online_softmax", "cross_entropy"]::"backward" [Read, Read, Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    flags: u32,
    _pad: u32,
}

const WEIGHTED: u32 = 1;
const WRITE_GRAD: u32 = 2;

const OP: &str = "cross_entropy";

fn check(logits: &Tensor, labels: &Tensor, weights: Option<&Tensor>) -> Result<(usize, usize)> {
    logits.expect_f32(OP)?;
    let &[b, c] = logits.shape() else {
        return Err(Error::Invalid {
            op: OP,
            msg: format!("logits must be [batch, classes], got {:?}", logits.shape()),
        });
    };
    if labels.dtype() != DType::U32 {
        return Err(Error::Invalid {
            op: OP,
            msg: format!("labels must be a u32 tensor, got {labels:?}"),
        });
    }
    if labels.shape() != [b] {
        return Err(Error::Shape {
            op: OP,
            lhs: logits.shape().to_vec(),
            rhs: labels.shape().to_vec(),
        });
    }
    if let Some(w) = weights {
        w.expect_f32(OP)?;
        if w.shape() != [c] {
            return Err(Error::Shape {
                op: OP,
                lhs: logits.shape().to_vec(),
                rhs: w.shape().to_vec(),
            });
        }
    }
    Ok((b, c))
}

fn fused(logits: &Tensor, labels: &Tensor, weights: Option<&Tensor>) -> Result<Tensor> {
    let (b, c) = check(logits, labels, weights)?;
    let dev = logits.device();
    let want_grad = autograd::grad_enabled() && logits.requires_grad();
    // Without a gradient to keep, a one-element stand-in is bound and never written.
    let grad_shape: &[usize] = if want_grad { &[b, c] } else { &[1] };
    let grad = Tensor::empty(dev, OP, grad_shape, DType::F32)?;
    let stats = Tensor::empty(dev, OP, &[b, 2], DType::F32)?;
    let p = Params {
        rows: b as u32,
        cols: c as u32,
        flags: if weights.is_some() { WEIGHTED } else { 0 }
            | if want_grad { WRITE_GRAD } else { 0 },
        _pad: 0,
    };
    let v = pick(logits, c)?;
    let k = match v {
        Variant::Row => &ROWS_ROW,
        Variant::Workgroup => &ROWS_WG,
    };
    // Unweighted, the logits stand in for the weights binding; the kernel never reads it.
    let w = weights.unwrap_or(logits);
    let (consts, groups) = launch_shape(logits, v, b);
    let mut check = vec![(stats.buf(), 2 * b)];
    if want_grad {
        check.push((grad.buf(), b * c));
    }
    dev.dispatch(
        OP,
        k,
        &consts,
        bytemuck::bytes_of(&p),
        [logits, labels, w, &stats, &grad]
            .iter()
            .map(|t| Res::Buf(t.buf().clone()))
            .collect(),
        groups,
        &check,
    )?;

    mean_with_saved_grad(OP, logits, &stats, grad, b, c)
}

/// The loss Σ stats[2r] / Σ stats[2r + 1] over `rows` (w·ℓ, w) pairs, shape [1], whose backward
/// is `grad` [rows, cols] (written by the forward kernel) times upstream / Σw. Shared with the
/// fused `adjusted_ce` kernel, which writes the same stats and gradient layout.
pub(super) fn mean_with_saved_grad(
    op: &'static str,
    logits: &Tensor,
    stats: &Tensor,
    grad: Tensor,
    rows: usize,
    cols: usize,
) -> Result<Tensor> {
    let dev = logits.device();
    let p = Params {
        rows: rows as u32,
        cols: cols as u32,
        flags: 0,
        _pad: 0,
    };
    let loss = Tensor::empty(dev, op, &[1], DType::F32)?;
    let inv_w = Tensor::empty(dev, op, &[1], DType::F32)?;
    dev.dispatch(
        op,
        &MEAN,
        &[],
        bytemuck::bytes_of(&p),
        [stats, &loss, &inv_w]
            .iter()
            .map(|t| Res::Buf(t.buf().clone()))
            .collect(),
        [1, 1, 1],
        &[(loss.buf(), 1)],
    )?;
    Ok(loss.with_grad1(op, logits, move |g| backward(op, &grad, g, &inv_w, &p)))
}

/// grad · g · inv_w in one dispatch. Unfused it is a [1]·[1] `mul` plus a broadcasting
/// [B, C]·[1] `mul`, and the general broadcasting kernel ran ~9× slower than this plain pass on
/// lavapipe (93 vs 11 ms at 512×1000).
fn backward(
    op: &'static str,
    grad: &Tensor,
    g: &Tensor,
    inv_w: &Tensor,
    p: &Params,
) -> Result<Tensor> {
    let dev = grad.device();
    let dx = Tensor::empty(dev, op, grad.shape(), DType::F32)?;
    let n = dx.numel();
    dev.dispatch(
        op,
        &BACKWARD,
        &[],
        bytemuck::bytes_of(p),
        [grad, g, inv_w, &dx]
            .iter()
            .map(|t| Res::Buf(t.buf().clone()))
            .collect(),
        grid_1d(n, WG * 4),
        &[(dx.buf(), n)],
    )?;
    Ok(dx)
}

impl Tensor {
    /// Mean softmax cross-entropy of logits [B, C] against u32 labels [B]; shape [1].
    pub fn cross_entropy(&self, labels: &Tensor) -> Result<Tensor> {
        fused(self, labels, None)
    }

    /// Σ_r w[y_r]·ℓ_r / Σ_r w[y_r] with per-class weights [C] (PyTorch's `weight=`, mean
    /// reduction). The weights get no gradient.
    pub fn cross_entropy_weighted(&self, labels: &Tensor, weights: &Tensor) -> Result<Tensor> {
        fused(self, labels, Some(weights))
    }
}
