//! Tensor creation on the GPU (`shaders/fill.wgsl`): zeros, ones, full, arange.

use crate::runtime::{grid_1d, Device, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(FILL = "fill"::"main" [ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    _pad: u32,
    start: f32,
    step: f32,
}

fn ramp(dev: &Device, op: &'static str, shape: &[usize], start: f32, step: f32) -> Result<Tensor> {
    let y = Tensor::empty(dev, op, shape, DType::F32)?;
    let n = y.numel();
    let p = Params {
        n: n as u32,
        _pad: 0,
        start,
        step,
    };
    dev.dispatch(
        op,
        &FILL,
        &[],
        bytemuck::bytes_of(&p),
        vec![Res::Buf(y.buf().clone())],
        grid_1d(n, WG),
        &[(y.buf(), n)],
    )?;
    Ok(y)
}

impl Tensor {
    pub fn zeros(dev: &Device, shape: &[usize]) -> Result<Tensor> {
        ramp(dev, "zeros", shape, 0.0, 0.0)
    }

    pub fn ones(dev: &Device, shape: &[usize]) -> Result<Tensor> {
        ramp(dev, "ones", shape, 1.0, 0.0)
    }

    pub fn full(dev: &Device, shape: &[usize], value: f32) -> Result<Tensor> {
        ramp(dev, "full", shape, value, 0.0)
    }

    /// `start, start + step, ...` below `end` (1-D).
    pub fn arange(dev: &Device, start: f32, end: f32, step: f32) -> Result<Tensor> {
        let n = ((end - start) / step).ceil();
        if !(n.is_finite() && n >= 1.0) {
            return Err(Error::Invalid {
                op: "arange",
                msg: format!("empty or infinite range {start}..{end} step {step}"),
            });
        }
        ramp(dev, "arange", &[n as usize], start, step)
    }

    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.device(), self.shape())
    }
}
