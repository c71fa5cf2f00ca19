//! What a GAN run reports: a `metrics.jsonl` line every `log_every` G steps, `summary.json`,
//! the sample grids, and the plots `loss.png`, `d_outputs.png`, `sigma.png` (σ of every
//! class's γ group matrix, mean over G's CBN layers: the gSR paper's "spectral explosion"
//! picture) and `sigma_splits.png` (the same averaged over many / medium / few classes).

use super::trainer::{GanTrainer, METRICS};
use crate::data::long_tail::Split;
use crate::report::image_grid;
use crate::report::plots::{line_chart, Series};
use crate::train::RunDir;
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One `metrics.jsonl` line: means over the G steps since the previous line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanLine {
    /// G steps done.
    pub step: u64,
    pub d_loss: f64,
    /// D's mean output on real and fake batches.
    pub d_real: f64,
    pub d_fake: f64,
    /// LeCam's term in D's loss (0 when off), and its EMAs.
    pub lecam: f64,
    pub lecam_ema: Option<(f64, f64)>,
    pub g_loss: f64,
    /// gSR's term in G's loss (0 when off).
    pub gsr: f64,
    /// σ of every CBN group matrix: `[layer][γ, β][class]`.
    pub sigma: Vec<Vec<Vec<f32>>>,
    pub train_seconds: f64,
}

impl GanLine {
    /// σ of class k's γ, averaged over layers.
    fn sigma_gamma(&self, k: usize) -> f64 {
        let n = self.sigma.len().max(1) as f64;
        self.sigma.iter().map(|l| l[0][k] as f64).sum::<f64>() / n
    }
}

/// Reads the metric sums since the last line (the one readback of a log step).
pub(super) fn line(t: &mut GanTrainer, train_seconds: f64) -> Result<GanLine> {
    let m = t.drain_metrics()?;
    let at = |name| m.means[METRICS.iter().position(|&n| n == name).expect("a metric")];
    Ok(GanLine {
        step: t.step,
        d_loss: at("d_loss"),
        d_real: at("d_real"),
        d_fake: at("d_fake"),
        lecam: at("lecam"),
        lecam_ema: m.lecam_ema,
        g_loss: at("g_loss"),
        gsr: at("gsr"),
        sigma: m.sigma,
        train_seconds,
    })
}

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct GanSummary {
    pub steps: u64,
    pub d_steps: u64,
    /// G steps per second of training (warm-up included).
    pub iterations_per_sec: f64,
    /// Images through G or D per second: n_dis·2B (D steps) + B (G step) per iteration.
    pub images_per_sec: f64,
    pub device: String,
    pub dataset: String,
    pub train_counts: Vec<usize>,
    pub class_split: Vec<&'static str>,
    pub class_names: Vec<String>,
    pub g_parameters: usize,
    pub d_parameters: usize,
    /// The last metrics line.
    pub last: Option<GanLine>,
    pub wall_seconds: f64,
}

pub(super) fn summary(t: &GanTrainer, history: &[GanLine], wall: f64) -> GanSummary {
    let last = history.last().cloned();
    let secs = last.as_ref().map_or(0.0, |l| l.train_seconds).max(1e-9);
    let c = &t.cfg;
    let per_iter = (c.n_dis * 2 * c.batch + c.batch) as f64;
    let count =
        |m: &dyn crate::nn::Stateful| crate::nn::parameters(m).iter().map(|p| p.numel()).sum();
    GanSummary {
        steps: t.step,
        d_steps: t.d_steps,
        iterations_per_sec: t.step as f64 / secs,
        images_per_sec: t.step as f64 * per_iter / secs,
        device: t.device().report().name.clone(),
        dataset: c.dataset.clone(),
        train_counts: t.counts.clone(),
        class_split: t.splits.iter().map(|s| s.name()).collect(),
        class_names: t.class_names.clone(),
        g_parameters: count(&t.g),
        d_parameters: count(&t.d),
        last,
        wall_seconds: wall,
    }
}

/// The sample grid of the current G: a row per class named "name (n)", n its real images.
pub(super) fn write_grid(t: &GanTrainer, path: &Path) -> Result<()> {
    let x = t.grid_samples()?;
    let shape: [usize; 4] = x.shape().try_into().expect("images are [N, C, H, W]");
    let labels: Vec<String> = t
        .class_names
        .iter()
        .zip(&t.counts)
        .map(|(name, n)| format!("{name} ({n})"))
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    image_grid(path, &x.to_vec()?, shape, &labels)
}

pub(super) fn plot(dir: &RunDir, t: &GanTrainer, history: &[GanLine]) -> Result<()> {
    let pts = |f: &dyn Fn(&GanLine) -> f64| -> Vec<(f64, f64)> {
        history.iter().map(|l| (l.step as f64, f(l))).collect()
    };
    let (d, g) = (pts(&|l| l.d_loss), pts(&|l| l.g_loss));
    let losses = [
        Series {
            label: "D loss",
            points: &d,
        },
        Series {
            label: "G loss",
            points: &g,
        },
    ];
    line_chart(
        &dir.join("loss.png"),
        "GAN losses",
        "G step",
        "loss",
        &losses,
    )?;
    let (r, f) = (pts(&|l| l.d_real), pts(&|l| l.d_fake));
    let outs = [
        Series {
            label: "D(real)",
            points: &r,
        },
        Series {
            label: "D(fake)",
            points: &f,
        },
    ];
    line_chart(
        &dir.join("d_outputs.png"),
        "D outputs",
        "G step",
        "mean D output",
        &outs,
    )?;
    plot_sigma(dir, t, history)
}

fn plot_sigma(dir: &RunDir, t: &GanTrainer, history: &[GanLine]) -> Result<()> {
    let classes: Vec<(String, Vec<(f64, f64)>)> = (0..t.classes())
        .map(|k| {
            let label = format!(
                "{}: {} ({})",
                t.splits[k].name(),
                t.class_names[k],
                t.counts[k]
            );
            let p = history
                .iter()
                .map(|l| (l.step as f64, l.sigma_gamma(k)))
                .collect();
            (label, p)
        })
        .collect();
    let series: Vec<Series> = classes
        .iter()
        .map(|(label, points)| Series { label, points })
        .collect();
    let title = "sigma of each class's CBN gain (mean over layers)";
    line_chart(&dir.join("sigma.png"), title, "G step", "sigma", &series)?;
    let splits: Vec<(&str, Vec<(f64, f64)>)> = Split::ALL
        .iter()
        .filter_map(|&s| {
            let ks: Vec<usize> = (0..t.classes()).filter(|&k| t.splits[k] == s).collect();
            let mean =
                |l: &GanLine| ks.iter().map(|&k| l.sigma_gamma(k)).sum::<f64>() / ks.len() as f64;
            (!ks.is_empty()).then(|| {
                (
                    s.name(),
                    history.iter().map(|l| (l.step as f64, mean(l))).collect(),
                )
            })
        })
        .collect();
    let series: Vec<Series> = splits
        .iter()
        .map(|(label, points)| Series { label, points })
        .collect();
    let title = "sigma of the CBN gain by split (mean over classes and layers)";
    line_chart(
        &dir.join("sigma_splits.png"),
        title,
        "G step",
        "sigma",
        &series,
    )
}
