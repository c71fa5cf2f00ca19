//! The adjusted cross-entropy composed of ordinary differentiable ops: the reference the fused
//! kernel is tested and benchmarked against. Same inputs, same noise for the same generator
//! state, same loss and gradient up to rounding.

use super::{check, AdjustedCe, CLOUD_STD};
use crate::{Result, Tensor};

/// [`Tensor::adjusted_ce`] without fusion: about 30 dispatches forward and as many backward.
pub fn adjusted_ce_unfused(x: &Tensor, labels: &Tensor, a: AdjustedCe) -> Result<Tensor> {
    let (b, c) = check(x, labels, &a)?;
    let dev = x.device();
    // 1-based class ids picked per sample: index_select reads 0 for an out-of-range label.
    let ids = Tensor::arange(dev, 1.0, c as f32 + 1.0, 1.0)?;
    let label_ids = ids.reshape(&[c, 1])?.index_select(0, labels)?; // [B, 1]
    let onehot = ids.reshape(&[1, c])?.eq(&label_ids)?;
    let per_label = |t: &Tensor| t.reshape(&[c, 1])?.index_select(0, labels); // [B, 1]

    let mut z = x.clone();
    if let Some(cl) = a.cloud {
        let delta = cl
            .gen
            .normal(dev, &[b, c], 0.0, CLOUD_STD)?
            .clamp(-1.0, 1.0)?
            .abs()?;
        z = z.sub(&delta.mul(&cl.amp.reshape(&[1, c])?)?.scale(cl.eps)?)?;
    }
    if let Some(m) = a.margin {
        z = z.sub(&onehot.mul(&per_label(m)?)?)?;
    }
    z = z.scale(a.scale)?;
    if let Some(bias) = a.bias {
        let rows = match bias.rank() {
            2 => bias.index_select(0, labels)?,
            _ => bias.reshape(&[1, c])?,
        };
        z = z.add(&rows)?;
    }
    let ce = z.log_softmax()?.mul(&onehot)?.sum(1, false)?.neg()?;
    let per_sample = match a.focal {
        Some(f) if f.gamma != 0.0 => {
            let q = ce.neg()?.exp()?.affine(-1.0, 1.0)?.powf(f.gamma)?;
            ce.mul(&if f.detach { q.detach() } else { q })?
        }
        _ => ce,
    };
    // w_{y_i}, NaN for an out-of-range label as in the fused kernel (0/0: its index_select reads
    // 0), so the loss and, through Σw, the whole gradient are NaN.
    let valid = label_ids.reshape(&[b])?.gt(&Tensor::zeros(dev, &[1])?)?;
    let w = match a.weights {
        Some(w) => per_label(w)?.reshape(&[b])?.div(&valid)?,
        None => valid.div(&valid)?,
    };
    per_sample.mul(&w)?.sum_all()?.div(&w.sum_all()?)
}
