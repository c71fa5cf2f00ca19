//! The classifier trainer: long-tailed data → GPU batches → model → loss → optimizer, one submit
//! per step and no readback inside an epoch; evaluation, metrics, a checkpoint and plots after
//! every epoch; `resume` continues from the last checkpoint to the same result.

use super::config::Resolved;
use super::{lr_at, Evaluation, TrainConfig};
use crate::data::gpu::{Augment, GpuDataset};
use crate::data::long_tail::{self, Split};
use crate::data::sampler::Sampling;
use crate::data::{self, Dataset};
use crate::nn::{self, Classifier, Mode, Module};
use crate::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use crate::report::{plots, Checkpoint};
use crate::{read_all, Device, Error, Result, Tensor};
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a run is driven (not part of the experiment, so not in the config).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// No progress bars or per-epoch lines.
    pub quiet: bool,
    /// Continue from `out/checkpoint.safetensors` instead of starting fresh.
    pub resume: bool,
    /// Stop after this many epochs in total (the config's `epochs` still sets the schedule):
    /// how tests simulate a killed run.
    pub stop_after: Option<usize>,
}

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    #[serde(flatten)]
    pub eval: Evaluation,
    pub epochs: usize,
    pub train_images_per_sec: f64,
    pub device: String,
    pub model: String,
    pub dataset: String,
    pub train_counts: Vec<usize>,
    /// "many" / "medium" / "few" for each class.
    pub class_split: Vec<&'static str>,
    pub class_names: Vec<String>,
    pub wall_seconds: f64,
}

/// One `metrics.jsonl` line.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
struct EpochLine {
    epoch: usize,
    lr: f32,
    train_loss: f64,
    top1: f64,
    many: Option<f64>,
    medium: Option<f64>,
    few: Option<f64>,
    per_class: Vec<f64>,
    train_seconds: f64,
    images: usize,
}

const CHECKPOINT: &str = "checkpoint.safetensors";

/// Everything a run needs, built from the config.
struct Setup {
    cfg: TrainConfig,
    dev: Device,
    train: Dataset,
    test: Dataset,
    gpu_train: GpuDataset,
    gpu_test: GpuDataset,
    model: Classifier,
    opt: Box<dyn Optimizer>,
    /// The many/medium/few split of each class.
    splits: Vec<Split>,
    aug: Augment,
    eval_aug: Augment,
    sampling: Sampling,
}

/// Trains a classifier as `cfg` says and writes the run directory `cfg.out`.
pub fn train_classifier(cfg: &TrainConfig, opts: &RunOptions) -> Result<Summary> {
    let start = Instant::now();
    let mut s = Setup::new(cfg)?;
    let out = cfg.out.clone();
    create_dir(&out)?;
    let (mut history, mut step) = if opts.resume {
        s.restore(&out)?
    } else {
        (Vec::new(), 0)
    };
    write_file(&out.join("config.toml"), cfg.to_toml().as_bytes())?;
    rewrite_metrics(&out, &history)?;
    let last = opts.stop_after.unwrap_or(cfg.epochs).min(cfg.epochs);
    if !opts.quiet {
        s.print_header(history.len());
    }
    for epoch in history.len() + 1..=last {
        let line = s.run_epoch(epoch, &mut step, opts.quiet)?;
        if !opts.quiet {
            eprintln!(
                "epoch {epoch:>3}/{}  lr {:.4}  loss {:.4}  top1 {:.2}%  ({:.0} img/s)",
                cfg.epochs,
                line.lr,
                line.train_loss,
                100.0 * line.top1,
                line.images as f64 / line.train_seconds
            );
        }
        append_metrics(&out, &line)?;
        history.push(line);
        s.save(&out, epoch, step)?;
    }
    let summary = s.summary(&history, start.elapsed().as_secs_f64())?;
    write_file(
        &out.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap().as_bytes(),
    )?;
    s.plot(&out, &history, &summary)?;
    Ok(summary)
}

/// Re-evaluates a checkpoint written by [`train_classifier`] on its run's test set.
pub fn evaluate_checkpoint(path: &Path) -> Result<(Summary, TrainConfig)> {
    let ck = Checkpoint::load(path)?;
    let text = ck.metadata.get("config").ok_or_else(|| Error::Format {
        path: path.display().to_string(),
        offset: 0,
        msg: "checkpoint metadata has no `config` entry".into(),
    })?;
    let cfg = TrainConfig::from_toml(text)?;
    let s = Setup::new(&cfg)?;
    load_model(&s.model, &ck, path)?;
    let eval = s.evaluate()?;
    let epochs = meta_usize(&ck, "epoch", path)?;
    let summary = s.summary_of(eval, epochs, 0.0, 0.0);
    Ok((summary, cfg))
}

