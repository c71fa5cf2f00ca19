//! Adjusted softmax cross-entropy (`shaders/adjusted_ce.wgsl`): one fused kernel for the
//! long-tail losses that perturb the logits before a (weighted, optionally focal) cross-entropy:
//! GCL's Gaussian cloud, LDAM's target margin, logit-adjustment biases and per-label masks
//! (−99999 entries silence a class for a label), class weights and focal modulation.
//!
//! For logits x [B, C] and u32 labels y [B]:
//! z_ij = s·(x_ij − ε·δ_ij·amp_j − [j = y_i]·m_{y_i}) + bias[(y_i or 0), j],
//! ℓ_i = logsumexp(z_i) − z_{i,y_i}, p_i = exp(−ℓ_i), f_i = (1 − p_i)^γ (1 without focal) and
//! L = Σ w_{y_i}·f_i·ℓ_i / Σ w_{y_i}, shape [1]. The gradient reaches x only.
//!
//! The kernel draws the cloud's noise itself (Philox, as [`Generator::normal`] would) and writes
//! the gradient in the same launch; the mean and the backward scale are cross_entropy's (see
//! `shaders/adjusted_ce.wgsl`). [`adjusted_ce_unfused`] is the same loss composed of ordinary
//! ops, the reference the fused kernel is tested against.
//!
//! A label ≥ C cannot be reported without a readback: its row's loss and weight are NaN, so the
//! loss and the whole gradient are NaN (`TAILGRAD_DEBUG=sync` names `adjusted_ce`).

mod unfused;

pub use unfused::adjusted_ce_unfused;

use super::cross_entropy::mean_with_saved_grad;
use super::softmax::{launch_shape, pick, Variant};
use crate::runtime::Res;
use crate::tensor::DType;
use crate::{autograd, kernel, Error, Generator, Result, Tensor};

kernel!(ROWS_ROW = ["philox", "online_softmax", "adjusted_ce"]::"rows_row"
    [Read, Read, Read, Read, Read, Read, ReadWrite, ReadWrite]);
kernel!(ROWS_WG = ["philox", "online_softmax", "adjusted_ce"]::"rows_wg"
    [Read, Read, Read, Read, Read, Read, ReadWrite, ReadWrite]);

const OP: &str = "adjusted_ce";

/// Standard deviation of GCL's noise before clamping: 3σ = 1.
const CLOUD_STD: f32 = 1.0 / 3.0;

/// Gaussian cloud of GCL: δ_ij = |clamp(N_ij, −1, 1)| with N drawn exactly as
/// `gen.normal(dev, &[B, C], 0.0, 1.0 / 3.0)` would draw it (same Philox counter layout, element
/// i = r·C + j, advancing `gen`'s counter by ceil(B·C/4) blocks), so a fused call and the unfused
/// reference with clones of the same Generator see the same noise.
#[derive(Debug)]
pub struct Cloud<'a> {
    /// Per-class amplitude [C] (GCL: (log n_max − log n_j) / (log n_max − log n_min)).
    pub amp: &'a Tensor,
    /// ε, GCL's `noise_mul`.
    pub eps: f32,
    pub gen: &'a mut Generator,
}

/// Focal modulation (1 − p)^γ of each sample's loss.
#[derive(Clone, Copy, Debug)]
pub struct Focal {
    pub gamma: f32,
    /// Treat p as a constant in the gradient (GCL stage 2); otherwise the exact focal-loss
    /// derivative.
    pub detach: bool,
}

/// The knobs of [`Tensor::adjusted_ce`]; `Default` is plain cross-entropy.
#[derive(Debug)]
pub struct AdjustedCe<'a> {
    /// s, multiplies the (perturbed) logits.
    pub scale: f32,
    /// [C]: m_{y_i} subtracted from the target logit only, before scaling.
    pub margin: Option<&'a Tensor>,
    pub cloud: Option<Cloud<'a>>,
    /// [C] (every row) or [C, C] (row y_i for sample i), added after scaling.
    pub bias: Option<&'a Tensor>,
    /// [C] class weights w_{y_i}.
    pub weights: Option<&'a Tensor>,
    pub focal: Option<Focal>,
}

