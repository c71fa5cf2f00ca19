//! Sample mixing for the discriminator (Takamoto & Morishita 2021; methods.md §3 and the
//! formulation of Part B §A.3, which is a proposal: the paper's body is not accessible). Each real
//! image x_r,i is paired with the fake x_f,i and D also sees
//! x_mix,i = a_i ⊙ x_r,i + (1 − a_i) ⊙ x_f,i with a mask a_i (the real weight per pixel,
//! broadcast over channels) and the realness target t_i = mean a_i:
//!
//! - Mixup: a ≡ λ; CutMix: a = 1 − 1[box]; SRMix: a = 1 − b with b the separable smoothed box
//!   (logistic ramps, or the Gaussian-blurred box), λ ~ Beta(α, α).
//! - The box: side ratio r = √(1 − λ), sides w = r·W, h = r·H (continuous), centre
//!   (c_u, c_v) = (U₁·W, U₂·H) with U uniform in [0, 1), edges c ∓ side/2 clipped to [0, W] and
//!   [0, H]. **CutMix** takes the pixels whose centre lies in the box: pixel u is in it iff
//!   e₁ ≤ u + 0.5 < e₂, i.e. the integer edges u₁ = ⌈e₁ − 0.5⌉, u₂ = ⌈e₂ − 0.5⌉ (a half-open
//!   range; this is SRMix's κ → 0 limit). (CutMix's reference code instead floors the side and
//!   draws an integer centre; we keep the box continuous so all three kinds share one draw.)
//!   **SRMix** uses the continuous clipped edges, softness τ = κ·max(side, 1) per axis from the
//!   unclipped side, evaluated at the pixel centres (u + 0.5, v + 0.5). The clipped edges are
//!   smoothed like inner ones, so a box that reaches the border still ramps there (A.3 as written).
//! - D's loss on the mixed batch: the soft formalism t·ℓ_real(d) + (1 − t)·ℓ_fake(d)
//!   ([`GanLoss::d_loss_mixed`]) or the label-free consistency (d − [t·D(x_r) + (1 − t)·D(x_f)])²
//!   with the bracket detached, as γ_mix · mean over the batch.
//!
//! All draws come from the CPU as a pure function of (seed, step, slot) through
//! [`SplitMix64::keyed`]: nothing is read back and nothing needs checkpointing; a resumed run
//! redraws the same masks. `step` is the count of G steps done (as for LeCam) and `slot` tells
//! apart the draws inside one step (the n_dis D steps of an iteration: slot = 0..n_dis).
//!
//! # A D step with mixing
//! ```no_run
//! use tailgrad::gan::{GanLoss, MixConfig, MixKind, Mixer};
//! use tailgrad::{Device, Result, Tensor};
//! # fn d_step(d: &dyn Fn(&Tensor) -> Result<Tensor>, x_real: &Tensor, g_out: &Tensor,
//! #           seed: u64, step: u64, slot: u64) -> Result<Tensor> {
//! let cfg = MixConfig { kind: MixKind::SrMix, ..MixConfig::default() };
//! let mixer = Mixer::new(cfg)?;
//! let gan_loss = GanLoss::Hinge;
//! // G's batch for this D step, generated with the real batch's labels so that pair i shares
//! // one class; detached unless `g_through_mix` (then L_D's backward also reaches G).
//! let x_fake = mixer.fake_input(g_out);
//! let d_real = d(x_real)?;
//! let mixed = mixer.mix(x_real, &x_fake, seed, step, slot)?;
//! let d_loss = match &mixed {
//!     // kind = none, or this step's p_mix draw skipped mixing: the plain loss.
//!     None => gan_loss.d_loss(&d_real, &d(&x_fake)?)?,
//!     Some(m) if mixer.config().replace_fake => {
//!         // The mixed batch takes the fake half's place: mean ℓ_real(d_real) + γ·mean ℓ_mix.
//!         // (The consistency formalism still needs D(x_f) for its bracket, as a constant.)
//!         let real = gan_loss.d_loss_mixed(&d_real, &Tensor::ones(x_real.device(), &[d_real.shape()[0]])?)?;
//!         real.add(&mixer.loss(gan_loss, &d(&m.x)?, &m.t, Some(&d_real), None)?)?
//!     }
//!     Some(m) => {
//!         // Added to the standard loss: L_D = L_D^std + γ·mean ℓ_mix.
//!         let d_fake = d(&x_fake)?;
//!         let std = gan_loss.d_loss(&d_real, &d_fake)?;
//!         std.add(&mixer.loss(gan_loss, &d(&m.x)?, &m.t, Some(&d_real), Some(&d_fake))?)?
//!     }
//! };
//! # Ok(d_loss) }
//! ```
//! G's loss is unchanged (pure fakes). The example's replace-fake branch passes no `d_fake`, so
//! it works with the soft formalism only; consistency + `replace_fake` is an error there.

