//! The software-adapter variant: implicit GEMM through read-only storage textures
//! (`shaders/conv2d_tex.wgsl`, `conv2d_wgrad_tex.wgsl`). Sources are packed once per call into
//! padded NHWC4 textures (`conv2d_pack.wgsl`) and weights into per-step panels
//! (`conv2d_wpack.wgsl`), so the inner loops are texel loads and multiply-adds only.
//!
//! Dispatches: forward = copy + pack x + pack w + conv (bias fused); input gradient = copy +
//! pack dy + (pack w + conv) per stride phase; weight gradient = one split-K kernel over x as
//! packed by the forward pass and dy as packed for the input gradient, + the in-order sum of its
//! partials. Called on their own, the gradients pack what they read.

use super::geom::{Direct, Geom};
use super::u32s;
use crate::runtime::{grid_1d, Bind, Device, GpuTexture, Kernel, Res, MAX_GROUPS};
use crate::tensor::DType;
use crate::{Error, Result, Tensor};
use std::sync::Arc;

static PACK: Kernel = tex_kernel(
    "conv2d_pack",
    include_str!("../../../shaders/conv2d_pack.wgsl"),
    "pack_input",
    &[Bind::ReadStorageTexture, Bind::StorageTexture],
);
static WPACK: Kernel = tex_kernel(
    "conv2d_wpack",
    include_str!("../../../shaders/conv2d_wpack.wgsl"),
    "pack_weight",
    &[Bind::Read, Bind::StorageTexture],
);
static CONV: Kernel = tex_kernel(
    "conv2d_tex",
    include_str!("../../../shaders/conv2d_tex.wgsl"),
    "conv",
    &[
        Bind::ReadStorageTexture,
        Bind::ReadStorageTexture,
        Bind::Read,
        Bind::ReadWrite,
        Bind::ReadWrite,
    ],
);
static WGRAD_ROWS: Kernel = tex_kernel(
    "conv2d_wgrad_rows",
    include_str!("../../../shaders/conv2d_wgrad_rows.wgsl"),
    "wgrad",
    &[
        Bind::ReadStorageTexture,
        Bind::ReadStorageTexture,
        Bind::ReadWrite,
    ],
);
static WGRAD: Kernel = tex_kernel(
    "conv2d_wgrad_tex",
    include_str!("../../../shaders/conv2d_wgrad_tex.wgsl"),
    "wgrad",
    &[
        Bind::ReadStorageTexture,
        Bind::ReadStorageTexture,
        Bind::ReadWrite,
    ],
);

const fn tex_kernel(
    name: &'static str,
    source: &'static str,
    entry: &'static str,
    bindings: &'static [Bind],
) -> Kernel {
    Kernel {
        name,
        source,
        entry,
        bindings,
        trusted: false,
    }
}

/// Packed textures are linear texel arrays in rows of this many texels (`put` in the shaders).
const TEX_W: usize = 4096;
/// The shaders divide through f32 reciprocals, exact below this.
const DIV_LIMIT: usize = 1 << 24;
/// Output pixels per workgroup of the conv kernel, and output channels per tile.
const GROUP_PIXELS: usize = 128;
const TILE_N: usize = 16;
/// Pixels one weight-gradient lane sums, at most (fewer where the loop budget is smaller).
const WGRAD_RUN: usize = 2048;

/// A [B, C, H, W] tensor packed as padded NHWC4: texel ((b·hp + yp)·wp + xp)·c4n + c4 holds
/// channels 4c4.. of pixel (yp − pt, xp − pl).
pub(super) struct Packed {
    tex: Arc<GpuTexture>,
    hp: usize,
    wp: usize,
    c4n: usize,
    pt: usize,
    pl: usize,
}

/// Padding [top, bottom, left, right] that keeps every read of `ds` (convolutions of a
/// [.., hin, win] source) inside the packed tensor.
fn padding(ds: &[Direct], hin: usize, win: usize) -> [usize; 4] {
    let mut pad = [0usize; 4];
    for d in ds.iter().filter(|d| d.th > 0 && d.tw > 0) {
        let ((y0, y1), (x0, x1)) = (d.y_range(), d.x_range());
        pad[0] = pad[0].max((-y0).max(0) as usize);
        pad[1] = pad[1].max((y1 - hin as isize + 1).max(0) as usize);
        pad[2] = pad[2].max((-x0).max(0) as usize);
        pad[3] = pad[3].max((x1 - win as isize + 1).max(0) as usize);
    }
    pad
}

