//! Command-line interface (clap derive). Every failure comes back as a `tailgrad::Error`, which
//! `main` prints as `error: ...` with exit code 1.

mod bench;
mod devices;

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
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Devices { json } => devices::run(json),
        Cmd::Bench(args) => bench::run(args),
    }
}
