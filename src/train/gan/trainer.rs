//! One GAN run's state and its steps (methods.md §2.7): `n_dis` D steps, each on a fresh real
//! batch from the plainly shuffled long-tailed set and a fresh fake batch with balanced labels,
//! then one G step through the frozen D. Every random draw is a pure function of
//! (seed, step, slot), so a resumed run draws exactly what the uninterrupted one did; nothing
//! is read back inside a step and each optimizer step is one submit.

use super::config::{GanConfig, Resolved, MAX_N_DIS};
use crate::autograd::no_grad;
use crate::data::gpu::{Augment, GpuDataset};
use crate::data::long_tail::{self, Split};
use crate::data::sampler::Sampling;
use crate::data::shuffle::SplitMix64;
use crate::data::{self, DatasetKind};
use crate::gan::{DiffAugment, Gsr, GsrConfig, LeCam, MixFormalism, Mixer};
use crate::nn::sngan::{Discriminator, Generator};
use crate::nn::{self, Mode};
use crate::optim::Optimizer;
use crate::train::{StateReader, StateWriter};
use crate::{DType, Device, Error, Result, Tensor};

/// Stream tags that keep the run's random consumers apart.
const Z_TAG: u64 = 0x7a5f_6c61_7465_6e74;
const Y_TAG: u64 = 0x795f_6661_6b65_0000;
/// The slot of the G step's draws (D step j uses slot j < `MAX_N_DIS`).
const G_SLOT: u32 = MAX_N_DIS as u32 + 1;
/// Slots of the z of D step j's fakes when it mixes (its balanced fakes and the fakes paired
/// with the real batch, in one draw).
const PAIR_SLOT: u32 = 1 << 16;
/// The slot of the sample grid's fixed z.
const GRID_SLOT: u32 = MAX_N_DIS as u32;

/// Per-iteration metrics summed on the GPU between log lines: D loss, D(real), D(fake) and the
/// LeCam term (means over the n_dis D steps), G loss and the gSR term.
pub(super) const METRICS: [&str; 6] = ["d_loss", "d_real", "d_fake", "lecam", "g_loss", "gsr"];

/// D's input of one D step: blocks of `b` images (block 0 real; the others where given) with
/// their labels, and the mixed batch's realness targets.
struct DBatch {
    b: usize,
    blocks: Vec<Tensor>,
    labels: Vec<u32>,
    fake: Option<usize>,
    paired: Option<usize>,
    mixed: Option<usize>,
    t: Option<Tensor>,
}

impl DBatch {
    fn new(x_real: Tensor, y_real: &[u32]) -> DBatch {
        DBatch {
            b: y_real.len(),
            blocks: vec![x_real],
            labels: y_real.to_vec(),
            fake: None,
            paired: None,
            mixed: None,
            t: None,
        }
    }

    /// Appends a block; returns its index.
    fn push(&mut self, x: Tensor, y: &[u32]) -> Option<usize> {
        self.blocks.push(x);
        self.labels.extend_from_slice(y);
        Some(self.blocks.len() - 1)
    }

    /// All blocks as one `[blocks·b, C, H, W]` batch.
    fn images(&self) -> Result<Tensor> {
        let refs: Vec<&Tensor> = self.blocks.iter().collect();
        Tensor::concat(&refs, 0)
    }
}

/// What a log step reads back.
pub(super) struct Drained {
    /// [`METRICS`] averaged over the G steps since the last log.
    pub means: Vec<f64>,
    /// `[layer][γ, β][class]`.
    pub sigma: Vec<Vec<Vec<f32>>>,
    /// LeCam's (real, fake) EMAs (means over the batch for the gsr-repo variant).
    pub lecam_ema: Option<(f64, f64)>,
}

