//! Matrix multiplication (`shaders/matmul.wgsl`, `matmul_tex.wgsl`, `matmul_pack.wgsl`):
//! `[.., M, K] x [.., K, N]` with optional transposes, a shared or broadcast batch, four kernel
//! variants and the backward rule.
//!
//! `Variant::Auto` picks, per device class and shape (`TAILGRAD_MATMUL` overrides it):
//! - software adapters (lavapipe, llvmpipe) with `rgba32float` storage textures: `Texture`;
//!   without them, or past the texture size limit: `Blocked`;
//! - real GPUs: `Tiled`;
//! - and `SplitK` on top of that base when the output has too few tiles to occupy the device
//!   (fewer than [`SOFTWARE_SLOTS`] workgroups with K >= [`SOFTWARE_SPLIT_MIN_K`] on a software
//!   adapter; fewer than [`GPU_STARVED_TILES`] tiles with K >= [`GPU_SPLIT_MIN_K`] on a GPU).
//!
//! On software adapters every variant also splits K where one invocation would loop more than
//! llvmpipe allows (65535 iterations in total, see `max_k_len`): a split that only guards
//! correctness.

use crate::runtime::{Device, DeviceClass, GpuTexture, Kernel, Res};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};
use std::sync::Arc;

kernel!(trusted TEXTURE = "matmul_tex"::"main" [ReadStorageTexture, ReadStorageTexture, ReadWrite, ReadWrite]);
kernel!(trusted TEXTURE_NARROW = "matmul_tex"::"narrow" [ReadStorageTexture, ReadStorageTexture, ReadWrite, ReadWrite]);
kernel!(PACK_K = "matmul_pack"::"pack_k" [ReadStorageTexture, StorageTexture]);
kernel!(PACK_O = "matmul_pack"::"pack_o" [ReadStorageTexture, StorageTexture]);
kernel!(trusted TILED = "matmul"::"tiled" [Read, Read, ReadWrite]);
kernel!(BLOCKED = "matmul"::"blocked" [Read, Read, ReadWrite]);

/// Which kernel computes a matmul.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Chosen per device class and shape (see the module docs).
    Auto,
    /// Software adapters: operands read with `textureLoad` from storage textures (packed into
    /// k-contiguous panels, or in place for narrow outer-contiguous operands), 16x128 or 16x64
    /// outputs per 8 invocations.
    Texture,
    /// Real GPUs: workgroup-memory tiles, 8x8 outputs per thread.
    Tiled,
    /// Portable storage-buffer kernel, 4x4 outputs per invocation, no workgroup memory.
    Blocked,
    /// K split into ranges computed by the device's base kernel, partials summed in order by a
    /// second pass (deterministic, no atomics). For small M·N with a long K.
    SplitK,
}

impl Variant {
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Auto => "auto",
            Variant::Texture => "texture",
            Variant::Tiled => "tiled",
            Variant::Blocked => "blocked",
            Variant::SplitK => "splitk",
        }
    }

    /// The variant forced by `TAILGRAD_MATMUL`, if set.
    fn from_env() -> Result<Option<Variant>> {
        let Ok(v) = std::env::var("TAILGRAD_MATMUL") else {
            return Ok(None);
        };
        let all = [
            Variant::Auto,
            Variant::Texture,
            Variant::Tiled,
            Variant::Blocked,
            Variant::SplitK,
        ];
        all.into_iter()
            .find(|x| x.name() == v.to_ascii_lowercase())
            .map(Some)
            .ok_or_else(|| Error::Invalid {
                op: "matmul",
                msg: format!("TAILGRAD_MATMUL={v:?}: use auto, texture, tiled, blocked or splitk"),
            })
    }
}

/// The variants that can run on `dev` (every shape within their limits).
pub fn variants(dev: &Device) -> Vec<Variant> {
    let mut v = Vec::new();
    if dev.storage_textures() {
        v.push(Variant::Texture);
    }
    v.extend([Variant::Tiled, Variant::Blocked, Variant::SplitK]);
    v
}

