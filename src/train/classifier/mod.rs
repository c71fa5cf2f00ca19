//! The classifier trainer: long-tailed data → GPU batches → model → loss → optimizer, one submit
//! per step and no readback inside an epoch; evaluation, a metrics line, a checkpoint and plots
//! after every epoch (and a checkpoint every `checkpoint_every` steps); `resume` continues from
//! the last checkpoint to the same result, bit for bit.

mod setup;
mod summary;

pub use summary::Summary;

use super::{RunDir, StateReader, StateWriter, TrainConfig};
use crate::train::loss::Method;
use crate::train::run_dir::progress;
use crate::{DType, Error, Result, Tensor};
use setup::Setup;
use std::path::Path;
use std::time::Instant;
use summary::EpochLine;

/// How a run is driven (not part of the experiment, so not in the config).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// No progress bars or per-epoch lines.
    pub quiet: bool,
    /// Continue from `out/checkpoint.safetensors` instead of starting fresh.
    pub resume: bool,
    /// Simulates a kill (tests): the run returns [`Error::Stopped`] at that point.
    pub stop: Option<Stop>,
}

/// Where a simulated kill happens: in stage `stage` (1, or 2 for GCL's re-training), once
/// `epochs` epochs and `steps` optimizer steps of the next are done, with everything the run
/// writes at that point written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stop {
    pub stage: usize,
    pub epochs: usize,
    pub steps: usize,
}