/// Everything a GAN run is made of, built from its config.
pub struct GanTrainer {
    pub cfg: GanConfig,
    dev: Device,
    data: GpuDataset,
    labels: Vec<u32>,
    pub class_names: Vec<String>,
    /// Real images per class.
    pub counts: Vec<usize>,
    pub splits: Vec<Split>,
    aug: Augment,
    pub g: Generator,
    pub d: Discriminator,
    opt_g: Box<dyn Optimizer>,
    opt_d: Box<dyn Optimizer>,
    lecam: Option<LeCam>,
    gsr: Option<Gsr>,
    diffaug: Option<DiffAugment>,
    mixer: Option<Mixer>,
    /// σ of every CBN table for the logs when gSR is off (outside the graph).
    monitor: Option<Gsr>,
    /// The shuffled order of the real set's current pass: (1-indexed pass, indices).
    order: (u64, Vec<u32>),
    zero: Tensor,
    ones: Option<Tensor>,
    /// G steps done.
    pub step: u64,
    /// D steps done (they key the real batches).
    pub d_steps: u64,
    /// Metric sums since the last log line, and how many G steps they cover.
    sums: Option<Tensor>,
    pub(super) since_log: u64,
}

impl GanTrainer {
    pub fn new(cfg: &GanConfig) -> Result<GanTrainer> {
        let r: Resolved = cfg.resolve()?;
        let dev = Device::get()?;
        let real = real_set(cfg, &r)?;
        let counts = real.class_counts();
        if real.len() < cfg.batch {
            return Err(Error::Config(format!(
                "the long-tailed set has {} images, fewer than one batch of {}",
                real.len(),
                cfg.batch
            )));
        }
        let channels = real.channels;
        let size = 32;
        if real.height.max(real.width) > size {
            return Err(Error::Config(format!(
                "SNGAN-32 needs images of at most 32×32, {} has {}×{}",
                cfg.dataset, real.height, real.width
            )));
        }
        let half = vec![0.5; channels];
        let aug = Augment {
            size,
            pad: 0,
            flip: cfg.flip,
            mean: half.clone(),
            std: half,
        };
        let model = cfg.model(channels, real.classes);
        let mut init = crate::Generator::new(cfg.seed, 0);
        let g = Generator::new(&dev, &mut init, &model)?;
        let d = Discriminator::new(&dev, &mut init, &model)?;
        let opt_g = cfg.optim_g.build("optim_g", nn::parameters(&g))?;
        let opt_d = cfg.optim_d.build("optim_d", nn::parameters(&d))?;
        let lecam = match &cfg.lecam {
            Some(c) => Some(LeCam::new(&dev, c.clone(), cfg.batch)?),
            None => None,
        };
        let diffaug = cfg.diffaug.clone().map(DiffAugment::new).transpose()?;
        let mixer = cfg.mixing.clone().map(Mixer::new).transpose()?;
        let layers = g.cbn_layers();
        let gsr = match &cfg.gsr {
            Some(c) => Some(Gsr::new(&dev, &layers, &counts, c.clone(), cfg.seed)?),
            None => None,
        };
        let monitor = match gsr {
            Some(_) => None,
            None => Some(Gsr::new(
                &dev,
                &layers,
                &counts,
                GsrConfig::default(),
                cfg.seed,
            )?),
        };
        Ok(GanTrainer {
            splits: counts.iter().map(|&n| r.splits.split_of(n)).collect(),
            class_names: real.class_names.clone(),
            data: GpuDataset::new(&dev, &real)?,
            labels: real.labels,
            counts,
            aug,
            g,
            d,
            opt_g,
            opt_d,
            lecam,
            gsr,
            diffaug,
            mixer,
            monitor,
            order: (0, Vec::new()),
            zero: Tensor::zeros(&dev, &[1])?,
            ones: None,
            dev,
            cfg: cfg.clone(),
            step: 0,
            d_steps: 0,
            sums: None,
            since_log: 0,
        })
    }

    pub fn device(&self) -> &Device {
        &self.dev
    }

    pub fn classes(&self) -> usize {
        self.counts.len()
    }

