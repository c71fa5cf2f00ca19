//! `tailgrad train classifier`: config file and/or flags → a run directory.

use super::config_flags::{self, flag, Flag};
use std::path::PathBuf;
use tailgrad::train::{train_classifier, train_stage2, RunOptions, TrainConfig};
use tailgrad::Result;

#[derive(clap::Subcommand)]
pub enum What {
    /// Train an image classifier on (long-tailed) data and write a run directory: config.toml,
    /// metrics.jsonl, summary.json, checkpoint.safetensors and PNG plots.
    Classifier(ClassifierArgs),
    /// Train a class-conditional GAN (SNGAN-32; LeCam, gSR, DiffAugment, sample mixing) on
    /// long-tailed data and write a run directory: config.toml, metrics.jsonl, summary.json,
    /// checkpoint.safetensors, sample grids and PNG plots.
    Gan(super::gan::GanArgs),
}

/// The run's config: defaults ← `--config` file ← `--set` ← the flags below (docs/training.md).
#[derive(clap::Args)]
pub struct ClassifierArgs {
    /// TOML file with any config keys (flags win over it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint (its config.toml is used).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    resume: Option<PathBuf>,
    /// No progress bars or per-epoch lines.
    #[arg(long)]
    quiet: bool,
    /// Mixup on training batches [default: on for gcl only].
    #[arg(long, overrides_with = "no_mixup")]
    mixup: bool,
    #[arg(long)]
    no_mixup: bool,
    /// Turn off random crop and flip.
    #[arg(long)]
    no_augment: bool,
    /// 2: only GCL's classifier re-training, from the stage-1 checkpoint given by --from.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2), requires_if("2", "from"))]
    stage: Option<u8>,
    /// Stage-1 checkpoint for --stage 2.
    #[arg(long, value_name = "CHECKPOINT", requires = "stage")]
    from: Option<PathBuf>,
    #[command(flatten)]
    flags: ClassifierFlags,
}

/// The config keys that have their own flag (any other: `--set KEY=VALUE`).
const FLAGS: &[Flag] = &[
    flag("dataset", "dataset", "fashion-mnist | mnist | cifar10 | cifar100 | bundled"),
    flag("data-dir", "data_dir", "Directory holding the dataset files [default: the dataset's install path]"),
    flag("rho", "rho", "Imbalance ratio n_max/n_min of the training set (1 = as is) [default: 100; the bundled set as it is]"),
    flag("profile", "profile", "exp | step"),
    flag("model", "model", "small-cnn | resnet8 | resnet20 | resnet32 | resnet56 | resnetN (6n+2)"),
    flag("head", "head", "auto | linear | normed (auto: cosine head for ldam-drw and gcl)"),
    flag("method", "method", "ce | focal | cb-ce | cb-focal | la | la-posthoc | balce | ldam-drw | gcl (gcl runs both of its stages)"),
    flag("epochs", "epochs", "Training epochs"),
    flag("batch", "batch", "Batch size"),
    flag("optimizer", "optim.name", "sgd | adam | adamw"),
    flag("lr", "optim.lr", "Peak learning rate"),
    flag("momentum", "optim.momentum", "SGD momentum"),
    flag("weight-decay", "optim.weight_decay", "Weight decay (decoupled for adamw)"),
    flag("schedule", "optim.schedule", "step | cosine | constant"),
    flag("warmup-epochs", "optim.warmup_epochs", "Epochs of linear warm-up"),
    flag("lr-steps", "optim.lr_steps", "Comma-separated 1-indexed epochs after which the step schedule decays"),
    flag("sampling", "sampling", "instance | class-balanced | effective-number | cbenrs"),
    flag("stage2-epochs", "stage2.epochs", "Epochs of GCL's stage 2 (0 skips it)"),
    flag("checkpoint-every", "checkpoint_every", "Also checkpoint every N optimizer steps (0: at epoch ends)"),
    flag("seed", "seed", "Seed of the subset, weights, batch order, augmentation and noise"),
    flag("out", "out", "Output directory"),
];

config_flags::config_flags!(ClassifierFlags, FLAGS, TrainConfig::default());

pub fn run(what: What) -> Result<()> {
    let a = match what {
        What::Classifier(a) => a,
        What::Gan(a) => return super::gan::run(a),
    };
    let mut cfg = match (&a.resume, &a.config) {
        (Some(dir), _) => TrainConfig::from_file(&dir.join("config.toml"))?,
        (None, Some(path)) => TrainConfig::from_file(path)?,
        (None, None) => TrainConfig::default(),
    };
    cfg = config_flags::apply(&cfg, &a.flags.0)?;
    if a.no_augment {
        cfg.augment = false;
    }
    if a.mixup || a.no_mixup {
        cfg.mixup = Some(a.mixup);
    }
    if let Some(dir) = &a.resume {
        cfg.out = dir.clone();
    }
    let opts = RunOptions {
        quiet: a.quiet,
        resume: a.resume.is_some(),
        stop: None,
    };
    let summary = match (a.stage, &a.from) {
        (Some(2), Some(from)) => train_stage2(from, &cfg, &opts)?,
        _ => train_classifier(&cfg, &opts)?,
    };
    super::report::print_table(&summary);
    println!("wrote {}", cfg.out.display());
    Ok(())
}
