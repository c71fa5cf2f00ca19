//! The class-conditional GAN trainer (`tailgrad train gan`): SNGAN-32 on long-tailed real data
//! with hinge or BCE losses, LeCam, gSR, DiffAugment and sample mixing as the config says. A
//! metrics line every `log_every` G steps, sample grids, a checkpoint every `checkpoint_every`
//! steps; `resume` continues from the last checkpoint to the same result, bit for bit.

mod config;
mod evaluate;
mod report;
mod trainer;

pub use config::{GanConfig, PRESETS};
pub use evaluate::{plot_over_steps, ClassFid, EvalConfig, Evaluator, GanEval, KidScore, SplitFid};
pub use report::{GanLine, GanSummary};
pub use trainer::{train_counts, GanTrainer};

use super::run_dir::progress;
use super::{RunDir, StateReader, StateWriter};
use crate::nn::sngan::Generator;
use crate::{Device, Error, Result, Tensor};
use std::path::Path;
use std::time::Instant;

/// How a GAN run is driven (not part of the experiment, so not in the config).
#[derive(Clone, Debug, Default)]
pub struct GanRunOptions {
    /// No progress bar or log lines.
    pub quiet: bool,
    /// Continue from `out/checkpoint.safetensors` instead of starting fresh.
    pub resume: bool,
    /// Simulates a kill (tests): the run returns [`Error::Stopped`] once this many G steps are
    /// done, with everything the run writes at that point written.
    pub stop_at: Option<u64>,
}

/// Where a run is besides the trainer's own counters.
struct Position {
    history: Vec<GanLine>,
    train_seconds: f64,
    /// The evaluations so far (`fid.jsonl`), and what makes them.
    evals: Vec<GanEval>,
    evaluator: Option<Evaluator>,
}

/// Trains a GAN as `cfg` says and writes the run directory `cfg.out`.
pub fn train_gan(cfg: &GanConfig, opts: &GanRunOptions) -> Result<GanSummary> {
    let start = Instant::now();
    let mut t = GanTrainer::new(cfg)?;
    let dir = RunDir::create(&cfg.out)?;
    let mut pos = match opts.resume {
        true => restore(&mut t, &dir)?,
        false => Position {
            history: vec![],
            train_seconds: 0.0,
            evals: vec![],
            evaluator: None,
        },
    };
    if let Some(e) = &cfg.eval {
        pos.evaluator = Some(Evaluator::new(cfg, e, &t.counts)?);
    }
    dir.write("config.toml", cfg.to_toml().as_bytes())?;
    dir.rewrite_metrics(&pos.history)?;
    if cfg.eval.is_some() {
        rewrite_evals(&dir, &pos.evals)?;
    }
    std::fs::create_dir_all(dir.join("samples")).map_err(Error::io(&dir.join("samples")))?;
    if !opts.quiet {
        print_header(&t);
    }
    let bar = progress(cfg.steps, opts.quiet, "G steps");
    bar.set_position(t.step);
    let (started, before) = (Instant::now(), pos.train_seconds);
    while t.step < cfg.steps {
        t.iteration()?;
        bar.inc(1);
        pos.train_seconds = before + started.elapsed().as_secs_f64();
        after_step(&mut t, &dir, &mut pos, opts, &bar)?;
        if opts.stop_at == Some(t.step) {
            return Err(Error::Stopped(format!("G step {}", t.step)));
        }
    }
    bar.finish_and_clear();
    if let Some(e) = pos.evals.last() {
        e.write(dir.path())?;
    }
    report::write_grid(&t, &dir.join("samples.png"))?;
    let summary = report::summary(&t, &pos.history, start.elapsed().as_secs_f64());
    dir.write_summary(&summary)?;
    report::plot(&dir, &t, &pos.history)?;
    Ok(summary)
}

/// The log line, sample grid and checkpoint due after G step `t.step`.
fn after_step(
    t: &mut GanTrainer,
    dir: &RunDir,
    pos: &mut Position,
    opts: &GanRunOptions,
    bar: &indicatif::ProgressBar,
) -> Result<()> {
    let (step, c) = (t.step, &t.cfg);
    let last = step == c.steps;
    let due = |every: u64| every > 0 && step.is_multiple_of(every);
    let (log, sample, save_now) = (
        due(c.log_every) || last,
        due(c.sample_every),
        due(c.checkpoint_every) || last,
    );
    if log {
        let line = report::line(t, pos.train_seconds)?;
        if !opts.quiet {
            bar.suspend(|| print_line(&line, t.cfg.steps));
        }
        dir.append_metrics(&line)?;
        pos.history.push(line);
    }
    if sample {
        report::write_grid(t, &dir.join(&format!("samples/step_{step:07}.png")))?;
    }
    if let Some(e) = &pos.evaluator {
        if due(e.config().every) || last {
            let eval = e.evaluate(&t.g, step)?;
            if !opts.quiet {
                bar.suspend(|| print_eval(&eval));
            }
            append_eval(dir, &eval)?;
            pos.evals.push(eval);
            plot_over_steps(&dir.join("fid.png"), &pos.evals)?;
        }
    }
    if save_now {
        save(t, dir, pos)?;
        if log {
            report::plot(dir, t, &pos.history)?;
        }
    }
    Ok(())
}

