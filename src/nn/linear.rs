//! Fully connected layer `y = x·Wᵀ + b`, W [out, in] as PyTorch stores it.

use super::{param, Mode, Module, State, Stateful};
use crate::{Device, Generator, Result, Tensor};

pub struct Linear {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Linear {
    /// Kaiming-normal weights (fan_in, ReLU gain) as the CIFAR ResNets' `_weights_init`; the
    /// bias keeps PyTorch's default U(±1/√fan_in).
    pub fn new(dev: &Device, gen: &mut Generator, cin: usize, cout: usize) -> Result<Linear> {
        let std = (2.0 / cin as f32).sqrt();
        let bound = 1.0 / (cin as f32).sqrt();
        Ok(Linear {
            weight: gen.normal(dev, &[cout, cin], 0.0, std)?.into_param(),
            bias: gen.uniform(dev, &[cout], -bound, bound)?.into_param(),
        })
    }
}

impl Stateful for Linear {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "weight", &self.weight);
        param(out, prefix, "bias", &self.bias);
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        let y = crate::ops::matmul::matmul_ex(
            x,
            &self.weight,
            false,
            true,
            crate::ops::matmul::Variant::Auto,
        )?;
        y.add(&self.bias)
    }
}
