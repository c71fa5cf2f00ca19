//! Pooling and resampling of NCHW tensors (`shaders/pool.wgsl`): average and max pooling, the
//! global average, nearest upsampling and the ResNet option-A shortcut. Each forward kernel has an
//! adjoint kernel for its backward rule; windows gather, so everything is deterministic.

use crate::runtime::{grid_1d, Kernel, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(WINDOW_SUM = "pool"::"window_sum" [Read, ReadWrite]);
kernel!(WINDOW_SPREAD = "pool"::"window_spread" [Read, ReadWrite]);
kernel!(MAX_FWD = "pool"::"max_fwd" [Read, ReadWrite, ReadWrite]);
kernel!(MAX_BWD = "pool"::"max_bwd" [Read, Read, ReadWrite]);
kernel!(SHORTCUT_FWD = "pool"::"shortcut_fwd" [Read, ReadWrite]);
kernel!(SHORTCUT_BWD = "pool"::"shortcut_bwd" [Read, ReadWrite]);
kernel!(UPSAMPLE = "pool"::"upsample2x" [Read, ReadWrite]);
kernel!(SUM_HW = "pool"::"sum_hw" [Read, ReadWrite]);
kernel!(EXPAND_HW = "pool"::"expand_hw" [Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    k: u32,
    stride: u32,
    items: u32,
    scale: f32,
    c_in: u32,
    c_out: u32,
    pad: u32,
    n: u32,
    chunk: u32,
    _pad: [u32; 2],
}

/// Longest run `sum_hw` sums per invocation and pass: inside the software loop budget, and the
/// same on every device so results match bit for bit.
const MAX_CHUNK: usize = 16_384;

/// [B, C, H, W] of a rank-4 f32 tensor.
fn dims4(op: &'static str, x: &Tensor) -> Result<[usize; 4]> {
    x.expect_f32(op)?;
    match *x.shape() {
        [b, c, h, w] => Ok([b, c, h, w]),
        _ => Err(Error::Invalid {
            op,
            msg: format!("expects an NCHW tensor [B, C, H, W], got {:?}", x.shape()),
        }),
    }
}

/// Outputs per invocation along a row when each costs `trips` loop iterations: the device's
/// elementwise run length, cut so one invocation stays inside the loop budget.
fn items_for(x: &Tensor, trips: u64) -> u32 {
    let dev = x.device();
    let fit = (dev.loop_budget() / (trips + 1)).max(1);
    (super::items_per_invocation(dev) as u64).min(fit) as u32
}

/// One dispatch of `k` writing a new tensor of `shape` from `srcs`, one invocation per run of
/// `p.items` elements of each of `rows` rows `width` long (output rows, except for upsampling).
fn launch(
    k: &'static Kernel,
    op: &'static str,
    p: &Params,
    srcs: &[&Tensor],
    shape: &[usize],
    (rows, width): (usize, usize),
) -> Result<Tensor> {
    let dev = srcs[0].device();
    let out = Tensor::empty(dev, op, shape, DType::F32)?;
    let n = out.numel();
    let invocations = rows * width.div_ceil(p.items as usize);
    let mut res: Vec<Res> = srcs.iter().map(|t| Res::Buf(t.buf().clone())).collect();
    res.push(Res::Buf(out.buf().clone()));
    dev.dispatch(
        op,
        k,
        &[],
        bytemuck::bytes_of(p),
        res,
        grid_1d(invocations, WG),
        &[(out.buf(), n)],
    )?;
    Ok(out)
}

/// Parameters of a k×k, stride-s window over x, checked: the window fits, and one output's
/// k² loop fits the device's loop budget.
fn window(op: &'static str, x: &Tensor, k: usize, stride: usize) -> Result<Params> {
    let [b, c, h, w] = dims4(op, x)?;
    let trips = (k as u64 + 1) * (k as u64 + 1) + 1;
    if k == 0 || stride == 0 || k > h || k > w || trips > x.device().loop_budget() {
        return Err(Error::Invalid {
            op,
            msg: format!(
                "a {k}x{k} window with stride {stride} does not fit input {:?} on this adapter",
                x.shape()
            ),
        });
    }
    Ok(Params {
        planes: (b * c) as u32,
        h: h as u32,
        w: w as u32,
        oh: ((h - k) / stride + 1) as u32,
        ow: ((w - k) / stride + 1) as u32,
        k: k as u32,
        stride: stride as u32,
        items: items_for(x, trips),
        scale: 1.0,
        ..Params::default()
    })
}

/// (rows, width) of the window sum's output and input planes.
fn out_rows(p: &Params) -> (usize, usize) {
    ((p.planes * p.oh) as usize, p.ow as usize)
}

fn in_rows(p: &Params) -> (usize, usize) {
    ((p.planes * p.h) as usize, p.w as usize)
}

fn out_shape(p: &Params, c: usize) -> [usize; 4] {
    let b = p.planes as usize / c;
    [b, c, p.oh as usize, p.ow as usize]
}

fn in_shape(p: &Params, c: usize) -> [usize; 4] {
    let b = p.planes as usize / c;
    [b, c, p.h as usize, p.w as usize]
}

/// scale × window sums of x (params `p`), differentiable (backward: the spread with the same
/// scale).
fn window_sum(op: &'static str, x: &Tensor, p: Params) -> Result<Tensor> {
    let c = x.shape()[1];
    let y = launch(&WINDOW_SUM, op, &p, &[x], &out_shape(&p, c), out_rows(&p))?;
    Ok(y.with_grad1(op, x, move |g| spread(op, g, &p)))
}

/// scale × the adjoint of the window sums, from g [B, C, OH, OW] to [B, C, H, W].
fn spread(op: &'static str, g: &Tensor, p: &Params) -> Result<Tensor> {
    let c = g.shape()[1];
    launch(&WINDOW_SPREAD, op, p, &[g], &in_shape(p, c), in_rows(p))
}

/// sum_hw / global_avg_pool: scale × the sum of each plane, differentiable.
fn plane_sum(op: &'static str, x: &Tensor, scale: f32) -> Result<Tensor> {
    let [b, c, h, w] = dims4(op, x)?;
    let mut p = Params {
        planes: (b * c) as u32,
        n: (h * w) as u32,
        items: 1,
        ..Params::default()
    };
    let mut y = x.clone();
    loop {
        let n = p.n as usize;
        let chunk = n.min(MAX_CHUNK);
        p.chunk = chunk as u32;
        let last = chunk == n;
        p.scale = if last { scale } else { 1.0 };
        let chunks = n.div_ceil(chunk);
        y = launch(&SUM_HW, op, &p, &[&y], &[b * c, chunks], (b * c, chunks))?;
        if last {
            break;
        }
        p.n = chunks as u32;
    }
    let y = y.reshape(&[b, c])?;
    let back = Params {
        planes: (b * c) as u32,
        n: (h * w) as u32,
        items: items_for(x, 1),
        scale,
        ..Params::default()
    };
    let in_shape = x.shape().to_vec();
    Ok(y.with_grad1(op, x, move |g| {
        launch(&EXPAND_HW, op, &back, &[g], &in_shape, (b * c, h * w))
    }))
}

impl Tensor {
    /// Average of each k×k window at the given stride, no padding, output size rounded down:
    /// [B, C, H, W] → [B, C, (H − k)/stride + 1, (W − k)/stride + 1].
    pub fn avg_pool2d(&self, k: usize, stride: usize) -> Result<Tensor> {
        let mut p = window("avg_pool2d", self, k, stride)?;
        p.scale = 1.0 / (k * k) as f32;
        window_sum("avg_pool2d", self, p)
    }

    /// Maximum of each k×k window (no padding, floor). The gradient goes to the window's first
    /// maximum in row-major order; a NaN in a window is its maximum.
    pub fn max_pool2d(&self, k: usize, stride: usize) -> Result<Tensor> {
        let op = "max_pool2d";
        let p = window(op, self, k, stride)?;
        let dev = self.device();
        let shape = out_shape(&p, self.shape()[1]);
        let arg = Tensor::empty(dev, op, &shape, DType::U32)?;
        let y = Tensor::empty(dev, op, &shape, DType::F32)?;
        let (rows, width) = out_rows(&p);
        let invocations = rows * width.div_ceil(p.items as usize);
        let res = [self, &y, &arg].map(|t| Res::Buf(t.buf().clone())).to_vec();
        dev.dispatch(
            op,
            &MAX_FWD,
            &[],
            bytemuck::bytes_of(&p),
            res,
            grid_1d(invocations, WG),
            &[(y.buf(), y.numel())],
        )?;
        let c = self.shape()[1];
        Ok(y.with_grad1(op, self, move |g| {
            launch(&MAX_BWD, op, &p, &[g, &arg], &in_shape(&p, c), in_rows(&p))
        }))
    }

    /// Mean over H and W: [B, C, H, W] → [B, C].
    pub fn global_avg_pool(&self) -> Result<Tensor> {
        let [_, _, h, w] = dims4("global_avg_pool", self)?;
        plane_sum("global_avg_pool", self, 1.0 / (h * w) as f32)
    }

    /// Sum over H and W: [B, C, H, W] → [B, C].
    pub fn sum_hw(&self) -> Result<Tensor> {
        plane_sum("sum_hw", self, 1.0)
    }

    /// Nearest-neighbour upsampling by 2: [B, C, H, W] → [B, C, 2H, 2W]. Its backward is the
    /// 2×2 stride-2 window sum (avg pool's kernel without the 1/4).
    pub fn upsample_nearest2x(&self) -> Result<Tensor> {
        let op = "upsample_nearest2x";
        let [b, c, h, w] = dims4(op, self)?;
        // Seen from the window sum: the output is its input, x its output.
        let p = Params {
            planes: (b * c) as u32,
            h: 2 * h as u32,
            w: 2 * w as u32,
            oh: h as u32,
            ow: w as u32,
            k: 2,
            stride: 2,
            // (k + 1)² + 1 trips per output of the backward's window sum.
            items: items_for(self, 10),
            scale: 1.0,
            ..Params::default()
        };
        let y = launch(&UPSAMPLE, op, &p, &[self], &in_shape(&p, c), in_rows(&p))?;
        Ok(y.with_grad1(op, self, move |g| {
            launch(&WINDOW_SUM, op, &p, &[g], &out_shape(&p, c), out_rows(&p))
        }))
    }

    /// ResNet option-A shortcut: x[:, :, ::stride, ::stride], then zero channels padded
    /// (out_channels - C)/2 before and the rest after. [B,C,H,W] -> [B,out,ceil(H/s),ceil(W/s)]
    pub fn shortcut_a(&self, stride: usize, out_channels: usize) -> Result<Tensor> {
        let op = "shortcut_a";
        let [b, c, h, w] = dims4(op, self)?;
        if stride == 0 || out_channels < c {
            return Err(Error::Invalid {
                op,
                msg: format!(
                    "stride {stride} and {out_channels} output channels do not fit input {:?}",
                    self.shape()
                ),
            });
        }
        let p = Params {
            h: h as u32,
            w: w as u32,
            oh: h.div_ceil(stride) as u32,
            ow: w.div_ceil(stride) as u32,
            stride: stride as u32,
            items: items_for(self, 1),
            c_in: c as u32,
            c_out: out_channels as u32,
            pad: ((out_channels - c) / 2) as u32,
            ..Params::default()
        };
        let fwd = Params {
            planes: (b * out_channels) as u32,
            ..p
        };
        let y = launch(
            &SHORTCUT_FWD,
            op,
            &fwd,
            &[self],
            &out_shape(&fwd, out_channels),
            out_rows(&fwd),
        )?;
        let bwd = Params {
            planes: (b * c) as u32,
            ..p
        };
        Ok(y.with_grad1(op, self, move |g| {
            launch(
                &SHORTCUT_BWD,
                op,
                &bwd,
                &[g],
                &in_shape(&bwd, c),
                in_rows(&bwd),
            )
        }))
    }
}
