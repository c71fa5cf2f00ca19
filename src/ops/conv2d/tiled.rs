//! The GPU variant: implicit GEMM with workgroup-memory tiles gathered straight from the NCHW
//! buffers (`shaders/conv2d_tiled.wgsl`, `conv2d_wgrad_tiled.wgsl`): no unfolded copy, no
//! packing. The forward pass and each stride phase of the input gradient are one dispatch of
//! the same kernel; the weight gradient is one split-K dispatch plus the in-order sum of its
//! partials.

use super::geom::{Direct, Geom};
use super::u32s;
use crate::runtime::{Bind, Device, Kernel, Res, MAX_GROUPS};
use crate::tensor::DType;
use crate::{Error, Result, Tensor};

static CONV: Kernel = Kernel {
    name: "conv2d_tiled",
    source: include_str!("../../../shaders/conv2d_tiled.wgsl"),
    entry: "conv",
    bindings: &[Bind::Read, Bind::Read, Bind::Read, Bind::ReadWrite],
    trusted: false,
};
static WGRAD: Kernel = Kernel {
    name: "conv2d_wgrad_tiled",
    source: include_str!("../../../shaders/conv2d_wgrad_tiled.wgsl"),
    entry: "wgrad",
    bindings: &[Bind::Read, Bind::Read, Bind::ReadWrite],
    trusted: false,
};

/// Reduction depth of one tile (`BK` in the shaders).
const BK: usize = 16;
/// Threads per workgroup; each computes 4x4 outputs.
const THREADS: usize = 256;
/// Loop trips of one tile at most (loads, the BK products, loop exits), for the loop budget.
const TRIPS_PER_TILE: usize = 3 * BK + 8;
/// Workgroups a split weight gradient aims for: a few per SM of a large GPU.
const WGRAD_GROUPS: usize = 256;
/// Fewest pixels per weight-gradient split.
const MIN_SPLIT: usize = 256;

/// Workgroup shape (narrow, wide) for a tile whose narrow side covers `n` channels (4 to 16
/// threads of 4) and whose wide side covers `m` rows: up to [`THREADS`] threads in all, within
/// the device's workgroup-memory limit (both tiles hold BK vec4s per thread column or row).
fn tile_shape(dev: &Device, n: usize, m: usize) -> Result<(usize, usize)> {
    let l = dev.limits();
    let narrow = n.div_ceil(4).next_power_of_two().clamp(4, 16);
    let mut wide = (THREADS / narrow).min(m.div_ceil(4).next_power_of_two().max(4));
    while wide > 4 && 16 * BK * (narrow + wide) > l.max_compute_workgroup_storage_size as usize {
        wide /= 2;
    }
    if narrow * wide > l.max_compute_invocations_per_workgroup as usize
        || narrow.max(wide)
            > l.max_compute_workgroup_size_x
                .min(l.max_compute_workgroup_size_y) as usize
        || 16 * BK * (narrow + wide) > l.max_compute_workgroup_storage_size as usize
    {
        return Err(Error::Invalid {
            op: "conv2d",
            msg: format!(
                "the tiled variant's {narrow}x{wide} workgroups exceed this device's limits"
            ),
        });
    }
    Ok((narrow, wide))
}

/// Longest reduction range one dispatch may cover within the device's loop budget.
fn max_k_len(dev: &Device) -> usize {
    let budget = dev.loop_budget();
    if budget == u64::MAX {
        return usize::MAX;
    }
    ((budget as usize).saturating_sub(16) / TRIPS_PER_TILE).max(1) * BK
}

fn push_i32(v: &mut Vec<u32>, xs: &[isize]) {
    v.extend(xs.iter().map(|&x| x as i32 as u32));
}

