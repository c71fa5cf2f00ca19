//! What a classifier run reports: one `metrics.jsonl` line per epoch, `summary.json`, and the
//! plots `loss.png`, `accuracy.png` and `per_class.png`.

use super::super::{Evaluation, Method};
use crate::data::long_tail::Split;
use crate::report::plots::{self, Series};
use crate::train::RunDir;
use crate::Result;
use serde::{Deserialize, Serialize};

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub eval: Evaluation,
    pub epochs: usize,
    pub method: Method,
    pub train_images_per_sec: f64,
    pub device: String,
    pub model: String,
    pub dataset: String,
    pub train_counts: Vec<usize>,
    /// "many" / "medium" / "few" for each class.
    pub class_split: Vec<&'static str>,
    pub class_names: Vec<String>,
    /// Auxiliary training images (category extrapolation), besides the target classes'.
    pub auxiliary_images: usize,
    pub wall_seconds: f64,
    /// GCL's two stages; the top-level numbers are those of stage 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage1: Option<Box<Summary>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage2: Option<Box<Summary>>,
}

/// One `metrics.jsonl` line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct EpochLine {
    pub epoch: usize,
    pub lr: f32,
    pub train_loss: f64,
    pub top1: f64,
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
    pub per_class: Vec<f64>,
    pub train_seconds: f64,
    pub images: usize,
}

impl EpochLine {
    pub fn eval(&self) -> Evaluation {
        Evaluation {
            top1: self.top1,
            many: self.many,
            medium: self.medium,
            few: self.few,
            per_class: self.per_class.clone(),
        }
    }
}

/// Images per second of training over the whole history.
pub(super) fn images_per_sec(history: &[EpochLine]) -> f64 {
    let (img, secs) = history.iter().fold((0.0, 0.0), |(i, s), l| {
        (i + l.images as f64, s + l.train_seconds)
    });
    img / secs
}

/// `loss.png`, `accuracy.png` and `per_class.png`.
pub(super) fn plot(
    dir: &RunDir,
    history: &[EpochLine],
    summary: &Summary,
    splits: &[Split],
) -> Result<()> {
    let pts = |f: &dyn Fn(&EpochLine) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .filter_map(|l| f(l).map(|v| (l.epoch as f64, v)))
            .collect()
    };
    let loss = pts(&|l| Some(l.train_loss));
    let train = Series {
        label: "train",
        points: &loss,
    };
    plots::line_chart(
        &dir.join("loss.png"),
        "training loss",
        "epoch",
        "loss",
        &[train],
    )?;
    let curves = [
        ("top-1", pts(&|l| Some(100.0 * l.top1))),
        ("many", pts(&|l| l.many.map(|v| 100.0 * v))),
        ("medium", pts(&|l| l.medium.map(|v| 100.0 * v))),
        ("few", pts(&|l| l.few.map(|v| 100.0 * v))),
    ];
    let series: Vec<Series> = curves
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(label, points)| Series { label, points })
        .collect();
    plots::line_chart(
        &dir.join("accuracy.png"),
        "test accuracy",
        "epoch",
        "accuracy (%)",
        &series,
    )?;
    let acc: Vec<f64> = summary.eval.per_class.iter().map(|a| 100.0 * a).collect();
    plots::class_bars(
        &dir.join("per_class.png"),
        "per-class test accuracy (%)",
        &summary.class_names,
        &acc,
        &split_groups(splits),
        &Split::ALL.map(Split::name),
    )
}

/// Each class's split as an index into `Split::ALL` (the bar colour).
fn split_groups(splits: &[Split]) -> Vec<usize> {
    splits
        .iter()
        .map(|s| Split::ALL.iter().position(|a| a == s).unwrap_or(0))
        .collect()
}
