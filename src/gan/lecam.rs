//! LeCam regularization of D (Tseng et al. 2021), gan.md §3 and methods.md §2.7:
//! R = mean(relu(d_real − α_F)²) + mean(relu(α_R − d_fake)²), added to D's loss as λ·R, where
//! α_R and α_F are EMAs of D's outputs on real and fake batches. The EMAs live on the GPU and are
//! detached (they never carry a graph from one step into the next), so a step reads nothing back.
//!
//! `step` below is the number of G steps done before the current D step, counted from 0: every
//! one of an iteration's n_dis D steps passes the same value, as in both reference codes.

use super::loss::outputs;
use crate::{DType, Device, Error, Result, Tensor};
use serde::{Deserialize, Serialize};

/// Which formula and EMA to follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeCamVariant {
    /// google/lecam-gan and StudioGAN: α_R, α_F are scalar EMAs of the batch means, updated at
    /// every D step before the penalty; before `start_step` they equal the current batch mean
    /// (decay 0), and the penalty applies from step `start_step + 1` on.
    #[default]
    Canonical,
    /// val-iisc/gSRGAN's `worker.py`, for parity: α is a per-position EMA of the output vector
    /// ([B]); it is 0 throughout step 0 and blends in the current outputs from step 1 on; the
    /// second term is relu(d_fake − α_R)² (sign flipped); the penalty applies from step 0
    /// (`start_step` is not used).
    GsrRepo,
}

impl LeCamVariant {
    pub const ALL: [LeCamVariant; 2] = [LeCamVariant::Canonical, LeCamVariant::GsrRepo];

    pub fn name(self) -> &'static str {
        match self {
            LeCamVariant::Canonical => "canonical",
            LeCamVariant::GsrRepo => "gsr-repo",
        }
    }
}

impl std::fmt::Display for LeCamVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LeCamVariant {
    type Err = Error;
    fn from_str(s: &str) -> Result<LeCamVariant> {
        crate::error::parse_name("LeCam variant", s, &LeCamVariant::ALL, LeCamVariant::name)
    }
}

/// LeCam's knobs; the defaults are the gSR SNGAN recipe (methods.md §2.7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeCamConfig {
    /// Weight λ of R in D's loss: 0.3 for SNGAN on CIFAR and LSUN.
    pub lambda: f32,
    /// EMA decay: 0.99 as in StudioGAN and the gSR repo (the original used 0.9).
    pub decay: f32,
    /// Canonical: the warm-up; the EMAs track the current batch before it, R applies after it.
    pub start_step: u64,
    pub variant: LeCamVariant,
    /// `gsr-repo` only: after a resume, α is the current batch mean at every step, as the repo's
    /// resumed runs do. Off, a resume continues the saved EMAs exactly.
    pub repo_resume: bool,
}

impl Default for LeCamConfig {
    fn default() -> Self {
        LeCamConfig {
            lambda: 0.3,
            decay: 0.99,
            start_step: 1000,
            variant: LeCamVariant::Canonical,
            repo_resume: false,
        }
    }
}

impl LeCamConfig {
    fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(format!("lecam: {msg}")));
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return bad(format!(
                "lambda must be finite and ≥ 0, got {}",
                self.lambda
            ));
        }
        if !(0.0..1.0).contains(&self.decay) {
            return bad(format!("decay must be in [0, 1), got {}", self.decay));
        }
        if self.repo_resume && self.variant != LeCamVariant::GsrRepo {
            return bad("repo_resume needs variant = \"gsr-repo\"".into());
        }
        Ok(())
    }
}

/// The regularizer with its EMA state; see the [module docs](self).
pub struct LeCam {
    cfg: LeCamConfig,
    ema_real: Tensor,
    ema_fake: Tensor,
    /// The gSR repo's resumed mode: α is the plain batch mean.
    resumed: bool,
}

const NAMES: [&str; 2] = ["lecam.ema_real", "lecam.ema_fake"];

impl LeCam {
    /// EMAs at 0: scalars (`[1]`) for the canonical form, one per batch position (`[batch]`) for
    /// the gSR repo's. (With `start_step` 0 the canonical EMAs thus start from 0; the original's
    /// arbitrary initial value only matters in that case.)
    pub fn new(dev: &Device, cfg: LeCamConfig, batch: usize) -> Result<LeCam> {
        cfg.check()?;
        let len = match cfg.variant {
            LeCamVariant::Canonical => 1,
            LeCamVariant::GsrRepo => batch,
        };
        Ok(LeCam {
            ema_real: Tensor::zeros(dev, &[len])?,
            ema_fake: Tensor::zeros(dev, &[len])?,
            cfg,
            resumed: false,
        })
    }

    pub fn config(&self) -> &LeCamConfig {
        &self.cfg
    }

    /// One D step's LeCam term: [`LeCam::update`], then [`LeCam::penalty`] with the new EMAs,
    /// the order of both references.
    pub fn regularize(
        &mut self,
        d_real: &Tensor,
        d_fake: &Tensor,
        step: u64,
    ) -> Result<Option<Tensor>> {
        self.update(d_real, d_fake, step)?;
        self.penalty(d_real, d_fake, step)
    }