impl Setup {
    fn new(cfg: &TrainConfig) -> Result<Setup> {
        let r: Resolved = cfg.resolve()?;
        let dev = Device::get()?;
        let dir = cfg.data_dir.as_deref();
        let mut train = data::load(r.dataset, dir, true)?;
        if cfg.rho > 1.0 {
            train = long_tail::long_tailed(&train, cfg.rho, r.profile, cfg.seed)?;
        }
        let test = data::load(r.dataset, dir, false)?;
        let size = match (cfg.image_size, r.arch) {
            (0, nn::Arch::ResNet(_)) => 32,
            (0, nn::Arch::SmallCnn) => train.height.max(train.width),
            (s, _) => s,
        };
        let (mean, std) = r.dataset.mean_std();
        let aug = Augment {
            size,
            pad: if cfg.augment { cfg.pad } else { 0 },
            flip: cfg.augment && cfg.flip,
            mean: mean.to_vec(),
            std: std.to_vec(),
        };
        let eval_aug = Augment::eval(size, mean, std);
        let model = Classifier::new(
            &dev,
            cfg.seed,
            r.arch,
            r.head,
            train.channels,
            train.classes,
        )?;
        let opt = optimizer(cfg, nn::parameters(&model))?;
        let splits = train
            .class_counts()
            .iter()
            .map(|&n| r.splits.split_of(n))
            .collect();
        Ok(Setup {
            gpu_train: GpuDataset::new(&dev, &train)?,
            gpu_test: GpuDataset::new(&dev, &test)?,
            cfg: cfg.clone(),
            dev,
            train,
            test,
            model,
            opt,
            splits,
            aug,
            eval_aug,
            sampling: r.sampling,
        })
    }

    fn print_header(&self, done: usize) {
        let counts = self.train.class_counts();
        eprintln!(
            "{} on {} ({} train images, per class {:?}; {} test images) on {}{}",
            self.model.arch,
            self.cfg.dataset,
            self.train.len(),
            counts,
            self.test.len(),
            self.dev.report().name,
            if done > 0 {
                format!("; resuming after epoch {done}")
            } else {
                String::new()
            }
        );
    }

    /// One epoch of training, then evaluation. `step` counts optimizer steps over the run (it
    /// keys the augmentation randomness, so a resumed run draws the same crops and flips).
    fn run_epoch(&mut self, epoch: usize, step: &mut u64, quiet: bool) -> Result<EpochLine> {
        let cfg = &self.cfg;
        let lr = lr_at(cfg, epoch);
        self.opt.set_lr(lr);
        let order = self.sampling.epoch_order(
            &self.train.labels,
            self.train.classes,
            cfg.seed,
            epoch as u64,
        )?;
        // A last batch of one sample cannot be batch-normalised: it is dropped.
        let batches: Vec<&[u32]> = order.chunks(cfg.batch).filter(|b| b.len() > 1).collect();
        let bar = progress(batches.len() as u64, quiet, &format!("epoch {epoch}"));
        let started = Instant::now();
        let mut loss_sum: Option<Tensor> = None;
        let mut images = 0;
        for idx in &batches {
            let (x, y) = self.gpu_train.batch(idx, &self.aug, cfg.seed, *step)?;
            let logits = self.model.forward(&x, Mode::Train)?;
            let loss = logits.cross_entropy(&y)?;
            loss.backward()?;
            self.opt.step()?;
            self.opt.zero_grad();
            let l = loss.detach();
            loss_sum = Some(match loss_sum {
                Some(s) => s.add(&l)?,
                None => l,
            });
            *step += 1;
            images += idx.len();
            self.dev.end_step()?;
            bar.inc(1);
        }
        let loss_sum = loss_sum.map_or(Ok(0.0), |t| t.item())?;
        let train_seconds = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let eval = self.evaluate()?;
        Ok(EpochLine {
            epoch,
            lr,
            train_loss: loss_sum as f64 / batches.len().max(1) as f64,
            top1: eval.top1,
            many: eval.many,
            medium: eval.medium,
            few: eval.few,
            per_class: eval.per_class,
            train_seconds,
            images,
        })
    }

