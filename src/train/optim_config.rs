//! One optimizer's settings as a TOML table (`[optim]`; a GAN run holds two), the optimizer it
//! builds, and its learning-rate schedule: linear warm-up, then step decay, a half cosine or a
//! constant rate (the CIFAR-LT recipes in methods.md §5.2).

use crate::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use crate::{Error, Result, Tensor};
use serde::{Deserialize, Serialize};

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
pub struct OptimConfig {
    /// sgd | adam | adamw
    pub name: String,
    pub lr: f32,
    /// SGD's momentum.
    pub momentum: f32,
    /// SGD with Nesterov momentum.
    pub nesterov: bool,
    /// Adam's (β1, β2).
    pub betas: (f32, f32),
    /// Adam's ε.
    pub eps: f32,
    /// L2 for sgd and adam, decoupled for adamw.
    pub weight_decay: f32,
    pub schedule: Schedule,
    /// Epochs of linear warm-up (epoch e ≤ W trains at lr·e/W).
    pub warmup_epochs: usize,
    /// 1-indexed epochs after which the step schedule multiplies the rate by `lr_decay`.
    pub lr_steps: Vec<usize>,
    pub lr_decay: f32,
}

impl Default for OptimConfig {
    /// The CIFAR-LT recipe: SGD, momentum 0.9, 5 warm-up epochs, ×0.1 after epochs 160 and 180.
    fn default() -> Self {
        OptimConfig {
            name: "sgd".into(),
            lr: 0.1,
            momentum: 0.9,
            nesterov: false,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 2e-4,
            schedule: Schedule::Step,
            warmup_epochs: 5,
            lr_steps: vec![160, 180],
            lr_decay: 0.1,
        }
    }
}

impl OptimConfig {
    /// The optimizer over `params`; bad values are `Error::Config` naming `table`.
    pub fn build(&self, table: &str, params: Vec<Tensor>) -> Result<Box<dyn Optimizer>> {
        if !(self.lr_decay.is_finite() && self.lr_decay > 0.0) {
            return Err(Error::Config(format!("{table}.lr_decay must be > 0")));
        }
        let (lr, weight_decay) = (self.lr, self.weight_decay);
        let adam = |base: AdamConfig| AdamConfig {
            lr,
            weight_decay,
            betas: self.betas,
            eps: self.eps,
            ..base
        };
        let built: Result<Box<dyn Optimizer>> = match self.name.as_str() {
            "sgd" => Sgd::new(
                params,
                SgdConfig {
                    lr,
                    momentum: self.momentum,
                    nesterov: self.nesterov,
                    weight_decay,
                },
            )
            .map(|o| Box::new(o) as _),
            "adam" => Adam::new(params, adam(AdamConfig::default())).map(|o| Box::new(o) as _),
            "adamw" => Adam::new(params, adam(AdamConfig::adamw())).map(|o| Box::new(o) as _),
            o => {
                return Err(Error::Config(format!(
                    "{table}.name: unknown optimizer {o:?}: use sgd, adam or adamw"
                )))
            }
        };
        built.map_err(|e| Error::Config(format!("{table}: {e}")))
    }

    /// The rate for 1-indexed epoch `e` of a run of `epochs` epochs.
    pub fn lr_at(&self, e: usize, epochs: usize) -> f32 {
        let w = self.warmup_epochs;
        if e <= w {
            return self.lr * e as f32 / w as f32;
        }
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step => {
                let passed = self.lr_steps.iter().filter(|&&m| e > m).count();
                self.lr * self.lr_decay.powi(passed as i32)
            }
            Schedule::Cosine => {
                let span = (epochs - w).max(1) as f32;
                let t = (e - w - 1) as f32 / span;
                0.5 * self.lr * (1.0 + (std::f32::consts::PI * t).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcl_stage1_recipe() {
        // methods.md §5.2: 0.1·e/5 for e ≤ 5, 0.1 to 160, 0.01 to 180, 0.001 to 200.
        let o = OptimConfig::default();
        let lr = |e| o.lr_at(e, 200);
        assert!((lr(1) - 0.02).abs() < 1e-7 && (lr(5) - 0.1).abs() < 1e-7);
        assert!((lr(160) - 0.1).abs() < 1e-7 && (lr(161) - 0.01).abs() < 1e-8);
        assert!((lr(181) - 0.001).abs() < 1e-9 && (lr(200) - 0.001).abs() < 1e-9);
    }

    #[test]
    fn cosine_starts_at_lr_and_decays() {
        let o = OptimConfig {
            schedule: Schedule::Cosine,
            warmup_epochs: 0,
            ..OptimConfig::default()
        };
        assert!((o.lr_at(1, 30) - 0.1).abs() < 1e-7);
        assert!((o.lr_at(16, 30) - 0.05).abs() < 1e-6);
        assert!(o.lr_at(30, 30) < 0.001);
    }
}