    /// One iteration: `n_dis` D steps, then a G step.
    pub fn iteration(&mut self) -> Result<()> {
        for j in 0..self.cfg.n_dis {
            self.d_step(j as u32)?;
        }
        self.g_step()
    }

    /// D step `j` of the current iteration: hinge (or BCE) on a real and a fake batch, LeCam,
    /// and the mixed batch's term when mixing is on. Everything D sees goes through it as one
    /// batch (one spectral-norm power iteration per D step; StudioGAN calls D twice, so it runs
    /// two).
    pub fn d_step(&mut self, j: u32) -> Result<()> {
        let batch = self.d_batch(j)?;
        let x = self.augment(batch.images()?, j)?;
        let out = self
            .d
            .forward(&x, &self.upload_labels(&batch.labels)?, Mode::Train)?;
        let part = |k: Option<usize>| {
            k.map(|k| out.slice(0, k * batch.b, (k + 1) * batch.b))
                .transpose()
        };
        let (dr, df, dp, dm) = (
            part(Some(0))?.unwrap(),
            part(batch.fake)?,
            part(batch.paired)?,
            part(batch.mixed)?,
        );
        let mut loss = match &df {
            Some(df) => self.cfg.loss.d_loss(&dr, df)?,
            // `replace_fake`: the mixed batch stands in for the fake half.
            None => self.cfg.loss.d_loss_mixed(&dr, &self.ones(batch.b)?)?,
        };
        if let (Some(m), Some(dm), Some(t)) = (&self.mixer, &dm, &batch.t) {
            loss = loss.add(&m.loss(self.cfg.loss, dm, t, Some(&dr), dp.as_ref())?)?;
        }
        let d_fake = df.or(dm).unwrap_or_else(|| dr.clone());
        let lecam = match &mut self.lecam {
            Some(l) => l.regularize(&dr, &d_fake, self.step)?,
            None => None,
        };
        if let Some(r) = &lecam {
            loss = loss.add(r)?;
        }
        loss.backward()?;
        self.opt_d.step()?;
        self.opt_d.zero_grad();
        let row = [
            loss.reshape(&[1])?,
            dr.mean_all()?.reshape(&[1])?,
            d_fake.mean_all()?.reshape(&[1])?,
            lecam.map_or(Ok(self.zero.clone()), |r| r.reshape(&[1]))?,
            self.zero.clone(),
            self.zero.clone(),
        ];
        self.accumulate(&row, 1.0 / self.cfg.n_dis as f32)?;
        self.d_steps += 1;
        self.dev.end_step()
    }

    /// What D sees in D step `j`, in blocks of B: the real batch; the fakes with balanced
    /// labels (unless mixing replaces them); and, when this step mixes, the fakes paired with
    /// the real batch (drawn with its labels, so pair i shares one class) if the consistency
    /// formalism needs D on them, and the mixed batch. One G forward makes every fake.
    fn d_batch(&mut self, j: u32) -> Result<DBatch> {
        let b = self.cfg.batch;
        let (xr, yr) = self.real_batch()?;
        let draws =
            (self.mixer.as_ref()).and_then(|m| m.draws(b, self.cfg.seed, self.step, j as u64));
        let mixer = self.mixer.as_ref().filter(|_| draws.is_some());
        let replace = mixer.is_some_and(|m| m.config().replace_fake);
        // G's labels: the balanced ones unless replaced, then the real batch's when mixing.
        let mut g_labels = match replace {
            true => vec![],
            false => self.fake_labels(self.step, j, b),
        };
        let z_slot = match mixer.is_some() && !replace {
            true => PAIR_SLOT + j,
            false => j,
        };
        if mixer.is_some() {
            g_labels.extend_from_slice(&yr);
        }
        let n = g_labels.len();
        let z = keyed_normal(
            &self.dev,
            self.cfg.seed,
            self.step,
            z_slot,
            &[n, self.cfg.z_dim],
        )?;
        let fakes = {
            let _guard = no_grad();
            self.g.forward(&z, &self.upload_labels(&g_labels)?)?
        };
        let mut batch = DBatch::new(xr, &yr);
        if !replace {
            batch.fake = batch.push(fakes.slice(0, 0, b)?, &g_labels[..b]);
        }
        if let (Some(m), Some(draws)) = (mixer, draws) {
            let paired = fakes.slice(0, n - b, n)?;
            if m.config().formalism == MixFormalism::Consistency {
                batch.paired = batch.push(paired.clone(), &yr);
            }
            let mixed = m.mix_with(&batch.blocks[0], &paired, &draws)?;
            batch.mixed = batch.push(mixed.x, &yr);
            batch.t = Some(mixed.t);
        }
        Ok(batch)
    }

