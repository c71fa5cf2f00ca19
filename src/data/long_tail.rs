//! Long-tailed subsets (methods.md §1.1), effective-number class weights (§1.2; used by the
//! classifier losses and gSR) and the many / medium / few class splits (§1.6).

use super::shuffle::SplitMix64;
use super::Dataset;
use crate::{Error, Result};

/// How class sizes fall from the head (class 0) to the tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// n_i = floor(n_max · (1/ρ)^(i/(C−1))) (LDAM-DRW, GCL, gSR).
    Exp,
    /// The first ⌊C/2⌋ classes keep n_max, the rest floor(n_max · (1/ρ)) (LDAM-DRW's "step").
    Step,
}

impl std::str::FromStr for Profile {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "exp" => Ok(Profile::Exp),
            "step" => Ok(Profile::Step),
            _ => Err(Error::Config(format!(
                "unknown long-tail profile `{s}`; valid names: exp, step"
            ))),
        }
    }
}

/// Per-class image counts for `classes` classes, class 0 the head with `n_max`, and imbalance
/// ratio `rho` = n_max / n_min ≥ 1. Computed in f64 and truncated toward zero like the
/// reference code (`int(img_max * imb_factor ** (i / (C - 1.0)))`).
pub fn class_counts(
    n_max: usize,
    classes: usize,
    rho: f64,
    profile: Profile,
) -> Result<Vec<usize>> {
    if !(rho.is_finite() && rho >= 1.0) || classes == 0 {
        return Err(Error::Invalid {
            op: "long_tail",
            msg: format!("needs rho >= 1 and at least one class, got rho {rho}, {classes} classes"),
        });
    }
    let imb = 1.0 / rho;
    let n = n_max as f64;
    Ok((0..classes)
        .map(|i| match profile {
            Profile::Exp if classes == 1 => n_max,
            Profile::Exp => (n * imb.powf(i as f64 / (classes as f64 - 1.0))) as usize,
            Profile::Step if i < classes / 2 => n_max,
            Profile::Step => (n * imb) as usize,
        })
        .collect())
}

/// A long-tailed subset of `ds`: n_max is the smallest class count of `ds` (the head count of
/// the usual balanced sources, and the largest every class can supply). One SplitMix64 stream
/// seeded with `seed` shuffles each class's indices (in dataset order, classes in label order)
/// and the first n_i are kept; the result lists the classes in label order, each in shuffled
/// order, as the reference code does.
pub fn long_tailed(ds: &Dataset, rho: f64, profile: Profile, seed: u64) -> Result<Dataset> {
    ds.subset(&long_tailed_indices(
        &ds.labels, ds.classes, rho, profile, seed,
    )?)
}

/// The indices into `labels` that [`long_tailed`] keeps, in its order.
pub fn long_tailed_indices(
    labels: &[u32],
    classes: usize,
    rho: f64,
    profile: Profile,
    seed: u64,
) -> Result<Vec<usize>> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &y) in labels.iter().enumerate() {
        let Some(m) = members.get_mut(y as usize) else {
            return Err(Error::Invalid {
                op: "long_tail",
                msg: format!("label {y} of sample {i} is not below {classes} classes"),
            });
        };
        m.push(i);
    }
    let n_max = members.iter().map(Vec::len).min().unwrap_or(0);
    if n_max == 0 {
        let counts: Vec<usize> = members.iter().map(Vec::len).collect();
        return Err(Error::Invalid {
            op: "long_tail",
            msg: format!("every class needs images; counts are {counts:?}"),
        });
    }
    let counts = class_counts(n_max, classes, rho, profile)?;
    let mut rng = SplitMix64::new(seed);
    let mut keep = Vec::with_capacity(counts.iter().sum());
    for (idx, n) in members.iter_mut().zip(counts) {
        rng.shuffle(idx);
        keep.extend_from_slice(&idx[..n]);
    }
    Ok(keep)
}

/// Class-size thresholds of the many / medium / few-shot splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitThresholds {
    /// Classes with more than this many training images are "many".
    pub many: usize,
    /// Classes with fewer than this many are "few".
    pub few: usize,
}

impl Default for SplitThresholds {
    /// The OLTR / Decoupling convention: many > 100, few < 20.
    fn default() -> Self {
        SplitThresholds { many: 100, few: 20 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    Many,
    Medium,
    Few,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Many, Split::Medium, Split::Few];

    pub fn name(self) -> &'static str {
        match self {
            Split::Many => "many",
            Split::Medium => "medium",
            Split::Few => "few",
        }
    }
}

impl SplitThresholds {
    /// The split of a class with `count` training images.
    pub fn split_of(&self, count: usize) -> Split {
        if count > self.many {
            Split::Many
        } else if count < self.few {
            Split::Few
        } else {
            Split::Medium
        }
    }
}

/// Inverse effective numbers w_j = (1 − β)/(1 − β^n_j), normalised to sum to C (Cui et al.).
pub fn effective_weights(counts: &[usize], beta: f64) -> Vec<f32> {
    let w: Vec<f64> = counts
        .iter()
        .map(|&n| (1.0 - beta) / (1.0 - beta.powf(n as f64)))
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter()
        .map(|v| (v * counts.len() as f64 / sum) as f32)
        .collect()
}
