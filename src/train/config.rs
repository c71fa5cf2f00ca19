//! The classifier run configuration. Defaults ← TOML file ← command-line flags; the resolved
//! config is written to `config.toml` in the output directory, so every run can be repeated.

use super::loss::{LossKnobs, Method};
use super::optim_config::{OptimConfig, Schedule};
use crate::data::long_tail::{Profile, SplitThresholds};
use crate::data::DatasetKind;
use crate::nn::{Arch, HeadKind};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// fashion-mnist | mnist | cifar10 | cifar100 | bundled
    pub dataset: String,
    /// Where the dataset files are (default: the dataset's usual install path).
    pub data_dir: Option<PathBuf>,
    /// Imbalance ratio n_max / n_min of the training set; 1 keeps it as it is. Unset: 100, but
    /// the bundled set, long-tailed already, as it is.
    pub rho: Option<f64>,
    /// exp | step
    pub profile: String,
    /// small-cnn | resnet8 | resnet20 | resnet32 | resnet56 | resnetN (6n+2)
    pub model: String,
    /// auto | linear | normed (auto: the cosine head for ldam-drw and gcl, linear otherwise)
    pub head: String,
    /// ce | focal | cb-ce | cb-focal | la | la-posthoc | balce | ldam-drw | gcl
    pub method: Method,
    /// Mixup on training batches; unset: on for gcl (as its official code), off otherwise.
    pub mixup: Option<bool>,
    /// λ ~ Beta(α, α), one λ per batch.
    pub mixup_alpha: f64,
    pub epochs: usize,
    pub batch: usize,
    /// instance (shuffle) | class-balanced (1/n_j) | effective-number | cbenrs (the last three
    /// draw with replacement)
    pub sampling: String,
    /// β of the effective-number sampler.
    pub sampling_beta: f64,
    /// Random crop (zero padding `pad`) and horizontal flip on training batches.
    pub augment: bool,
    pub pad: usize,
    pub flip: bool,
    /// Side of the square network input; 0 picks 32 for ResNets and the image side otherwise.
    pub image_size: usize,
    /// Many-shot classes have more than this many training images.
    pub many_above: usize,
    /// Few-shot classes have fewer than this many training images.
    pub few_below: usize,
    pub seed: u64,
    pub eval_batch: usize,
    /// Also checkpoint every this many optimizer steps inside an epoch (0: at epoch ends only).
    pub checkpoint_every: u64,
    pub out: PathBuf,
    /// 1: a full run (for gcl, stage 1 then stage 2); 2: re-train the classifier of the run whose
    /// checkpoint is `from` (set by `--stage 2 --from`).
    pub stage: usize,
    pub from: Option<PathBuf>,
    /// The optimizer and its learning-rate schedule.
    pub optim: OptimConfig,
    /// Hyper-parameters of the losses.
    pub loss: LossKnobs,
    /// GCL's classifier re-training (methods.md §5.3).
    pub stage2: Stage2,
    /// Category extrapolation with auxiliary classes (methods.md Part B); off when unset.
    pub extrapolation: Option<Extrapolation>,
}

/// Stage 2 of GCL: backbone frozen in eval mode, only the cosine classifier re-trained from its
/// stage-1 weights with a cosine rate from `lr` and the stage-2 loss.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Stage2 {
    /// 0 skips stage 2.
    pub epochs: usize,
    pub lr: f32,
    pub sampling: String,
    pub mixup: bool,
    pub gcl_s: f32,
    pub gcl_m: f32,
    pub gcl_gamma: f32,
}

impl Default for Stage2 {
    fn default() -> Self {
        Stage2 {
            epochs: 30,
            lr: 0.002,
            sampling: "cbenrs".into(),
            mixup: true,
            gcl_s: 20.0,
            gcl_m: 0.1,
            gcl_gamma: 1.0,
        }
    }
}

