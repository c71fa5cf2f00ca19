//! Training runs: the configuration (TOML and flags), the long-tail losses, Mixup, the
//! learning-rate schedule, the per-split metrics and the classifier trainer (GCL's two stages,
//! category extrapolation) with checkpoints and resume.

mod classifier;
mod config;
pub mod loss;
mod metrics;
pub mod mixup;
mod schedule;

pub use classifier::{evaluate_checkpoint, train_classifier, train_stage2, RunOptions, Summary};
pub use config::{Extrapolation, Schedule, Stage2, TrainConfig};
pub use loss::{Loss, LossKnobs, Method};
pub use metrics::Evaluation;
pub use schedule::lr_at;
