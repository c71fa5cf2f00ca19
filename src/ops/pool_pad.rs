//! Padded pooling that ignores the padding (`shaders/pool_pad.wgsl`), as TensorFlow's pools and
//! the FID Inception graph (pytorch-fid's `count_include_pad=False` patch): the average divides
//! by the window positions inside the input, the maximum looks only at those. Forward only: the
//! ops serve evaluation under `no_grad`, and refuse inputs that require grad.

use super::items_per_invocation;
use crate::runtime::{grid_1d, Kernel, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(AVG = "pool_pad"::"avg_pool" [Read, ReadWrite]);
kernel!(MAX = "pool_pad"::"max_pool" [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    k: u32,
    stride: u32,
    pad: u32,
    items: u32,
    _pad: [u32; 3],
}

/// Checked parameters of a k×k window at `stride` over x padded by `pad` on every side.
fn window(op: &'static str, x: &Tensor, k: usize, stride: usize, pad: usize) -> Result<Params> {
    x.expect_f32(op)?;
    if crate::grad_enabled() && x.requires_grad() {
        return Err(Error::Invalid {
            op,
            msg: "has no backward: run it under no_grad on inputs that need no gradient".into(),
        });
    }
    let &[b, c, h, w] = x.shape() else {
        return Err(Error::Invalid {
            op,
            msg: format!("needs [B, C, H, W], got shape {:?}", x.shape()),
        });
    };
    // PyTorch's rule pad ≤ k/2 keeps every window's centre inside the input (no empty window).
    let trips = (k as u64 + 1) * (k as u64 + 1) + 1;
    let fits = k > 0 && stride > 0 && 2 * pad <= k && k <= h + 2 * pad && k <= w + 2 * pad;
    if !fits || trips > x.device().loop_budget() {
        return Err(Error::Invalid {
            op,
            msg: format!(
                "a {k}x{k} window with stride {stride} and pad {pad} (at most k/2) does not fit \
                 input {:?} on this adapter",
                x.shape()
            ),
        });
    }
    if x.numel() > i32::MAX as usize {
        return Err(Error::Invalid {
            op,
            msg: format!("{:?} is past the kernel's 32-bit indices", x.shape()),
        });
    }
    let fit = (x.device().loop_budget() / (trips + 1)).max(1);
    Ok(Params {
        planes: (b * c) as u32,
        h: h as u32,
        w: w as u32,
        oh: ((h + 2 * pad - k) / stride + 1) as u32,
        ow: ((w + 2 * pad - k) / stride + 1) as u32,
        k: k as u32,
        stride: stride as u32,
        pad: pad as u32,
        items: (items_per_invocation(x.device()) as u64).min(fit) as u32,
        _pad: [0; 3],
    })
}

fn launch(k: &'static Kernel, op: &'static str, x: &Tensor, p: &Params) -> Result<Tensor> {
    let [b, c] = [x.shape()[0], x.shape()[1]];
    let (oh, ow) = (p.oh as usize, p.ow as usize);
    let y = Tensor::empty(x.device(), op, &[b, c, oh, ow], DType::F32)?;
    let runs = ow.div_ceil(p.items as usize);
    x.device().dispatch(
        op,
        k,
        &[],
        bytemuck::bytes_of(p),
        vec![Res::Buf(x.buf().clone()), Res::Buf(y.buf().clone())],
        grid_1d(b * c * oh * runs, WG),
        &[(y.buf(), y.numel())],
    )?;
    Ok(y)
}

impl Tensor {
    /// Average of each k×k window at `stride` over `self` ([B, C, H, W]) padded by `pad` ≤ k/2,
    /// dividing by the positions inside the input (PyTorch's `avg_pool2d(..,
    /// count_include_pad=False)`, floor mode): [B, C, (H + 2·pad − k)/stride + 1, likewise W].
    /// Forward only.
    pub fn avg_pool2d_exclude_pad(&self, k: usize, stride: usize, pad: usize) -> Result<Tensor> {
        let op = "avg_pool2d_exclude_pad";
        launch(&AVG, op, self, &window(op, self, k, stride, pad)?)
    }

    /// Maximum of each k×k window at `stride` over the positions of `self` inside its padding
    /// `pad` ≤ k/2 (PyTorch's `max_pool2d` with padding, floor mode; a NaN wins its window).
    /// Forward only.
    pub fn max_pool2d_padded(&self, k: usize, stride: usize, pad: usize) -> Result<Tensor> {
        let op = "max_pool2d_padded";
        launch(&MAX, op, self, &window(op, self, k, stride, pad)?)
    }
}