/// Rows the pack kernel writes (one invocation each).
fn packed_rows(shape: &[usize], pad: [usize; 4]) -> usize {
    shape[0] * shape[1].div_ceil(4) * (shape[2] + pad[0] + pad[1])
}

fn packed_texels(shape: &[usize], pad: [usize; 4]) -> usize {
    shape[0] * (shape[2] + pad[0] + pad[1]) * (shape[3] + pad[2] + pad[3]) * shape[1].div_ceil(4)
}

/// Whether the variant can run `g` on `dev`: storage textures, every packed operand within the
/// texture limits, its rows within the pack kernel's loop budget, and every index the shaders
/// divide below [`DIV_LIMIT`].
pub(super) fn fits(dev: &Device, g: &Geom) -> bool {
    let rows = dev.limits().max_texture_dimension_2d as usize;
    let tex_ok = |texels: usize| texels.div_ceil(TEX_W) <= rows;
    let fwd = padding(&[g.forward()], g.h, g.w);
    let bwd = padding(&g.grad_input_phases(), g.oh, g.ow);
    // Weight panels: taps · input-channel quads · 4 · output-channel quads (forward, and at
    // most as many per input-gradient phase).
    let panels = |cin: usize, n: usize| g.kh * g.kw * cin.div_ceil(4) * 4 * n.div_ceil(TILE_N) * 4;
    let row_ok = |w: usize, pad: [usize; 4]| {
        ((w + pad[2] + 3 + pad[3]).div_ceil(4) + 1) as u64 <= dev.loop_budget()
    };
    dev.storage_textures()
        && TEX_W <= rows
        && row_ok(g.w, fwd)
        && row_ok(g.ow, bwd)
        && tex_ok(packed_texels(&g.x_shape(), fwd))
        && tex_ok(packed_texels(&g.y_shape(), bwd))
        && tex_ok(panels(g.c, g.o))
        && tex_ok(panels(g.o, g.c))
        && g.b * g.h * g.w < DIV_LIMIT
        && g.pixels() < DIV_LIMIT
        && packed_rows(&g.x_shape(), fwd) < DIV_LIMIT
        && packed_rows(&g.y_shape(), bwd) < DIV_LIMIT
}

/// A [B, C, H, W] tensor copied into a linear texture: texel i = elements 4i..4i+3, in rows of
/// 2^wl texels.
pub(super) struct Linear {
    device: Device,
    tex: Arc<GpuTexture>,
    wl: usize,
    shape: [usize; 4],
}

impl Linear {
    fn last(&self) -> usize {
        (self.tex.width * self.tex.height - 1) as usize
    }
}

/// Copies t's buffer into a linear texture whose row width (a power of two) divides the buffer,
/// so whole rows are copied at memcpy speed.
pub(super) fn linear(t: &Tensor) -> Result<Linear> {
    let dev = t.device();
    let size_texels = t.buf().size as usize / 16;
    let width = (1usize << size_texels.trailing_zeros()).min(TEX_W);
    let rows = t.numel().div_ceil(4).div_ceil(width);
    let tex = dev.texture("conv2d", width as u32, rows as u32)?;
    dev.copy_to_texture(
        t.buf(),
        &tex,
        16 * width as u32,
        [width as u32, rows as u32],
    );
    let s = t.shape();
    Ok(Linear {
        device: dev.clone(),
        tex,
        wl: width.trailing_zeros() as usize,
        shape: [s[0], s[1], s[2], s[3]],
    })
}

/// Packs a linear copy of a [B, C, H, W] tensor with padding [top, bottom, left, right].
fn pack(lin: &Linear, pad: [usize; 4]) -> Result<Packed> {
    let (dev, s) = (&lin.device, lin.shape);
    let (hp, wp, c4n) = (
        s[2] + pad[0] + pad[1],
        s[3] + pad[2] + pad[3],
        s[1].div_ceil(4),
    );
    let texels = s[0] * hp * wp * c4n;
    let tex = dev.texture("conv2d", TEX_W as u32, texels.div_ceil(TEX_W) as u32)?;
    let pl4 = pad[2].next_multiple_of(4);
    let quads = (wp + pl4 - pad[2]).div_ceil(4);
    let rows = s[0] * c4n * hp;
    let v = u32s(
        "conv2d",
        &[
            rows,
            quads,
            c4n,
            hp,
            wp,
            s[1],
            s[2],
            s[3],
            pad[0],
            pad[2],
            pl4,
            lin.wl,
            lin.last(),
            s[3].is_multiple_of(4) as usize,
            0,
            0,
        ],
    )?;
    let mut v = v;
    v[14] = (1.0 / hp as f32).to_bits();
    v[15] = (1.0 / c4n as f32).to_bits();
    dev.dispatch(
        "conv2d",
        &PACK,
        &[],
        bytemuck::cast_slice(&v),
        vec![Res::Tex(lin.tex.clone()), Res::Tex(tex.clone())],
        grid_1d(rows, 64),
        &[],
    )?;
    Ok(Packed {
        tex,
        hp,
        wp,
        c4n,
        pt: pad[0],
        pl: pad[2],
    })
}