use super::loss::{outputs, targets, GanLoss};
use crate::data::random::beta;
use crate::data::shuffle::SplitMix64;
use crate::ops::mix_mask::{mix_mask, MaskKind, MaskParams};
use crate::{Error, Result, Tensor};
use serde::{Deserialize, Serialize};

/// Which mixing D sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MixKind {
    /// No mixing.
    #[default]
    None,
    /// a ≡ λ.
    Mixup,
    /// a = 1 − 1[box], the box on whole pixels.
    CutMix,
    /// a = 1 − b, b the smoothed box (see [`MixKernel`]).
    SrMix,
}

/// SRMix's edge profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MixKernel {
    /// Separable logistic ramps s((x − e₁)/τ) − s((x − e₂)/τ) (A.3.2).
    #[default]
    Logistic,
    /// The box indicator blurred by a Gaussian of σ = τ per axis, computed analytically as the
    /// continuous convolution: Φ((x − e₁)/σ) − Φ((x − e₂)/σ) (outside the image counts as
    /// outside the box, like zero padding of the indicator).
    Gaussian,
}

/// D's loss on mixed samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MixFormalism {
    /// t·ℓ_real(d) + (1 − t)·ℓ_fake(d): soft-label BCE, or the convex combination for hinge.
    #[default]
    Soft,
    /// (d − [t·D(x_r) + (1 − t)·D(x_f)])², the bracket detached.
    Consistency,
}

macro_rules! named {
    ($ty:ident, $what:literal, [$($v:ident = $n:literal),*]) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$v),*];
            pub fn name(self) -> &'static str {
                match self { $($ty::$v => $n),* }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<$ty> {
                crate::error::parse_name($what, s, $ty::ALL, $ty::name)
            }
        }
    };
}
named!(
    MixKind,
    "mixing kind",
    [
        None = "none",
        Mixup = "mixup",
        CutMix = "cutmix",
        SrMix = "srmix"
    ]
);
named!(
    MixKernel,
    "SRMix kernel",
    [Logistic = "logistic", Gaussian = "gaussian"]
);
named!(
    MixFormalism,
    "mixing formalism",
    [Soft = "soft", Consistency = "consistency"]
);

/// The knobs of A.3, each with its proposed default (a TOML table, unknown keys refused).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixConfig {
    pub kind: MixKind,
    /// λ ~ Beta(α, α); 1 is Uniform(0, 1).
    pub alpha: f64,
    /// SRMix edge softness relative to the box side: τ = κ·max(side, 1).
    pub kappa: f64,
    pub kernel: MixKernel,
    /// One λ and box for the whole batch instead of one per pair.
    pub per_batch: bool,
    /// γ_mix, the weight of the mixed term in D's loss.
    pub weight: f32,
    /// Probability that a D step mixes at all.
    pub p_mix: f64,
    /// The mixed batch replaces the fake half of D's loss instead of adding to it.
    pub replace_fake: bool,
    /// Keep G's graph in x_fake, so D's mixed loss also sends gradient into G.
    pub g_through_mix: bool,
    pub formalism: MixFormalism,
}

impl Default for MixConfig {
    fn default() -> Self {
        MixConfig {
            kind: MixKind::None,
            alpha: 1.0,
            kappa: 0.1,
            kernel: MixKernel::Logistic,
            per_batch: false,
            weight: 1.0,
            p_mix: 1.0,
            replace_fake: false,
            g_through_mix: false,
            formalism: MixFormalism::Soft,
        }
    }
}

impl MixConfig {
    /// `Error::Config` for a value outside its range.
    pub fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(format!("mixing: {msg}")));
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return bad(format!("alpha must be finite and > 0, got {}", self.alpha));
        }
        if !(self.kappa > 0.0 && self.kappa.is_finite()) {
            return bad(format!(
                "kappa must be finite and > 0 (kind = \"cutmix\" is its limit 0), got {}",
                self.kappa
            ));
        }
        if !(self.weight >= 0.0 && self.weight.is_finite()) {
            return bad(format!(
                "weight must be finite and ≥ 0, got {}",
                self.weight
            ));
        }
        if !(0.0..=1.0).contains(&self.p_mix) {
            return bad(format!("p_mix must be in [0, 1], got {}", self.p_mix));
        }
        Ok(())
    }

    /// The mask kernel for this kind (`None` for kind none).
    fn mask_kind(&self) -> Option<MaskKind> {
        match (self.kind, self.kernel) {
            (MixKind::None, _) => None,
            (MixKind::Mixup, _) => Some(MaskKind::Constant),
            (MixKind::CutMix, _) => Some(MaskKind::Box),
            (MixKind::SrMix, MixKernel::Logistic) => Some(MaskKind::Logistic),
            (MixKind::SrMix, MixKernel::Gaussian) => Some(MaskKind::Gaussian),
        }
    }
}

