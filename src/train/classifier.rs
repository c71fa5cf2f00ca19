//! The classifier trainer: long-tailed data → GPU batches → model → loss → optimizer, one submit
//! per step and no readback inside an epoch; evaluation, metrics, a checkpoint and plots after
//! every epoch; `resume` continues from the last checkpoint to the same result.

use super::config::Resolved;
use super::loss::{Loss, Method};
use super::{lr_at, mixup, Evaluation, TrainConfig};
use crate::data::extrapolation::{self, MaskKind, NeighbourMap};
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
    /// The many/medium/few split of each target class.
    splits: Vec<Split>,
    aug: Augment,
    eval_aug: Augment,
    sampling: Sampling,
    loss: Loss,
    mixup: bool,
    /// Prediction is an argmax over the first `targets` classes (auxiliary classes are masked).
    targets: usize,
}

/// Trains a classifier as `cfg` says and writes the run directory `cfg.out`. For `gcl` this is
/// both stages: stage 1 in `out`, stage 2 in `out/stage2`, both in `out/summary.json`.
pub fn train_classifier(cfg: &TrainConfig, opts: &RunOptions) -> Result<Summary> {
    let partial = opts.stop_after.is_some_and(|e| e < cfg.epochs);
    if cfg.method != Method::Gcl || cfg.stage != 1 || cfg.stage2.epochs == 0 || partial {
        return run(cfg, opts);
    }
    let stage1 = run(cfg, opts)?;
    let s2 = cfg.stage2_config(cfg.out.join(CHECKPOINT), cfg.out.join("stage2"));
    let opts2 = RunOptions {
        resume: opts.resume && s2.out.join(CHECKPOINT).exists(),
        ..opts.clone()
    };
    if !opts.quiet {
        eprintln!("stage 2: classifier re-training from {}", cfg.out.display());
    }
    let stage2 = run(&s2, &opts2)?;
    let summary = Summary {
        wall_seconds: stage1.wall_seconds + stage2.wall_seconds,
        stage1: Some(Box::new(stage1)),
        stage2: Some(Box::new(stage2.clone())),
        ..stage2
    };
    write_summary(&cfg.out, &summary)?;
    Ok(summary)
}

/// GCL stage 2 alone, from the stage-1 checkpoint `from`: the run's config comes from the
/// checkpoint, the stage-2 settings and output directory from `cfg`.
pub fn train_stage2(from: &Path, cfg: &TrainConfig, opts: &RunOptions) -> Result<Summary> {
    let mut base = checkpoint_config(&Checkpoint::load(from)?, from)?;
    base.stage2 = cfg.stage2.clone();
    run(
        &base.stage2_config(from.to_path_buf(), cfg.out.clone()),
        opts,
    )
}

/// One training run (a plain run, or one stage of GCL).
fn run(cfg: &TrainConfig, opts: &RunOptions) -> Result<Summary> {
    let start = Instant::now();
    let mut s = Setup::new(cfg, true)?;
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
    write_summary(&out, &summary)?;
    s.plot(&out, &history, &summary)?;
    Ok(summary)
}

fn write_summary(out: &Path, summary: &Summary) -> Result<()> {
    write_file(
        &out.join("summary.json"),
        serde_json::to_string_pretty(summary).unwrap().as_bytes(),
    )
}

/// Re-evaluates a checkpoint written by [`train_classifier`] on its run's test set; with
/// `posthoc_tau`, predictions are logit-adjusted post hoc (`la-posthoc`) whatever the loss was.
pub fn evaluate_checkpoint(
    path: &Path,
    posthoc_tau: Option<f32>,
) -> Result<(Summary, TrainConfig)> {
    let ck = Checkpoint::load(path)?;
    let mut cfg = checkpoint_config(&ck, path)?;
    if let Some(tau) = posthoc_tau {
        cfg.method = Method::LaPosthoc;
        cfg.loss.la_tau = tau;
    }
    let s = Setup::new(&cfg, false)?;
    load_model(&s.model, &ck, path)?;
    let eval = s.evaluate()?;
    let epochs = meta_usize(&ck, "epoch", path)?;
    let summary = s.summary_of(eval, epochs, 0.0, 0.0);
    Ok((summary, cfg))
}

fn checkpoint_config(ck: &Checkpoint, path: &Path) -> Result<TrainConfig> {
    let text = ck.metadata.get("config").ok_or_else(|| Error::Format {
        path: path.display().to_string(),
        offset: 0,
        msg: "checkpoint metadata has no `config` entry".into(),
    })?;
    TrainConfig::from_toml(text)
}

/// The training and test sets of a run, the silencing mask of an extrapolation run and the
/// number of target classes (all classes, without auxiliary ones).
struct RunData {
    train: Dataset,
    test: Dataset,
    mask: Option<Vec<bool>>,
    targets: usize,
}

impl RunData {
    /// Every class is a target; nothing is silenced.
    fn plain(train: Dataset, test: Dataset) -> RunData {
        let targets = train.classes;
        RunData {
            train,
            test,
            mask: None,
            targets,
        }
    }
}