/// Weight panels of `d`: texel (k·4 + e)·o4p + o4. Returns the texture and o4p.
fn pack_weights(w: &Tensor, d: &Direct) -> Result<(Arc<GpuTexture>, usize)> {
    let dev = w.device();
    let c4n = d.cin.div_ceil(4);
    let o4p = d.n.div_ceil(TILE_N) * 4;
    let texels = d.th * d.tw * c4n * 4 * o4p;
    let tex = dev.texture("conv2d", TEX_W as u32, texels.div_ceil(TEX_W) as u32)?;
    if texels == 0 {
        return Ok((tex, o4p));
    }
    let mut v = u32s("conv2d", &[texels, o4p, c4n, d.tw * c4n, d.n, d.cin])?;
    for s in [d.wn, d.wc, d.wy, d.wx, d.w0] {
        v.push(s as i32 as u32);
    }
    v.push(u32s("conv2d", &[w.numel()])?[0]);
    dev.dispatch(
        "conv2d",
        &WPACK,
        &[],
        bytemuck::cast_slice(&v),
        vec![Res::Buf(w.buf().clone()), Res::Tex(tex.clone())],
        grid_1d(texels, 64),
        &[],
    )?;
    Ok((tex, o4p))
}

/// Steps per split and the split count for `steps` reduction steps within the loop budget.
fn k_split(dev: &Device, steps: usize) -> (usize, usize) {
    let budget = dev.loop_budget().min(u32::MAX as u64) as usize;
    let max_len = budget.saturating_sub(2).max(1);
    let splits = steps.div_ceil(max_len).max(1);
    (steps.div_ceil(splits).max(1), splits)
}

/// Records the conv kernel for `d` over a batch of `batch` images of `src` into `out` (split s
/// at element offset s·os).
#[allow(clippy::too_many_arguments)]
fn run_direct(
    src: &Packed,
    w: &Tensor,
    d: &Direct,
    batch: usize,
    bias: Option<&Tensor>,
    out: &Tensor,
    (k_len, splits, os): (usize, usize, usize),
) -> Result<()> {
    let dev = w.device();
    let (wt, o4p) = pack_weights(w, d)?;
    let pixels = batch * d.ty * d.tx;
    let steps = d.th * d.tw * src.c4n;
    // Padded position of tap (0, 0) of output (0, 0); the padding makes it non-negative.
    let y0 = (d.y0 + src.pt as isize) as usize;
    let x0 = (d.x0 + src.pl as isize) as usize;
    let mut v = u32s(
        "conv2d",
        &[
            pixels,
            d.ty * d.tx,
            d.tx,
            0,
            0,
            d.n,
            src.hp,
            src.wp,
            src.c4n,
            d.sy,
            d.sx,
            y0,
            x0,
            (d.tw * src.c4n).max(1),
            (src.wp - d.tw) * src.c4n,
            steps,
            k_len,
            splits,
            o4p,
            d.ob,
            d.on,
            d.oy,
            d.ox,
            d.o0,
            os,
            d.dense_quads() as usize,
            bias.is_some() as usize,
            src.tex.width.trailing_zeros() as usize,
            wt.width.trailing_zeros() as usize,
            0,
            0,
            0,
        ],
    )?;
    v[3] = (1.0 / (d.ty * d.tx) as f32).to_bits();
    v[4] = (1.0 / d.tx as f32).to_bits();
    let groups = pixels.div_ceil(GROUP_PIXELS);
    let (gx, gy) = (
        groups.min(MAX_GROUPS as usize),
        groups.div_ceil(MAX_GROUPS as usize),
    );
    let grid = u32s("conv2d", &[gx, gy, d.n.div_ceil(TILE_N) * splits])?;
    let bias_buf = bias.unwrap_or(w).buf().clone();
    dev.dispatch(
        "conv2d",
        &CONV,
        &[],
        bytemuck::cast_slice(&v),
        vec![
            Res::Tex(src.tex.clone()),
            Res::Tex(wt),
            Res::Buf(bias_buf),
            Res::Buf(out.buf().clone()),
            Res::Buf(out.buf().clone()),
        ],
        [grid[0], grid[1], grid[2]],
        &[(out.buf(), out.numel())],
    )
}

