//! BatchNorm2d layer (affine, running statistics; PyTorch defaults eps 1e-5, momentum 0.1).

use super::{buffer, param, Mode, Module, State, Stateful};
use crate::ops::batch_norm::{BatchNorm, BnMode};
use crate::{Device, Result, Tensor};

pub struct BatchNorm2d {
    pub gamma: Tensor,
    pub beta: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub eps: f32,
    pub momentum: f32,
}

impl BatchNorm2d {
    pub fn new(dev: &Device, channels: usize) -> Result<BatchNorm2d> {
        Ok(BatchNorm2d {
            gamma: Tensor::ones(dev, &[channels])?.into_param(),
            beta: Tensor::zeros(dev, &[channels])?.into_param(),
            running_mean: Tensor::zeros(dev, &[channels])?,
            running_var: Tensor::ones(dev, &[channels])?,
            eps: 1e-5,
            momentum: 0.1,
        })
    }

    /// BN followed by ReLU in one kernel.
    pub fn forward_relu(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.run(x, mode, true)
    }

    fn run(&self, x: &Tensor, mode: Mode, relu: bool) -> Result<Tensor> {
        x.batch_norm2d(&BatchNorm {
            gamma: Some(&self.gamma),
            beta: Some(&self.beta),
            running_mean: Some(&self.running_mean),
            running_var: Some(&self.running_var),
            mode: match mode {
                Mode::Train => BnMode::Train {
                    momentum: self.momentum,
                },
                Mode::Eval => BnMode::Eval,
            },
            eps: self.eps,
            relu,
        })
    }
}

impl Stateful for BatchNorm2d {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "weight", &self.gamma);
        param(out, prefix, "bias", &self.beta);
        buffer(out, prefix, "running_mean", &self.running_mean);
        buffer(out, prefix, "running_var", &self.running_var);
    }
}

impl Module for BatchNorm2d {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.run(x, mode, false)
    }
}
