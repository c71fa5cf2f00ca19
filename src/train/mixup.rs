//! Mixup (Zhang et al. 2018) as GCL uses it (methods.md §1.5): one λ ~ Beta(α, α) per batch and
//! a random partner permutation p; the network sees λ·x + (1 − λ)·x[p] and the loss is
//! λ·L(y) + (1 − λ)·L(y[p]). λ and p are drawn on the CPU from (seed, step), so a resumed run
//! mixes exactly the same pairs and nothing is read back from the GPU.

use crate::data::random::beta;
use crate::data::shuffle::SplitMix64;
use crate::{Device, Result, Tensor};

/// The mixing of one batch.
pub struct MixPlan {
    pub lambda: f32,
    /// Partner of each position.
    pub perm: Vec<u32>,
}

/// Draws the plan of training step `step` for a batch of `b`.
pub fn plan(alpha: f64, seed: u64, step: u64, b: usize) -> MixPlan {
    // A stream of its own, apart from the samplers' (seed, epoch) streams.
    let mut rng = SplitMix64::keyed(seed ^ 0x6d69_7875_7000_0000, step);
    let lambda = beta(&mut rng, alpha) as f32;
    let mut perm: Vec<u32> = (0..b as u32).collect();
    rng.shuffle(&mut perm);
    MixPlan { lambda, perm }
}

impl MixPlan {
    /// λ·x + (1 − λ)·x[perm] along the batch axis.
    pub fn mix(&self, x: &Tensor) -> Result<Tensor> {
        let perm = Tensor::from_u32(x.device(), &self.perm, &[self.perm.len()])?;
        x.scale(self.lambda)?
            .add(&x.index_select(0, &perm)?.scale(1.0 - self.lambda)?)
    }

    /// The partners' labels, from the batch's labels on the CPU.
    pub fn partner_labels(&self, dev: &Device, labels: &[u32]) -> Result<Tensor> {
        let y: Vec<u32> = self.perm.iter().map(|&p| labels[p as usize]).collect();
        Tensor::from_u32(dev, &y, &[y.len()])
    }

    /// λ·a + (1 − λ)·b.
    pub fn combine(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        a.scale(self.lambda)?.add(&b.scale(1.0 - self.lambda)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_reproducible_permutations() {
        let a = plan(1.0, 3, 17, 9);
        let b = plan(1.0, 3, 17, 9);
        assert_eq!((a.lambda, &a.perm), (b.lambda, &b.perm));
        let mut s = a.perm.clone();
        s.sort();
        assert_eq!(s, (0..9).collect::<Vec<u32>>());
        assert_ne!(plan(1.0, 3, 18, 9).perm, a.perm);
    }
}