/// Runs the direct convolutions `ds` (each writing its own elements of an output of `shape`),
/// splitting their reduction where it exceeds the loop budget.
fn run_all(
    src: &Packed,
    w: &Tensor,
    ds: &[Direct],
    batch: usize,
    bias: Option<&Tensor>,
    shape: &[usize],
) -> Result<Tensor> {
    let dev = w.device();
    let steps = ds.iter().map(|d| d.th * d.tw * src.c4n).max().unwrap_or(0);
    let (k_len, splits) = k_split(dev, steps);
    super::sum_partials(dev, splits, shape, |out, n| {
        for d in ds {
            run_direct(src, w, d, batch, bias, out, (k_len, splits, n))?;
        }
        Ok(())
    })
}

/// x as the weight gradient reads it: a linear copy for the in-place kernel, else packed.
pub(super) enum SavedX {
    Linear(Linear),
    Packed(Packed),
}

/// Whether the weight gradient reads x and dy in place (stride 2, whose x is 4 times the size of
/// dy, or fewer than 4 input channels, which the packed kernel pads to 4; rows of whole texels)
/// rather than packed.
fn wgrad_in_place(g: &Geom) -> bool {
    let rows = g.w.is_multiple_of(4) && g.ow.is_multiple_of(4);
    rows && (g.stride == 2 || (g.stride == 1 && g.c < 4))
}

fn save_x(xl: Linear, xp: Packed, g: &Geom) -> SavedX {
    match wgrad_in_place(g) {
        true => SavedX::Linear(xl),
        false => SavedX::Packed(xp),
    }
}

/// x as the weight gradient reads it, for a weight gradient computed on its own.
pub(super) fn saved_x(x: &Tensor, g: &Geom) -> Result<SavedX> {
    let xl = linear(x)?;
    Ok(match wgrad_in_place(g) {
        true => SavedX::Linear(xl),
        false => SavedX::Packed(pack(&xl, padding(&[g.forward()], g.h, g.w))?),
    })
}

/// y = conv2d(x, w) + bias, no graph; also returns x as the weight gradient will read it.
pub(super) fn forward(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    g: &Geom,
) -> Result<(Tensor, SavedX)> {
    let xl = linear(x)?;
    let xp = pack(&xl, padding(&[g.forward()], g.h, g.w))?;
    let y = run_all(&xp, w, &[g.forward()], g.b, bias, &g.y_shape())?;
    Ok((y, save_x(xl, xp, g)))
}

/// dx from a linear copy of dy: dy packed for the stride phases, one direct convolution each.
pub(super) fn grad_input(dl: &Linear, w: &Tensor, g: &Geom) -> Result<Tensor> {
    let phases = g.grad_input_phases();
    let dp = pack(dl, padding(&phases, g.oh, g.ow))?;
    run_all(&dp, w, &phases, g.b, None, &g.x_shape())
}

/// dW from x (as saved) and a linear copy of dy: split-K partials, summed in order.
pub(super) fn grad_weight(x: &SavedX, dl: &Linear, g: &Geom) -> Result<Tensor> {
    match x {
        SavedX::Linear(xl) => grad_weight_rows(xl, dl, g),
        SavedX::Packed(xp) => grad_weight_packed(xp, &pack(dl, [0; 4])?, g, &dl.device),
    }
}

/// Split count (a multiple of 8: one per lane) and run length for `steps` reduction steps of
/// `per_step` pixels, runs within the loop budget.
fn wgrad_runs(dev: &Device, steps: usize, per_step: usize) -> (usize, usize) {
    let budget = dev.loop_budget().min(u32::MAX as u64) as usize;
    let run = (WGRAD_RUN / per_step).min(budget.saturating_sub(2).max(1));
    let splits = steps.div_ceil(run).next_multiple_of(8);
    (splits, steps.div_ceil(splits))
}