/// One pair's random draw: λ ~ Beta(α, α) and the box centre as fractions of the image width and
/// height, uniform in [0, 1). Every kind draws all three, so one (seed, step, slot) gives Mixup,
/// CutMix and SRMix the same λ and box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixDraw {
    pub lambda: f64,
    pub cu: f64,
    pub cv: f64,
}

/// A mixed batch.
#[derive(Debug)]
pub struct Mixed {
    /// a ⊙ x_real + (1 − a) ⊙ x_fake, `[B, C, H, W]`, differentiable in both inputs.
    pub x: Tensor,
    /// The realness targets mean(a_i), `[B]`, a constant.
    pub t: Tensor,
    /// The real-weight masks a, `[B, 1, H, W]`, a constant.
    pub mask: Tensor,
}

/// Draws, builds and scores mixed batches; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Mixer {
    cfg: MixConfig,
}

/// Keeps the mixing draws apart from every other stream keyed by the run seed.
const SALT: u64 = 0x6761_6e6d_6978_0000; // "ganmix"

impl Mixer {
    pub fn new(cfg: MixConfig) -> Result<Mixer> {
        cfg.check()?;
        Ok(Mixer { cfg })
    }

    pub fn config(&self) -> &MixConfig {
        &self.cfg
    }

    /// The draws of (seed, step, slot) for a batch of `b` pairs (one draw repeated when
    /// `per_batch`), or `None` when the kind is none or this call's p_mix draw says skip (the
    /// gate u ~ U[0, 1) mixes iff u < p_mix, drawn first so p_mix moves no other draw).
    pub fn draws(&self, b: usize, seed: u64, step: u64, slot: u64) -> Option<Vec<MixDraw>> {
        if self.cfg.kind == MixKind::None {
            return None;
        }
        let mut rng = SplitMix64::keyed(SplitMix64::keyed(seed ^ SALT, step).next_u64(), slot);
        if rng.unit() >= self.cfg.p_mix {
            return None;
        }
        let mut draw = || MixDraw {
            lambda: beta(&mut rng, self.cfg.alpha),
            cu: rng.unit(),
            cv: rng.unit(),
        };
        Some(if self.cfg.per_batch {
            vec![draw(); b]
        } else {
            (0..b).map(|_| draw()).collect()
        })
    }

    /// The mask parameters of one draw for `h`×`w` images (see the module docs for the box).
    pub fn mask_params(&self, d: &MixDraw, h: usize, w: usize) -> MaskParams {
        let lambda = d.lambda as f32;
        let r = (1.0 - d.lambda).max(0.0).sqrt();
        let (side_u, side_v) = (r * w as f64, r * h as f64);
        let edges = |c: f64, side: f64, n: usize| {
            let n = n as f64;
            (
                (c - side / 2.0).clamp(0.0, n),
                (c + side / 2.0).clamp(0.0, n),
            )
        };
        let (u1, u2) = edges(d.cu * w as f64, side_u, w);
        let (v1, v2) = edges(d.cv * h as f64, side_v, h);
        match self.cfg.kind {
            MixKind::None | MixKind::Mixup => MaskParams {
                lambda,
                ..MaskParams::default()
            },
            MixKind::CutMix => {
                // Pixels whose centre u + 0.5 lies in [e₁, e₂).
                let px = |e: f64| (e - 0.5).ceil() as f32;
                MaskParams {
                    lambda,
                    u1: px(u1),
                    u2: px(u2),
                    v1: px(v1),
                    v2: px(v2),
                    ..MaskParams::default()
                }
            }
            MixKind::SrMix => MaskParams {
                lambda,
                u1: u1 as f32,
                u2: u2 as f32,
                v1: v1 as f32,
                v2: v2 as f32,
                tau_u: (self.cfg.kappa * side_u.max(1.0)) as f32,
                tau_v: (self.cfg.kappa * side_v.max(1.0)) as f32,
            },
        }
    }

