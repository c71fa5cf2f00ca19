//! Softmax, log-softmax and logsumexp over the last axis (`shaders/softmax.wgsl`), each with a
//! fused one-dispatch backward kernel.
//!
//! Two kernel variants, chosen per call: [`Variant::Row`] (one invocation per row, no barriers;
//! always on software adapters such as lavapipe, where it costs 3-10× less CPU time) and
//! [`Variant::Workgroup`] (one 256-thread workgroup per row with a tree reduction; real GPUs with
//! rows of at least [`WG_MIN_COLS`]). `TAILGRAD_SOFTMAX=row|workgroup` or [`force_variant`]
//! override the choice (tests run both on any adapter).
//!
//! Non-finite inputs: `-inf` entries get probability exactly 0 and log-probability `-inf`
//! (masking works). A row that is entirely `-inf` gives NaN softmax and log-softmax and a
//! logsumexp of `-inf`, as in PyTorch. A NaN makes its whole row NaN; a `+inf` entry gets a NaN
//! probability (the rest of its row 0) and the row's logsumexp is `+inf`.

use crate::runtime::{grid_1d, DeviceClass, Kernel, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};
use std::cell::Cell;
use std::sync::OnceLock;

kernel!(FWD_ROW = ["online_softmax", "softmax"]::"fwd_row" [Read, ReadWrite]);
kernel!(FWD_WG = ["online_softmax", "softmax"]::"fwd_wg" [Read, ReadWrite]);
kernel!(BWD_ROW = ["online_softmax", "softmax"]::"bwd_row" [Read, ReadWrite, Read]);
kernel!(BWD_WG = ["online_softmax", "softmax"]::"bwd_wg" [Read, ReadWrite, Read]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    mode: u32,
    _pad: u32,
}

/// How a row-wise kernel of the softmax family (and `cross_entropy`) maps rows to threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// One invocation per row looping over its columns: no workgroup memory, no barriers.
    Row,
    /// One 256-thread workgroup per row, merged by a fixed-order tree in workgroup memory.
    Workgroup,
}

/// On a GPU, rows at least this long get a workgroup each; shorter rows leave most of a
/// 256-thread workgroup idle. Measured on an H100 (Vulkan): the row variant is 2-3× faster at
/// 10-32 columns, the two tie at 100, the workgroup variant is 2× faster at 256 and 20× at 8142.
pub const WG_MIN_COLS: usize = 128;

thread_local! {
    static FORCED: Cell<Option<Variant>> = const { Cell::new(None) };
}

/// While alive, every softmax-family and cross-entropy call on this thread uses `v`.
pub struct VariantGuard(Option<Variant>);

impl Drop for VariantGuard {
    fn drop(&mut self) {
        FORCED.with(|c| c.set(self.0));
    }
}

/// Forces a variant on this thread until the guard drops (tests, benchmarks).
pub fn force_variant(v: Variant) -> VariantGuard {
    VariantGuard(FORCED.with(|c| c.replace(Some(v))))
}

/// `TAILGRAD_SOFTMAX`, read once.
fn env_variant() -> Result<Option<Variant>> {
    static ENV: OnceLock<std::result::Result<Option<Variant>, String>> = OnceLock::new();
    ENV.get_or_init(|| match std::env::var("TAILGRAD_SOFTMAX").as_deref() {
        Err(_) | Ok("") => Ok(None),
        Ok("row") => Ok(Some(Variant::Row)),
        Ok("workgroup") => Ok(Some(Variant::Workgroup)),
        Ok(other) => Err(format!(
            "TAILGRAD_SOFTMAX={other:?}: expected `row` or `workgroup`"
        )),
    })
    .clone()
    .map_err(|msg| Error::Invalid { op: "softmax", msg })
}

/// The variant for rows of `cols` on `x`'s device: forced, else from the environment, else the
/// workgroup variant only on real GPUs with long rows (barriers are a net loss on lavapipe) or
/// where a row is too long for one invocation to loop over on a software device.
pub(crate) fn pick(x: &Tensor, cols: usize) -> Result<Variant> {
    let forced = match FORCED.with(|c| c.get()) {
        Some(v) => Some(v),
        None => env_variant()?,
    };
    let budget = x.device().loop_budget();
    let v = forced.unwrap_or(match x.device().class() {
        DeviceClass::Gpu if cols >= WG_MIN_COLS => Variant::Workgroup,
        _ if loop_cost(Variant::Row, cols) > budget => Variant::Workgroup,
        _ => Variant::Row,
    });
    if loop_cost(v, cols) > budget {
        return Err(Error::Invalid {
            op: "softmax",
            msg: format!(
                "rows of {cols} columns are too long for the {v:?} variant on this software adapter \
                 (its shaders stop loops after 65535 iterations per invocation)"
            ),
        });
    }
    Ok(v)
}

