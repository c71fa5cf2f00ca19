//! Batch normalisation of NCHW (or [B, C]) tensors with an optional fused ReLU
//! (`shaders/batch_norm.wgsl`), PyTorch semantics. Forward: one reduction pass, one per-channel
//! pass and one normalise pass; backward: the same three. Per-channel reductions over B·H·W are
//! split into chunks that respect the loop budget and summed again by the per-channel pass, in a
//! fixed order. On software adapters x and g are read through textures when planes are a
//! multiple of 4 long. Running statistics are updated in place on the GPU.

use super::{items_per_invocation, stage_texture, texture_rows};
use crate::runtime::{grid_1d, DeviceClass, Kernel, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};
use std::sync::Arc;

kernel!(REDUCE = "batch_norm"::"reduce" [Read, Read, Read, ReadWrite]);
kernel!(REDUCE_TEX = "batch_norm"::"reduce_tex" [ReadStorageTexture, ReadStorageTexture, Read, ReadWrite]);
kernel!(FINALIZE = "batch_norm"::"finalize" [Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite]);
kernel!(GRAD_FINALIZE = "batch_norm"::"grad_finalize" [Read, Read, ReadWrite, ReadWrite, ReadWrite]);
kernel!(NORMALIZE = "batch_norm"::"normalize" [Read, Read, ReadWrite]);
kernel!(NORMALIZE_TEX = "batch_norm"::"normalize_tex" [ReadStorageTexture, Read, ReadWrite]);
kernel!(GRAD_X = "batch_norm"::"grad_x" [Read, Read, Read, Read, ReadWrite]);
kernel!(GRAD_X_TEX = "batch_norm"::"grad_x_tex" [ReadStorageTexture, ReadStorageTexture, Read, Read, ReadWrite]);

const OP: &str = "batch_norm2d";

/// Which statistics normalise, and whether the running ones are updated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BnMode {
    /// Batch mean and biased batch variance; running stats become
    /// (1 − momentum)·running + momentum·batch, the variance unbiased (n/(n − 1)).
    Train { momentum: f32 },
    /// The running statistics, treated as constants by the backward.
    Eval,
    /// Batch statistics; running stats are neither read nor written.
    BatchStats,
}

/// Arguments of [`Tensor::batch_norm2d`].
pub struct BatchNorm<'a> {
    /// [C] each; `None` means 1 and 0.
    pub gamma: Option<&'a Tensor>,
    pub beta: Option<&'a Tensor>,
    /// [C]; required by `Train` (updated in place) and `Eval`.
    pub running_mean: Option<&'a Tensor>,
    pub running_var: Option<&'a Tensor>,
    pub mode: BnMode,
    pub eps: f32,
    /// Fused ReLU on the output (its backward masks by the output).
    pub relu: bool,
}

/// How a reduction workgroup combines its 64 lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BnVariant {
    /// `Lanes` on software adapters, `Tree` on GPUs.
    #[default]
    Auto,
    /// Every lane writes its own partial sum: no barriers, which cost a coroutine switch per
    /// 8-lane group on lavapipe.
    Lanes,
    /// A workgroup-memory tree sums the lanes into one partial, so the per-channel pass reads
    /// 64× fewer partials (GPUs).
    Tree,
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    b: u32,
    c: u32,
    s: u32,
    hw: u32,
    groups: u32,
    hs: u32,
    bseg: u32,
    sseg: u32,
    li_log2: u32,
    parts: u32,
    items: u32,
    mode: u32,
    flags: u32,
    count: f32,
    eps: f32,
    momentum: f32,
}

const LANES: u64 = 64;
/// Loop trips one lane of a reduction runs, at most (the software loop budget is 60 000; a
/// smaller cap keeps the lanes' shares even).
const MAX_TRIPS: u64 = 16_384;
/// Reduction workgroups to aim for: enough for both lavapipe threads, or to fill a GPU.
const TARGET_GROUPS_SOFTWARE: u64 = 64;
const TARGET_GROUPS_GPU: u64 = 1024;

/// Everything the passes of one batch_norm2d call share.
#[derive(Clone, Copy)]
struct Ctx {
    p: Params,
    tree: bool,
    /// Texture rows of x and g on the texture path.
    tex_rows: Option<u32>,
}