    /// x_fake as the D step should pass it to [`Mixer::mix`]: detached unless `g_through_mix`.
    pub fn fake_input(&self, x_fake: &Tensor) -> Tensor {
        if self.cfg.g_through_mix {
            x_fake.clone()
        } else {
            x_fake.detach()
        }
    }

    /// The mixed batch of (seed, step, slot) for real and fake batches `[B, C, H, W]`; `None`
    /// when the kind is none or the p_mix draw skips this call.
    pub fn mix(
        &self,
        x_real: &Tensor,
        x_fake: &Tensor,
        seed: u64,
        step: u64,
        slot: u64,
    ) -> Result<Option<Mixed>> {
        let b = image_shape(x_real, x_fake)?[0];
        match self.draws(b, seed, step, slot) {
            Some(draws) => self.mix_with(x_real, x_fake, &draws).map(Some),
            None => Ok(None),
        }
    }

    /// The mixed batch for given draws, one per pair.
    pub fn mix_with(&self, x_real: &Tensor, x_fake: &Tensor, draws: &[MixDraw]) -> Result<Mixed> {
        let op = "mix";
        let [b, _, h, w] = image_shape(x_real, x_fake)?;
        let Some(kind) = self.cfg.mask_kind() else {
            return Err(Error::Invalid {
                op,
                msg: "mixing kind is none: there is no mask".into(),
            });
        };
        if draws.len() != b {
            return Err(Error::Invalid {
                op,
                msg: format!("{} draws for a batch of {b}", draws.len()),
            });
        }
        let rows: Vec<MaskParams> = draws.iter().map(|d| self.mask_params(d, h, w)).collect();
        let mask = mix_mask(&MaskParams::upload(x_real.device(), &rows)?, kind, h, w)?;
        let t = mask.reshape(&[b, h * w])?.mean(1, false)?;
        let x = mask
            .mul(x_real)?
            .add(&mask.affine(-1.0, 1.0)?.mul(x_fake)?)?;
        Ok(Mixed { x, t, mask })
    }

    /// γ_mix · mean ℓ_mix over the batch for D's outputs `d_mix` on the mixed batch (`[B]` or
    /// `[B, 1]`) with targets `t`. The soft formalism uses `gan_loss` and ignores `d_real`,
    /// `d_fake`; the consistency one needs both (D's outputs on the paired real and fake
    /// batches, detached here) and ignores `gan_loss`.
    pub fn loss(
        &self,
        gan_loss: GanLoss,
        d_mix: &Tensor,
        t: &Tensor,
        d_real: Option<&Tensor>,
        d_fake: Option<&Tensor>,
    ) -> Result<Tensor> {
        let op = "mix loss";
        let t = t.detach();
        let l = match self.cfg.formalism {
            MixFormalism::Soft => gan_loss.d_loss_mixed(d_mix, &t)?,
            MixFormalism::Consistency => {
                let (Some(d_real), Some(d_fake)) = (d_real, d_fake) else {
                    return Err(Error::Invalid {
                        op,
                        msg: "the consistency formalism needs D's outputs on the real and the \
                              fake batch"
                            .into(),
                    });
                };
                let d = outputs(op, d_mix)?;
                let t = targets(op, &d, &t)?;
                let pair = |x: &Tensor| -> Result<Tensor> {
                    let x = outputs(op, x)?;
                    if x.shape() != d.shape() {
                        return Err(Error::Shape {
                            op,
                            lhs: d.shape().to_vec(),
                            rhs: x.shape().to_vec(),
                        });
                    }
                    Ok(x.detach())
                };
                let target = t
                    .mul(&pair(d_real)?)?
                    .add(&t.affine(-1.0, 1.0)?.mul(&pair(d_fake)?)?)?;
                let e = d.sub(&target)?;
                e.mul(&e)?.mean_all()?
            }
        };
        l.scale(self.cfg.weight)
    }
}

/// `[B, C, H, W]` of two equally shaped f32 image batches.
fn image_shape(x_real: &Tensor, x_fake: &Tensor) -> Result<[usize; 4]> {
    let op = "mix";
    x_real.expect_f32(op)?;
    x_fake.expect_f32(op)?;
    match *x_real.shape() {
        [b, c, h, w] if x_fake.shape() == x_real.shape() => Ok([b, c, h, w]),
        _ => Err(Error::Shape {
            op,
            lhs: x_real.shape().to_vec(),
            rhs: x_fake.shape().to_vec(),
        }),
    }
}
