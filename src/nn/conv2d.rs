//! 2-D convolution layer with Kaiming-normal init (fan_in, ReLU gain), as the CIFAR ResNets use.

use super::{param, Mode, Module, State, Stateful};
use crate::{Device, Generator, Result, Tensor};

pub struct Conv2d {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub stride: usize,
    pub pad: usize,
}

impl Conv2d {
    /// `k`×`k` kernel, weights ~ N(0, 2/fan_in); the bias (if any) ~ U(±1/√fan_in) as PyTorch.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dev: &Device,
        gen: &mut Generator,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
        bias: bool,
    ) -> Result<Conv2d> {
        let fan_in = (cin * k * k) as f32;
        let weight = gen
            .normal(dev, &[cout, cin, k, k], 0.0, (2.0 / fan_in).sqrt())?
            .into_param();
        let bound = 1.0 / fan_in.sqrt();
        let bias = match bias {
            true => Some(gen.uniform(dev, &[cout], -bound, bound)?.into_param()),
            false => None,
        };
        Ok(Conv2d {
            weight,
            bias,
            stride,
            pad,
        })
    }
}

impl Stateful for Conv2d {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "weight", &self.weight);
        if let Some(b) = &self.bias {
            param(out, prefix, "bias", b);
        }
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.conv2d(&self.weight, self.bias.as_ref(), self.stride, self.pad)
    }
}