/// Auxiliary neighbour classes and neighbour silencing (methods.md Part B).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Extrapolation {
    /// TOML neighbour map: target classes (head → tail) and their auxiliary neighbours.
    pub neighbours: PathBuf,
    /// false: the baseline, the target classes alone.
    pub auxiliary: bool,
    /// Images per auxiliary class, drawn from the training set of the dataset.
    pub aux_per_class: usize,
    /// Fraction of the training set that is auxiliary; unset: the natural proportion.
    pub p_aux: Option<f64>,
    /// normal | back | none: which classes a label silences (B.3).
    pub mask: String,
    /// Soft silencing: ln λ instead of the hard −99999 on silenced logits.
    pub silence_lambda: Option<f32>,
}

impl Default for Extrapolation {
    fn default() -> Self {
        Extrapolation {
            neighbours: PathBuf::from("configs/extrapolation/fashion-mnist-neighbours.toml"),
            auxiliary: true,
            aux_per_class: 300,
            p_aux: None,
            mask: "normal".into(),
            silence_lambda: None,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            dataset: "fashion-mnist".into(),
            data_dir: None,
            rho: None,
            profile: "exp".into(),
            model: "resnet32".into(),
            head: "auto".into(),
            method: Method::Ce,
            mixup: None,
            mixup_alpha: 1.0,
            epochs: 200,
            batch: 128,
            sampling: "instance".into(),
            sampling_beta: 0.9999,
            augment: true,
            pad: 4,
            flip: true,
            image_size: 0,
            many_above: 100,
            few_below: 20,
            seed: 0,
            eval_batch: 500,
            checkpoint_every: 0,
            out: PathBuf::from("runs/classifier"),
            stage: 1,
            from: None,
            optim: OptimConfig::default(),
            loss: LossKnobs::default(),
            stage2: Stage2::default(),
            extrapolation: None,
        }
    }
}

impl TrainConfig {
    /// `tailgrad demo`: the small CNN on the bundled long-tailed Fashion-MNIST subset, sized so
    /// that the demo's two runs (cross-entropy and Balanced Softmax) take well under a minute on
    /// a 2-core software adapter.
    pub fn demo() -> TrainConfig {
        TrainConfig {
            dataset: "bundled".into(),
            model: "small-cnn".into(),
            epochs: 5,
            batch: 64,
            optim: OptimConfig {
                lr: 0.05,
                schedule: Schedule::Cosine,
                warmup_epochs: 1,
                lr_steps: vec![],
                weight_decay: 5e-4,
                ..OptimConfig::default()
            },
            out: PathBuf::from("runs/demo"),
            ..TrainConfig::default()
        }
    }
}

impl TrainConfig {
    /// The stage-2 run (methods.md §5.3) of this GCL run, starting from its stage-1 checkpoint
    /// `from` and writing to `out`: cosine rate from `stage2.lr`, no warm-up, the stage-2
    /// sampler, Mixup setting and loss (s, m, focal γ).
    pub fn stage2_config(&self, from: PathBuf, out: PathBuf) -> TrainConfig {
        let s2 = &self.stage2;
        let mut c = self.clone();
        c.stage = 2;
        c.from = Some(from);
        c.out = out;
        c.epochs = s2.epochs;
        c.optim.lr = s2.lr;
        c.optim.schedule = Schedule::Cosine;
        c.optim.warmup_epochs = 0;
        c.optim.lr_steps = Vec::new();
        c.sampling = s2.sampling.clone();
        c.mixup = Some(s2.mixup);
        c.loss.gcl_s = s2.gcl_s;
        c.loss.gcl_m = s2.gcl_m;
        c.loss.gcl_gamma = s2.gcl_gamma;
        c
    }
}

/// The typed choices of a validated config.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub dataset: DatasetKind,
    pub rho: f64,
    pub profile: Profile,
    pub arch: Arch,
    pub head: HeadKind,
    pub splits: SplitThresholds,
    pub mixup: bool,
}

