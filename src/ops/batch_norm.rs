//! Batch normalisation of NCHW (or [B, C]) tensors with an optional fused ReLU
//! (`shaders/batch_norm.wgsl`), PyTorch semantics. Forward: one reduction pass, one per-channel
//! pass and one normalise pass; backward: the same three. Per-channel reductions over B·H·W are
//! split into chunks that respect the loop budget and summed again by the per-channel pass, in a
//! fixed order. On software adapters x and g are read through textures when planes are a
//! multiple of 4 long. Running statistics are updated in place on the GPU.
//!
//! The same passes run conditional BN ([`Tensor::cond_batch_norm2d`]): batch statistics with a
//! per-sample gain and bias [B, C] in place of gamma and beta. Its backward reduction also keeps
//! per-plane sums, from which one more pass forms the gain and bias gradients when they are
//! needed.

use super::{items_per_invocation, stage_texture, texture_rows};
use crate::runtime::{grid_1d, DeviceClass, Kernel, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};
use std::sync::Arc;

kernel!(REDUCE = "batch_norm"::"reduce" [Read, Read, Read, ReadWrite, Read, Read]);
kernel!(REDUCE_TEX = "batch_norm"::"reduce_tex" [ReadStorageTexture, ReadStorageTexture, Read, ReadWrite, Read, Read]);
kernel!(FINALIZE = "batch_norm"::"finalize" [Read, Read, Read, Read, ReadWrite, ReadWrite, ReadWrite]);
kernel!(GRAD_FINALIZE = "batch_norm"::"grad_finalize" [Read, Read, ReadWrite, ReadWrite, ReadWrite]);
kernel!(GRAD_SAMPLE = "batch_norm"::"grad_sample" [Read, Read, ReadWrite, ReadWrite]);
kernel!(NORMALIZE = "batch_norm"::"normalize" [Read, Read, ReadWrite, Read, Read]);
kernel!(NORMALIZE_TEX = "batch_norm"::"normalize_tex" [ReadStorageTexture, Read, ReadWrite, Read, Read]);
kernel!(GRAD_X = "batch_norm"::"grad_x" [Read, Read, Read, Read, Read, Read, ReadWrite]);
kernel!(GRAD_X_TEX = "batch_norm"::"grad_x_tex" [ReadStorageTexture, ReadStorageTexture, Read, Read, Read, Read, ReadWrite]);

const OP: &str = "batch_norm2d";
const COND_OP: &str = "cond_batch_norm2d";

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

/// Arguments of [`Tensor::cond_batch_norm2d`]: conditional batch normalisation.
pub struct CondBatchNorm<'a> {
    /// Per-sample gain and bias [B, C]: y = relu?(x̂·gain[n, c] + bias[n, c]).
    pub gain: &'a Tensor,
    pub bias: &'a Tensor,
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

/// Everything the passes of one call share.
#[derive(Clone, Copy)]
struct Ctx {
    p: Params,
    tree: bool,
    /// Texture rows of x and g on the texture path.
    tex_rows: Option<u32>,
    /// The op's name, for errors and buffer labels.
    op: &'static str,
    /// Conditional BN: per-sample gain and bias instead of gamma and beta.
    sample: bool,
}

impl Ctx {
    fn reduce_groups(&self) -> usize {
        (self.p.c * self.p.groups * self.p.hs) as usize
    }

    /// Partials per plane of a conditional backward reduction: one per (segment, lane along the
    /// plane), as `plane_partials` in the shader.
    fn plane_partials(&self) -> usize {
        (self.p.hs as usize) << self.p.li_log2
    }

    fn planes(&self) -> usize {
        (self.p.b * self.p.c) as usize
    }
}

