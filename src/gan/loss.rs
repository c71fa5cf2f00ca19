//! The adversarial losses on D's raw outputs (scores for hinge, logits for BCE): methods.md §2.7
//! (hinge, the gSR recipe) and §A.3 (soft realness targets for mixed samples). They are built
//! from tensor ops, so autograd differentiates them; D's outputs may be `[B]` or `[B, 1]`.

use crate::{Error, Result, Tensor};
use serde::{Deserialize, Serialize};

/// The adversarial objective of a GAN run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    /// D: mean relu(1 − d_real) + mean relu(1 + d_fake); G: −mean d_fake (SNGAN, gSR).
    #[default]
    Hinge,
    /// Non-saturating BCE with logits. D: mean softplus(−d_real) + mean softplus(d_fake);
    /// G: mean softplus(−d_fake).
    Bce,
}

impl GanLoss {
    pub const ALL: [GanLoss; 2] = [GanLoss::Hinge, GanLoss::Bce];

    pub fn name(self) -> &'static str {
        match self {
            GanLoss::Hinge => "hinge",
            GanLoss::Bce => "bce",
        }
    }

    /// D's loss on a real and a fake batch; each term is the mean over its own batch.
    pub fn d_loss(self, d_real: &Tensor, d_fake: &Tensor) -> Result<Tensor> {
        let real = self.real_term(&outputs("d_loss", d_real)?)?;
        let fake = self.fake_term(&outputs("d_loss", d_fake)?)?;
        real.mean_all()?.add(&fake.mean_all()?)
    }

    /// G's loss on D's outputs for a fake batch.
    pub fn g_loss(self, d_fake: &Tensor) -> Result<Tensor> {
        let d = outputs("g_loss", d_fake)?;
        match self {
            GanLoss::Hinge => d.mean_all()?.neg(),
            GanLoss::Bce => d.neg()?.softplus()?.mean_all(),
        }
    }

    /// D's loss on mixed samples with per-sample realness targets `t` ∈ [0, 1] (`[B]` or
    /// `[B, 1]`, t = mean of the mixing mask): mean of t·ℓ_real(d) + (1 − t)·ℓ_fake(d), which for
    /// BCE is the soft-label BCE. t = 1 and t = 0 give [`GanLoss::d_loss`]'s real and fake terms.
    /// The weighted sum of two non-negative terms keeps full relative precision where the
    /// shorter softplus(d) − t·d would cancel.
    pub fn d_loss_mixed(self, d: &Tensor, t: &Tensor) -> Result<Tensor> {
        let op = "d_loss_mixed";
        let (d, t) = (outputs(op, d)?, targets(op, d, t)?);
        let real = self.real_term(&d)?.mul(&t)?;
        let fake = self.fake_term(&d)?.mul(&t.affine(-1.0, 1.0)?)?;
        real.add(&fake)?.mean_all()
    }

    /// Per-sample loss of D for a sample that is real.
    fn real_term(self, d: &Tensor) -> Result<Tensor> {
        match self {
            GanLoss::Hinge => d.affine(-1.0, 1.0)?.relu(),
            GanLoss::Bce => d.neg()?.softplus(),
        }
    }

    /// Per-sample loss of D for a sample that is fake.
    fn fake_term(self, d: &Tensor) -> Result<Tensor> {
        match self {
            GanLoss::Hinge => d.add_scalar(1.0)?.relu(),
            GanLoss::Bce => d.softplus(),
        }
    }
}

impl std::fmt::Display for GanLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GanLoss {
    type Err = Error;
    fn from_str(s: &str) -> Result<GanLoss> {
        crate::error::parse_name("GAN loss", s, &GanLoss::ALL, GanLoss::name)
    }
}

/// D's outputs as `[B]`; `[B]` and `[B, 1]` are accepted.
pub(super) fn outputs(op: &'static str, d: &Tensor) -> Result<Tensor> {
    match *d.shape() {
        [_] => Ok(d.clone()),
        [b, 1] => d.reshape(&[b]),
        _ => Err(Error::Invalid {
            op,
            msg: format!("D outputs must be [B] or [B, 1], got {:?}", d.shape()),
        }),
    }
}

/// Targets `t` as `[B]` for the outputs `d`: one per sample, `[B]` or `[B, 1]`.
pub(super) fn targets(op: &'static str, d: &Tensor, t: &Tensor) -> Result<Tensor> {
    match *t.shape() {
        [b] | [b, 1] if b == d.shape()[0] => t.reshape(&[b]),
        _ => Err(Error::Shape {
            op,
            lhs: d.shape().to_vec(),
            rhs: t.shape().to_vec(),
        }),
    }
}
