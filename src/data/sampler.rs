//! Per-epoch index orders (methods.md §5.3, §6.3). An order depends only on (seed, epoch), so a
//! resumed run draws exactly the batches it would have drawn.

use super::shuffle::SplitMix64;
use crate::{Error, Result};

/// β_j = A + B·d̃_j of CBENRS (the values the GCL author confirms in GCLLoss issue #2).
const CBENRS_A: f64 = 0.9999;
const CBENRS_B: f64 = 1e-5;

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
    /// The sampler named `name` for a training set with these class counts: `instance`,
    /// `class-balanced`, `effective-number` (constant `beta`) or `cbenrs`.
    pub fn from_name(name: &str, counts: &[usize], beta: f64) -> Result<Sampling> {
        Ok(match name {
            "instance" => Sampling::InstanceBalanced,
            "class-balanced" => Sampling::ClassBalanced,
            "effective-number" => Sampling::effective_number(counts, |_| beta),
            "cbenrs" => Sampling::cbenrs(counts),
            s => {
                return Err(Error::Config(format!(
                    "unknown sampling {s:?}: use instance, class-balanced, \
                     effective-number or cbenrs"
                )))
            }
        })
    }

    /// Class weights w_j = 1/E(n_j; β_j) = (1 − β_j)/(1 − β_j^n_j) (Cui et al. 2019), with β_j
    /// given per class by `beta(j)`. An empty class gets weight 0 (it has nothing to draw).
    pub fn effective_number(counts: &[usize], beta: impl Fn(usize) -> f64) -> Sampling {
        Sampling::Weighted(
            counts
                .iter()
                .enumerate()
                .map(|(j, &n)| {
                    let b = beta(j);
                    if n == 0 {
                        0.0
                    } else {
                        (1.0 - b) / (1.0 - b.powf(n as f64))
                    }
                })
                .collect(),
        )
    }

    /// GCL's class-based effective-number sampler (CBENRS, methods.md §5.3): β_j = 0.9999 +
    /// 1e-5·d̃_j with d̃ the min-max normalised ln n_max − ln n_j, so rarer classes get a larger β.
    pub fn cbenrs(counts: &[usize]) -> Sampling {
        let d: Vec<f64> = counts.iter().map(|&n| -(n.max(1) as f64).ln()).collect();
        let lo = d.iter().cloned().fold(f64::MAX, f64::min);
        let hi = d.iter().cloned().fold(f64::MIN, f64::max);
        let norm = |j: usize| {
            if hi > lo {
                (d[j] - lo) / (hi - lo)
            } else {
                0.0
            }
        };
        Sampling::effective_number(counts, |j| CBENRS_A + CBENRS_B * norm(j))
    }

    /// The probability that one draw picks class j: w_j·n_j normalised (1/n_j·n_j for
    /// class-balanced, n_j/N for instance-balanced).
    pub fn class_probabilities(&self, counts: &[usize]) -> Vec<f64> {
        let mass: Vec<f64> = match self {
            Sampling::InstanceBalanced => counts.iter().map(|&n| n as f64).collect(),
            Sampling::ClassBalanced => counts.iter().map(|&n| (n > 0) as u8 as f64).collect(),
            Sampling::Weighted(w) => w.iter().zip(counts).map(|(w, &n)| w * n as f64).collect(),
        };
        let total: f64 = mass.iter().sum();
        mass.iter().map(|m| m / total).collect()
    }

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
