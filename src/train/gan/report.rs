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
    let over = |label: &str, f: &dyn Fn(&GanLine) -> f64| (label.to_string(), steps(history, f));
    let losses = [over("D loss", &|l| l.d_loss), over("G loss", &|l| l.g_loss)];
    chart(dir, "loss.png", "GAN losses", "loss", &losses)?;
    let outs = [
        over("D(real)", &|l| l.d_real),
        over("D(fake)", &|l| l.d_fake),
    ];
    chart(dir, "d_outputs.png", "D outputs", "mean D output", &outs)?;
    let classes: Vec<_> = (0..t.classes())
        .map(|k| {
            let (split, name, n) = (t.splits[k].name(), &t.class_names[k], t.counts[k]);
            over(&format!("{split}: {name} ({n})"), &|l| l.sigma_gamma(k))
        })
        .collect();
    let title = "sigma of each class's CBN gain (mean over layers)";
    chart(dir, "sigma.png", title, "sigma", &classes)?;
    let splits: Vec<_> = Split::ALL
        .iter()
        .filter_map(|&s| {
            let ks: Vec<usize> = (0..t.classes()).filter(|&k| t.splits[k] == s).collect();
            let mean =
                |l: &GanLine| ks.iter().map(|&k| l.sigma_gamma(k)).sum::<f64>() / ks.len() as f64;
            (!ks.is_empty()).then(|| over(s.name(), &mean))
        })
        .collect();
    let title = "sigma of the CBN gain by split (mean over classes and layers)";
    chart(dir, "sigma_splits.png", title, "sigma", &splits)
}

/// (G step, f(line)) for every metrics line.
fn steps(history: &[GanLine], f: &dyn Fn(&GanLine) -> f64) -> Vec<(f64, f64)> {
    history.iter().map(|l| (l.step as f64, f(l))).collect()
}

/// A line chart over G steps of labelled curves, written as `file` in the run directory.
fn chart(
    dir: &RunDir,
    file: &str,
    title: &str,
    y: &str,
    curves: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let series: Vec<Series> = curves
        .iter()
        .map(|(label, points)| Series { label, points })
        .collect();
    line_chart(&dir.join(file), title, "G step", y, &series)
}