/// dW in place from NCHW x and dy (W % 4 = 0, OW % 4 = 0, stride ≤ 2).
fn grad_weight_rows(xl: &Linear, dl: &Linear, g: &Geom) -> Result<Tensor> {
    let dev = &xl.device;
    let quads = g.pixels() / 4;
    let (splits, len) = wgrad_runs(dev, quads, 4);
    let cols = g.c * g.kh * g.kw;
    let wsize = g.o * cols;
    let v = u32s(
        "conv2d",
        &[
            quads,
            g.ow / 4,
            len,
            g.oh,
            g.ow,
            g.stride,
            g.pad,
            g.h,
            g.w,
            g.c,
            g.o,
            g.kw,
            g.kh * g.kw,
            cols,
            wsize,
            g.c * g.h * g.w,
            g.o * g.oh * g.ow,
            xl.last(),
            dl.last(),
            xl.wl,
            dl.wl,
            0,
            0,
            0,
        ],
    )?;
    let partial = Tensor::empty(dev, "conv2d", &[splits, wsize], DType::F32)?;
    let grid = u32s(
        "conv2d",
        &[splits / 8, cols.div_ceil(16), g.o.div_ceil(TILE_N)],
    )?;
    dev.dispatch(
        "conv2d",
        &WGRAD_ROWS,
        &[],
        bytemuck::cast_slice(&v),
        vec![
            Res::Tex(xl.tex.clone()),
            Res::Tex(dl.tex.clone()),
            Res::Buf(partial.buf().clone()),
        ],
        [grid[0], grid[1], grid[2]],
        &[(partial.buf(), partial.numel())],
    )?;
    partial.sum(0, false)?.reshape(&g.w_shape())
}

/// dW from packed x and dy (any shape): split-K partials, summed in order.
fn grad_weight_packed(xp: &Packed, dp: &Packed, g: &Geom, dev: &Device) -> Result<Tensor> {
    let pixels = g.pixels();
    // 4 pixels per loop trip.
    let (splits, trips) = wgrad_runs(dev, pixels.div_ceil(4), 4);
    let len = 4 * trips;
    let cols = g.kh * g.kw * xp.c4n;
    let wsize = g.o * g.c * g.kh * g.kw;
    let (s, c4x, c4d) = (g.stride, xp.c4n, dp.c4n);
    let x_row = (s * xp.wp).wrapping_sub(g.ow * s) * c4x;
    let x_img = (xp.hp * xp.wp).wrapping_sub(g.oh * s * xp.wp) * c4x;
    let d_row = (dp.wp - g.ow) * c4d;
    let d_img = (dp.hp - g.oh) * dp.wp * c4d;
    let v = u32s(
        "conv2d",
        &[
            pixels,
            len,
            g.ow,
            g.oh,
            xp.hp,
            xp.wp,
            c4x,
            s,
            xp.pt - g.pad,
            xp.pl - g.pad,
            x_row & 0xffff_ffff,
            x_img & 0xffff_ffff,
            dp.hp,
            dp.wp,
            c4d,
            dp.pt,
            dp.pl,
            d_row,
            d_img,
            cols,
            g.kw,
            g.o,
            g.c,
            g.kh * g.kw,
            wsize,
            xp.tex.width.trailing_zeros() as usize,
            dp.tex.width.trailing_zeros() as usize,
            0,
        ],
    )?;
    let partial = Tensor::empty(dev, "conv2d", &[splits, wsize], DType::F32)?;
    let grid = u32s(
        "conv2d",
        &[splits / 8, cols.div_ceil(4), g.o.div_ceil(TILE_N)],
    )?;
    dev.dispatch(
        "conv2d",
        &WGRAD,
        &[],
        bytemuck::cast_slice(&v),
        vec![
            Res::Tex(xp.tex.clone()),
            Res::Tex(dp.tex.clone()),
            Res::Buf(partial.buf().clone()),
        ],
        [grid[0], grid[1], grid[2]],
        &[(partial.buf(), partial.numel())],
    )?;
    partial.sum(0, false)?.reshape(&g.w_shape())
}

/// Refuses shapes the variant cannot run on `dev`.
pub(super) fn check(dev: &Device, g: &Geom) -> Result<()> {
    if fits(dev, g) {
        return Ok(());
    }
    Err(Error::Invalid {
        op: "conv2d",
        msg: format!(
            "the texture variant cannot run x {:?} * w {:?} on this device: it needs rgba32float \
             storage textures and packed operands within {} texel rows",
            g.x_shape(),
            g.w_shape(),
            dev.limits().max_texture_dimension_2d
        ),
    })
}