    /// The G step: G's loss through D with D's parameters frozen (D's gradients stay as they
    /// are), plus gSR.
    pub fn g_step(&mut self) -> Result<()> {
        nn::freeze(&self.d)?;
        let loss = self.g_loss();
        nn::unfreeze(&self.d)?;
        let (loss, gsr) = loss?;
        self.opt_g.step()?;
        self.opt_g.zero_grad();
        let row = [
            self.zero.clone(),
            self.zero.clone(),
            self.zero.clone(),
            self.zero.clone(),
            loss.reshape(&[1])?,
            gsr.map_or(Ok(self.zero.clone()), |r| r.reshape(&[1]))?,
        ];
        self.accumulate(&row, 1.0)?;
        self.step += 1;
        self.since_log += 1;
        self.dev.end_step()
    }

    /// G's loss (with its backward done) and the gSR term.
    fn g_loss(&mut self) -> Result<(Tensor, Option<Tensor>)> {
        let (z, yf) = self.latents(self.step, G_SLOT, self.cfg.batch)?;
        let yf = self.upload_labels(&yf)?;
        let xf = self.augment(self.g.forward(&z, &yf)?, G_SLOT)?;
        let mut loss = self
            .cfg
            .loss
            .g_loss(&self.d.forward(&xf, &yf, Mode::Train)?)?;
        let gsr = match &mut self.gsr {
            Some(gsr) => Some(gsr.regularize(&self.g.cbn_layers())?),
            None => None,
        };
        if let Some(r) = &gsr {
            loss = loss.add(r)?;
        }
        loss.backward()?;
        Ok((loss, gsr))
    }

    /// Realness targets of 1 for `n` samples (cached: every D step that replaces the fakes uses
    /// the same).
    fn ones(&mut self, n: usize) -> Result<Tensor> {
        if self.ones.as_ref().is_none_or(|t| t.numel() != n) {
            self.ones = Some(Tensor::ones(&self.dev, &[n])?);
        }
        Ok(self.ones.clone().unwrap())
    }

    /// DiffAugment with the draws of (seed, step, slot), when on.
    fn augment(&self, x: Tensor, slot: u32) -> Result<Tensor> {
        match &self.diffaug {
            Some(a) => a.apply(&x, self.cfg.seed, self.step, slot),
            None => Ok(x),
        }
    }

    fn accumulate(&mut self, row: &[Tensor], scale: f32) -> Result<()> {
        let parts: Vec<&Tensor> = row.iter().collect();
        let row = Tensor::concat(&parts, 0)?.detach().scale(scale)?;
        self.sums = Some(match self.sums.take() {
            Some(s) => s.add(&row)?,
            None => row,
        });
        Ok(())
    }

