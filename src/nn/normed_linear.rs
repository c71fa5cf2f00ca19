//! Cosine classifier (methods.md §1.4): `cos[i,j] = <x_i/‖x_i‖, W[:,j]/‖W[:,j]‖>`, W [d_in, C]
//! with one column per class, no bias. The logit scale belongs to the loss, not the layer.

use super::{param, Mode, Module, State, Stateful};
use crate::{Device, Generator, Result, Tensor};

pub struct NormedLinear {
    pub weight: Tensor,
}

/// Norms below this are clamped, as `F.normalize(eps=1e-12)`.
const EPS: f32 = 1e-12;

impl NormedLinear {
    /// U(−1, 1) then every column scaled to unit L2 norm, as the reference code.
    pub fn new(dev: &Device, gen: &mut Generator, cin: usize, classes: usize) -> Result<Self> {
        // `u` is not a parameter, so this builds no graph.
        let w = unit(&gen.uniform(dev, &[cin, classes], -1.0, 1.0)?, 0)?;
        Ok(NormedLinear {
            weight: w.into_param(),
        })
    }
}

/// `t` divided by its L2 norm along `axis` (norm clamped at EPS). Differentiable; the clamp comes
/// before the square root so an all-zero row gets a zero gradient, not 0·∞.
fn unit(t: &Tensor, axis: usize) -> Result<Tensor> {
    let norm = t
        .mul(t)?
        .sum(axis, true)?
        .clamp(EPS * EPS, f32::MAX)?
        .sqrt()?;
    t.div(&norm)
}

impl Stateful for NormedLinear {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "weight", &self.weight);
    }
}

impl Module for NormedLinear {
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        unit(x, 1)?.matmul(&unit(&self.weight, 0)?)
    }
}
