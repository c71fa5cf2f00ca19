//! `tailgrad demo`: trains the small CNN on the bundled long-tailed Fashion-MNIST subset (no
//! download) and prints the many/medium/few table.

use std::path::PathBuf;
use tailgrad::train::{train_classifier, RunOptions, TrainConfig};
use tailgrad::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Output directory.
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    /// Epochs (the preset's default keeps the demo within a few minutes on a CPU adapter).
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: Args) -> Result<()> {
    let mut cfg = TrainConfig::demo();
    cfg.out = a.out;
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    let opts = RunOptions {
        quiet: a.quiet,
        ..RunOptions::default()
    };
    let summary = train_classifier(&cfg, &opts)?;
    super::report::print_table(&summary);
    println!(
        "wrote {} (plots, metrics.jsonl, summary.json, checkpoint); full runs: tailgrad train classifier --help",
        cfg.out.display()
    );
    Ok(())
}
