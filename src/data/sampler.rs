//! Per-epoch index orders (methods.md §5.3, §6.3). An order depends only on (seed, epoch), so a
//! resumed run draws exactly the batches it would have drawn.

use super::shuffle::SplitMix64;
use crate::{Error, Result};

/// How an epoch picks its N indices.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampling {
    /// Every index once, shuffled.
    InstanceBalanced,
    /// N draws with replacement, sample probability ∝ 1/n_j of its class j (every class equally
    /// likely): GCL's `BalancedRS`.
    ClassBalanced,
    /// N draws with replacement, sample probability ∝ the weight of its class (one weight per
    /// class), e.g. the effective-number samplers.
    Weighted(Vec<f64>),
}

impl Sampling {
    /// The indices of epoch `epoch` for a dataset with these `labels` (each below `classes`).
    pub fn epoch_order(
        &self,
        labels: &[u32],
        classes: usize,
        seed: u64,
        epoch: u64,
    ) -> Result<Vec<u32>> {
        let invalid = |msg: String| Error::Invalid { op: "sampler", msg };
        if labels.len() > u32::MAX as usize {
            return Err(invalid(format!(
                "{} samples do not fit u32 indices",
                labels.len()
            )));
        }
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); classes];
        for (i, &y) in labels.iter().enumerate() {
            let m = members.get_mut(y as usize).ok_or_else(|| {
                invalid(format!("label {y} of sample {i} is not below {classes}"))
            })?;
            m.push(i as u32);
        }
        let mut rng = SplitMix64::keyed(seed, epoch);
        let weights = match self {
            Sampling::InstanceBalanced => {
                let mut order: Vec<u32> = (0..labels.len() as u32).collect();
                rng.shuffle(&mut order);
                return Ok(order);
            }
            Sampling::ClassBalanced => members
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        0.0
                    } else {
                        1.0 / m.len() as f64
                    }
                })
                .collect(),
            Sampling::Weighted(w) => {
                if w.len() != classes || w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) {
                    return Err(invalid(format!(
                        "needs {classes} finite non-negative class weights, got {w:?}"
                    )));
                }
                w.clone()
            }
        };
        draw(&members, &weights, labels.len(), &mut rng).ok_or_else(|| {
            invalid(format!(
                "class weights {weights:?} give no finite positive total over the samples"
            ))
        })
    }
}

/// `n` draws with replacement: a class with probability ∝ w_j·n_j (cumulative table, binary
/// search), then a uniform member of it. `None` unless the total mass is finite and positive.
fn draw(members: &[Vec<u32>], w: &[f64], n: usize, rng: &mut SplitMix64) -> Option<Vec<u32>> {
    let mut cum = Vec::with_capacity(members.len());
    let mut total = 0.0;
    for (m, &wj) in members.iter().zip(w) {
        total += wj * m.len() as f64;
        cum.push(total);
    }
    if n > 0 && !(total > 0.0 && total.is_finite()) {
        return None;
    }
    // u·total can round up to total: such a draw goes to the last class with mass.
    let last = cum
        .partition_point(|&c| c < total)
        .min(cum.len().saturating_sub(1));
    Some(
        (0..n)
            .map(|_| {
                let u = rng.unit() * total;
                // The first class whose cumulative mass exceeds u: it has mass, so members.
                let j = cum.partition_point(|&c| c <= u).min(last);
                let m = &members[j];
                m[rng.below(m.len() as u64) as usize]
            })
            .collect(),
    )
}