impl Default for AdjustedCe<'_> {
    fn default() -> Self {
        AdjustedCe {
            scale: 1.0,
            margin: None,
            cloud: None,
            bias: None,
            weights: None,
            focal: None,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    flags: u32,
    bias_stride: u32,
    key: [u32; 2],
    base: [u32; 2],
    stream: u32,
    scale: f32,
    eps: f32,
    sigma: f32,
    gamma: f32,
    _pad: [u32; 3],
}

const WEIGHTED: u32 = 1;
const WRITE_GRAD: u32 = 2;
const CLOUD: u32 = 4;
const MARGIN: u32 = 8;
const BIAS: u32 = 16;
const FOCAL: u32 = 32;
const DETACH: u32 = 64;

fn shape_err(x: &Tensor, other: &Tensor) -> Error {
    Error::Shape {
        op: OP,
        lhs: x.shape().to_vec(),
        rhs: other.shape().to_vec(),
    }
}

fn invalid(msg: String) -> Error {
    Error::Invalid { op: OP, msg }
}

/// A per-class f32 tensor: shape [C].
fn check_classes(x: &Tensor, t: Option<&Tensor>, c: usize) -> Result<()> {
    if let Some(t) = t {
        t.expect_f32(OP)?;
        if t.shape() != [c] {
            return Err(shape_err(x, t));
        }
    }
    Ok(())
}

/// Checks every input against logits [B, C]; returns (B, C).
fn check(x: &Tensor, labels: &Tensor, a: &AdjustedCe) -> Result<(usize, usize)> {
    x.expect_f32(OP)?;
    let &[b, c] = x.shape() else {
        return Err(invalid(format!(
            "logits must be [batch, classes], got {:?}",
            x.shape()
        )));
    };
    if labels.dtype() != DType::U32 {
        return Err(invalid(format!(
            "labels must be a u32 tensor, got {labels:?}"
        )));
    }
    if labels.shape() != [b] {
        return Err(shape_err(x, labels));
    }
    check_classes(x, a.margin, c)?;
    check_classes(x, a.weights, c)?;
    check_classes(x, a.cloud.as_ref().map(|cl| cl.amp), c)?;
    if let Some(bias) = a.bias {
        bias.expect_f32(OP)?;
        if bias.shape() != [c] && bias.shape() != [c, c] {
            return Err(shape_err(x, bias));
        }
    }
    if !a.scale.is_finite() {
        return Err(invalid(format!("scale must be finite, got {}", a.scale)));
    }
    if let Some(cl) = &a.cloud {
        if !cl.eps.is_finite() {
            return Err(invalid(format!("cloud eps must be finite, got {}", cl.eps)));
        }
    }
    if let Some(f) = a.focal {
        if !(f.gamma.is_finite() && f.gamma >= 0.0) {
            return Err(invalid(format!(
                "focal gamma must be finite and >= 0, got {}",
                f.gamma
            )));
        }
    }
    Ok((b, c))
}

/// The uniform of one call; `want_grad` decides whether the kernel writes the gradient.
fn params(a: &AdjustedCe, b: usize, c: usize, want_grad: bool) -> Params {
    let bit = |on: bool, f: u32| if on { f } else { 0 };
    let focal = a.focal.filter(|f| f.gamma != 0.0);
    let mut p = Params {
        rows: b as u32,
        cols: c as u32,
        flags: bit(a.weights.is_some(), WEIGHTED)
            | bit(want_grad, WRITE_GRAD)
            | bit(a.margin.is_some(), MARGIN)
            | bit(a.bias.is_some(), BIAS)
            | bit(focal.is_some(), FOCAL)
            | bit(focal.is_some_and(|f| f.detach), DETACH),
        bias_stride: a
            .bias
            .map_or(0, |t| if t.rank() == 2 { c as u32 } else { 0 }),
        key: [0; 2],
        base: [0; 2],
        stream: 0,
        scale: a.scale,
        eps: 0.0,
        sigma: CLOUD_STD,
        gamma: focal.map_or(0.0, |f| f.gamma),
        _pad: [0; 3],
    };
    if let Some(cl) = &a.cloud {
        let g = &cl.gen;
        p.flags |= CLOUD;
        p.key = [g.seed() as u32, (g.seed() >> 32) as u32];
        p.base = [g.counter() as u32, (g.counter() >> 32) as u32];
        p.stream = g.stream();
        p.eps = cl.eps;
    }
    p
}

fn fused(x: &Tensor, labels: &Tensor, a: AdjustedCe) -> Result<Tensor> {
    let (b, c) = check(x, labels, &a)?;
    let dev = x.device();
    let want_grad = autograd::grad_enabled() && x.requires_grad();
    // Without a gradient to keep, a one-element stand-in is bound and never written.
    let grad_shape: &[usize] = if want_grad { &[b, c] } else { &[1] };
    let grad = Tensor::empty(dev, OP, grad_shape, DType::F32)?;
    let stats = Tensor::empty(dev, OP, &[b, 2], DType::F32)?;
    let p = params(&a, b, c, want_grad);
    // softmax's variant choice plans for 4·C loop trips per row; this kernel's loops take at
    // most ~3.25·C (C/4 blocks of 11 trips with the Philox rounds, then C/4 for the gradient).
    let v = pick(x, c)?;
    let k = match v {
        Variant::Row => &ROWS_ROW,
        Variant::Workgroup => &ROWS_WG,
    };
    let (consts, groups) = launch_shape(x, v, b);
    // Absent inputs: the logits stand in; the kernel never reads them.
    let amp = a.cloud.as_ref().map(|cl| cl.amp);
    let opt = |t: Option<&Tensor>| Res::Buf(t.unwrap_or(x).buf().clone());
    let mut check = vec![(stats.buf(), 2 * b)];
    if want_grad {
        check.push((grad.buf(), b * c));
    }
    dev.dispatch(
        OP,
        k,
        &consts,
        bytemuck::bytes_of(&p),
        vec![
            Res::Buf(x.buf().clone()),
            Res::Buf(labels.buf().clone()),
            opt(amp),
            opt(a.margin),
            opt(a.bias),
            opt(a.weights),
            Res::Buf(stats.buf().clone()),
            Res::Buf(grad.buf().clone()),
        ],
        groups,
        &check,
    )?;
    if let Some(cl) = a.cloud {
        let blocks = (b * c).div_ceil(4) as u64;
        cl.gen.set_counter(cl.gen.counter().wrapping_add(blocks));
    }
    mean_with_saved_grad(OP, x, &stats, grad, b, c)
}

impl Tensor {
    /// The adjusted cross-entropy of logits [B, C] against u32 labels [B] (see the module docs),
    /// fused into one kernel plus cross_entropy's mean; shape [1]. Advances the cloud's generator.
    pub fn adjusted_ce(&self, labels: &Tensor, a: AdjustedCe) -> Result<Tensor> {
        fused(self, labels, a)
    }
}
