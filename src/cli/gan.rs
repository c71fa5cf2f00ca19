//! `tailgrad train gan`: preset, config file and/or flags → a run directory.

use super::config_flags::{self, flag, Flag};
use std::path::PathBuf;
use tailgrad::train::gan::{train_gan, GanConfig, GanRunOptions};
use tailgrad::Result;

/// The run's config: preset ← `--config` file ← `--set` ← the flags below (docs/gan.md).
#[derive(clap::Args)]
pub struct GanArgs {
    /// Starting point: small (2-core software devices) or sngan32 (the gSR paper, for GPUs).
    #[arg(long, default_value = "small", conflicts_with = "resume")]
    preset: String,
    /// TOML file with any config keys (flags win over it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint (its config.toml is used).
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    resume: Option<PathBuf>,
    /// No progress bar or log lines.
    #[arg(long)]
    quiet: bool,
    /// LeCam on D with its default settings (the [lecam] table).
    #[arg(long)]
    lecam: bool,
    /// gSR on G's CBN tables with its default settings (the [gsr] table).
    #[arg(long)]
    gsr: bool,
    /// DiffAugment color,translation,cutout on everything D sees (the [diffaug] table).
    #[arg(long)]
    diffaug: bool,
    #[command(flatten)]
    flags: GanFlags,
}

/// The config keys that have their own flag (any other: `--set KEY=VALUE`).
const FLAGS: &[Flag] = &[
    flag("dataset", "dataset", "fashion-mnist | mnist | cifar10 | cifar100 | bundled"),
    flag("data-dir", "data_dir", "Directory holding the dataset files [default: the dataset's install path]"),
    flag("rho", "rho", "Imbalance ratio n_max/n_min of the real set (1 = as is) [default: 100; the bundled set as it is]"),
    flag("steps", "steps", "G steps"),
    flag("batch", "batch", "Batch size"),
    flag("n-dis", "n_dis", "D steps per G step"),
    flag("g-width", "g_width", "Channels of G's blocks (paper 256)"),
    flag("d-width", "d_width", "Channels of D's blocks (paper 128)"),
    flag("loss", "loss", "hinge | bce"),
    flag("mix", "mixing.kind", "Sample mixing for D: none | mixup | cutmix | srmix (the [mixing] table)"),
    flag("lr-g", "optim_g.lr", "G's learning rate"),
    flag("lr-d", "optim_d.lr", "D's learning rate"),
    flag("log-every", "log_every", "A metrics line every N G steps"),
    flag("sample-every", "sample_every", "A sample grid every N G steps (0: at the end only)"),
    flag("checkpoint-every", "checkpoint_every", "A checkpoint every N G steps (0: at the end only)"),
    flag("seed", "seed", "Seed of the subset, weights, batch order, noise and augmentation"),
    flag("out", "out", "Output directory"),
];

config_flags::config_flags!(GanFlags, FLAGS, GanConfig::default());

pub fn run(a: GanArgs) -> Result<()> {
    let mut cfg = match (&a.resume, &a.config) {
        (Some(dir), _) => GanConfig::from_file(&dir.join("config.toml"))?,
        (None, Some(path)) => config_flags::overlay_file(&GanConfig::preset(&a.preset)?, path)?,
        (None, None) => GanConfig::preset(&a.preset)?,
    };
    if a.lecam && cfg.lecam.is_none() {
        cfg.lecam = Some(Default::default());
    }
    if a.gsr && cfg.gsr.is_none() {
        cfg.gsr = Some(Default::default());
    }
    if a.diffaug && cfg.diffaug.is_none() {
        cfg.diffaug = Some(Default::default());
    }
    cfg = config_flags::apply(&cfg, &a.flags.0)?;
    if let Some(dir) = &a.resume {
        cfg.out = dir.clone();
    }
    let opts = GanRunOptions {
        quiet: a.quiet,
        resume: a.resume.is_some(),
        stop_at: None,
    };
    let s = train_gan(&cfg, &opts)?;
    if let Some(l) = &s.last {
        println!(
            "{} G steps in {:.0} s ({:.2} it/s, {:.0} img/s): D loss {:.4}, G loss {:.4}",
            s.steps, l.train_seconds, s.iterations_per_sec, s.images_per_sec, l.d_loss, l.g_loss
        );
    }
    println!(
        "wrote {} (samples.png, metrics.jsonl, summary.json, plots)",
        cfg.out.display()
    );
    Ok(())
}