/// Workgroups that keep a software adapter's thread pool busy (lavapipe: one thread per core).
pub const SOFTWARE_SLOTS: usize = 4;
/// K from which splitting pays for the second pass on a software adapter.
pub const SOFTWARE_SPLIT_MIN_K: usize = 2048;
/// Workgroups a split GPU matmul aims for: about one per SM (H100: 132 SMs).
pub const GPU_SLOTS: usize = 128;
/// Output tiles below which a GPU matmul is split. Measured on an H100 with the trusted tiled
/// kernel: 512^3 (16 tiles) runs 4.4x and 1024^3 (64 tiles) 1.5x faster unsplit, while
/// 16x144x65536 (2 tiles) runs 18x faster split.
pub const GPU_STARVED_TILES: usize = 8;
/// K from which splitting pays on a GPU.
pub const GPU_SPLIT_MIN_K: usize = 512;
/// Fewest k per split.
const MIN_SPLIT_LEN: usize = 256;

/// Tiled tile shape: workgroup WG_X x WG_Y threads, 8x8 outputs each, TILE_K deep.
/// `TAILGRAD_MATMUL_TILE=wx,wy,tk` overrides it (for tuning on a new GPU).
const TILED_WG: (u32, u32, u32) = (16, 16, 16);

fn tiled_wg() -> (u32, u32, u32) {
    static WG: std::sync::OnceLock<(u32, u32, u32)> = std::sync::OnceLock::new();
    *WG.get_or_init(|| {
        let v: Option<Vec<u32>> = std::env::var("TAILGRAD_MATMUL_TILE")
            .ok()
            .and_then(|s| s.split(',').map(|x| x.trim().parse().ok()).collect());
        match v.as_deref() {
            Some(&[wx, wy, tk]) if wx > 0 && wy > 0 && tk > 0 => (wx, wy, tk),
            _ => TILED_WG,
        }
    })
}

/// Texture kernel tile: 16 rows (one A panel) x 128 columns (one B panel) per workgroup, or 64
/// columns for the narrow kernel.
const TEX_ROWS: usize = 16;
const TEX_COLS: usize = 128;
const TEX_COLS_NARROW: usize = 64;
/// Time per computed output of the narrow kernel relative to the wide one (measured at 1024^3).
const NARROW_COST: f64 = 1.2;
/// Panel textures are linear texel arrays in rows of this many texels.
const TEX_WIDTH: u32 = 4096;

/// One operand as a strided view: element (b, i, k) of the un-transposed operand
/// (`i` = row of A / column of B) is at `b * bs + i * si + k * sk`.
#[derive(Clone, Copy)]
struct View {
    bs: usize,
    si: usize,
    sk: usize,
}

/// A batched product C[b] = op(A)[b] · op(B)[b] of M x K by K x N.
struct Gemm<'a> {
    a: &'a Tensor,
    b: &'a Tensor,
    av: View,
    bv: View,
    /// Batches stored in each operand (1 = broadcast).
    a_batches: usize,
    b_batches: usize,
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
}

/// Where C goes: element (s, b, m, n) at `s * ss + b * bs + m * sm + n * sn`.
#[derive(Clone, Copy)]
struct Out {
    ss: usize,
    bs: usize,
    sm: usize,
    sn: usize,
}

/// The single-pass kernels; `SplitK` runs one of them per k range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Base {
    Texture,
    Tiled,
    Blocked,
}

impl Tensor {
    /// Matrix product of the last two dims, `[.., M, K] x [.., K, N] -> [.., M, N]`; a batch of
    /// one (or a rank-2 operand) broadcasts over the other's batch.
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        matmul_ex(self, rhs, false, false, Variant::Auto)
    }
}

