//! 2-D convolution layer. `new` draws Kaiming-normal weights (fan_in, ReLU gain) as the CIFAR
//! ResNets use; `with_init` takes any [`LayerInit`].

use super::{param, LayerInit, Mode, Module, State, Stateful};
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
        let init = LayerInit::kaiming(bias);
        Self::with_init(dev, gen, cin, cout, k, stride, pad, init)
    }

    /// `k`×`k` kernel with the given schemes (fan-in cin·k·k); `init.bias: None` means no bias.
    #[allow(clippy::too_many_arguments)]
    pub fn with_init(
        dev: &Device,
        gen: &mut Generator,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
        init: LayerInit,
    ) -> Result<Conv2d> {
        let (weight, bias) = init.params(dev, gen, &[cout, cin, k, k])?;
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