impl Ctx {
    fn reduce_groups(&self) -> usize {
        (self.p.c * self.p.groups * self.p.hs) as usize
    }
}

/// Splits the per-channel reduction over B planes of `s` units: 2^li_log2 lanes stride along a
/// plane, the others across planes; a channel's planes form `groups` groups and each plane `hs`
/// segments, one workgroup per (channel, group, segment), every lane inside `MAX_TRIPS` trips.
fn plan(p: &mut Params, budget: u64, target: u64, tree: bool) {
    let (b, c, s) = (p.b as u64, p.c as u64, p.s as u64);
    let li_log2 = s.min(LANES).ilog2();
    let (li, lb) = (1u64 << li_log2, LANES >> li_log2);
    let cap = MAX_TRIPS.min(budget) - 8; // the tree's trips and the loop exits
    let hs = s.div_ceil(li).div_ceil(cap / 2);
    let sseg = s.div_ceil(hs);
    let inner = sseg.div_ceil(li) + 1;
    // A round (one plane) costs the inner trips plus one outer trip.
    let bseg_max = (cap / (inner + 1)).max(1) * lb;
    let want = target.div_ceil(c * hs).min(b.div_ceil(lb));
    let groups = b.div_ceil(bseg_max).max(want);
    let bseg = b.div_ceil(groups);
    p.groups = b.div_ceil(bseg) as u32;
    p.hs = hs as u32;
    p.bseg = bseg as u32;
    p.sseg = sseg as u32;
    p.li_log2 = li_log2;
    p.parts = p.groups * p.hs * if tree { 1 } else { LANES as u32 };
}

/// [B, C, H·W] of x, after checking every argument.
fn check(x: &Tensor, bn: &BatchNorm) -> Result<[usize; 3]> {
    x.expect_f32(OP)?;
    let [b, c, hw] = match *x.shape() {
        [b, c] => [b, c, 1],
        [b, c, h, w] => [b, c, h * w],
        _ => {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("expects [B, C, H, W] or [B, C], got {:?}", x.shape()),
            })
        }
    };
    let given = [bn.gamma, bn.beta, bn.running_mean, bn.running_var];
    for t in given.into_iter().flatten() {
        t.expect_f32(OP)?;
        if t.shape() != [c] {
            return Err(Error::Shape {
                op: OP,
                lhs: x.shape().to_vec(),
                rhs: t.shape().to_vec(),
            });
        }
    }
    let invalid = |msg: String| Err(Error::Invalid { op: OP, msg });
    if bn.mode != BnMode::BatchStats {
        let (Some(rm), Some(rv)) = (bn.running_mean, bn.running_var) else {
            return invalid(format!("{:?} needs running_mean and running_var", bn.mode));
        };
        // Both are bound read-write, so neither may share a buffer with another binding.
        let read = [Some(x), bn.gamma, bn.beta];
        let aliased = |r: &Tensor| read.iter().flatten().any(|t| Arc::ptr_eq(t.buf(), r.buf()));
        if Arc::ptr_eq(rm.buf(), rv.buf()) || aliased(rm) || aliased(rv) {
            return invalid("running_mean and running_var must be tensors of their own".into());
        }
    }
    if let BnMode::Train { .. } = bn.mode {
        if b * hw == 1 {
            return invalid(format!(
                "training needs more than one value per channel, got input {:?}",
                x.shape()
            ));
        }
    }
    if bn.eps.is_nan() || bn.eps < 0.0 {
        return invalid(format!("eps must be >= 0, got {}", bn.eps));
    }
    Ok([b, c, hw])
}