/// Loop trips one invocation of `v` may run over a row of `cols`: the costliest kernel of the
/// family (the logsumexp backward) walks its share of the row four times, plus the tree.
fn loop_cost(v: Variant, cols: usize) -> u64 {
    let share = match v {
        Variant::Row => cols,
        Variant::Workgroup => cols.div_ceil(256),
    } as u64;
    4 * (share + 1) + 32
}

/// Threads per workgroup of the row variant. Lavapipe runs each workgroup on one CPU thread, so
/// 64 rows in one 64-wide workgroup would leave a core idle; 8 (its SIMD width) spreads a batch of
/// 16+ rows over both. GPUs keep 64.
fn row_wg(x: &Tensor) -> u32 {
    match x.device().class() {
        DeviceClass::Software => 8,
        DeviceClass::Gpu => WG,
    }
}

/// Override constants and grid for `rows` rows of `x` under variant `v`.
pub(crate) fn launch_shape(
    x: &Tensor,
    v: Variant,
    rows: usize,
) -> (Vec<(&'static str, f64)>, [u32; 3]) {
    match v {
        Variant::Row => {
            let wg = row_wg(x);
            (vec![("ROW_WG", wg as f64)], grid_1d(rows, wg))
        }
        Variant::Workgroup => (vec![], grid_1d(rows, 1)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Mode {
    Softmax = 0,
    LogSoftmax,
    LogSumExp,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Softmax => "softmax",
            Mode::LogSoftmax => "log_softmax",
            Mode::LogSumExp => "logsumexp",
        }
    }
}

/// (rows, cols) of the [rows, cols] view over the last axis.
fn rows_cols(op: &'static str, x: &Tensor) -> Result<(usize, usize)> {
    x.expect_f32(op)?;
    let Some(&cols) = x.shape().last() else {
        return Err(Error::Invalid {
            op,
            msg: "needs a tensor with at least one axis".into(),
        });
    };
    Ok((x.numel() / cols, cols))
}

/// Runs `k` over the rows of `x` into a new tensor of `shape`; `g` is bound for backward kernels.
fn launch(
    k: &'static Kernel,
    mode: Mode,
    v: Variant,
    x: &Tensor,
    g: Option<&Tensor>,
    shape: &[usize],
) -> Result<Tensor> {
    let op = mode.name();
    let (rows, cols) = rows_cols(op, x)?;
    let dev = x.device();
    let y = Tensor::empty(dev, op, shape, DType::F32)?;
    let p = Params {
        rows: rows as u32,
        cols: cols as u32,
        mode: mode as u32,
        _pad: 0,
    };
    let mut res = vec![Res::Buf(x.buf().clone()), Res::Buf(y.buf().clone())];
    res.extend(g.map(|g| Res::Buf(g.buf().clone())));
    let (consts, groups) = launch_shape(x, v, rows);
    dev.dispatch(
        op,
        k,
        &consts,
        bytemuck::bytes_of(&p),
        res,
        groups,
        &[(y.buf(), y.numel())],
    )?;
    Ok(y)
}

/// The differentiable op: forward kernel, then a backward closure running the fused backward
/// kernel of the same variant on the saved output (or, for logsumexp, the input).
fn apply(x: &Tensor, mode: Mode) -> Result<Tensor> {
    let (_, cols) = rows_cols(mode.name(), x)?;
    let v = pick(x, cols)?;
    let (fwd, bwd) = match v {
        Variant::Row => (&FWD_ROW, &BWD_ROW),
        Variant::Workgroup => (&FWD_WG, &BWD_WG),
    };
    let shape = match mode {
        Mode::LogSumExp if x.rank() > 1 => x.shape()[..x.rank() - 1].to_vec(),
        Mode::LogSumExp => vec![1],
        _ => x.shape().to_vec(),
    };
    let y = launch(fwd, mode, v, x, None, &shape)?;
    let saved = match mode {
        Mode::LogSumExp => x.detach(),
        _ => y.detach(),
    };
    let in_shape = x.shape().to_vec();
    Ok(y.with_grad1(mode.name(), x, move |g| {
        launch(bwd, mode, v, &saved, Some(g), &in_shape)
    }))
}

impl Tensor {
    /// exp(x − max) / Σ exp(x − max) along the last axis.
    pub fn softmax(&self) -> Result<Tensor> {
        apply(self, Mode::Softmax)
    }

    /// (x − max) − log Σ exp(x − max) along the last axis.
    pub fn log_softmax(&self) -> Result<Tensor> {
        apply(self, Mode::LogSoftmax)
    }

    /// max + log Σ exp(x − max) along the last axis, which is dropped ([B, C] → [B]; [C] → [1]).
    pub fn logsumexp(&self) -> Result<Tensor> {
        apply(self, Mode::LogSumExp)
    }
}
