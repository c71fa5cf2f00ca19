//! `tailgrad eval classifier`: re-evaluates a saved classifier on its run's test set.
//! `tailgrad eval gan`: FID, KID and intra-FID of a GAN checkpoint (fid.json, fid_classes.png).

use std::path::PathBuf;
use tailgrad::train::gan::{load_generator, EvalConfig, Evaluator};
use tailgrad::train::{evaluate_checkpoint, StateReader};
use tailgrad::{Error, Result};

#[derive(clap::Subcommand)]
pub enum What {
    /// Re-evaluate a classifier checkpoint on its run's test set.
    Classifier(ClassifierArgs),
    /// FID, KID and intra-FID (per class, per split) of a GAN checkpoint's G against the
    /// balanced test set: writes fid.json and the per-class bar plot fid_classes.png.
    Gan(GanArgs),
}

#[derive(clap::Args)]
pub struct ClassifierArgs {
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
    /// Also write the summary to DIR/summary.json (a run directory of its own).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct GanArgs {
    /// A checkpoint.safetensors written by `tailgrad train gan`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The feature extractor: a checkpoint of `tailgrad train classifier` trained with
    /// image_size = 32 (e.g. configs/features/fashion-mnist.toml).
    #[arg(long)]
    features: PathBuf,
    /// Generated images, labels uniform over the classes.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Images per G forward (G normalises with batch statistics) [default: the run's batch].
    #[arg(long)]
    batch: Option<usize>,
    /// KID: random subsets and their size.
    #[arg(long, default_value_t = 100)]
    kid_subsets: usize,
    #[arg(long, default_value_t = 1000)]
    kid_subset_size: usize,
    /// Seed of z, the label order and the KID subsets.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where fid.json and fid_classes.png go [default: the checkpoint's directory].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(what: What) -> Result<()> {
    match what {
        What::Classifier(a) => classifier(a),
        What::Gan(a) => gan(a),
    }
}

fn classifier(a: ClassifierArgs) -> Result<()> {
    let (summary, _) = evaluate_checkpoint(&a.checkpoint, a.posthoc_tau)?;
    super::report::print_table(&summary);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary).unwrap());
    }
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let path = dir.join("summary.json");
        let text = serde_json::to_string_pretty(&summary).unwrap();
        std::fs::write(&path, text).map_err(Error::io(&path))?;
    }
    Ok(())
}

fn gan(a: GanArgs) -> Result<()> {
    let (g, run, _) = load_generator(&a.checkpoint)?;
    let state = StateReader::load(&a.checkpoint)?;
    let step = state.counter("step")?;
    let counts = tailgrad::train::gan::train_counts(&run)?;
    let cfg = EvalConfig {
        features: a.features,
        n: a.n,
        every: 0,
        batch: a.batch.unwrap_or(0),
        kid_subsets: a.kid_subsets,
        kid_subset_size: a.kid_subset_size,
        seed: a.seed,
    };
    let e = Evaluator::new(&run, &cfg, &counts)?.evaluate(&g, step)?;
    let dir = match a.out {
        Some(d) => d,
        None => a.checkpoint.parent().map(PathBuf::from).unwrap_or_default(),
    };
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    e.write(&dir)?;
    println!("extractor: {}", e.extractor);
    println!("protocol:  {}", e.protocol);
    println!(
        "FID {:.3}   KID {:.5} ± {:.5}   intra-FID {:.3}",
        e.fid, e.kid.mean, e.kid.std, e.intra_fid
    );
    for c in &e.classes {
        println!(
            "  {:<14} {:>6} train images ({:<6})  intra-FID {:.3}",
            c.name, c.train_count, c.split, c.fid
        );
    }
    println!("wrote {}", dir.join("fid.json").display());
    Ok(())
}