/// `op(a) · op(b)` where `op` transposes the last two dims when its flag is set (inside the
/// kernels, no copies), computed by `variant` (see the module docs for `Auto`).
pub fn matmul_ex(
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
    variant: Variant,
) -> Result<Tensor> {
    let (g, out_shape) = plan(a, b, trans_a, trans_b)?;
    let variant = match variant {
        Variant::Auto => Variant::from_env()?.unwrap_or(Variant::Auto),
        v => v,
    };
    let y = forward(&g, variant)?.reshape(&out_shape)?.detach();
    let (ad, bd) = (a.detach(), b.detach());
    let (a_shape, b_shape) = (a.shape().to_vec(), b.shape().to_vec());
    Ok(y.with_grad(
        "matmul",
        &[a, b],
        Box::new(move |g, need| {
            // dA = g·Bᵀ and dB = Aᵀ·g, written on the stored (possibly transposed) operands so
            // that no transpose is materialised; broadcast batches are summed away.
            let da = match (need[0], trans_a) {
                (false, _) => None,
                (true, false) => Some(matmul_ex(g, &bd, false, !trans_b, variant)?),
                (true, true) => Some(matmul_ex(&bd, g, trans_b, true, variant)?),
            };
            let db = match (need[1], trans_b) {
                (false, _) => None,
                (true, false) => Some(matmul_ex(&ad, g, !trans_a, false, variant)?),
                (true, true) => Some(matmul_ex(g, &ad, true, trans_a, variant)?),
            };
            Ok(vec![
                da.map(|d| d.sum_to(&a_shape)).transpose()?,
                db.map(|d| d.sum_to(&b_shape)).transpose()?,
            ])
        }),
    ))
}

/// Computes C as a [batch, M, N] tensor with no graph.
fn forward(g: &Gemm, variant: Variant) -> Result<Tensor> {
    let dev = g.a.device();
    let base = base_for(dev, g);
    let (base, splits) = match variant {
        Variant::Auto => (base, split_count(dev, g, base)),
        Variant::SplitK => (base, split_count(dev, g, base).max(2)),
        Variant::Texture => (Base::Texture, 1),
        Variant::Tiled => (Base::Tiled, 1),
        Variant::Blocked => (Base::Blocked, 1),
    };
    let splits = splits.max(g.k.div_ceil(max_k_len(dev, base)));
    let (k_len, splits) = k_ranges(g.k, splits, base);
    let per = g.batch * g.m * g.n;
    if splits == 1 && variant != Variant::SplitK {
        let y = Tensor::empty(dev, "matmul", &[g.batch, g.m, g.n], DType::F32)?;
        let out = Out {
            ss: 0,
            bs: g.m * g.n,
            sm: g.n,
            sn: 1,
        };
        run(dev, g, base, (k_len, 1), &y, out)?;
        return Ok(y);
    }
    // Partials [splits, batch·M·N], then an in-order sum over the splits (deterministic).
    let partial = Tensor::empty(dev, "matmul", &[splits, per], DType::F32)?;
    let out = Out {
        ss: per,
        bs: g.m * g.n,
        sm: g.n,
        sn: 1,
    };
    run(dev, g, base, (k_len, splits), &partial, out)?;
    partial.sum(0, false)
}

/// Checks dtypes and shapes; returns the problem and the output shape.
fn plan<'a>(
    a: &'a Tensor,
    b: &'a Tensor,
    trans_a: bool,
    trans_b: bool,
) -> Result<(Gemm<'a>, Vec<usize>)> {
    a.expect_f32("matmul")?;
    b.expect_f32("matmul")?;
    for t in [a, b] {
        if t.rank() < 2 {
            return Err(Error::Invalid {
                op: "matmul",
                msg: format!("operands need rank >= 2, got shape {:?}", t.shape()),
            });
        }
    }
    let mismatch = || Error::Shape {
        op: "matmul",
        lhs: a.shape().to_vec(),
        rhs: b.shape().to_vec(),
    };
    let (ra, rb) = (a.rank(), b.rank());
    let (a0, a1) = (a.shape()[ra - 2], a.shape()[ra - 1]);
    let (b0, b1) = (b.shape()[rb - 2], b.shape()[rb - 1]);
    let (m, ka) = if trans_a { (a1, a0) } else { (a0, a1) };
    let (kb, n) = if trans_b { (b1, b0) } else { (b0, b1) };
    if ka != kb {
        return Err(mismatch());
    }
    let (a_batch, b_batch) = (&a.shape()[..ra - 2], &b.shape()[..rb - 2]);
    let (na, nb): (usize, usize) = (a_batch.iter().product(), b_batch.iter().product());
    // numpy's broadcast of the batch dims, where the kernels support it: each side either has
    // every batch of the output or a single one.
    let batch_shape =
        super::broadcast::broadcast_shape("matmul", a_batch, b_batch).map_err(|_| mismatch())?;
    let n_out: usize = batch_shape.iter().product();
    if !((na == n_out || na == 1) && (nb == n_out || nb == 1)) {
        return Err(mismatch());
    }
    let mut out_shape = batch_shape.clone();
    out_shape.extend([m, n]);
    // Un-transposed element (i, k) of A is a[i, k] (or a[k, i] when stored transposed).
    let view = |rows: usize, cols: usize, batches: usize, trans: bool| View {
        bs: if batches > 1 { rows * cols } else { 0 },
        si: if trans { 1 } else { cols },
        sk: if trans { cols } else { 1 },
    };
    // For B the "row" index i is the output column n and k runs down the stored rows.
    let bview = |trans: bool| View {
        bs: if nb > 1 { b0 * b1 } else { 0 },
        si: if trans { b1 } else { 1 },
        sk: if trans { 1 } else { b1 },
    };
    let g = Gemm {
        a,
        b,
        av: view(a0, a1, na, trans_a),
        bv: bview(trans_b),
        a_batches: na,
        b_batches: nb,
        batch: na.max(nb),
        m,
        n,
        k: ka,
    };
    Ok((g, out_shape))
}

