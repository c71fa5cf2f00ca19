//! `tailgrad demo`: the long-tail problem and its fix side by side. Trains the small CNN on the
//! bundled long-tailed Fashion-MNIST subset (no download) twice, with plain cross-entropy and with
//! the best long-tail loss of docs/results.md (Balanced Softmax), and prints both per-split tables
//! with the difference, plus a per-class comparison plot.

use std::path::PathBuf;
use tailgrad::data::long_tail::Split;
use tailgrad::report::compare_class_bars;
use tailgrad::train::{train_classifier, Method, RunOptions, Summary, TrainConfig};
use tailgrad::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Output directory (one run directory per method inside).
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    /// Epochs of each run [default: 5, the preset's: both runs within a minute on a 2-core CPU].
    #[arg(long)]
    epochs: Option<usize>,
    /// No progress bars or per-epoch lines.
    #[arg(long)]
    quiet: bool,
}

/// The long-tail fix shown: the best and most stable row of the ρ = 100 table in docs/results.md.
const FIX: Method = Method::Balce;

pub fn run(a: Args) -> Result<()> {
    let opts = RunOptions {
        quiet: a.quiet,
        ..RunOptions::default()
    };
    let mut runs = Vec::new();
    for (i, method) in [Method::Ce, FIX].into_iter().enumerate() {
        let mut cfg = TrainConfig::demo();
        cfg.method = method;
        cfg.out = a.out.join(method.name());
        if let Some(e) = a.epochs {
            cfg.epochs = e;
        }
        eprintln!(
            "[{}/2] {} ({method}) → {}",
            i + 1,
            title(method),
            cfg.out.display()
        );
        runs.push(train_classifier(&cfg, &opts)?);
    }
    let (ce, fix) = (&runs[0], &runs[1]);
    print_comparison(ce, fix);
    let plot = a.out.join("per_class.png");
    let pct = |s: &Summary| -> Vec<f64> { s.eval.per_class.iter().map(|v| 100.0 * v).collect() };
    let (a_pct, b_pct) = (pct(ce), pct(fix));
    compare_class_bars(
        &plot,
        "per-class test accuracy (%), classes from head to tail",
        &ce.class_names,
        &[(title(Method::Ce), &a_pct), (title(FIX), &b_pct)],
    )?;
    println!(
        "\nwrote {} (per-class comparison) and one run directory per method in {}; \
         full runs: tailgrad train classifier --help",
        plot.display(),
        a.out.display()
    );
    Ok(())
}

fn title(m: Method) -> &'static str {
    match m {
        Method::Ce => "plain cross-entropy",
        _ => "Balanced Softmax",
    }
}

/// Both runs' many/medium/few tables in one, with the difference.
fn print_comparison(ce: &Summary, fix: &Summary) {
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", 100.0 * v));
    let diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{:+.2}", 100.0 * (b - a)),
        _ => "-".to_string(),
    };
    println!(
        "\n{} on {} ({} train images, {} per class from head to tail), {} epochs each, on {}",
        ce.model,
        ce.dataset,
        ce.train_counts.iter().sum::<usize>(),
        fmt_counts(&ce.train_counts),
        ce.epochs,
        ce.device
    );
    println!(
        "{:<8} {:>7} {:>10}   {:>9} {:>9} {:>11}",
        "split", "classes", "train imgs", "ce %", "balce %", "difference"
    );
    let row = |name: &str, classes: usize, imgs: usize, a: Option<f64>, b: Option<f64>| {
        println!(
            "{name:<8} {classes:>7} {imgs:>10}   {:>9} {:>9} {:>11}",
            pct(a),
            pct(b),
            diff(a, b)
        );
    };
    for split in Split::ALL {
        let members: Vec<usize> = (0..ce.class_split.len())
            .filter(|&c| ce.class_split[c] == split.name())
            .collect();
        let imgs = members.iter().map(|&c| ce.train_counts[c]).sum();
        let (a, b) = (ce.eval.split(split), fix.eval.split(split));
        row(split.name(), members.len(), imgs, a, b);
    }
    let total = ce.train_counts.iter().sum();
    let (a, b) = (Some(ce.eval.top1), Some(fix.eval.top1));
    row("all", ce.train_counts.len(), total, a, b);
    println!(
        "\nPlain cross-entropy learns the long-tailed training prior: it seldom predicts the tail.\n\
         Balanced Softmax trains on z + ln π (the logits plus the log class prior, docs/training.md)\n\
         and predicts with z: the tail classes get their share back at a small cost to the head."
    );
}

fn fmt_counts(c: &[usize]) -> String {
    match (c.first(), c.last()) {
        (Some(a), Some(b)) => format!("{a} … {b}"),
        _ => "none".into(),
    }
}