    /// Accuracy on the whole test set: eval mode, no graph, one readback at the end.
    fn evaluate(&self) -> Result<Evaluation> {
        let _g = crate::no_grad();
        let n = self.test.len();
        let all: Vec<u32> = (0..n as u32).collect();
        let mut preds = Vec::new();
        for idx in all.chunks(self.cfg.eval_batch) {
            let (x, _) = self.gpu_test.batch(idx, &self.eval_aug, 0, 0)?;
            let logits = self.model.forward(&x, Mode::Eval)?;
            preds.push(logits.argmax(1, false)?);
            // Recorded commands hold their buffers until submitted: submit per batch so the
            // pool recycles activations instead of holding every batch's at once.
            self.dev.end_step()?;
        }
        let refs: Vec<&Tensor> = preds.iter().collect();
        // read_all converts u32 tensors to f32 by value (exact below 2^24).
        let pred: Vec<u32> = read_all(&refs)?
            .into_iter()
            .flatten()
            .map(|v| v as u32)
            .collect();
        Ok(Evaluation::new(&pred, &self.test.labels, &self.splits))
    }

    /// Writes the checkpoint: model state, optimizer state, epoch, step (atomically).
    fn save(&self, out: &Path, epoch: usize, step: u64) -> Result<()> {
        let mut ck = Checkpoint::new();
        let states = nn::state_of(&self.model);
        let opt_state = self.opt.state()?;
        let tensors: Vec<&Tensor> = states
            .iter()
            .map(|s| &s.tensor)
            .chain(opt_state.iter().map(|(_, t)| t))
            .collect();
        let values = read_all(&tensors)?;
        let names = states
            .iter()
            .map(|s| format!("model.{}", s.name))
            .chain(opt_state.iter().map(|(n, _)| format!("optim.{n}")));
        for ((name, t), v) in names.zip(&tensors).zip(values) {
            ck.insert_f32(name, t.shape(), v)?;
        }
        ck.metadata.insert("config".into(), self.cfg.to_toml());
        ck.metadata.insert("epoch".into(), epoch.to_string());
        ck.metadata.insert("step".into(), step.to_string());
        ck.metadata
            .insert("device".into(), self.dev.report().name.clone());
        ck.save(&out.join(CHECKPOINT))
    }

    /// Loads the checkpoint of a run directory; returns the metrics history up to it and the step.
    fn restore(&mut self, out: &Path) -> Result<(Vec<EpochLine>, u64)> {
        let path = out.join(CHECKPOINT);
        let ck = Checkpoint::load(&path)?;
        load_model(&self.model, &ck, &path)?;
        let names: Vec<String> = self.opt.state()?.into_iter().map(|(n, _)| n).collect();
        let mut state = Vec::new();
        for n in names {
            let (shape, data) = ck.f32(&format!("optim.{n}"))?;
            state.push((n, Tensor::from_slice(&self.dev, data, shape)?));
        }
        self.opt.load_state(&state)?;
        let epoch = meta_usize(&ck, "epoch", &path)?;
        let step = meta_usize(&ck, "step", &path)? as u64;
        let history = read_metrics(&out.join("metrics.jsonl"), epoch)?;
        Ok((history, step))
    }

    fn summary(&self, history: &[EpochLine], wall: f64) -> Result<Summary> {
        let last = history
            .last()
            .ok_or_else(|| Error::Config("no epoch was run".into()))?;
        let (img, secs) = history.iter().fold((0.0, 0.0), |(i, s), l| {
            (i + l.images as f64, s + l.train_seconds)
        });
        let eval = Evaluation {
            top1: last.top1,
            many: last.many,
            medium: last.medium,
            few: last.few,
            per_class: last.per_class.clone(),
        };
        Ok(self.summary_of(eval, last.epoch, img / secs, wall))
    }

    fn summary_of(&self, eval: Evaluation, epochs: usize, ips: f64, wall: f64) -> Summary {
        Summary {
            eval,
            epochs,
            train_images_per_sec: ips,
            device: self.dev.report().name.clone(),
            model: self.model.arch.to_string(),
            dataset: self.cfg.dataset.clone(),
            train_counts: self.train.class_counts(),
            class_split: self.splits.iter().map(|s| s.name()).collect(),
            class_names: self.train.class_names.clone(),
            wall_seconds: wall,
        }
    }