/// The device's single-pass kernel for this shape.
fn base_for(dev: &Device, g: &Gemm) -> Base {
    match dev.class() {
        DeviceClass::Gpu => Base::Tiled,
        DeviceClass::Software if texture_fits(dev, g) => Base::Texture,
        DeviceClass::Software => Base::Blocked,
    }
}

/// Output tiles (workgroups per split) of `base` for this shape.
fn tiles(g: &Gemm, base: Base) -> usize {
    let (tm, tn) = match base {
        Base::Texture => {
            let (swapped, cols) = texture_plan(g);
            let (rows, n) = if swapped { (g.n, g.m) } else { (g.m, g.n) };
            return rows.div_ceil(TEX_ROWS) * n.div_ceil(cols) * g.batch;
        }
        Base::Tiled => (8 * tiled_wg().1 as usize, 8 * tiled_wg().0 as usize),
        Base::Blocked => (32, 32),
    };
    g.m.div_ceil(tm) * g.n.div_ceil(tn) * g.batch
}

/// How many k ranges `Auto` splits into (1 = no split).
fn split_count(dev: &Device, g: &Gemm, base: Base) -> usize {
    let (slots, starved, min_k) = match dev.class() {
        DeviceClass::Software => (SOFTWARE_SLOTS, SOFTWARE_SLOTS, SOFTWARE_SPLIT_MIN_K),
        DeviceClass::Gpu => (GPU_SLOTS, GPU_STARVED_TILES, GPU_SPLIT_MIN_K),
    };
    let t = tiles(g, base);
    if g.k < min_k || t >= starved {
        return 1;
    }
    slots.div_ceil(t).min(g.k / MIN_SPLIT_LEN).max(1)
}

/// Records `base` over the k ranges `(length, count)` into `c`.
fn run(dev: &Device, g: &Gemm, base: Base, ks: (usize, usize), c: &Tensor, out: Out) -> Result<()> {
    match base {
        Base::Texture => run_texture(dev, g, ks, c, out),
        Base::Tiled | Base::Blocked => run_buffers(dev, g, base, ks, c, out),
    }
}

/// Longest k range one dispatch may cover: within the device's loop budget (llvmpipe ends an
/// invocation's loops after 65535 iterations in total and silently truncates results), so on
/// software adapters K is split into ranges whose loops stay below it.
fn max_k_len(dev: &Device, base: Base) -> usize {
    let budget = dev.loop_budget();
    if budget == u64::MAX {
        return usize::MAX;
    }
    let budget = budget as usize;
    match base {
        // One loop iteration per 4 k.
        Base::Texture => 4 * budget,
        // Up to ~7 loop iterations per k (tile loads and the tile's k loop).
        Base::Tiled => budget / 7,
        Base::Blocked => budget,
    }
}

