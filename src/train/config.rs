//! The classifier run configuration. Defaults ← TOML file ← command-line flags; the resolved
//! config is written to `config.toml` in the output directory, so every run can be repeated.

use crate::data::long_tail::{Profile, SplitThresholds};
use crate::data::sampler::Sampling;
use crate::data::DatasetKind;
use crate::nn::{Arch, HeadKind};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Learning-rate schedule after the linear warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Multiply by `lr_decay` after each epoch in `lr_steps`.
    Step,
    /// Half-cosine from `lr` to 0 over the epochs after the warm-up.
    Cosine,
    Constant,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// fashion-mnist | mnist | cifar10 | cifar100 | bundled
    pub dataset: String,
    /// Where the dataset files are (default: the dataset's usual install path).
    pub data_dir: Option<PathBuf>,
    /// Imbalance ratio n_max / n_min of the training set; 1 keeps it as it is.
    pub rho: f64,
    /// exp | step
    pub profile: String,
    /// small-cnn | resnet8 | resnet20 | resnet32 | resnet56 | resnetN (6n+2)
    pub model: String,
    /// linear | normed
    pub head: String,
    pub epochs: usize,
    pub batch: usize,
    /// sgd | adam | adamw
    pub optimizer: String,
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub schedule: Schedule,
    /// Epochs of linear warm-up (epoch e ≤ W trains at lr·e/W).
    pub warmup_epochs: usize,
    /// 1-indexed epochs after which the step schedule multiplies the rate by `lr_decay`.
    pub lr_steps: Vec<usize>,
    pub lr_decay: f32,
    /// instance (shuffle) | class-balanced (1/n_j, with replacement)
    pub sampling: String,
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
    pub out: PathBuf,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            dataset: "fashion-mnist".into(),
            data_dir: None,
            rho: 100.0,
            profile: "exp".into(),
            model: "resnet32".into(),
            head: "linear".into(),
            epochs: 200,
            batch: 128,
            optimizer: "sgd".into(),
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 2e-4,
            schedule: Schedule::Step,
            warmup_epochs: 5,
            lr_steps: vec![160, 180],
            lr_decay: 0.1,
            sampling: "instance".into(),
            augment: true,
            pad: 4,
            flip: true,
            image_size: 0,
            many_above: 100,
            few_below: 20,
            seed: 0,
            eval_batch: 500,
            out: PathBuf::from("runs/classifier"),
        }
    }
}

impl TrainConfig {
    /// `tailgrad demo`: the small CNN on the bundled long-tailed Fashion-MNIST subset, sized to
    /// finish in well under three minutes on a 2-core software adapter.
    pub fn demo() -> TrainConfig {
        TrainConfig {
            dataset: "bundled".into(),
            rho: 1.0,
            model: "small-cnn".into(),
            epochs: 8,
            batch: 64,
            lr: 0.05,
            schedule: Schedule::Cosine,
            warmup_epochs: 1,
            lr_steps: vec![],
            weight_decay: 5e-4,
            out: PathBuf::from("runs/demo"),
            ..TrainConfig::default()
        }
    }
}

/// The typed choices of a validated config.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub dataset: DatasetKind,
    pub profile: Profile,
    pub arch: Arch,
    pub head: HeadKind,
    pub sampling: Sampling,
    pub splits: SplitThresholds,
}

impl TrainConfig {
    /// Reads a TOML file; unknown keys are errors (a typo must not silently use a default).
    pub fn from_file(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        Self::from_toml(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    pub fn from_toml(text: &str) -> Result<TrainConfig> {
        toml::from_str(text).map_err(|e| Error::Config(e.to_string()))
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
        if !(self.rho >= 1.0 && self.rho.is_finite()) {
            return bad(&format!("rho must be >= 1, got {}", self.rho));
        }
        if !(self.lr.is_finite()
            && self.lr > 0.0
            && self.lr_decay.is_finite()
            && self.lr_decay > 0.0)
        {
            return bad("lr and lr_decay must be > 0");
        }
        if self.few_below > self.many_above + 1 {
            return bad("few_below must not exceed many_above + 1");
        }
        Ok(Resolved {
            dataset: self.dataset.parse()?,
            profile: self.profile.parse()?,
            arch: self.model.parse()?,
            head: self.head.parse()?,
            sampling: match self.sampling.as_str() {
                "instance" => Sampling::InstanceBalanced,
                "class-balanced" => Sampling::ClassBalanced,
                s => {
                    return bad(&format!(
                        "unknown sampling {s:?}: use instance or class-balanced"
                    ))
                }
            },
            splits: SplitThresholds {
                many: self.many_above,
                few: self.few_below,
            },
        })
    }
}