fn load_data(cfg: &TrainConfig, r: &Resolved) -> Result<RunData> {
    let dir = cfg.data_dir.as_deref();
    let base = data::load(r.dataset, dir, true)?;
    let test = data::load(r.dataset, dir, false)?;
    let Some(x) = &cfg.extrapolation else {
        let train = if cfg.rho > 1.0 {
            long_tail::long_tailed(&base, cfg.rho, r.profile, cfg.seed)?
        } else {
            base
        };
        return Ok(RunData::plain(train, test));
    };
    let map = NeighbourMap::from_file(&x.neighbours)?;
    if !x.auxiliary {
        let (train, test) =
            extrapolation::targets_only(&base, &test, &map, cfg.rho, r.profile, cfg.seed)?;
        return Ok(RunData::plain(train, test));
    }
    // `none`: the auxiliary classes without silencing (the mask is built, then dropped).
    let kind: Option<MaskKind> = match x.mask.as_str() {
        "none" => None,
        m => Some(m.parse()?),
    };
    let e = extrapolation::build(
        &base,
        &test,
        &map,
        cfg.rho,
        r.profile,
        x.aux_per_class,
        x.p_aux,
        kind.unwrap_or(MaskKind::Normal),
        cfg.seed,
    )?;
    Ok(RunData {
        train: e.train,
        test: e.test,
        mask: kind.map(|_| e.mask),
        targets: e.targets,
    })
}

impl Setup {
    /// `load_from`: a stage-2 run starts from its stage-1 checkpoint (evaluation does not need
    /// it: the run's own checkpoint holds every weight).
    fn new(cfg: &TrainConfig, load_from: bool) -> Result<Setup> {
        let r: Resolved = cfg.resolve()?;
        let dev = Device::get()?;
        let RunData {
            train,
            test,
            mask,
            targets,
        } = load_data(cfg, &r)?;
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
        let frozen = cfg.stage == 2;
        if let (true, true, Some(from)) = (frozen, load_from, &cfg.from) {
            load_model(&model, &Checkpoint::load(from)?, from)?;
        }
        // Stage 2 trains the classifier only.
        let params = if frozen {
            nn::parameters(&model.head)
        } else {
            nn::parameters(&model)
        };
        let opt = optimizer(cfg, params)?;
        let counts = train.class_counts();
        let splits = counts[..targets]
            .iter()
            .map(|&n| r.splits.split_of(n))
            .collect();
        let mut loss = Loss::new(&dev, cfg.method, &cfg.loss, &counts, cfg.seed)?;
        if let Some(mask) = mask {
            let lambda = cfg.extrapolation.as_ref().and_then(|x| x.silence_lambda);
            loss = loss.with_silencing(&mask, lambda)?;
        }
        let sampling = Sampling::from_name(&cfg.sampling, &counts, cfg.sampling_beta)?;
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
            sampling,
            loss,
            mixup: r.mixup,
            targets,
        })
    }

    /// Training-mode logits; in stage 2 the frozen backbone runs in eval mode without a graph.
    fn train_logits(&self, x: &Tensor) -> Result<Tensor> {
        if self.cfg.stage != 2 {
            return self.model.forward(x, Mode::Train);
        }
        let f = {
            let _g = crate::no_grad();
            self.model.features(x, Mode::Eval)?
        };
        self.model.head.forward(&f, Mode::Train)
    }

    /// The batch loss, with Mixup when the run uses it.
    fn batch_loss(&mut self, idx: &[u32], epoch: usize, step: u64) -> Result<Tensor> {
        let cfg = &self.cfg;
        let (x, y) = self.gpu_train.batch(idx, &self.aug, cfg.seed, step)?;
        if !self.mixup {
            let logits = self.train_logits(&x)?;
            return self.loss.forward(&logits, &y, epoch);
        }
        let plan = mixup::plan(cfg.mixup_alpha, cfg.seed, step, idx.len());
        let labels: Vec<u32> = idx.iter().map(|&i| self.train.labels[i as usize]).collect();
        let partner = plan.partner_labels(&self.dev, &labels)?;
        let logits = self.train_logits(&plan.mix(&x)?)?;
        let a = self.loss.forward(&logits, &y, epoch)?;
        let b = self.loss.forward(&logits, &partner, epoch)?;
        plan.combine(&a, &b)
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
        let lr = lr_at(&self.cfg, epoch);
        self.opt.set_lr(lr);
        let order = self.sampling.epoch_order(
            &self.train.labels,
            self.train.classes,
            self.cfg.seed,
            epoch as u64,
        )?;
        // A last batch of one sample cannot be batch-normalised: it is dropped.
        let batches: Vec<&[u32]> = order
            .chunks(self.cfg.batch)
            .filter(|b| b.len() > 1)
            .collect();
        let bar = progress(batches.len() as u64, quiet, &format!("epoch {epoch}"));
        let started = Instant::now();
        let mut loss_sum: Option<Tensor> = None;
        let mut images = 0;
        for idx in &batches {
            let loss = self.batch_loss(idx, epoch, *step)?;
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
            let mut logits = self.loss.predict(&self.model.forward(&x, Mode::Eval)?)?;
            if self.targets < logits.shape()[1] {
                logits = logits.slice(1, 0, self.targets)?;
            }
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
        ck.metadata.insert(
            "noise_counter".into(),
            self.loss.noise_counter().to_string(),
        );
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
        self.loss
            .set_noise_counter(meta_usize(&ck, "noise_counter", &path)? as u64);
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
        let counts = self.train.class_counts();
        Summary {
            eval,
            epochs,
            method: self.cfg.method,
            train_images_per_sec: ips,
            device: self.dev.report().name.clone(),
            model: self.model.arch.to_string(),
            dataset: self.cfg.dataset.clone(),
            train_counts: counts[..self.targets].to_vec(),
            class_split: self.splits.iter().map(|s| s.name()).collect(),
            class_names: self.train.class_names[..self.targets].to_vec(),
            auxiliary_images: counts[self.targets..].iter().sum(),
            wall_seconds: wall,
            stage1: None,
            stage2: None,
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