/// Records the conv kernel for `d` (a batch of `batch` images of `src`) into `out`.
#[allow(clippy::too_many_arguments)]
fn run_direct(
    src: &Tensor,
    w: &Tensor,
    d: &Direct,
    batch: usize,
    bias: Option<&Tensor>,
    out: &Tensor,
    (k_len, splits, os): (usize, usize, usize),
) -> Result<()> {
    let dev = src.device();
    let pixels = batch * d.ty * d.tx;
    let (wx, wy) = tile_shape(dev, d.n, pixels)?;
    let thw = d.th * d.tw;
    let mut v = u32s(
        "conv2d",
        &[
            pixels,
            d.ty * d.tx,
            d.tx,
            d.n,
            d.cin,
            d.hin,
            d.win,
            d.sy,
            d.sx,
        ],
    )?;
    push_i32(&mut v, &[d.y0, d.x0]);
    v.extend(u32s("conv2d", &[d.tw.max(1), thw.max(1), d.cin * thw])?);
    push_i32(&mut v, &[d.wn, d.wc, d.wy, d.wx, d.w0]);
    v.extend(u32s(
        "conv2d",
        &[
            w.numel(),
            d.ob,
            d.on,
            d.oy,
            d.ox,
            d.o0,
            os,
            k_len,
            splits,
            bias.is_some() as usize,
            0,
            0,
            0,
        ],
    )?);
    let groups = pixels.div_ceil(4 * wy);
    let (gx, gy) = (
        groups.min(MAX_GROUPS as usize),
        groups.div_ceil(MAX_GROUPS as usize),
    );
    let grid = u32s("conv2d", &[gx, gy, d.n.div_ceil(4 * wx) * splits])?;
    dev.dispatch(
        "conv2d",
        &CONV,
        &[("WG_X", wx as f64), ("WG_Y", wy as f64)],
        bytemuck::cast_slice(&v),
        vec![
            Res::Buf(src.buf().clone()),
            Res::Buf(w.buf().clone()),
            Res::Buf(bias.unwrap_or(w).buf().clone()),
            Res::Buf(out.buf().clone()),
        ],
        [grid[0], grid[1], grid[2]],
        &[(out.buf(), out.numel())],
    )
}

/// Runs the direct convolutions `ds` into an output of `shape`, splitting the reduction where it
/// exceeds the loop budget (partials summed in order).
fn run_all(
    src: &Tensor,
    w: &Tensor,
    ds: &[Direct],
    batch: usize,
    bias: Option<&Tensor>,
    shape: &[usize],
) -> Result<Tensor> {
    let dev = src.device();
    let k = ds.iter().map(|d| d.cin * d.th * d.tw).max().unwrap_or(0);
    let splits = k.div_ceil(max_k_len(dev)).max(1);
    let k_len = k.div_ceil(splits).next_multiple_of(BK).max(BK);
    super::sum_partials(dev, splits, shape, |out, n| {
        for d in ds {
            run_direct(src, w, d, batch, bias, out, (k_len, splits, n))?;
        }
        Ok(())
    })
}

/// y = conv2d(x, w) + bias, no graph.
pub(super) fn forward(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &Geom) -> Result<Tensor> {
    run_all(x, w, &[g.forward()], g.b, bias, &g.y_shape())
}

/// dx: one direct convolution of dy per stride phase.
pub(super) fn grad_input(dy: &Tensor, w: &Tensor, g: &Geom) -> Result<Tensor> {
    run_all(dy, w, &g.grad_input_phases(), g.b, None, &g.x_shape())
}

/// dW: split-K partials over the pixels, summed in order.
pub(super) fn grad_weight(x: &Tensor, dy: &Tensor, g: &Geom) -> Result<Tensor> {
    let dev = x.device();
    let cols = g.c * g.kh * g.kw;
    let (wy, wx) = tile_shape(dev, g.o, cols)?;
    let pixels = g.pixels();
    let tiles = g.o.div_ceil(4 * wy) * cols.div_ceil(4 * wx);
    let wanted = WGRAD_GROUPS
        .div_ceil(tiles)
        .min(pixels.div_ceil(MIN_SPLIT))
        .max(1);
    let splits = wanted.max(pixels.div_ceil(max_k_len(dev)));
    let k_len = pixels.div_ceil(splits).next_multiple_of(BK);
    let splits = pixels.div_ceil(k_len);
    let wsize = g.o * cols;
    let v = u32s(
        "conv2d",
        &[
            pixels,
            g.oh * g.ow,
            g.ow,
            g.o,
            g.c,
            g.h,
            g.w,
            g.kw,
            g.kh * g.kw,
            g.stride,
            g.pad,
            cols,
            k_len,
            wsize,
            0,
            0,
        ],
    )?;
    let partial = Tensor::empty(dev, "conv2d", &[splits, wsize], DType::F32)?;
    let grid = u32s(
        "conv2d",
        &[cols.div_ceil(4 * wx), g.o.div_ceil(4 * wy), splits],
    )?;
    dev.dispatch(
        "conv2d",
        &WGRAD,
        &[("WG_X", wx as f64), ("WG_Y", wy as f64)],
        bytemuck::cast_slice(&v),
        vec![
            Res::Buf(x.buf().clone()),
            Res::Buf(dy.buf().clone()),
            Res::Buf(partial.buf().clone()),
        ],
        [grid[0], grid[1], grid[2]],
        &[(partial.buf(), partial.numel())],
    )?;
    let dw = if splits == 1 {
        partial
    } else {
        partial.sum(0, false)?
    };
    dw.reshape(&g.w_shape())
}
