//! GAN evaluation (gan.md §5, methods.md §2.10): FID and KID of `n` generated images with
//! uniform labels against the balanced test set, and intra-FID: per class, its mean, and its
//! means over the many/medium/few splits of the training counts (and gSR's coarse grouping).
//! G runs in batch-statistics mode, as in training; every number names its feature extractor.

use super::config::Resolved;
use super::GanConfig;
use crate::data::gpu::{Augment, GpuDataset};
use crate::data::long_tail::{Split, SplitThresholds};
use crate::data::shuffle::SplitMix64;
use crate::eval::{fid, kid, FeatureStats, Features};
use crate::nn::sngan::Generator;
use crate::report::plots::{class_bars, line_chart, Series};
use crate::{data, Device, Error, Result, Tensor};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How a GAN is evaluated (the `[eval]` table of a GAN config; `tailgrad eval gan` flags).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// The feature extractor: a classifier checkpoint of `tailgrad train classifier`.
    pub features: PathBuf,
    /// Generated images, labels uniform over the classes (gSR: 10k during training).
    pub n: usize,
    /// During training: evaluate every this many G steps (0: only at the end).
    pub every: u64,
    /// Images per G forward (G normalises with batch statistics); 0: the run's batch.
    pub batch: usize,
    /// KID: random subsets drawn, and their size (fewer when fewer images exist).
    pub kid_subsets: usize,
    pub kid_subset_size: usize,
    /// Seed of z, the label order and the KID subsets.
    pub seed: u64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            features: PathBuf::new(),
            n: 10_000,
            every: 0,
            batch: 0,
            kid_subsets: 100,
            kid_subset_size: 1000,
            seed: 0,
        }
    }
}

/// KID over random subsets: mean ± std of the unbiased MMD² (it can be negative).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KidScore {
    pub mean: f64,
    pub std: f64,
    pub subsets: usize,
    pub subset_size: usize,
}

/// One class's intra-FID.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassFid {
    pub name: String,
    pub train_count: usize,
    pub split: String,
    pub coarse_split: String,
    pub n_real: usize,
    pub n_generated: usize,
    pub fid: f64,
}

/// Mean intra-FID of the classes in each split (`None`: no class in it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SplitFid {
    pub many: Option<f64>,
    pub medium: Option<f64>,
    pub few: Option<f64>,
}

/// What `fid.json` holds: one evaluation of one G.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GanEval {
    /// The feature extractor; these are not Inception FIDs unless it says Inception.
    pub extractor: String,
    pub feature_dim: usize,
    /// What was compared with what.
    pub protocol: String,
    /// G step of the evaluated generator.
    pub step: u64,
    pub n_generated: usize,
    pub n_real: usize,
    pub fid: f64,
    pub kid: KidScore,
    /// Mean over classes of the per-class FID.
    pub intra_fid: f64,
    /// Means over the run's splits (many > many_above, few < few_below training images).
    pub splits: SplitFid,
    /// Means over gSR's coarse grouping: many > 100, medium 41–100, few ≤ 40.
    pub coarse_splits: SplitFid,
    pub classes: Vec<ClassFid>,
    pub seconds: f64,
}

/// gSR's coarse grouping (methods.md §2.10): few ≤ 40, mid 41–100, many > 100.
const COARSE: SplitThresholds = SplitThresholds { many: 100, few: 41 };

/// Features of one image set, split by class.
struct FeatureSet {
    rows: Vec<f32>,
    labels: Vec<u32>,
}

impl FeatureSet {
    fn class(&self, k: u32, dim: usize) -> Vec<f32> {
        let rows = self.rows.chunks_exact(dim).zip(&self.labels);
        rows.filter(|(_, &l)| l == k)
            .flat_map(|(r, _)| r.iter().copied())
            .collect()
    }
}

/// Evaluates generators of one run: the extractor and the real features are computed once.
pub struct Evaluator {
    cfg: EvalConfig,
    batch: usize,
    ext: Box<dyn Features>,
    real: FeatureSet,
    /// Per class (then all classes): the real statistics.
    real_stats: Vec<FeatureStats>,
    names: Vec<String>,
    counts: Vec<usize>,
    splits: SplitThresholds,
    dataset: String,
}