/// Splits K into about `splits` ranges whose length is a multiple of the kernel's k step:
/// (range length, range count).
fn k_ranges(k: usize, splits: usize, base: Base) -> (usize, usize) {
    let unit = match base {
        Base::Texture => 4,
        Base::Tiled => tiled_wg().2 as usize,
        Base::Blocked => 1,
    };
    let len = k.div_ceil(splits).next_multiple_of(unit);
    (len, k.div_ceil(len))
}

fn u32s(op: &'static str, v: &[usize]) -> Result<Vec<u32>> {
    v.iter()
        .map(|&x| {
            u32::try_from(x).map_err(|_| Error::Invalid {
                op,
                msg: format!("index {x} exceeds the 32-bit range of the kernels"),
            })
        })
        .collect()
}

fn groups(op: &'static str, v: [usize; 3]) -> Result<[u32; 3]> {
    let g = u32s(op, &v)?;
    Ok([g[0], g[1], g[2]])
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BufParams {
    v: [u32; 16],
}

fn run_buffers(
    dev: &Device,
    g: &Gemm,
    base: Base,
    (k_len, splits): (usize, usize),
    c: &Tensor,
    out: Out,
) -> Result<()> {
    let v = u32s(
        "matmul",
        &[
            g.m, g.n, g.k, k_len, splits, g.av.bs, g.av.si, g.av.sk, g.bv.bs, g.bv.sk, g.bv.si,
            out.ss, out.bs, out.sm, out.sn, 0,
        ],
    )?;
    let p = BufParams {
        v: v.try_into().expect("16 params"),
    };
    let (k, consts, tm, tn): (&'static Kernel, Vec<(&str, f64)>, usize, usize) = match base {
        Base::Tiled => {
            let (wx, wy, tk) = tiled_wg();
            let l = dev.limits();
            if wx * wy > l.max_compute_invocations_per_workgroup
                || 32 * tk * (wx + wy) > l.max_compute_workgroup_storage_size
            {
                return Err(Error::Invalid {
                    op: "matmul",
                    msg: format!(
                        "tiled tile {wx}x{wy}x{tk} exceeds this device's workgroup limits"
                    ),
                });
            }
            (
                &TILED,
                vec![
                    ("WG_X", wx as f64),
                    ("WG_Y", wy as f64),
                    ("TILE_K", tk as f64),
                ],
                8 * wy as usize,
                8 * wx as usize,
            )
        }
        _ => (&BLOCKED, vec![], 32, 32),
    };
    let grid = groups(
        "matmul",
        [g.n.div_ceil(tn), g.m.div_ceil(tm), g.batch * splits],
    )?;
    dev.dispatch(
        "matmul",
        k,
        &consts,
        bytemuck::bytes_of(&p),
        vec![
            Res::Buf(g.a.buf().clone()),
            Res::Buf(g.b.buf().clone()),
            Res::Buf(c.buf().clone()),
        ],
        grid,
        &[(c.buf(), c.numel())],
    )
}

/// One operand of the texture kernel: `rows` long in its outer dim (M for A, N for B; swapped
/// in the transposed problem), viewed through `v`, `batches` stored.
#[derive(Clone, Copy)]
struct TexSide<'a> {
    x: &'a Tensor,
    v: View,
    rows: usize,
    batches: usize,
    /// Rows (A side: 16) or columns (B side: 128, or 64 narrow) of C one panel covers.
    panel_rows: usize,
}

/// Where the texture kernel finds an operand: texel (k, quad q of panel j, batch b) is at
/// `b * bs + j * ps + k * ks + q` in `tex`, a linear texture of 2^wl texels per row.
struct TexOperand {
    tex: Arc<GpuTexture>,
    bs: usize,
    ps: usize,
    ks: usize,
    wl: usize,
}

/// Widest row (in elements) read in place; wider operands are packed into panels (row strides
/// of a few KiB per k cost more in TLB and cache misses than packing, see the kernel).
const IN_PLACE_MAX_ROWS: usize = 1024;

