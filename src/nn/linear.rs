//! Fully connected layer `y = x·Wᵀ + b` (b optional), W [out, in] as PyTorch stores it.

use super::{param, LayerInit, Mode, Module, State, Stateful};
use crate::{Device, Generator, Result, Tensor};

pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    /// Kaiming-normal weights (fan_in, ReLU gain) as the CIFAR ResNets' `_weights_init`; the
    /// bias keeps PyTorch's default U(±1/√fan_in).
    pub fn new(dev: &Device, gen: &mut Generator, cin: usize, cout: usize) -> Result<Linear> {
        Self::with_init(dev, gen, cin, cout, LayerInit::kaiming(true))
    }

    /// Weight [cout, cin] and bias with the given schemes; `init.bias: None` means no bias.
    pub fn with_init(
        dev: &Device,
        gen: &mut Generator,
        cin: usize,
        cout: usize,
        init: LayerInit,
    ) -> Result<Linear> {
        let (weight, bias) = init.params(dev, gen, &[cout, cin])?;
        Ok(Linear { weight, bias })
    }
}

impl Stateful for Linear {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "weight", &self.weight);
        if let Some(b) = &self.bias {
            param(out, prefix, "bias", b);
        }
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
        match &self.bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }
}
