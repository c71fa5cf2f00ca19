//! Everything a classifier run is built from its config: the data on the GPU, the model, the
//! optimizer, the loss and the sampler; the loss of a batch and the evaluation on the test set.

use super::super::config::Resolved;
use super::super::loss::Loss;
use super::super::{mixup, Evaluation, TrainConfig};
use super::summary::Summary;
use crate::data::extrapolation::{self, MaskKind, NeighbourMap};
use crate::data::gpu::{Augment, GpuDataset};
use crate::data::long_tail::{self, Split};
use crate::data::sampler::Sampling;
use crate::data::{self, Dataset, DatasetKind};
use crate::nn::{self, Classifier, Mode, Module};
use crate::optim::Optimizer;
use crate::train::StateReader;
use crate::{read_all, Device, Error, Result, Tensor};

/// Everything a run needs, built from the config.
pub(super) struct Setup {
    pub cfg: TrainConfig,
    pub dev: Device,
    pub train: Dataset,
    pub test: Dataset,
    gpu_train: GpuDataset,
    gpu_test: GpuDataset,
    pub model: Classifier,
    pub opt: Box<dyn Optimizer>,
    /// The many/medium/few split of each target class.
    pub splits: Vec<Split>,
    aug: Augment,
    eval_aug: Augment,
    pub sampling: Sampling,
    pub loss: Loss,
    mixup: bool,
    /// Prediction is an argmax over the first `targets` classes (auxiliary classes are masked).
    targets: usize,
}

/// The training and test sets of a run, the silencing mask of an extrapolation run and the
/// number of target classes (all classes, without auxiliary ones).
pub(super) struct RunData {
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
        let train = if r.rho > 1.0 {
            long_tail::long_tailed(&base, r.rho, r.profile, cfg.seed)?
        } else {
            base
        };
        let counts = train.class_counts();
        if r.dataset == DatasetKind::Bundled && counts.contains(&0) {
            return Err(Error::Config(format!(
                "rho = {} cuts the bundled set, long-tailed already, to {counts:?} images per \
                 class: leave rho unset to use it as it is",
                r.rho
            )));
        }
        return Ok(RunData::plain(train, test));
    };
    let map = NeighbourMap::from_file(&x.neighbours)?;
    if !x.auxiliary {
        let (train, test) =
            extrapolation::targets_only(&base, &test, &map, r.rho, r.profile, cfg.seed)?;
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
        r.rho,
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
    pub fn new(cfg: &TrainConfig, load_from: bool) -> Result<Setup> {
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
            StateReader::load(from)?.module("model", &model)?;
        }
        // Stage 2 trains the classifier only.
        let params = if frozen {
            nn::parameters(&model.head)
        } else {
            nn::parameters(&model)
        };
        let opt = cfg.optim.build("optim", params)?;
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
    pub fn train_logits(&self, x: &Tensor) -> Result<Tensor> {
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
    pub fn batch_loss(&mut self, idx: &[u32], epoch: usize, step: u64) -> Result<Tensor> {
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

    pub fn print_header(&self, done: usize) {
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

    /// Accuracy on the whole test set: eval mode, no graph, one readback at the end.
    pub fn evaluate(&self) -> Result<Evaluation> {
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

    pub fn summary_of(&self, eval: Evaluation, epochs: usize, ips: f64, wall: f64) -> Summary {
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
}
