//! `tailgrad train classifier`: config file and/or flags → a run directory.

use std::path::PathBuf;
use tailgrad::train::{train_classifier, RunOptions, Schedule, TrainConfig};
use tailgrad::Result;

#[derive(clap::Subcommand)]
pub enum What {
    /// Train an image classifier on (long-tailed) data and write a run directory: config.toml,
    /// metrics.jsonl, summary.json, checkpoint.safetensors and PNG plots.
    Classifier(ClassifierArgs),
}

/// Every flag overrides the same key of the config file (see `TrainConfig` for defaults).
#[derive(clap::Args)]
pub struct ClassifierArgs {
    /// TOML file with any of the keys below (flags win over it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint (its config.toml is used).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    resume: Option<PathBuf>,
    /// No progress bars or per-epoch lines.
    #[arg(long)]
    quiet: bool,
    /// fashion-mnist | mnist | cifar10 | cifar100 | bundled
    #[arg(long)]
    dataset: Option<String>,
    /// Directory holding the dataset files.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Imbalance ratio n_max/n_min of the training set (1 = as is).
    #[arg(long)]
    rho: Option<f64>,
    /// exp | step
    #[arg(long)]
    profile: Option<String>,
    /// small-cnn | resnet8 | resnet20 | resnet32 | resnet56
    #[arg(long)]
    model: Option<String>,
    /// linear | normed
    #[arg(long)]
    head: Option<String>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    batch: Option<usize>,
    /// sgd | adam | adamw
    #[arg(long)]
    optimizer: Option<String>,
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long)]
    momentum: Option<f32>,
    #[arg(long)]
    weight_decay: Option<f32>,
    /// step | cosine | constant
    #[arg(long, value_parser = parse_schedule)]
    schedule: Option<Schedule>,
    #[arg(long)]
    warmup_epochs: Option<usize>,
    /// Comma-separated 1-indexed epochs after which the step schedule decays.
    #[arg(long, value_delimiter = ',')]
    lr_steps: Option<Vec<usize>>,
    /// instance | class-balanced
    #[arg(long)]
    sampling: Option<String>,
    /// Turn off random crop and flip.
    #[arg(long)]
    no_augment: bool,
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_schedule(s: &str) -> std::result::Result<Schedule, String> {
    toml::Value::String(s.into())
        .try_into()
        .map_err(|_| format!("unknown schedule {s:?}: use step, cosine or constant"))
}

macro_rules! overlay {
    ($cfg:ident, $args:ident, $($f:ident),*) => { $(if let Some(v) = $args.$f { $cfg.$f = v; })* };
}

pub fn run(what: What) -> Result<()> {
    let What::Classifier(a) = what;
    let mut cfg = match (&a.resume, &a.config) {
        (Some(dir), _) => TrainConfig::from_file(&dir.join("config.toml"))?,
        (None, Some(path)) => TrainConfig::from_file(path)?,
        (None, None) => TrainConfig::default(),
    };
    if let Some(d) = a.data_dir {
        cfg.data_dir = Some(d);
    }
    overlay!(
        cfg,
        a,
        dataset,
        rho,
        profile,
        model,
        head,
        epochs,
        batch,
        optimizer,
        lr,
        momentum,
        weight_decay,
        schedule,
        warmup_epochs,
        lr_steps,
        sampling,
        seed,
        out
    );
    if a.no_augment {
        cfg.augment = false;
    }
    if let Some(dir) = &a.resume {
        cfg.out = dir.clone();
    }
    let opts = RunOptions {
        quiet: a.quiet,
        resume: a.resume.is_some(),
        stop_after: None,
    };
    let summary = train_classifier(&cfg, &opts)?;
    super::report::print_table(&summary);
    println!("wrote {}", cfg.out.display());
    Ok(())
}
