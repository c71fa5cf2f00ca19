//! The GAN run configuration: a TOML file with nested tables (`[optim_g]`, `[optim_d]`, and the
//! optional `[lecam]`, `[gsr]`, `[diffaug]`, `[mixing]`, `[eval]`, each off when absent). Defaults ←
//! preset ← file ← flags; the resolved config is written to the run's `config.toml`.

use super::EvalConfig;
use crate::data::long_tail::{Profile, SplitThresholds};
use crate::data::DatasetKind;
use crate::gan::{DiffAugConfig, GanLoss, GsrConfig, LeCamConfig, MixConfig, MixKind};
use crate::nn::sngan::SnganConfig;
use crate::train::{OptimConfig, Schedule};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GanConfig {
    /// fashion-mnist | mnist | cifar10 | cifar100 | bundled
    pub dataset: String,
    /// Where the dataset files are (default: the dataset's usual install path).
    pub data_dir: Option<PathBuf>,
    /// Imbalance ratio n_max / n_min of the real training set; unset: 100, the bundled set as is.
    pub rho: Option<f64>,
    /// exp | step
    pub profile: String,
    /// Channels of G's blocks (paper 256).
    pub g_width: usize,
    /// Channels of D's blocks (paper 128).
    pub d_width: usize,
    pub z_dim: usize,
    /// G steps (one iteration = `n_dis` D steps, then one G step).
    pub steps: u64,
    pub batch: usize,
    pub n_dis: usize,
    /// hinge | bce
    pub loss: GanLoss,
    /// Random horizontal flip of real images (gSR, StudioGAN).
    pub flip: bool,
    pub optim_g: OptimConfig,
    pub optim_d: OptimConfig,
    /// A metrics line (with a GPU readback) every this many G steps.
    pub log_every: u64,
    /// A sample grid every this many G steps (0: only at the end).
    pub sample_every: u64,
    /// A checkpoint every this many G steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Columns of the sample grid (one row per class, one fixed z per column).
    pub grid_columns: usize,
    /// Many-shot classes have more than this many real images (the σ plot's colours).
    pub many_above: usize,
    /// Few-shot classes have fewer than this many.
    pub few_below: usize,
    pub seed: u64,
    pub out: PathBuf,
    /// LeCam regularization of D; off when absent.
    pub lecam: Option<LeCamConfig>,
    /// gSR on G's CBN tables; off when absent.
    pub gsr: Option<GsrConfig>,
    /// DiffAugment of every image D sees (real and fake in D steps, fake in G steps); off when
    /// absent.
    pub diffaug: Option<DiffAugConfig>,
    /// Mixup / CutMix / SRMix batches for D (methods.md §A.3); off when absent.
    pub mixing: Option<MixConfig>,
    /// FID, KID and intra-FID every `eval.every` G steps and at the end (fid.json, fid.png);
    /// off when absent.
    pub eval: Option<EvalConfig>,
}

/// GAN Adam at rate `lr`: betas (0.5, 0.9), no decay, constant rate (methods.md §2.7, SNGAN).
fn gan_adam(lr: f32) -> OptimConfig {
    OptimConfig {
        name: "adam".into(),
        lr,
        betas: (0.5, 0.9),
        weight_decay: 0.0,
        schedule: Schedule::Constant,
        warmup_epochs: 0,
        lr_steps: Vec::new(),
        ..OptimConfig::default()
    }
}

impl Default for GanConfig {
    /// The `small` preset: the widths, batch and rate that give recognisable class-conditional
    /// Fashion-MNIST-LT samples within 15 minutes on a 2-core software device (docs/gan.md).
    fn default() -> Self {
        GanConfig {
            dataset: "fashion-mnist".into(),
            data_dir: None,
            rho: None,
            profile: "exp".into(),
            g_width: 32,
            d_width: 32,
            z_dim: 128,
            steps: 500,
            batch: 32,
            n_dis: 1,
            loss: GanLoss::Hinge,
            flip: true,
            optim_g: gan_adam(5e-4),
            optim_d: gan_adam(5e-4),
            log_every: 25,
            sample_every: 100,
            checkpoint_every: 100,
            grid_columns: 8,
            many_above: 100,
            few_below: 20,
            seed: 1,
            out: PathBuf::from("runs/gan"),
            lecam: None,
            gsr: None,
            diffaug: None,
            mixing: None,
            eval: None,
        }
    }
}