impl TexSide<'_> {
    fn panels(&self) -> usize {
        self.rows.div_ceil(self.panel_rows)
    }

    /// Texels per k in one panel.
    fn pw(&self) -> usize {
        self.panel_rows / 4
    }

    /// Read in place from a copy of the buffer: outer dim contiguous, everything 4-aligned,
    /// and K a multiple of 4 (nothing may pad k: garbage there would reach every output).
    fn in_place(&self, k: usize) -> bool {
        self.v.si == 1
            && self.rows.is_multiple_of(4)
            && self.rows <= IN_PLACE_MAX_ROWS
            && k.is_multiple_of(4)
            && self.v.sk.is_multiple_of(4)
            && self.v.bs.is_multiple_of(4)
    }

    /// Width and height of the linear copy of the buffer: whole rows of a power-of-two width
    /// (buffer sizes are powers of two >= 256 bytes, so the copied rows fit in the buffer),
    /// plus slack for the reads of a last, partial panel.
    fn linear_dims(&self) -> (usize, usize) {
        let w = (self.x.buf().size as usize / 16).min(TEX_WIDTH as usize);
        (w, (self.x.numel().div_ceil(4) + self.pw()).div_ceil(w))
    }

    fn panel_texels(&self, k: usize) -> usize {
        self.batches * self.panels() * k.next_multiple_of(4) * self.pw()
    }

    fn fits(&self, k: usize, max: usize) -> bool {
        self.linear_dims().1 <= max
            && (self.in_place(k) || self.panel_texels(k).div_ceil(TEX_WIDTH as usize) <= max)
    }
}

/// Whether the texture kernel can run this shape on `dev`.
fn texture_fits(dev: &Device, g: &Gemm) -> bool {
    let max = dev.limits().max_texture_dimension_2d as usize;
    let (a, b) = texture_sides(g);
    dev.storage_textures() && TEX_WIDTH as usize <= max && a.fits(g.k, max) && b.fits(g.k, max)
}

/// How the texture kernel tiles C: whether to compute Cᵀ = Bᵀ·Aᵀ instead, and the panel width
/// of the B side (128, or 64 for the narrow kernel). Picks the least padded work: the wide
/// side of the tile should lie along the longer dimension, in a width that pads it least.
fn texture_plan(g: &Gemm) -> (bool, usize) {
    let mut best = (f64::MAX, false, TEX_COLS);
    for swapped in [false, true] {
        let (rows, cols) = if swapped { (g.n, g.m) } else { (g.m, g.n) };
        for (width, cost) in [(TEX_COLS, 1.0), (TEX_COLS_NARROW, NARROW_COST)] {
            let work =
                (rows.next_multiple_of(TEX_ROWS) * cols.next_multiple_of(width)) as f64 * cost;
            if work < best.0 {
                best = (work, swapped, width);
            }
        }
    }
    (best.1, best.2)
}

