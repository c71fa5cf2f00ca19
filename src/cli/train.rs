//! `tailgrad train classifier`: config file and/or flags → a run directory.

use std::path::PathBuf;
use tailgrad::train::{train_classifier, train_stage2, Method, RunOptions, Schedule, TrainConfig};
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
    /// auto | linear | normed (auto: cosine head for ldam-drw and gcl)
    #[arg(long)]
    head: Option<String>,
    /// ce | focal | cb-ce | cb-focal | la | la-posthoc | balce | ldam-drw | gcl (gcl runs both
    /// of its stages)
    #[arg(long, value_parser = parse_method)]
    method: Option<Method>,
    /// Mixup on training batches (default: on for gcl only).
    #[arg(long, overrides_with = "no_mixup")]
    mixup: bool,
    #[arg(long)]
    no_mixup: bool,
    /// 2: only GCL's classifier re-training, from the stage-1 checkpoint given by --from.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2), requires_if("2", "from"))]
    stage: Option<u8>,
    /// Stage-1 checkpoint for --stage 2.
    #[arg(long, value_name = "CHECKPOINT", requires = "stage")]
    from: Option<PathBuf>,
    /// Epochs of GCL's stage 2 (0 skips it).
    #[arg(long)]
    stage2_epochs: Option<usize>,
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
    /// instance | class-balanced | effective-number | cbenrs
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

fn parse_method(s: &str) -> std::result::Result<Method, String> {
    s.parse().map_err(|e: tailgrad::Error| e.to_string())
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
        method,
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
    if a.mixup || a.no_mixup {
        cfg.mixup = Some(a.mixup);
    }
    if let Some(e) = a.stage2_epochs {
        cfg.stage2.epochs = e;
    }
    if let Some(dir) = &a.resume {
        cfg.out = dir.clone();
    }
    let opts = RunOptions {
        quiet: a.quiet,
        resume: a.resume.is_some(),
        stop_after: None,
    };
    let summary = match (a.stage, &a.from) {
        (Some(2), Some(from)) => train_stage2(from, &cfg, &opts)?,
        _ => train_classifier(&cfg, &opts)?,
    };
    super::report::print_table(&summary);
    println!("wrote {}", cfg.out.display());
    Ok(())
}
