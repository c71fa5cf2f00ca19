//! `tailgrad eval --checkpoint FILE`: re-evaluates a saved classifier on its run's test set.

use std::path::PathBuf;
use tailgrad::train::evaluate_checkpoint;
use tailgrad::Result;

#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint.safetensors written by `tailgrad train classifier`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Also print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Post-hoc logit adjustment: predict argmax(z − τ·ln π) with this τ (methods.md §4.4), on
    /// a model trained with any loss [default: off, predict as the run's method does].
    #[arg(long, value_name = "TAU")]
    posthoc_tau: Option<f32>,
}

pub fn run(a: Args) -> Result<()> {
    let (summary, _) = evaluate_checkpoint(&a.checkpoint, a.posthoc_tau)?;
    super::report::print_table(&summary);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    }
    Ok(())
}
