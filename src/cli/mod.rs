//! Command-line interface (clap derive). Every failure comes back as a `tailgrad::Error`, which
//! `main` prints as `error: ...` with exit code 1.

mod bench;
mod config_flags;
mod demo;
mod devices;
mod eval;
mod gan;
mod report;
mod sample;
mod train;

use tailgrad::Result;

#[derive(clap::Parser)]
#[command(
    name = "tailgrad",
    version,
    about = "GPU tensors with handwritten WGSL kernels"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// List every adapter on every backend and mark the one tailgrad would open
    /// (honouring TAILGRAD_BACKEND and TAILGRAD_ADAPTER).
    Devices {
        /// Print a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Time kernels against the device's measured FMA and copy peaks.
    Bench(bench::Args),
    /// Train a model (see `tailgrad train classifier --help`, `tailgrad train gan --help`).
    #[command(subcommand)]
    Train(Box<train::What>),
    /// Evaluate a checkpoint (see `tailgrad eval classifier --help`, `tailgrad eval gan --help`).
    #[command(subcommand)]
    Eval(eval::What),
    /// Images from a GAN checkpoint: a PNG grid (a row per class) and the raw values.
    Sample(sample::Args),
    /// The long-tail problem and its fix: plain cross-entropy and Balanced Softmax on the bundled
    /// long-tailed Fashion-MNIST, per-split tables side by side and a per-class plot.
    Demo(demo::Args),
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Devices { json } => devices::run(json),
        Cmd::Bench(args) => bench::run(args),
        Cmd::Train(what) => train::run(*what),
        Cmd::Eval(args) => eval::run(args),
        Cmd::Demo(args) => demo::run(args),
        Cmd::Sample(args) => sample::run(args),
    }
}