/// D steps per G step must leave the random-stream slots of the G step and the sample grid free.
pub(super) const MAX_N_DIS: usize = 0xFFFE;

/// The named starting points of `--preset`.
pub const PRESETS: [&str; 2] = ["small", "sngan32"];

impl GanConfig {
    /// `small`: sized for a 2-core software device (docs/gan.md says why); `sngan32`: the gSR
    /// paper's SNGAN-32 setting (methods.md §2.7–2.8) for GPUs.
    pub fn preset(name: &str) -> Result<GanConfig> {
        match name {
            "small" => Ok(GanConfig::default()),
            "sngan32" => Ok(GanConfig {
                g_width: 256,
                d_width: 128,
                steps: 120_000,
                batch: 64,
                n_dis: 5,
                optim_g: gan_adam(2e-4),
                optim_d: gan_adam(2e-4),
                log_every: 500,
                sample_every: 5000,
                checkpoint_every: 2000,
                ..GanConfig::default()
            }),
            p => Err(Error::Config(format!(
                "unknown preset {p:?}: use {}",
                PRESETS.join(" or ")
            ))),
        }
    }

    /// Reads a TOML file; unknown keys are errors (a typo must not silently use a default).
    pub fn from_file(path: &Path) -> Result<GanConfig> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        Self::from_toml(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> Result<GanConfig> {
        toml::from_str(text).map_err(|e| Error::Config(e.to_string()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a GanConfig always serialises")
    }

    /// Checks every value; returns the typed choices.
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let bad = |what: String| Err(Error::Config(what));
        if self.steps == 0 || self.n_dis == 0 || self.log_every == 0 || self.grid_columns == 0 {
            return bad("steps, n_dis, log_every and grid_columns must be >= 1".into());
        }
        if self.n_dis >= MAX_N_DIS || self.steps > u32::MAX as u64 {
            return bad(format!(
                "n_dis must be below {MAX_N_DIS} and steps at most 2^32 - 1 (the random streams' keys)"
            ));
        }
        if self.batch < 2 {
            return bad(format!(
                "batch must be >= 2 (G's batch norm), got {}",
                self.batch
            ));
        }
        let dataset: DatasetKind = self.dataset.parse()?;
        let rho = self.rho.unwrap_or(match dataset {
            DatasetKind::Bundled => 1.0,
            _ => 100.0,
        });
        if !(rho >= 1.0 && rho.is_finite()) {
            return bad(format!("rho must be >= 1, got {rho}"));
        }
        if self.few_below > self.many_above + 1 {
            return bad("few_below must not exceed many_above + 1".into());
        }
        for (name, o) in [("optim_g", &self.optim_g), ("optim_d", &self.optim_d)] {
            if o.schedule != Schedule::Constant || o.warmup_epochs != 0 {
                return bad(format!(
                    "{name}: GAN runs train at a constant rate (schedule = \"constant\", \
                     warmup_epochs = 0)"
                ));
            }
        }
        if let Some(m) = self.mixing.as_ref().filter(|m| m.kind != MixKind::None) {
            if m.g_through_mix {
                return bad(
                    "mixing.g_through_mix is not supported by the trainer: D's mixed loss \
                            would pull G toward helping D (docs/gan.md)"
                        .into(),
                );
            }
            if m.replace_fake && self.lecam.is_some() {
                return bad(
                    "mixing.replace_fake leaves no fake batch for LeCam's EMA: turn one off".into(),
                );
            }
        }
        if let Some(e) = &self.eval {
            if e.features.as_os_str().is_empty() {
                return bad(
                    "eval.features must name a feature extractor (a classifier checkpoint; \
                     docs/gan.md, Evaluation)"
                        .into(),
                );
            }
        }
        Ok(Resolved {
            dataset,
            rho,
            profile: self.profile.parse()?,
            splits: SplitThresholds {
                many: self.many_above,
                few: self.few_below,
            },
        })
    }

    /// G's and D's architecture for `channels`-channel images of `classes` classes.
    pub fn model(&self, channels: usize, classes: usize) -> SnganConfig {
        SnganConfig {
            g_width: self.g_width,
            d_width: self.d_width,
            z_dim: self.z_dim,
            channels,
            classes,
        }
    }
}

/// The typed choices of a validated config.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub dataset: DatasetKind,
    pub rho: f64,
    pub profile: Profile,
    pub splits: SplitThresholds,
}