/// Conditional BN's per-sample gain and bias, [B, C] each.
struct Sample {
    gain: Tensor,
    bias: Tensor,
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

/// [B, C, H·W] of x, after checking every argument; errors name `op`.
fn check(x: &Tensor, bn: &BatchNorm, op: &'static str) -> Result<[usize; 3]> {
    x.expect_f32(op)?;
    let [b, c, hw] = match *x.shape() {
        [b, c] => [b, c, 1],
        [b, c, h, w] => [b, c, h * w],
        _ => {
            return Err(Error::Invalid {
                op,
                msg: format!("expects [B, C, H, W] or [B, C], got {:?}", x.shape()),
            })
        }
    };
    let given = [bn.gamma, bn.beta, bn.running_mean, bn.running_var];
    for t in given.into_iter().flatten() {
        t.expect_f32(op)?;
        if t.shape() != [c] {
            return Err(Error::Shape {
                op,
                lhs: x.shape().to_vec(),
                rhs: t.shape().to_vec(),
            });
        }
    }
    let invalid = |msg: String| Err(Error::Invalid { op, msg });
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

/// Conditional BN's gain and bias: f32 tensors of shape [B, C].
fn check_sample(x: &Tensor, cbn: &CondBatchNorm, [b, c, _]: [usize; 3]) -> Result<()> {
    for t in [cbn.gain, cbn.bias] {
        t.expect_f32(COND_OP)?;
        if t.shape() != [b, c] {
            return Err(Error::Shape {
                op: COND_OP,
                lhs: x.shape().to_vec(),
                rhs: t.shape().to_vec(),
            });
        }
    }
    Ok(())
}

fn context(
    x: &Tensor,
    bn: &BatchNorm,
    dims: [usize; 3],
    variant: BnVariant,
    op: &'static str,
) -> Ctx {
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
    Ctx {
        p,
        tree,
        tex_rows,
        op,
        sample: false,
    }
}

/// x or g as the passes read it: its buffer, or a texture copy on the texture path.
fn source(ctx: &Ctx, t: &Tensor) -> Result<Res> {
    Ok(match ctx.tex_rows {
        Some(rows) => Res::Tex(stage_texture(t, ctx.op, rows)?),
        None => Res::Buf(t.buf().clone()),
    })
}

fn buf(t: &Tensor) -> Res {
    Res::Buf(t.buf().clone())
}

/// The gain and bias bindings: the tensors, or without them `standin` (never read: SAMPLE is
/// off).
fn sample_res(sample: Option<&Sample>, standin: &Res) -> [Res; 2] {
    match sample {
        Some(s) => [buf(&s.gain), buf(&s.bias)],
        None => [standin.clone(), standin.clone()],
    }
}

/// The SAMPLE pipeline constant.
fn sample_const(on: bool) -> (&'static str, f64) {
    ("SAMPLE", on as u32 as f64)
}

/// What a backward reduction reads besides x: the upstream gradient, the forward statistics, and
/// for conditional BN the gain and bias, with `planes` when the per-plane sums are wanted.
struct GradIn<'a> {
    g: &'a Res,
    fstats: &'a Tensor,
    sample: Option<&'a Sample>,
    planes: bool,
}

/// Partial sums: C·parts per-channel pairs — shifted (Σd, Σd²) of x, or with `grad`
/// (Σg', Σg'·(x − mean)), g' times the gain under conditional BN — followed, with `planes`, by
/// the per-plane partials of (Σg', Σg'·(x − mean)).
fn reduce(ctx: &Ctx, x: &Tensor, xs: &Res, grad: Option<&GradIn>) -> Result<Tensor> {
    let dev = x.device();
    let mut p = ctx.p;
    let planes = grad.is_some_and(|gi| gi.planes);
    p.flags |= (planes as u32) << 3;
    let per_plane = if planes {
        ctx.planes() * ctx.plane_partials()
    } else {
        0
    };
    let n = p.c as usize * p.parts as usize + per_plane;
    let part = Tensor::empty(dev, ctx.op, &[n, 2], DType::F32)?;
    // Without `grad` the g and statistics bindings are never read: x stands in for them.
    let (gs, fstats) = match grad {
        Some(gi) => (gi.g.clone(), buf(gi.fstats)),
        None => (xs.clone(), buf(x)),
    };
    let sample = grad.and_then(|gi| gi.sample);
    let [gain, bias] = sample_res(sample, &fstats);
    let k = if ctx.tex_rows.is_some() {
        &REDUCE_TEX
    } else {
        &REDUCE
    };
    let consts = [
        ("TREE", ctx.tree as u32 as f64),
        ("GRAD", grad.is_some() as u32 as f64),
        sample_const(sample.is_some()),
    ];
    let res = vec![xs.clone(), gs, fstats, buf(&part), gain, bias];
    dev.dispatch(
        ctx.op,
        k,
        &consts,
        bytemuck::bytes_of(&p),
        res,
        grid_1d(ctx.reduce_groups(), 1),
        &[(part.buf(), part.numel())],
    )?;
    Ok(part)
}

/// One dispatch with one invocation per each of `n` channels or planes, writing `out`.
fn per_item(ctx: &Ctx, k: &'static Kernel, n: usize, res: Vec<Res>, out: &Tensor) -> Result<()> {
    out.device().dispatch(
        ctx.op,
        k,
        &[],
        bytemuck::bytes_of(&ctx.p),
        res,
        grid_1d(n, WG),
        &[(out.buf(), out.numel())],
    )
}

/// One dispatch with one invocation per run of `items` units of a plane, writing `out`.
fn per_run(ctx: &Ctx, k: &'static Kernel, res: Vec<Res>, out: &Tensor) -> Result<()> {
    let p = &ctx.p;
    let runs = ctx.planes() * (p.s as usize).div_ceil(p.items as usize);
    out.device().dispatch(
        ctx.op,
        k,
        &[sample_const(ctx.sample)],
        bytemuck::bytes_of(p),
        res,
        grid_1d(runs, WG),
        &[(out.buf(), out.numel())],
    )
}

/// The forward passes: (y, the per-channel statistics the backward reads).
fn forward(
    ctx: &Ctx,
    x: &Tensor,
    bn: &BatchNorm,
    sample: Option<&Sample>,
) -> Result<(Tensor, Tensor)> {
    let dev = x.device();
    let c = ctx.p.c as usize;
    let xs = source(ctx, x)?;
    // Stand-ins for absent tensors are bound but never read (the flags and mode say so).
    let part = match bn.mode {
        BnMode::Eval => x.clone(),
        _ => reduce(ctx, x, &xs, None)?,
    };
    let scratch = || Tensor::empty(dev, ctx.op, &[c], DType::F32);
    let (run_mean, run_var) = match (bn.mode, bn.running_mean, bn.running_var) {
        (BnMode::BatchStats, _, _) | (_, None, _) | (_, _, None) => (scratch()?, scratch()?),
        (_, Some(m), Some(v)) => (m.clone(), v.clone()),
    };
    let fstats = Tensor::empty(dev, ctx.op, &[c, 4], DType::F32)?;
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
    per_item(ctx, &FINALIZE, c, res, &fstats)?;
    let y = Tensor::empty(dev, ctx.op, x.shape(), DType::F32)?;
    let k = if ctx.tex_rows.is_some() {
        &NORMALIZE_TEX
    } else {
        &NORMALIZE
    };
    let [gain, bias] = sample_res(sample, &buf(&fstats));
    per_run(ctx, k, vec![xs, buf(&fstats), buf(&y), gain, bias], &y)?;
    Ok((y, fstats))
}

/// Which gradients a backward computes: dx, and the affine ones (gamma and beta, or conditional
/// BN's gain and bias).
#[derive(Clone, Copy)]
struct Need {
    dx: bool,
    affine: bool,
}

/// dx if needed, and the affine gradients: (dgamma, dbeta) for plain BN (computed with dx's
/// coefficients in any case), (dgain, dbias) for conditional BN only when needed.
type Grads = (Option<Tensor>, Option<(Tensor, Tensor)>);

fn backward(
    ctx: &Ctx,
    x: &Tensor,
    fstats: &Tensor,
    g: &Tensor,
    sample: Option<&Sample>,
    need: Need,
) -> Result<Grads> {
    let (xs, gs) = (source(ctx, x)?, source(ctx, g)?);
    let planes = sample.is_some() && need.affine;
    // In eval mode dx needs no sums, so they run only for dgamma/dbeta.
    let mut gctx = *ctx;
    let part = if ctx.p.mode != 1 || need.affine {
        let gi = GradIn {
            g: &gs,
            fstats,
            sample,
            planes,
        };
        reduce(ctx, x, &xs, Some(&gi))?
    } else {
        gctx.p.parts = 0;
        fstats.clone()
    };
    let mut affine = None;
    if planes {
        affine = Some(sample_grads(ctx, &part, fstats)?);
    }
    if sample.is_some() && !need.dx {
        return Ok((None, affine));
    }
    let (coef, dgamma, dbeta) = grad_finalize(&gctx, &part, fstats)?;
    if sample.is_none() {
        affine = Some((dgamma, dbeta));
    }
    let dx = if need.dx {
        Some(grad_x(ctx, x, [xs, gs], fstats, &coef, sample)?)
    } else {
        None
    };
    Ok((dx, affine))
}

/// Conditional BN's (dgain, dbias) [B, C] from the per-plane partials.
fn sample_grads(ctx: &Ctx, part: &Tensor, fstats: &Tensor) -> Result<(Tensor, Tensor)> {
    let dev = part.device();
    let shape = [ctx.p.b as usize, ctx.p.c as usize];
    let dgain = Tensor::empty(dev, ctx.op, &shape, DType::F32)?;
    let dbias = Tensor::empty(dev, ctx.op, &shape, DType::F32)?;
    let res = [part, fstats, &dgain, &dbias].map(buf).to_vec();
    per_item(ctx, &GRAD_SAMPLE, ctx.planes(), res, &dgain)?;
    Ok((dgain, dbias))
}

/// The per-channel pass of the backward: (dx's coefficients, dgamma, dbeta).
fn grad_finalize(ctx: &Ctx, part: &Tensor, fstats: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
    let dev = part.device();
    let c = ctx.p.c as usize;
    let coef = Tensor::empty(dev, ctx.op, &[c, 4], DType::F32)?;
    let dgamma = Tensor::empty(dev, ctx.op, &[c], DType::F32)?;
    let dbeta = Tensor::empty(dev, ctx.op, &[c], DType::F32)?;
    let res = [part, fstats, &coef, &dgamma, &dbeta].map(buf).to_vec();
    per_item(ctx, &GRAD_FINALIZE, c, res, &coef)?;
    Ok((coef, dgamma, dbeta))
}

/// dx from x and g (as the passes read them) and the per-channel coefficients.
fn grad_x(
    ctx: &Ctx,
    x: &Tensor,
    [xs, gs]: [Res; 2],
    fstats: &Tensor,
    coef: &Tensor,
    sample: Option<&Sample>,
) -> Result<Tensor> {
    let dx = Tensor::empty(x.device(), ctx.op, x.shape(), DType::F32)?;
    let k = if ctx.tex_rows.is_some() {
        &GRAD_X_TEX
    } else {
        &GRAD_X
    };
    let [gain, bias] = sample_res(sample, &buf(fstats));
    let res = vec![xs, gs, buf(fstats), buf(coef), gain, bias, buf(&dx)];
    per_run(ctx, k, res, &dx)?;
    Ok(dx)
}

/// [`Tensor::batch_norm2d`] with the reduction variant chosen explicitly (tests and benchmarks
/// run both on any adapter).
pub fn batch_norm2d_ex(x: &Tensor, bn: &BatchNorm, variant: BnVariant) -> Result<Tensor> {
    let dims = check(x, bn, OP)?;
    let ctx = context(x, bn, dims, variant, OP);
    let (y, fstats) = forward(&ctx, x, bn, None)?;
    let mut parents = vec![x];
    parents.extend(bn.gamma);
    parents.extend(bn.beta);
    let (has_gamma, has_beta) = (bn.gamma.is_some(), bn.beta.is_some());
    let xd = x.detach();
    Ok(y.with_grad(
        OP,
        &parents,
        Box::new(move |g, need| {
            let want = Need {
                dx: need[0],
                affine: need[1..].contains(&true),
            };
            let (dx, affine) = backward(&ctx, &xd, &fstats, g, None, want)?;
            let (dgamma, dbeta) = affine.unzip();
            // The parents after x: gamma, then beta, where given.
            let affine = [(has_gamma, dgamma), (has_beta, dbeta)]
                .into_iter()
                .filter_map(|(has, d)| has.then_some(d));
            let mut grads = vec![dx];
            grads.extend(affine.zip(&need[1..]).map(|(d, &n)| d.filter(|_| n)));
            Ok(grads)
        }),
    ))
}

/// [`Tensor::cond_batch_norm2d`] with the reduction variant chosen explicitly.
pub fn cond_batch_norm2d_ex(x: &Tensor, cbn: &CondBatchNorm, variant: BnVariant) -> Result<Tensor> {
    let bn = BatchNorm {
        gamma: None,
        beta: None,
        running_mean: None,
        running_var: None,
        mode: BnMode::BatchStats,
        eps: cbn.eps,
        relu: cbn.relu,
    };
    let dims = check(x, &bn, COND_OP)?;
    check_sample(x, cbn, dims)?;
    let ctx = Ctx {
        sample: true,
        ..context(x, &bn, dims, variant, COND_OP)
    };
    let sample = Sample {
        gain: cbn.gain.detach(),
        bias: cbn.bias.detach(),
    };
    let (y, fstats) = forward(&ctx, x, &bn, Some(&sample))?;
    let xd = x.detach();
    Ok(y.with_grad(
        COND_OP,
        &[x, cbn.gain, cbn.bias],
        Box::new(move |g, need| {
            let want = Need {
                dx: need[0],
                affine: need[1] || need[2],
            };
            let (dx, affine) = backward(&ctx, &xd, &fstats, g, Some(&sample), want)?;
            let (dgain, dbias) = affine.unzip();
            Ok(vec![
                dx,
                dgain.filter(|_| need[1]),
                dbias.filter(|_| need[2]),
            ])
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

    /// Conditional batch normalisation of x [B, C, H, W] (or [B, C]): batch statistics (mean and
    /// biased variance over B, H, W, as PyTorch normalises), then a per-sample gain and bias
    /// [B, C], then the optional ReLU, all in BN's passes (3 dispatches forward; backward 3 for
    /// dx alone, 2 for gain and bias alone, 4 for all). Differentiable in x, gain and bias.
    pub fn cond_batch_norm2d(&self, cbn: &CondBatchNorm) -> Result<Tensor> {
        cond_batch_norm2d_ex(self, cbn, BnVariant::Auto)
    }
}