fn print_header(t: &GanTrainer) {
    let c = &t.cfg;
    let mut extras = String::new();
    for (on, name) in [
        (c.lecam.is_some(), "LeCam".to_string()),
        (c.gsr.is_some(), "gSR".to_string()),
        (c.diffaug.is_some(), "DiffAugment".to_string()),
        (
            c.mixing.is_some(),
            c.mixing
                .as_ref()
                .map_or(String::new(), |m| m.kind.to_string()),
        ),
    ] {
        if on {
            extras += &format!(" + {name}");
        }
    }
    eprintln!(
        "GAN on {} ({} classes, counts {:?}), G {} / D {} wide, batch {}, n_dis {}, {} steps, \
         loss {}{extras} on {}",
        c.dataset,
        t.classes(),
        t.counts,
        c.g_width,
        c.d_width,
        c.batch,
        c.n_dis,
        c.steps,
        c.loss,
        t.device().report().name
    );
}

fn print_line(l: &GanLine, steps: u64) {
    eprintln!(
        "step {:>6}/{steps}  D {:.4}  G {:.4}  D(real) {:+.3}  D(fake) {:+.3}  gSR {:.4}  ({:.2} it/s)",
        l.step,
        l.d_loss,
        l.g_loss,
        l.d_real,
        l.d_fake,
        l.gsr,
        l.step as f64 / l.train_seconds.max(1e-9)
    );
}

fn print_eval(e: &GanEval) {
    let s = &e.splits;
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    eprintln!(
        "eval at step {}: FID {:.3}  KID {:.4} ± {:.4}  intra-FID {:.3} (many {} / medium {} / \
         few {})  [{:.0} s]",
        e.step,
        e.fid,
        e.kid.mean,
        e.kid.std,
        e.intra_fid,
        f(s.many),
        f(s.medium),
        f(s.few),
        e.seconds
    );
}

const EVALS: &str = "fid.jsonl";

fn append_eval(dir: &RunDir, e: &GanEval) -> Result<()> {
    let path = dir.join(EVALS);
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text += &(serde_json::to_string(e).expect("evaluations serialise") + "\n");
    dir.write(EVALS, text.as_bytes())
}

fn rewrite_evals(dir: &RunDir, evals: &[GanEval]) -> Result<()> {
    let text: String = evals
        .iter()
        .map(|e| serde_json::to_string(e).expect("evaluations serialise") + "\n")
        .collect();
    dir.write(EVALS, text.as_bytes())
}

/// The evaluations of `fid.jsonl` up to G step `step` (a resumed run redoes later ones).
fn read_evals(dir: &RunDir, step: u64) -> Result<Vec<GanEval>> {
    let path = dir.join(EVALS);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(vec![]);
    };
    let mut offset = 0u64;
    let mut out = Vec::new();
    for line in text.lines() {
        let e: GanEval = serde_json::from_str(line).map_err(|err| Error::Format {
            path: path.display().to_string(),
            offset,
            msg: err.to_string(),
        })?;
        offset += line.len() as u64 + 1;
        if e.step <= step {
            out.push(e);
        }
    }
    Ok(out)
}

fn save(t: &GanTrainer, dir: &RunDir, pos: &Position) -> Result<()> {
    let mut w = StateWriter::new();
    t.save_state(&mut w)?;
    w.counter("lines", pos.history.len() as u64)
        .counter("train_us", (pos.train_seconds * 1e6) as u64)
        .meta("device", t.device().report().name.clone());
    w.save(&dir.checkpoint())
}

fn restore(t: &mut GanTrainer, dir: &RunDir) -> Result<Position> {
    let state = StateReader::load(&dir.checkpoint())?;
    t.load_state(&state)?;
    let pos = Position {
        history: dir.read_metrics(state.counter("lines")? as usize)?,
        train_seconds: state.counter("train_us")? as f64 / 1e6,
        evals: read_evals(dir, t.step)?,
        evaluator: None,
    };
    state.finish()?;
    Ok(pos)
}

/// G of a GAN checkpoint written by [`train_gan`], with the run's config.
pub fn load_generator(path: &Path) -> Result<(Generator, GanConfig, Vec<String>)> {
    let state = StateReader::load(path)?;
    let cfg = GanConfig::from_toml(state.meta("config")?)?;
    let dev = Device::get()?;
    let channels = state.counter("channels")? as usize;
    let names: Vec<String> = state
        .meta("class_names")?
        .lines()
        .map(String::from)
        .collect();
    let classes = names.len();
    let mut init = crate::Generator::new(cfg.seed, 0);
    let g = Generator::new(&dev, &mut init, &cfg.model(channels, classes))?;
    state.module("g", &g)?;
    Ok((g, cfg, names))
}

/// `labels.len()` images of G, one per label, [N, C, 32, 32] in [-1, 1], with z ~ N(0, I) from
/// `seed`; generated in batches of `batch` (G normalises with batch statistics).
pub fn generate(g: &Generator, labels: &[u32], seed: u64, batch: usize) -> Result<Vec<f32>> {
    let dev = Device::get()?;
    let mut rng = crate::Generator::new(seed, 0);
    let mut out = Vec::new();
    let _guard = crate::autograd::no_grad();
    for chunk in labels.chunks(batch.max(2)) {
        let z = rng.randn(&dev, &[chunk.len(), g.z_dim()])?;
        let y = Tensor::from_u32(&dev, chunk, &[chunk.len()])?;
        out.extend(g.forward(&z, &y)?.to_vec()?);
    }
    Ok(out)
}