fn context(x: &Tensor, bn: &BatchNorm, dims: [usize; 3], variant: BnVariant) -> Ctx {
    let dev = x.device();
    let [b, c, hw] = dims;
    let software = dev.class() == DeviceClass::Software;
    let tree = match variant {
        BnVariant::Auto => !software,
        BnVariant::Lanes => false,
        BnVariant::Tree => true,
    };
    let tex_rows = texture_rows(dev, x.numel()).filter(|_| hw % 4 == 0);
    let (mode, momentum) = match bn.mode {
        BnMode::Train { momentum } => (0, momentum),
        BnMode::Eval => (1, 0.0),
        BnMode::BatchStats => (2, 0.0),
    };
    let flags = bn.relu as u32 | (bn.gamma.is_some() as u32) << 1 | (bn.beta.is_some() as u32) << 2;
    let mut p = Params {
        b: b as u32,
        c: c as u32,
        s: (if tex_rows.is_some() { hw / 4 } else { hw }) as u32,
        hw: hw as u32,
        items: items_per_invocation(dev),
        mode,
        flags,
        count: (b * hw) as f32,
        eps: bn.eps,
        momentum,
        ..Params::default()
    };
    let target = if software {
        TARGET_GROUPS_SOFTWARE
    } else {
        TARGET_GROUPS_GPU
    };
    plan(&mut p, dev.loop_budget(), target, tree);
    Ctx { p, tree, tex_rows }
}

/// x or g as the passes read it: its buffer, or a texture copy on the texture path.
fn source(ctx: &Ctx, t: &Tensor) -> Result<Res> {
    Ok(match ctx.tex_rows {
        Some(rows) => Res::Tex(stage_texture(t, OP, rows)?),
        None => Res::Buf(t.buf().clone()),
    })
}

fn buf(t: &Tensor) -> Res {
    Res::Buf(t.buf().clone())
}

/// Per-channel partial sums [C, parts, 2]: shifted (Σd, Σd²) of x, or with `grad` = (g, fstats)
/// (Σg', Σg'·(x − mean)).
fn reduce(ctx: &Ctx, x: &Tensor, xs: &Res, grad: Option<(&Res, &Tensor)>) -> Result<Tensor> {
    let dev = x.device();
    let p = &ctx.p;
    let part = Tensor::empty(dev, OP, &[p.c as usize, p.parts as usize, 2], DType::F32)?;
    // Without `grad` the g and statistics bindings are never read: x stands in for them.
    let (gs, fstats) = match grad {
        Some((gs, st)) => (gs.clone(), buf(st)),
        None => (xs.clone(), buf(x)),
    };
    let k = if ctx.tex_rows.is_some() {
        &REDUCE_TEX
    } else {
        &REDUCE
    };
    let consts = [
        ("TREE", ctx.tree as u32 as f64),
        ("GRAD", grad.is_some() as u32 as f64),
    ];
    let res = vec![xs.clone(), gs, fstats, buf(&part)];
    dev.dispatch(
        OP,
        k,
        &consts,
        bytemuck::bytes_of(p),
        res,
        grid_1d(ctx.reduce_groups(), 1),
        &[(part.buf(), part.numel())],
    )?;
    Ok(part)
}

/// One dispatch with one invocation per channel.
fn per_channel(
    ctx: &Ctx,
    x: &Tensor,
    k: &'static Kernel,
    res: Vec<Res>,
    out: &Tensor,
) -> Result<()> {
    let p = &ctx.p;
    x.device().dispatch(
        OP,
        k,
        &[],
        bytemuck::bytes_of(p),
        res,
        grid_1d(p.c as usize, WG),
        &[(out.buf(), out.numel())],
    )
}

/// One dispatch with one invocation per run of `items` units of a plane, writing `out`.
fn per_run(ctx: &Ctx, k: &'static Kernel, res: Vec<Res>, out: &Tensor) -> Result<()> {
    let p = &ctx.p;
    let runs = (p.b * p.c) as usize * (p.s as usize).div_ceil(p.items as usize);
    out.device().dispatch(
        OP,
        k,
        &[],
        bytemuck::bytes_of(p),
        res,
        grid_1d(runs, WG),
        &[(out.buf(), out.numel())],
    )
}