impl TrainConfig {
    /// Reads a TOML file; unknown keys are errors (a typo must not silently use a default).
    pub fn from_file(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        Self::from_toml(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> Result<TrainConfig> {
        let mut table: toml::Table = text.parse().map_err(|e| Error::Config(format!("{e}")))?;
        move_legacy_optim_keys(&mut table)?;
        table.try_into().map_err(|e| Error::Config(e.to_string()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a TrainConfig always serialises")
    }

    /// Checks every value and parses the named choices.
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let bad = |what: &str| Err(Error::Config(what.to_string()));
        if self.epochs == 0 || self.batch < 2 || self.eval_batch == 0 {
            return bad("epochs and eval_batch must be >= 1 and batch >= 2 (batch norm)");
        }
        let dataset: DatasetKind = self.dataset.parse()?;
        let rho = self.rho.unwrap_or(match dataset {
            DatasetKind::Bundled => 1.0,
            _ => 100.0,
        });
        if !(rho >= 1.0 && rho.is_finite()) {
            return bad(&format!("rho must be >= 1, got {rho}"));
        }
        if self.few_below > self.many_above + 1 {
            return bad("few_below must not exceed many_above + 1");
        }
        if !(self.mixup_alpha > 0.0 && self.mixup_alpha.is_finite()) {
            return bad(&format!(
                "mixup_alpha must be > 0, got {}",
                self.mixup_alpha
            ));
        }
        if !(0.0..1.0).contains(&self.sampling_beta) {
            return bad(&format!(
                "sampling_beta must be in [0, 1), got {}",
                self.sampling_beta
            ));
        }
        match (self.stage, &self.from) {
            (1, _) | (2, Some(_)) => {}
            (2, None) => return bad("stage 2 needs `from`, the stage-1 checkpoint"),
            (s, _) => return bad(&format!("stage must be 1 or 2, got {s}")),
        }
        if !(self.stage2.lr > 0.0 && self.stage2.lr.is_finite()) {
            return bad("stage2.lr must be > 0");
        }
        if let Some(x) = &self.extrapolation {
            if x.auxiliary && self.method != Method::Balce {
                return bad(&format!(
                    "category extrapolation trains with balce (methods.md B.2), not {}",
                    self.method
                ));
            }
            if let Some(p) = x.p_aux {
                if !(p > 0.0 && p < 1.0) {
                    return bad(&format!("p_aux must be in (0, 1), got {p}"));
                }
            }
        }
        Ok(Resolved {
            dataset,
            rho,
            profile: self.profile.parse()?,
            arch: self.model.parse()?,
            head: match self.head.as_str() {
                "auto" if self.method.wants_cosine_head() => HeadKind::Normed,
                "auto" => HeadKind::Linear,
                h => h.parse()?,
            },
            mixup: self.mixup.unwrap_or(self.method == Method::Gcl),
            splits: SplitThresholds {
                many: self.many_above,
                few: self.few_below,
            },
        })
    }
}

/// Configs written before the `[optim]` table kept its keys at the top level (`optimizer` was its
/// `name`); they move into the table, so old `config.toml` files and checkpoints still load.
fn move_legacy_optim_keys(table: &mut toml::Table) -> Result<()> {
    const KEYS: [(&str, &str); 8] = [
        ("optimizer", "name"),
        ("lr", "lr"),
        ("momentum", "momentum"),
        ("weight_decay", "weight_decay"),
        ("schedule", "schedule"),
        ("warmup_epochs", "warmup_epochs"),
        ("lr_steps", "lr_steps"),
        ("lr_decay", "lr_decay"),
    ];
    for (old, new) in KEYS {
        let Some(v) = table.remove(old) else { continue };
        let optim = table
            .entry("optim")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(optim) = optim.as_table_mut() else {
            return Err(Error::Config("`optim` must be a table".into()));
        };
        if optim.insert(new.to_string(), v).is_some() {
            return Err(Error::Config(format!(
                "`{old}` is set twice: at the top level and as optim.{new}"
            )));
        }
    }
    Ok(())
}
