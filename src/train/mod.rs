//! Training runs: the shared plumbing (run state checkpoints, run directories, optimizer
//! tables) and the classifier trainer (long-tail losses, Mixup, GCL's two stages, category
//! extrapolation) with checkpoints and bit-exact resume.

mod classifier;
mod config;
pub mod gan;
pub mod loss;
mod metrics;
pub mod mixup;
mod optim_config;
pub mod run_dir;
pub mod state;

pub use classifier::{
    evaluate_checkpoint, train_classifier, train_stage2, RunOptions, Stop, Summary,
};
pub use config::{Extrapolation, Stage2, TrainConfig};
pub use loss::{Loss, LossKnobs, Method};
pub use metrics::Evaluation;
pub use optim_config::{OptimConfig, Schedule};
pub use run_dir::RunDir;
pub use state::{StateReader, StateWriter};
