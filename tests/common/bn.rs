//! f64 references for batch normalisation: batch statistics and conditional BN.

use super::{as_f32, Rng};

/// Per-channel mean and biased variance, in f64.
pub fn batch_stats(x: &[f64], [b, c, hw]: [usize; 3]) -> (Vec<f64>, Vec<f64>) {
    let n = (b * hw) as f64;
    let vals = |ch: usize| (0..b).flat_map(move |bi| (0..hw).map(move |i| (bi * c + ch) * hw + i));
    let mean: Vec<f64> = (0..c)
        .map(|ch| vals(ch).map(|i| x[i]).sum::<f64>() / n)
        .collect();
    let var = (0..c)
        .map(|ch| vals(ch).map(|i| (x[i] - mean[ch]).powi(2)).sum::<f64>() / n)
        .collect();
    (mean, var)
}

/// The CBN layers of SNGAN use eps 1e-4.
pub const COND_EPS: f64 = 1e-4;

/// Per-sample gain and bias, and the fused ReLU: everything a conditional reference call needs
/// besides x.
pub struct CondRef {
    pub gain: Vec<f64>,
    pub bias: Vec<f64>,
    pub relu: bool,
}

impl CondRef {
    /// Gains around 1 (1 + an orthogonal embedding row can reach 0 or 2) with a few negative,
    /// biases around 0.
    pub fn random(rng: &mut Rng, b: usize, c: usize, relu: bool) -> CondRef {
        CondRef {
            gain: as_f32(&rng.vec(b * c, -0.5, 2.0)),
            bias: as_f32(&rng.vec(b * c, -1.0, 1.0)),
            relu,
        }
    }

    /// relu?((x − mean_c)/sqrt(var_c + eps)·gain[n, c] + bias[n, c]), biased batch variance.
    pub fn forward(&self, x: &[f64], d: [usize; 3], gain: &[f64], bias: &[f64]) -> Vec<f64> {
        let (mean, var) = batch_stats(x, d);
        let [_, c, hw] = d;
        (0..x.len())
            .map(|i| {
                let (plane, ch) = (i / hw, i / hw % c);
                let xhat = (x[i] - mean[ch]) / (var[ch] + COND_EPS).sqrt();
                let y = xhat * gain[plane] + bias[plane];
                if self.relu {
                    y.max(0.0)
                } else {
                    y
                }
            })
            .collect()
    }

    /// Closed-form backward in f64: (dx, dgain, dbias). With g' the upstream gradient masked by
    /// the ReLU and dx̂ = g'·gain: dbias = Σ_hw g', dgain = Σ_hw g'·x̂ and
    /// dx = invstd·(dx̂ − mean_c dx̂ − x̂·mean_c(dx̂·x̂)).
    pub fn backward(&self, x: &[f64], g: &[f64], d: [usize; 3]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mean, var) = batch_stats(x, d);
        let y = self.forward(x, d, &self.gain, &self.bias);
        let [b, c, hw] = d;
        let n = (b * hw) as f64;
        let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + COND_EPS).sqrt()).collect();
        let xhat = |i: usize| (x[i] - mean[i / hw % c]) * invstd[i / hw % c];
        let gm = |i: usize| if self.relu && y[i] <= 0.0 { 0.0 } else { g[i] };
        let (mut dgain, mut dbias) = (vec![0.0; b * c], vec![0.0; b * c]);
        let (mut sum, mut sum_xhat) = (vec![0.0; c], vec![0.0; c]);
        for i in 0..x.len() {
            let (plane, ch) = (i / hw, i / hw % c);
            dbias[plane] += gm(i);
            dgain[plane] += gm(i) * xhat(i);
            sum[ch] += gm(i) * self.gain[plane];
            sum_xhat[ch] += gm(i) * self.gain[plane] * xhat(i);
        }
        let dx = (0..x.len())
            .map(|i| {
                let (plane, ch) = (i / hw, i / hw % c);
                let dxhat = gm(i) * self.gain[plane];
                invstd[ch] * (dxhat - sum[ch] / n - xhat(i) * sum_xhat[ch] / n)
            })
            .collect();
        (dx, dgain, dbias)
    }
}