    /// The metric means since the last call, σ `[L][2][K]` of every CBN table (gSR's last
    /// values, or the monitor's power iteration when gSR is off) and LeCam's EMAs: one readback.
    pub(super) fn drain_metrics(&mut self) -> Result<Drained> {
        if let Some(m) = &mut self.monitor {
            let _guard = no_grad();
            m.regularize(&self.g.cbn_layers())?;
        }
        let gsr = self.gsr.as_ref().or(self.monitor.as_ref());
        let sigma = gsr
            .and_then(Gsr::sigmas)
            .expect("σ exists after a regularize call");
        let zeros = Tensor::zeros(&self.dev, &[METRICS.len()])?;
        let sums = self.sums.take().unwrap_or(zeros);
        let mut read = vec![&sums, sigma];
        if let Some(l) = &self.lecam {
            read.extend([l.ema_real(), l.ema_fake()]);
        }
        let v = crate::read_all(&read)?;
        let n = self.since_log.max(1) as f64;
        let k = self.classes();
        let mean = |x: &[f32]| x.iter().map(|&a| a as f64).sum::<f64>() / x.len() as f64;
        self.since_log = 0;
        Ok(Drained {
            means: v[0].iter().map(|&a| a as f64 / n).collect(),
            sigma: v[1]
                .chunks(2 * k)
                .map(|l| l.chunks(k).map(<[f32]>::to_vec).collect())
                .collect(),
            lecam_ema: (v.len() == 4).then(|| (mean(&v[2]), mean(&v[3]))),
        })
    }

    /// The real batch of D step `d_steps`: pass e = d_steps / (N / B) + 1 of the set shuffled
    /// with (seed, e), the incomplete last batch of a pass dropped; flipped as configured and
    /// scaled to [-1, 1] on a 32×32 canvas.
    fn real_batch(&mut self) -> Result<(Tensor, Vec<u32>)> {
        let b = self.cfg.batch;
        let per_pass = (self.labels.len() / b) as u64;
        let pass = self.d_steps / per_pass + 1;
        if self.order.0 != pass {
            let order = Sampling::InstanceBalanced.epoch_order(
                &self.labels,
                self.classes(),
                self.cfg.seed,
                pass,
            )?;
            self.order = (pass, order);
        }
        let i = (self.d_steps % per_pass) as usize * b;
        let idx = &self.order.1[i..i + b];
        let y = idx.iter().map(|&k| self.labels[k as usize]).collect();
        let (x, _) = self
            .data
            .batch(idx, &self.aug, self.cfg.seed, self.d_steps)?;
        Ok((x, y))
    }

    /// z ~ N(0, I) [n, z_dim] on the GPU and uniform labels on the CPU, both keyed by
    /// (seed, step, slot).
    fn latents(&self, step: u64, slot: u32, n: usize) -> Result<(Tensor, Vec<u32>)> {
        let z = keyed_normal(&self.dev, self.cfg.seed, step, slot, &[n, self.cfg.z_dim])?;
        Ok((z, self.fake_labels(step, slot, n)))
    }

    /// `n` labels uniform over the classes, keyed by (seed, step, slot).
    fn fake_labels(&self, step: u64, slot: u32, n: usize) -> Vec<u32> {
        let mut rng = SplitMix64::keyed(self.cfg.seed ^ Y_TAG, step << 20 | slot as u64);
        let k = self.classes() as u64;
        (0..n).map(|_| rng.below(k) as u32).collect()
    }

    fn upload_labels(&self, y: &[u32]) -> Result<Tensor> {
        Tensor::from_u32(&self.dev, y, &[y.len()])
    }

    /// The sample grid: `grid_columns` fixed z (the same all run), each drawn for every class,
    /// as [K·cols, C, 32, 32] with class-major rows.
    pub fn grid_samples(&self) -> Result<Tensor> {
        let (k, cols) = (self.classes(), self.cfg.grid_columns);
        let z = keyed_normal(
            &self.dev,
            self.cfg.seed,
            0,
            GRID_SLOT,
            &[cols, self.cfg.z_dim],
        )?;
        let idx: Vec<u32> = (0..k * cols).map(|i| (i % cols) as u32).collect();
        let z = z.index_select(0, &Tensor::from_u32(&self.dev, &idx, &[k * cols])?)?;
        let y: Vec<u32> = (0..k * cols).map(|i| (i / cols) as u32).collect();
        let _guard = no_grad();
        self.g.forward(&z, &self.upload_labels(&y)?)
    }

