//! Training runs: the configuration (TOML and flags), the learning-rate schedule, the per-split
//! metrics and the classifier trainer with checkpoints and resume.

mod classifier;
mod config;
mod metrics;
mod schedule;

pub use classifier::{evaluate_checkpoint, train_classifier, RunOptions, Summary};
pub use config::{Schedule, TrainConfig};
pub use metrics::Evaluation;
pub use schedule::lr_at;
