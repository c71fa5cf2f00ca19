//! The learning rate of an epoch: linear warm-up, then step decay or a half cosine (the
//! CIFAR-LT recipes in methods.md §5.2).

use super::{Schedule, TrainConfig};

/// The rate for 1-indexed epoch `e`.
pub fn lr_at(cfg: &TrainConfig, e: usize) -> f32 {
    let w = cfg.warmup_epochs;
    if e <= w {
        return cfg.lr * e as f32 / w as f32;
    }
    match cfg.schedule {
        Schedule::Constant => cfg.lr,
        Schedule::Step => {
            let passed = cfg.lr_steps.iter().filter(|&&m| e > m).count();
            cfg.lr * cfg.lr_decay.powi(passed as i32)
        }
        Schedule::Cosine => {
            let span = (cfg.epochs - w).max(1) as f32;
            let t = (e - w - 1) as f32 / span;
            0.5 * cfg.lr * (1.0 + (std::f32::consts::PI * t).cos())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcl_stage1_recipe() {
        // methods.md §5.2: 0.1·e/5 for e ≤ 5, 0.1 to 160, 0.01 to 180, 0.001 to 200.
        let cfg = TrainConfig::default();
        let lr = |e| lr_at(&cfg, e);
        assert!((lr(1) - 0.02).abs() < 1e-7 && (lr(5) - 0.1).abs() < 1e-7);
        assert!((lr(160) - 0.1).abs() < 1e-7 && (lr(161) - 0.01).abs() < 1e-8);
        assert!((lr(181) - 0.001).abs() < 1e-9 && (lr(200) - 0.001).abs() < 1e-9);
    }

    #[test]
    fn cosine_starts_at_lr_and_decays() {
        let cfg = TrainConfig {
            schedule: Schedule::Cosine,
            warmup_epochs: 0,
            epochs: 30,
            ..TrainConfig::default()
        };
        assert!((lr_at(&cfg, 1) - 0.1).abs() < 1e-7);
        assert!((lr_at(&cfg, 16) - 0.05).abs() < 1e-6);
        assert!(lr_at(&cfg, 30) < 0.001);
    }
}