/// Trains a classifier as `cfg` says and writes the run directory `cfg.out`. For `gcl` this is
/// both stages: stage 1 in `out`, stage 2 in `out/stage2`, both in `out/summary.json`.
pub fn train_classifier(cfg: &TrainConfig, opts: &RunOptions) -> Result<Summary> {
    if cfg.method != Method::Gcl || cfg.stage != 1 || cfg.stage2.epochs == 0 {
        return run(cfg, opts);
    }
    let stage1 = run(cfg, opts)?;
    let dir = RunDir::create(&cfg.out)?;
    let s2 = cfg.stage2_config(dir.checkpoint(), cfg.out.join("stage2"));
    let opts2 = RunOptions {
        resume: opts.resume && s2.out.join(super::run_dir::CHECKPOINT).exists(),
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
    dir.write_summary(&summary)?;
    Ok(summary)
}

/// GCL stage 2 alone, from the stage-1 checkpoint `from`: the run's config comes from the
/// checkpoint, the stage-2 settings and output directory from `cfg`.
pub fn train_stage2(from: &Path, cfg: &TrainConfig, opts: &RunOptions) -> Result<Summary> {
    let mut base = TrainConfig::from_toml(StateReader::load(from)?.meta("config")?)?;
    base.stage2 = cfg.stage2.clone();
    run(
        &base.stage2_config(from.to_path_buf(), cfg.out.clone()),
        opts,
    )
}

/// Re-evaluates a checkpoint written by [`train_classifier`] on its run's test set; with
/// `posthoc_tau`, predictions are logit-adjusted post hoc (`la-posthoc`) whatever the loss was.
pub fn evaluate_checkpoint(
    path: &Path,
    posthoc_tau: Option<f32>,
) -> Result<(Summary, TrainConfig)> {
    let state = StateReader::load(path)?;
    let mut cfg = TrainConfig::from_toml(state.meta("config")?)?;
    if let Some(tau) = posthoc_tau {
        cfg.method = Method::LaPosthoc;
        cfg.loss.la_tau = tau;
    }
    let s = Setup::new(&cfg, false)?;
    state.module("model", &s.model)?;
    let epochs = state.counter("epoch")? as usize;
    let summary = s.summary_of(s.evaluate()?, epochs, 0.0, 0.0);
    Ok((summary, cfg))
}

/// Where a run is: the finished epochs, the optimizer steps so far, and the unfinished epoch.
#[derive(Default)]
struct Position {
    history: Vec<EpochLine>,
    step: u64,
    /// Batches of the unfinished epoch already trained, their summed loss and images.
    batch: usize,
    loss_sum: Option<Tensor>,
    images: usize,
    train_seconds: f64,
}

/// One training run (a plain run, or one stage of GCL).
fn run(cfg: &TrainConfig, opts: &RunOptions) -> Result<Summary> {
    let start = Instant::now();
    let mut s = Setup::new(cfg, true)?;
    let dir = RunDir::create(&cfg.out)?;
    let mut pos = match opts.resume {
        true => restore(&mut s, &dir)?,
        false => Position::default(),
    };
    dir.write("config.toml", cfg.to_toml().as_bytes())?;
    dir.rewrite_metrics(&pos.history)?;
    if !opts.quiet {
        s.print_header(pos.history.len());
    }
    let stop = opts.stop.filter(|st| st.stage == cfg.stage);
    while pos.history.len() < cfg.epochs {
        let epoch = pos.history.len() + 1;
        train_epoch(&mut s, &dir, &mut pos, stop, opts.quiet)?;
        let line = finish_epoch(&mut s, &mut pos)?;
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
        dir.append_metrics(&line)?;
        pos.history.push(line);
        save(&s, &dir, &pos)?;
        if stop.is_some_and(|st| st.epochs == epoch && st.steps == 0) {
            return Err(Error::Stopped(format!("stage {} epoch {epoch}", cfg.stage)));
        }
    }
    let last = pos.history.last().expect("epochs >= 1");
    let ips = summary::images_per_sec(&pos.history);
    let summary = s.summary_of(last.eval(), last.epoch, ips, start.elapsed().as_secs_f64());
    dir.write_summary(&summary)?;
    summary::plot(&dir, &pos.history, &summary, &s.splits)?;
    Ok(summary)
}

/// The unfinished epoch's remaining batches. `pos.step` counts optimizer steps over the run: it
/// keys the augmentation and Mixup randomness, so a resumed run draws the same crops and flips.
fn train_epoch(
    s: &mut Setup,
    dir: &RunDir,
    pos: &mut Position,
    stop: Option<Stop>,
    quiet: bool,
) -> Result<()> {
    let epoch = pos.history.len() + 1;
    s.opt.set_lr(s.cfg.optim.lr_at(epoch, s.cfg.epochs));
    let order =
        s.sampling
            .epoch_order(&s.train.labels, s.train.classes, s.cfg.seed, epoch as u64)?;
    // A last batch of one sample cannot be batch-normalised: it is dropped.
    let batches: Vec<&[u32]> = order.chunks(s.cfg.batch).filter(|b| b.len() > 1).collect();
    let bar = progress(batches.len() as u64, quiet, &format!("epoch {epoch}"));
    bar.set_position(pos.batch as u64);
    let (started, before) = (Instant::now(), pos.train_seconds);
    for idx in &batches[pos.batch..] {
        let loss = s.batch_loss(idx, epoch, pos.step)?;
        loss.backward()?;
        s.opt.step()?;
        s.opt.zero_grad();
        let l = loss.detach();
        pos.loss_sum = Some(match pos.loss_sum.take() {
            Some(sum) => sum.add(&l)?,
            None => l,
        });
        pos.step += 1;
        pos.batch += 1;
        pos.images += idx.len();
        s.dev.end_step()?;
        bar.inc(1);
        pos.train_seconds = before + started.elapsed().as_secs_f64();
        let every = s.cfg.checkpoint_every;
        if every > 0 && pos.step.is_multiple_of(every) && pos.batch < batches.len() {
            save(s, dir, pos)?;
        }
        if stop.is_some_and(|st| st.epochs + 1 == epoch && st.steps == pos.batch) {
            return Err(Error::Stopped(format!(
                "stage {} epoch {epoch} step {}",
                s.cfg.stage, pos.batch
            )));
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// Evaluates after the epoch's last batch and turns the epoch's sums into its metrics line.
fn finish_epoch(s: &mut Setup, pos: &mut Position) -> Result<EpochLine> {
    let epoch = pos.history.len() + 1;
    let batches = pos.batch.max(1) as f64;
    let loss_sum = pos.loss_sum.take().map_or(Ok(0.0), |t| t.item())?;
    let eval = s.evaluate()?;
    let line = EpochLine {
        epoch,
        lr: s.cfg.optim.lr_at(epoch, s.cfg.epochs),
        train_loss: loss_sum as f64 / batches,
        top1: eval.top1,
        many: eval.many,
        medium: eval.medium,
        few: eval.few,
        per_class: eval.per_class,
        train_seconds: pos.train_seconds,
        images: pos.images,
    };
    (pos.batch, pos.images, pos.train_seconds) = (0, 0, 0.0);
    Ok(line)
}

/// Writes the checkpoint: model, optimizer, the counters that key every random draw, and the
/// unfinished epoch's partial sums (atomically).
fn save(s: &Setup, dir: &RunDir, pos: &Position) -> Result<()> {
    let mut w = StateWriter::new();
    w.module("model", &s.model)
        .optimizer("optim", s.opt.as_ref())?
        .counter("epoch", pos.history.len() as u64)
        .counter("step", pos.step)
        .counter("batch", pos.batch as u64)
        .counter("images", pos.images as u64)
        .counter("train_us", (pos.train_seconds * 1e6) as u64)
        .counter("noise", s.loss.noise_counter())
        .meta("config", s.cfg.to_toml())
        .meta("device", s.dev.report().name.clone());
    if let Some(sum) = &pos.loss_sum {
        w.tensor("epoch_loss_sum", &sum.reshape(&[1])?);
    }
    w.save(&dir.checkpoint())
}

/// Restores a run directory's checkpoint into `s`; returns where the run stopped.
fn restore(s: &mut Setup, dir: &RunDir) -> Result<Position> {
    let state = StateReader::load(&dir.checkpoint())?;
    state.module("model", &s.model)?;
    state.optimizer("optim", s.opt.as_mut())?;
    s.loss.set_noise_counter(state.counter("noise")?);
    let batch = state.counter("batch")? as usize;
    let pos = Position {
        history: dir.read_metrics(state.counter("epoch")? as usize)?,
        step: state.counter("step")?,
        batch,
        loss_sum: match batch {
            0 => None,
            _ => Some(state.tensor("epoch_loss_sum", DType::F32, &[1])?),
        },
        images: state.counter("images")? as usize,
        train_seconds: state.counter("train_us")? as f64 / 1e6,
    };
    state.finish()?;
    Ok(pos)
}
