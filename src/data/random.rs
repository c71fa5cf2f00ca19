//! Random variates drawn on the CPU from a [`SplitMix64`] stream, shared by the classifier's Mixup
//! (`train::mixup`) and the GAN discriminator's sample mixing (`gan::mixing`). Pure functions of
//! the stream, so a run keyed by (seed, step) redraws them exactly after a resume.

use crate::data::shuffle::SplitMix64;

/// Beta(α, α) as X/(X + Y) with X, Y ~ Gamma(α); α = 1 is Uniform(0, 1).
pub fn beta(rng: &mut SplitMix64, alpha: f64) -> f64 {
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
}