impl Evaluator {
    /// Loads the extractor and computes the real test set's features for the run `run`.
    pub fn new(run: &GanConfig, cfg: &EvalConfig, counts: &[usize]) -> Result<Evaluator> {
        let r: Resolved = run.resolve()?;
        if cfg.n < 2 * counts.len() || cfg.kid_subsets == 0 || cfg.kid_subset_size < 2 {
            return Err(Error::Config(format!(
                "eval: n must give every one of the {} classes 2 images (got n = {}), and KID \
                 needs at least 1 subset of at least 2",
                counts.len(),
                cfg.n
            )));
        }
        let ext = crate::eval::load(&cfg.features)?;
        let test = data::load(r.dataset, run.data_dir.as_deref(), false)?;
        if !ext.accepts(test.channels) {
            return Err(Error::Config(format!(
                "{} ({}) does not take the {} channels of {}",
                cfg.features.display(),
                ext.name(),
                test.channels,
                run.dataset
            )));
        }
        let batch = if cfg.batch == 0 { run.batch } else { cfg.batch };
        let real = real_features(ext.as_ref(), &test, batch.max(100))?;
        let real_stats = class_stats(&real, ext.dim(), counts.len())?;
        Ok(Evaluator {
            cfg: cfg.clone(),
            batch,
            ext,
            real,
            real_stats,
            names: test.class_names.clone(),
            counts: counts.to_vec(),
            splits: r.splits,
            dataset: run.dataset.clone(),
        })
    }

    pub fn config(&self) -> &EvalConfig {
        &self.cfg
    }

