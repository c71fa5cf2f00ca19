//! Mixup (Zhang et al. 2018) as GCL uses it (methods.md §1.5): one λ ~ Beta(α, α) per batch and
//! a random partner permutation p; the network sees λ·x + (1 − λ)·x[p] and the loss is
//! λ·L(y) + (1 − λ)·L(y[p]). λ and p are drawn on the CPU from (seed, step), so a resumed run
//! mixes exactly the same pairs and nothing is read back from the GPU.

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

/// Beta(α, α) as X/(X + Y) with X, Y ~ Gamma(α); α = 1 is Uniform(0, 1).
fn beta(rng: &mut SplitMix64, alpha: f64) -> f64 {
    if alpha == 1.0 {
        return rng.unit();
    }
    let x = gamma(rng, alpha);
    let y = gamma(rng, alpha);
    if x + y > 0.0 {
        x / (x + y)
    } else {
        0.5
    }
}

/// Marsaglia–Tsang (2000); α < 1 through Gamma(α + 1)·U^(1/α).
fn gamma(rng: &mut SplitMix64, alpha: f64) -> f64 {
    if alpha < 1.0 {
        let u = 1.0 - rng.unit();
        return gamma(rng, alpha + 1.0) * u.powf(1.0 / alpha);
    }
    let d = alpha - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u = 1.0 - rng.unit();
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_has_the_right_mean_and_variance() {
        // Beta(α, α): mean 1/2, variance 1/(4(2α + 1)). 20 000 draws: the mean's σ ≤ 0.0025.
        for alpha in [0.2, 1.0, 2.0] {
            let mut rng = SplitMix64::new(5);
            let n = 20_000;
            let v: Vec<f64> = (0..n).map(|_| beta(&mut rng, alpha)).collect();
            let mean = v.iter().sum::<f64>() / n as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let want = 1.0 / (4.0 * (2.0 * alpha + 1.0));
            assert!((mean - 0.5).abs() < 0.0125, "α {alpha}: mean {mean}");
            assert!(
                (var - want).abs() < 0.1 * want,
                "α {alpha}: var {var} vs {want}"
            );
            assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
        }
    }

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