    /// `loss.png`, `accuracy.png` and `per_class.png`.
    fn plot(&self, out: &Path, history: &[EpochLine], summary: &Summary) -> Result<()> {
        let pts = |f: &dyn Fn(&EpochLine) -> Option<f64>| -> Vec<(f64, f64)> {
            history
                .iter()
                .filter_map(|l| f(l).map(|v| (l.epoch as f64, v)))
                .collect()
        };
        let loss = pts(&|l| Some(l.train_loss));
        plots::line_chart(
            &out.join("loss.png"),
            "training loss",
            "epoch",
            "loss",
            &[plots::Series {
                label: "train",
                points: &loss,
            }],
        )?;
        let curves = [
            ("top-1", pts(&|l| Some(100.0 * l.top1))),
            ("many", pts(&|l| l.many.map(|v| 100.0 * v))),
            ("medium", pts(&|l| l.medium.map(|v| 100.0 * v))),
            ("few", pts(&|l| l.few.map(|v| 100.0 * v))),
        ];
        let series: Vec<plots::Series> = curves
            .iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(label, points)| plots::Series { label, points })
            .collect();
        plots::line_chart(
            &out.join("accuracy.png"),
            "test accuracy",
            "epoch",
            "accuracy (%)",
            &series,
        )?;
        let acc: Vec<f64> = summary.eval.per_class.iter().map(|a| 100.0 * a).collect();
        let group: Vec<usize> = self
            .splits
            .iter()
            .map(|s| Split::ALL.iter().position(|a| a == s).unwrap_or(0))
            .collect();
        plots::class_bars(
            &out.join("per_class.png"),
            "per-class test accuracy (%)",
            &summary.class_names,
            &acc,
            &group,
            &Split::ALL.map(Split::name),
        )
    }
}

fn optimizer(cfg: &TrainConfig, params: Vec<Tensor>) -> Result<Box<dyn Optimizer>> {
    let lr = cfg.lr;
    Ok(match cfg.optimizer.as_str() {
        "sgd" => Box::new(Sgd::new(
            params,
            SgdConfig {
                lr,
                momentum: cfg.momentum,
                nesterov: false,
                weight_decay: cfg.weight_decay,
            },
        )?),
        "adam" => Box::new(Adam::new(
            params,
            AdamConfig {
                lr,
                weight_decay: cfg.weight_decay,
                ..AdamConfig::default()
            },
        )?),
        "adamw" => Box::new(Adam::new(
            params,
            AdamConfig {
                lr,
                weight_decay: cfg.weight_decay,
                ..AdamConfig::adamw()
            },
        )?),
        o => {
            return Err(Error::Config(format!(
                "unknown optimizer {o:?}: use sgd, adam or adamw"
            )))
        }
    })
}

fn load_model(model: &Classifier, ck: &Checkpoint, path: &Path) -> Result<()> {
    let dev = Device::get()?;
    nn::load_state(model, &|name| {
        let (shape, data) = ck.f32(&format!("model.{name}")).ok()?;
        Tensor::from_slice(&dev, data, shape).ok()
    })
    .map_err(|e| Error::Format {
        path: path.display().to_string(),
        offset: 0,
        msg: e.to_string(),
    })
}

fn meta_usize(ck: &Checkpoint, key: &str, path: &Path) -> Result<usize> {
    ck.metadata
        .get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Format {
            path: path.display().to_string(),
            offset: 0,
            msg: format!("checkpoint metadata has no integer `{key}`"),
        })
}

/// A per-epoch progress bar on stderr; hidden when quiet or when stderr is not a terminal.
fn progress(len: u64, quiet: bool, what: &str) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(Error::io(path))
}

fn rewrite_metrics(out: &Path, history: &[EpochLine]) -> Result<()> {
    let mut text = String::new();
    for l in history {
        text += &serde_json::to_string(l).unwrap();
        text.push('\n');
    }
    write_file(&out.join("metrics.jsonl"), text.as_bytes())
}

fn append_metrics(out: &Path, line: &EpochLine) -> Result<()> {
    let path: PathBuf = out.join("metrics.jsonl");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(Error::io(&path))?;
    writeln!(f, "{}", serde_json::to_string(line).unwrap()).map_err(Error::io(&path))
}

/// The first `epochs` lines (those the checkpoint covers; a line after them may be cut short by
/// the kill being resumed from).
fn read_metrics(path: &Path, epochs: usize) -> Result<Vec<EpochLine>> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    let mut offset = 0u64;
    let mut out = Vec::new();
    for line in text.lines().take(epochs) {
        let l = serde_json::from_str(line).map_err(|e| Error::Format {
            path: path.display().to_string(),
            offset,
            msg: e.to_string(),
        })?;
        out.push(l);
        offset += line.len() as u64 + 1;
    }
    if out.len() < epochs {
        return Err(Error::Format {
            path: path.display().to_string(),
            offset,
            msg: format!("has {} epochs, the checkpoint {epochs}", out.len()),
        });
    }
    Ok(out)
}