    /// FID, KID and intra-FID of `g` (at G step `step`).
    pub fn evaluate(&self, g: &Generator, step: u64) -> Result<GanEval> {
        let start = Instant::now();
        let (dim, k) = (self.ext.dim(), self.counts.len());
        let fake = self.generated_features(g)?;
        let fake_stats = class_stats(&fake, dim, k)?;
        let dev = Device::get()?;
        let c = &self.cfg;
        let kid = kid(
            &dev,
            &self.real.rows,
            &fake.rows,
            dim,
            c.kid_subsets,
            c.kid_subset_size,
            c.seed,
        )?;
        let classes = (0..k)
            .map(|j| self.class_fid(j, &self.real_stats[j], &fake_stats[j]))
            .collect::<Result<Vec<_>>>()?;
        let intra = classes.iter().map(|c| c.fid).sum::<f64>() / k as f64;
        Ok(GanEval {
            extractor: self.ext.name().to_string(),
            feature_dim: dim,
            protocol: format!(
                "{} generated images (uniform labels, G in batch-statistics mode, batches of {}) \
                 against the {} real images of the {} test set",
                fake.labels.len(),
                self.batch,
                self.real.labels.len(),
                self.dataset
            ),
            step,
            n_generated: fake.labels.len(),
            n_real: self.real.labels.len(),
            fid: fid(&self.real_stats[k], &fake_stats[k])?,
            kid: KidScore {
                mean: kid.mean,
                std: kid.std,
                subsets: kid.subsets,
                subset_size: kid.subset_size,
            },
            intra_fid: intra,
            splits: split_means(&classes, |c| &c.split),
            coarse_splits: split_means(&classes, |c| &c.coarse_split),
            classes,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    fn class_fid(&self, j: usize, real: &FeatureStats, fake: &FeatureStats) -> Result<ClassFid> {
        let n = self.counts[j];
        Ok(ClassFid {
            name: self.names[j].clone(),
            train_count: n,
            split: self.splits.split_of(n).name().to_string(),
            coarse_split: COARSE.split_of(n).name().to_string(),
            n_real: real.n(),
            n_generated: fake.n(),
            fid: fid(real, fake)?,
        })
    }

    /// `n` images of G with labels j mod K in a seeded order (every class n/K times, the batches
    /// mixed as in training), through the extractor.
    fn generated_features(&self, g: &Generator) -> Result<FeatureSet> {
        let dev = Device::get()?;
        let k = self.counts.len() as u32;
        let mut labels: Vec<u32> = (0..self.cfg.n as u32).map(|j| j % k).collect();
        SplitMix64::keyed(self.cfg.seed, 1).shuffle(&mut labels);
        let mut rng = crate::Generator::new(self.cfg.seed, 2);
        let _guard = crate::autograd::no_grad();
        let mut rows = Vec::with_capacity(labels.len() * self.ext.dim());
        for chunk in labels.chunks(self.batch) {
            // A lone last image would be normalised by its own statistics: pad the chunk.
            let mut y = chunk.to_vec();
            if y.len() == 1 {
                y.push(0);
            }
            let z = rng.randn(&dev, &[y.len(), g.z_dim()])?;
            let images = g.forward(&z, &Tensor::from_u32(&dev, &y, &[y.len()])?)?;
            let f = self.ext.extract(&images)?.to_vec()?;
            rows.extend_from_slice(&f[..chunk.len() * self.ext.dim()]);
        }
        Ok(FeatureSet { rows, labels })
    }
}

/// Features of every image of `test`, in [−1, 1] exactly as the GAN trainer feeds D.
fn real_features(ext: &dyn Features, test: &data::Dataset, batch: usize) -> Result<FeatureSet> {
    let dev = Device::get()?;
    let gpu = GpuDataset::new(&dev, test)?;
    let half = vec![0.5; test.channels];
    let aug = Augment::eval(32, &half, &half);
    let idx: Vec<u32> = (0..test.len() as u32).collect();
    let mut rows = Vec::with_capacity(test.len() * ext.dim());
    for chunk in idx.chunks(batch) {
        let (x, _) = gpu.batch(chunk, &aug, 0, 0)?;
        rows.extend(ext.extract(&x)?.to_vec()?);
    }
    Ok(FeatureSet {
        rows,
        labels: test.labels.clone(),
    })
}

/// Statistics of each of the `k` classes, then of the whole set.
fn class_stats(set: &FeatureSet, dim: usize, k: usize) -> Result<Vec<FeatureStats>> {
    let dev = Device::get()?;
    let mut stats = (0..k as u32)
        .map(|j| FeatureStats::of(&dev, &set.class(j, dim), dim))
        .collect::<Result<Vec<_>>>()?;
    stats.push(FeatureStats::of(&dev, &set.rows, dim)?);
    Ok(stats)
}

fn split_means(classes: &[ClassFid], split: impl Fn(&ClassFid) -> &String) -> SplitFid {
    let mean = |s: Split| {
        let v: Vec<f64> = classes
            .iter()
            .filter(|c| split(c) == s.name())
            .map(|c| c.fid)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    SplitFid {
        many: mean(Split::Many),
        medium: mean(Split::Medium),
        few: mean(Split::Few),
    }
}

impl GanEval {
    /// `fid.json` and the per-class intra-FID bar plot `fid_classes.png` in `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join("fid.json");
        let text = serde_json::to_string_pretty(self).expect("evaluations serialise");
        std::fs::write(&path, text).map_err(Error::io(&path))?;
        let names: Vec<String> = self
            .classes
            .iter()
            .map(|c| format!("{} {}", c.name, c.train_count))
            .collect();
        let fids: Vec<f64> = self.classes.iter().map(|c| c.fid).collect();
        let group = |c: &ClassFid| Split::ALL.iter().position(|s| s.name() == c.split);
        let groups: Vec<usize> = self.classes.iter().map(|c| group(c).unwrap_or(0)).collect();
        let title = format!(
            "intra-FID per class at step {} (lower is better)",
            self.step
        );
        let splits: Vec<&str> = Split::ALL.iter().map(|s| s.name()).collect();
        class_bars(
            &dir.join("fid_classes.png"),
            &title,
            &names,
            &fids,
            &groups,
            &splits,
        )
    }
}

/// FID, mean intra-FID and 100·KID over G steps (`fid.png`).
pub fn plot_over_steps(path: &Path, evals: &[GanEval]) -> Result<()> {
    let over = |f: &dyn Fn(&GanEval) -> f64| -> Vec<(f64, f64)> {
        evals.iter().map(|e| (e.step as f64, f(e))).collect()
    };
    let (fid, intra, kid) = (
        over(&|e| e.fid),
        over(&|e| e.intra_fid),
        over(&|e| 100.0 * e.kid.mean),
    );
    let series = [
        Series {
            label: "FID",
            points: &fid,
        },
        Series {
            label: "intra-FID (mean over classes)",
            points: &intra,
        },
        Series {
            label: "100 x KID",
            points: &kid,
        },
    ];
    let title = match evals.first() {
        Some(e) => format!("GAN metrics ({}-d features)", e.feature_dim),
        None => "GAN metrics".to_string(),
    };
    line_chart(path, &title, "G step", "distance", &series)
}