/// The A and B sides of the planned problem: in the swapped one A' = Bᵀ (rows = N) and
/// B' = Aᵀ (columns = M).
fn texture_sides<'a>(g: &Gemm<'a>) -> (TexSide<'a>, TexSide<'a>) {
    let (swapped, cols) = texture_plan(g);
    let side = |x, v, rows, batches, panel_rows| TexSide {
        x,
        v,
        rows,
        batches,
        panel_rows,
    };
    if swapped {
        (
            side(g.b, g.bv, g.n, g.b_batches, TEX_ROWS),
            side(g.a, g.av, g.m, g.a_batches, cols),
        )
    } else {
        (
            side(g.a, g.av, g.m, g.a_batches, TEX_ROWS),
            side(g.b, g.bv, g.n, g.b_batches, cols),
        )
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PackParams {
    v: [u32; 12],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TexParams {
    v: [u32; 20],
}

/// Copies the operand's buffer into a linear texture (texel i = elements 4i..4i+3), then reads
/// it in place or packs it into panels.
fn tex_operand(dev: &Device, s: &TexSide, k: usize) -> Result<TexOperand> {
    let (lw, lh) = s.linear_dims();
    let lin = dev.texture("matmul", lw as u32, lh as u32)?;
    let copy_rows = (s.x.numel().div_ceil(4)).div_ceil(lw);
    dev.copy_to_texture(
        s.x.buf(),
        &lin,
        16 * lw as u32,
        [lw as u32, copy_rows as u32],
    );
    let wl = lw.trailing_zeros() as usize;
    if s.in_place(k) {
        return Ok(TexOperand {
            tex: lin,
            bs: if s.batches > 1 { s.v.bs / 4 } else { 0 },
            ps: s.pw(),
            ks: s.v.sk / 4,
            wl,
        });
    }
    let (pw, panels, kp) = (s.pw(), s.panels(), k.next_multiple_of(4));
    let texels = s.panel_texels(k);
    let tex = dev.texture(
        "matmul",
        TEX_WIDTH,
        texels.div_ceil(TEX_WIDTH as usize) as u32,
    )?;
    let quads = s.rows.div_ceil(4);
    let p = u32s(
        "matmul",
        &[
            s.rows,
            k,
            kp,
            pw.trailing_zeros() as usize,
            quads,
            s.v.bs,
            s.v.si,
            s.v.sk,
            wl,
            lw * lh - 1,
            panels,
            0,
        ],
    )?;
    let p = PackParams {
        v: p.try_into().expect("12 params"),
    };
    let (kq, cap) = (kp / 4, |n: usize| n.clamp(1, 65535));
    // Every operand view is contiguous along k or along its outer dim.
    let (kernel, grid) = if s.v.sk == 1 {
        (&PACK_K, [cap(kq.div_ceil(64)), cap(quads), s.batches])
    } else {
        (
            &PACK_O,
            [cap(quads.div_ceil(8)), cap(kq.div_ceil(8)), s.batches],
        )
    };
    dev.dispatch(
        "matmul",
        kernel,
        &[],
        bytemuck::bytes_of(&p),
        vec![Res::Tex(lin.clone()), Res::Tex(tex.clone())],
        groups("matmul", grid)?,
        &[],
    )?;
    Ok(TexOperand {
        tex,
        bs: if s.batches > 1 { panels * kp * pw } else { 0 },
        ps: kp * pw,
        ks: pw,
        wl: TEX_WIDTH.trailing_zeros() as usize,
    })
}

fn run_texture(
    dev: &Device,
    g: &Gemm,
    (k_len, splits): (usize, usize),
    c: &Tensor,
    out: Out,
) -> Result<()> {
    if !texture_fits(dev, g) {
        return Err(Error::Invalid {
            op: "matmul",
            msg: format!(
                "the texture variant cannot run {}x{}x{} (batch {}) on this device: it needs \
                 rgba32float storage textures and operands within {} texel rows",
                g.m,
                g.k,
                g.n,
                g.batch,
                dev.limits().max_texture_dimension_2d
            ),
        });
    }
    let (sa, sb) = texture_sides(g);
    let (swapped, cols) = texture_plan(g);
    let (sm, sn) = if swapped {
        (out.sn, out.sm)
    } else {
        (out.sm, out.sn)
    };
    let (ta, tb) = (tex_operand(dev, &sa, g.k)?, tex_operand(dev, &sb, g.k)?);
    let vec_out = sn == 1
        && [sb.rows, sm, out.bs, out.ss]
            .iter()
            .all(|x| x.is_multiple_of(4));
    let v = u32s(
        "matmul",
        &[
            sa.rows,
            sb.rows,
            g.k.next_multiple_of(4),
            k_len,
            splits,
            ta.bs,
            tb.bs,
            out.ss,
            out.bs,
            sm,
            sn,
            vec_out as usize,
            ta.ps,
            ta.ks,
            tb.ps,
            tb.ks,
            ta.wl,
            tb.wl,
            0,
            0,
        ],
    )?;
    let p = TexParams {
        v: v.try_into().expect("20 params"),
    };
    let grid = groups("matmul", [sb.panels(), sa.panels(), g.batch * splits])?;
    dev.dispatch(
        "matmul",
        if cols == TEX_COLS {
            &TEXTURE
        } else {
            &TEXTURE_NARROW
        },
        &[],
        bytemuck::bytes_of(&p),
        vec![
            Res::Tex(ta.tex.clone()),
            Res::Tex(tb.tex.clone()),
            Res::Buf(c.buf().clone()),
            Res::Buf(c.buf().clone()),
        ],
        grid,
        &[(c.buf(), c.numel())],
    )
}