/// The backward: (dx if wanted, dgamma, dbeta).
fn backward(
    ctx: &Ctx,
    x: &Tensor,
    fstats: &Tensor,
    g: &Tensor,
    need: (bool, bool),
) -> Result<(Option<Tensor>, Tensor, Tensor)> {
    let (need_dx, need_affine) = need;
    let dev = x.device();
    let c = ctx.p.c as usize;
    let (xs, gs) = (source(ctx, x)?, source(ctx, g)?);
    // In eval mode dx needs no sums, so they run only for dgamma/dbeta.
    let mut gctx = *ctx;
    let part = if ctx.p.mode != 1 || need_affine {
        reduce(ctx, x, &xs, Some((&gs, fstats)))?
    } else {
        gctx.p.parts = 0;
        fstats.clone()
    };
    let coef = Tensor::empty(dev, OP, &[c, 4], DType::F32)?;
    let dgamma = Tensor::empty(dev, OP, &[c], DType::F32)?;
    let dbeta = Tensor::empty(dev, OP, &[c], DType::F32)?;
    let res = [&part, fstats, &coef, &dgamma, &dbeta].map(buf).to_vec();
    per_channel(&gctx, x, &GRAD_FINALIZE, res, &coef)?;
    let dx = if need_dx {
        let dx = Tensor::empty(dev, OP, x.shape(), DType::F32)?;
        let k = if ctx.tex_rows.is_some() {
            &GRAD_X_TEX
        } else {
            &GRAD_X
        };
        per_run(ctx, k, vec![xs, gs, buf(fstats), buf(&coef), buf(&dx)], &dx)?;
        Some(dx)
    } else {
        None
    };
    Ok((dx, dgamma, dbeta))
}

/// [`Tensor::batch_norm2d`] with the reduction variant chosen explicitly (tests and benchmarks
/// run both on any adapter).
pub fn batch_norm2d_ex(x: &Tensor, bn: &BatchNorm, variant: BnVariant) -> Result<Tensor> {
    let dims = check(x, bn)?;
    let ctx = context(x, bn, dims, variant);
    let dev = x.device();
    let c = dims[1];
    let xs = source(&ctx, x)?;
    // Stand-ins for absent tensors are bound but never read (the flags and mode say so).
    let part = match bn.mode {
        BnMode::Eval => x.clone(),
        _ => reduce(&ctx, x, &xs, None)?,
    };
    let scratch = || Tensor::empty(dev, OP, &[c], DType::F32);
    let (run_mean, run_var) = match (bn.mode, bn.running_mean, bn.running_var) {
        (BnMode::BatchStats, _, _) | (_, None, _) | (_, _, None) => (scratch()?, scratch()?),
        (_, Some(m), Some(v)) => (m.clone(), v.clone()),
    };
    let fstats = Tensor::empty(dev, OP, &[c, 4], DType::F32)?;
    let res = [
        x,
        &part,
        bn.gamma.unwrap_or(x),
        bn.beta.unwrap_or(x),
        &run_mean,
        &run_var,
        &fstats,
    ]
    .map(buf)
    .to_vec();
    per_channel(&ctx, x, &FINALIZE, res, &fstats)?;
    let y = Tensor::empty(dev, OP, x.shape(), DType::F32)?;
    let k = if ctx.tex_rows.is_some() {
        &NORMALIZE_TEX
    } else {
        &NORMALIZE
    };
    per_run(&ctx, k, vec![xs, buf(&fstats), buf(&y)], &y)?;

    let mut parents = vec![x];
    parents.extend(bn.gamma);
    parents.extend(bn.beta);
    let (has_gamma, has_beta) = (bn.gamma.is_some(), bn.beta.is_some());
    let xd = x.detach();
    Ok(y.with_grad(
        OP,
        &parents,
        Box::new(move |g, need| {
            let need_affine = need[1..].contains(&true);
            let (dx, dgamma, dbeta) = backward(&ctx, &xd, &fstats, g, (need[0], need_affine))?;
            // The parents after x: gamma, then beta, where given.
            let affine = [(has_gamma, dgamma), (has_beta, dbeta)]
                .into_iter()
                .filter_map(|(has, d)| has.then_some(d));
            let mut grads = vec![dx];
            grads.extend(affine.zip(&need[1..]).map(|(d, &n)| n.then_some(d)));
            Ok(grads)
        }),
    ))
}

impl Tensor {
    /// Batch normalisation over B, H and W per channel of x [B, C, H, W] (or [B, C]), with
    /// PyTorch's semantics for each [`BnMode`]; differentiable in x (through the batch
    /// statistics where they are used), gamma and beta.
    pub fn batch_norm2d(&self, bn: &BatchNorm) -> Result<Tensor> {
        batch_norm2d_ex(self, bn, BnVariant::Auto)
    }
}
