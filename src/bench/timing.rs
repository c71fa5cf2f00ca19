//! How an entry is timed: one untimed iteration pays the pipeline JIT (30-600 ms per pipeline on
//! lavapipe), a second estimates the steady cost, then each rep records enough iterations to last
//! about `target` (a tiny op timed alone would measure the ~0.5 ms submit-and-wait round trip),
//! waits once at the end, and divides. The result is the median over reps.

use super::Step;
use crate::{Device, Result};
use std::time::{Duration, Instant};

/// The outputs of iterations recorded before one submit are all alive at once; once submitted
/// they return to the pool and the next batch reuses them (the queue runs in order). So a rep
/// submits every batch of this much traffic, without waiting, and syncs once at the end.
const MAX_BYTES_PER_SUBMIT: f64 = 512.0 * 1024.0 * 1024.0;
const MAX_ITERS: u64 = 1000;
/// Fewest reps a time budget may cut a run down to.
const MIN_REPS: usize = 3;

/// An entry ready to run: inputs uploaded, one iteration recordable.
pub struct Prepared {
    dev: Device,
    step: Step,
    per_submit: u64,
}

impl Prepared {
    pub(super) fn new(dev: &Device, step: Step, bytes: f64) -> Prepared {
        let per_submit = (MAX_BYTES_PER_SUBMIT / bytes.max(1.0)).clamp(1.0, MAX_ITERS as f64);
        Prepared {
            dev: dev.clone(),
            step,
            per_submit: per_submit as u64,
        }
    }

    /// Wall time of `iters` iterations, recorded and submitted `per_submit` at a time, then one
    /// `sync`. This is the `iter_custom` body of the criterion harness.
    pub fn time(&mut self, iters: u64) -> Result<Duration> {
        let start = Instant::now();
        for i in 0..iters {
            (self.step)()?;
            if (i + 1) % self.per_submit == 0 {
                self.dev.flush();
            }
        }
        self.dev.sync()?;
        Ok(start.elapsed())
    }
}

/// Repetition policy.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Reps to take (median over them).
    pub reps: usize,
    /// Stop after `MIN_REPS` once an entry has run this long; `None` always takes `reps`.
    pub budget: Option<Duration>,
    /// Aim for reps of about this long by recording several iterations per submit.
    pub target: Duration,
}

impl Opts {
    /// Defaults: 10 reps within 4 s per entry, or 3 reps within 1 s with `quick`. An explicit
    /// `reps` is always honoured in full.
    pub fn new(quick: bool, reps: Option<usize>) -> Opts {
        let (default_reps, budget, target_ms) = if quick { (3, 1, 10) } else { (10, 4, 30) };
        Opts {
            reps: reps.unwrap_or(default_reps).max(1),
            budget: reps.is_none().then(|| Duration::from_secs(budget)),
            target: Duration::from_millis(target_ms),
        }
    }
}

/// Timings of one entry, per iteration.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub median_ms: f64,
    pub min_ms: f64,
    /// The first iteration, including pipeline compilation.
    pub first_ms: f64,
    pub reps: usize,
    /// Iterations recorded per rep.
    pub iters: u64,
    /// Dispatches and submits of one iteration after warm-up (the timer's closing flush
    /// included: one submit for entries that do not end device steps themselves).
    pub dispatches: u64,
    pub submits: u64,
}

/// Times `bench` on `dev` following `opts`.
pub fn measure(bench: &super::Bench, dev: &Device, opts: &Opts) -> Result<Measurement> {
    let mut p = bench.prepare(dev)?;
    let first = p.time(1)?;
    let before = dev.counters();
    let estimate = p.time(1)?.max(Duration::from_micros(1));
    let after = dev.counters();
    let iters = (opts.target.as_secs_f64() / estimate.as_secs_f64()).ceil() as u64;
    let iters = iters.clamp(1, MAX_ITERS);
    let start = Instant::now();
    let mut samples = Vec::with_capacity(opts.reps);
    while samples.len() < opts.reps {
        samples.push(ms(p.time(iters)?) / iters as f64);
        let over = opts.budget.is_some_and(|b| start.elapsed() > b);
        if over && samples.len() >= MIN_REPS {
            break;
        }
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    let median_ms = if samples.len() % 2 == 1 {
        samples[mid]
    } else {
        (samples[mid - 1] + samples[mid]) / 2.0
    };
    Ok(Measurement {
        median_ms,
        min_ms: samples[0],
        first_ms: ms(first),
        reps: samples.len(),
        iters,
        dispatches: after.0 - before.0,
        submits: after.1 - before.1,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