    /// Folds one D step's outputs (detached) into the EMAs.
    pub fn update(&mut self, d_real: &Tensor, d_fake: &Tensor, step: u64) -> Result<()> {
        let real = self.checked("lecam.update", d_real)?.detach();
        let fake = self.checked("lecam.update", d_fake)?.detach();
        self.ema_real = self.next(&self.ema_real, &real, step)?;
        self.ema_fake = self.next(&self.ema_fake, &fake, step)?;
        Ok(())
    }

    /// λ·R at the current EMAs, or `None` while R is off (canonical, step ≤ `start_step`).
    pub fn penalty(&self, d_real: &Tensor, d_fake: &Tensor, step: u64) -> Result<Option<Tensor>> {
        if !self.active(step) {
            return Ok(None);
        }
        let real = self.checked("lecam.penalty", d_real)?;
        let fake = self.checked("lecam.penalty", d_fake)?;
        let second = match self.cfg.variant {
            LeCamVariant::Canonical => self.ema_real.sub(&fake)?,
            LeCamVariant::GsrRepo => fake.sub(&self.ema_real)?,
        };
        let r = relu_sq_mean(&real.sub(&self.ema_fake)?)?.add(&relu_sq_mean(&second)?)?;
        r.scale(self.cfg.lambda).map(Some)
    }

    /// Whether R is part of D's loss at `step`.
    pub fn active(&self, step: u64) -> bool {
        match self.cfg.variant {
            LeCamVariant::Canonical => step > self.cfg.start_step,
            LeCamVariant::GsrRepo => true,
        }
    }

    /// α_R: `[1]`, or `[batch]` for the gSR repo's variant.
    pub fn ema_real(&self) -> &Tensor {
        &self.ema_real
    }

    /// α_F, shaped as α_R.
    pub fn ema_fake(&self) -> &Tensor {
        &self.ema_fake
    }

    /// The state to checkpoint, by name (for `StateWriter::tensor`).
    pub fn tensors(&self) -> [(&'static str, &Tensor); 2] {
        [(NAMES[0], &self.ema_real), (NAMES[1], &self.ema_fake)]
    }

    /// Restores the EMAs saved under [`LeCam::tensors`]' names: `get(name, shape)` returns the
    /// saved tensor, e.g. `|n, s| reader.tensor(n, DType::F32, s)` for a run state's
    /// `StateReader`. With `repo_resume`, switches to the gSR repo's resumed mode.
    pub fn load(&mut self, get: impl Fn(&str, &[usize]) -> Result<Tensor>) -> Result<()> {
        let shape = self.ema_real.shape().to_vec();
        let (real, fake) = (get(NAMES[0], &shape)?, get(NAMES[1], &shape)?);
        for (name, t) in NAMES.iter().zip([&real, &fake]) {
            if t.shape() != shape || t.dtype() != DType::F32 {
                return Err(Error::Invalid {
                    op: "lecam.load",
                    msg: format!("{name} is {t:?}, expected F32 {shape:?}"),
                });
            }
        }
        (self.ema_real, self.ema_fake) = (real, fake);
        self.resumed = self.cfg.repo_resume;
        Ok(())
    }

    /// D's outputs as `[B]`; the gSR repo's per-position EMA fixes B.
    fn checked(&self, op: &'static str, d: &Tensor) -> Result<Tensor> {
        let d = outputs(op, d)?;
        let ema = self.ema_real.shape();
        if self.cfg.variant == LeCamVariant::GsrRepo && d.shape() != ema {
            return Err(Error::Shape {
                op,
                lhs: ema.to_vec(),
                rhs: d.shape().to_vec(),
            });
        }
        Ok(d)
    }

    /// The EMA after one step with the outputs `d` ([B], detached).
    fn next(&self, ema: &Tensor, d: &Tensor, step: u64) -> Result<Tensor> {
        let decay = self.cfg.decay;
        match self.cfg.variant {
            LeCamVariant::Canonical if step < self.cfg.start_step => d.mean_all(),
            LeCamVariant::Canonical => blend(ema, &d.mean_all()?, decay),
            LeCamVariant::GsrRepo if step == 0 => ema.zeros_like(),
            LeCamVariant::GsrRepo if self.resumed => d.mean_all()?.broadcast_to(ema.shape()),
            LeCamVariant::GsrRepo => blend(ema, d, decay),
        }
    }
}

/// decay·ema + (1 − decay)·x, the references' update.
fn blend(ema: &Tensor, x: &Tensor, decay: f32) -> Result<Tensor> {
    ema.scale(decay)?.add(&x.scale(1.0 - decay)?)
}

/// mean(relu(x)²).
fn relu_sq_mean(x: &Tensor) -> Result<Tensor> {
    let r = x.relu()?;
    r.mul(&r)?.mean_all()
}