    /// Writes the run state into `w`.
    pub(super) fn save_state(&self, w: &mut StateWriter) -> Result<()> {
        w.module("g", &self.g)
            .module("d", &self.d)
            .optimizer("optim_g", self.opt_g.as_ref())?
            .optimizer("optim_d", self.opt_d.as_ref())?
            .counter("step", self.step)
            .counter("d_steps", self.d_steps)
            .counter("since_log", self.since_log)
            .counter("channels", self.data.shape()[1] as u64)
            .meta("class_names", self.class_names.join("\n"))
            .meta("config", self.cfg.to_toml());
        for (name, t) in self.regularizer_tensors() {
            w.tensor(&name, t);
        }
        if let Some(s) = &self.sums {
            w.tensor("metric_sums", s);
        }
        Ok(())
    }

    fn regularizer_tensors(&self) -> Vec<(String, &Tensor)> {
        let mut out: Vec<(String, &Tensor)> = vec![];
        if let Some(l) = &self.lecam {
            out.extend(l.tensors().map(|(n, t)| (n.to_string(), t)));
        }
        if let Some(g) = &self.gsr {
            out.extend(g.tensors().map(|(n, t)| (n.to_string(), t)));
        }
        if let Some(m) = &self.monitor {
            out.extend(m.tensors().map(|(n, t)| (format!("monitor.{n}"), t)));
        }
        out
    }

    /// Restores the run state saved by [`GanTrainer::save_state`].
    pub(super) fn load_state(&mut self, state: &StateReader) -> Result<()> {
        state.module("g", &self.g)?;
        state.module("d", &self.d)?;
        state.optimizer("optim_g", self.opt_g.as_mut())?;
        state.optimizer("optim_d", self.opt_d.as_mut())?;
        self.step = state.counter("step")?;
        self.d_steps = state.counter("d_steps")?;
        self.since_log = state.counter("since_log")?;
        state.counter("channels")?;
        let get = |name: &str, shape: &[usize]| state.tensor(name, DType::F32, shape);
        if let Some(l) = &mut self.lecam {
            l.load(get)?;
        }
        if let Some(g) = &mut self.gsr {
            g.load(get)?;
        }
        if let Some(m) = &mut self.monitor {
            m.load(|name, shape| get(&format!("monitor.{name}"), shape))?;
        }
        self.sums = match self.since_log {
            0 => None,
            _ => Some(get("metric_sums", &[METRICS.len()])?),
        };
        Ok(())
    }
}

/// N(0, 1) draws that are a pure function of (seed, step, slot).
fn keyed_normal(dev: &Device, seed: u64, step: u64, slot: u32, shape: &[usize]) -> Result<Tensor> {
    let blocks = shape.iter().product::<usize>().div_ceil(4) as u64;
    let mut rng = crate::Generator::new(seed ^ Z_TAG, slot);
    rng.set_counter(step * blocks);
    rng.randn(dev, shape)
}

/// The long-tailed real training set of the run.
/// Images per class of the run's (long-tailed) real training set.
pub fn train_counts(cfg: &GanConfig) -> Result<Vec<usize>> {
    Ok(real_set(cfg, &cfg.resolve()?)?.class_counts())
}

fn real_set(cfg: &GanConfig, r: &Resolved) -> Result<data::Dataset> {
    let base = data::load(r.dataset, cfg.data_dir.as_deref(), true)?;
    let set = match r.rho > 1.0 {
        true => long_tail::long_tailed(&base, r.rho, r.profile, cfg.seed)?,
        false => base,
    };
    let counts = set.class_counts();
    if counts.contains(&0) {
        let hint = match r.dataset {
            DatasetKind::Bundled => ": the bundled set is long-tailed already; leave rho unset",
            _ => "",
        };
        return Err(Error::Config(format!(
            "rho = {} leaves a class without images ({counts:?}){hint}",
            r.rho
        )));
    }
    Ok(set)
}
