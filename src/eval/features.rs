//! Feature extractors for the GAN metrics: images [N, C, 32, 32] in [−1, 1] (what G makes and
//! what the GAN trainer feeds D) to features [N, D]. Every number computed from them carries the
//! extractor's name, so a FID from a tailgrad classifier is never mistaken for an Inception FID.
//! Two kinds: a tailgrad classifier's pooled features, and pytorch-fid's Inception-v3.

use super::InceptionV3;
use crate::data::DatasetKind;
use crate::nn::{self, Arch, Mode, Module};
use crate::train::{StateReader, TrainConfig};
use crate::{Device, Error, Result, Tensor};
use std::path::Path;

/// Images to features; pluggable in `tailgrad eval gan --features F`.
pub trait Features {
    /// Names the extractor in every output (fid.json, plots, logs).
    fn name(&self) -> &str;
    /// Width D of a feature vector.
    fn dim(&self) -> usize;
    /// Whether it takes images of this many channels.
    fn accepts(&self, channels: usize) -> bool;
    /// Features [N, D] of images [N, C, 32, 32] in [−1, 1], computed without a graph.
    fn extract(&self, images: &Tensor) -> Result<Tensor>;
}

/// The pooled features of a classifier trained by `tailgrad train classifier` (eval-mode batch
/// norm). It must have been trained on the 32×32 canvas (`image_size = 32`) so that real and
/// generated images reach it exactly as in its training, normalised by its dataset's statistics.
pub struct ClassifierFeatures {
    backbone: Box<dyn Module>,
    dim: usize,
    /// Per-channel x ↦ a·x + b taking [−1, 1] pixels to the classifier's normalised input.
    affine: Vec<(f32, f32)>,
    name: String,
}

impl ClassifierFeatures {
    /// Loads the backbone of the classifier checkpoint `path` (the head is not needed).
    pub fn load(path: &Path) -> Result<ClassifierFeatures> {
        let state = StateReader::load(path)?;
        let cfg = TrainConfig::from_toml(state.meta("config")?)?;
        let bad = |why: String| Err(Error::Config(format!("{}: {why}", path.display())));
        if cfg.image_size != 32 {
            return bad(format!(
                "a feature extractor must see the GAN's 32×32 canvas; this classifier was \
                 trained with image_size = {} (train it with --set image_size=32)",
                cfg.image_size
            ));
        }
        let kind: DatasetKind = cfg.dataset.parse()?;
        let arch: Arch = cfg.model.parse()?;
        let (mean, std) = kind.mean_std();
        let dev = Device::get()?;
        let mut init = crate::Generator::new(0, 0);
        let (backbone, dim) = nn::backbone(&dev, &mut init, arch, mean.len())?;
        state.module("model", backbone.as_ref())?;
        let affine = mean
            .iter()
            .zip(std)
            .map(|(m, s)| (0.5 / s, (0.5 - m) / s))
            .collect();
        let rho = cfg.rho.map_or("unset".into(), |r| r.to_string());
        let name = format!(
            "tailgrad classifier {arch} ({dim}-d pooled features), trained on {kind} \
             (rho {rho}, epochs {}, seed {}): {}",
            cfg.epochs,
            cfg.seed,
            path.display()
        );
        Ok(ClassifierFeatures {
            backbone,
            dim,
            affine,
            name,
        })
    }

    /// The classifier's input: [−1, 1] pixels normalised as its training data was.
    fn normalise(&self, x: &Tensor) -> Result<Tensor> {
        if let [(a, b)] = self.affine[..] {
            return x.affine(a, b);
        }
        let c = self.affine.len();
        let dev = x.device();
        let a: Vec<f32> = self.affine.iter().map(|p| p.0).collect();
        let b: Vec<f32> = self.affine.iter().map(|p| p.1).collect();
        let a = Tensor::from_slice(dev, &a, &[1, c, 1, 1])?;
        let b = Tensor::from_slice(dev, &b, &[1, c, 1, 1])?;
        x.mul(&a)?.add(&b)
    }
}

impl Features for ClassifierFeatures {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn accepts(&self, channels: usize) -> bool {
        channels == self.affine.len()
    }

    fn extract(&self, images: &Tensor) -> Result<Tensor> {
        let s = images.shape();
        if s.len() != 4 || s[1] != self.affine.len() || s[2..] != [32, 32] {
            return Err(Error::Shape {
                op: "features",
                lhs: s.to_vec(),
                rhs: vec![0, self.affine.len(), 32, 32],
            });
        }
        let _guard = crate::autograd::no_grad();
        self.backbone.forward(&self.normalise(images)?, Mode::Eval)
    }
}

/// pytorch-fid's FID Inception-v3 (pool3, 2048-d) from a converted weights file
/// ([`InceptionV3::load`]); its FIDs are comparable with published ones up to the protocol.
pub struct InceptionFeatures {
    net: InceptionV3,
    name: String,
}

impl InceptionFeatures {
    pub fn load(path: &Path) -> Result<InceptionFeatures> {
        Ok(InceptionFeatures {
            net: InceptionV3::load(&Device::get()?, path)?,
            name: format!(
                "Inception-v3, pytorch-fid FID weights (pool3, 2048-d): {}",
                path.display()
            ),
        })
    }
}

impl Features for InceptionFeatures {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        InceptionV3::FEATURES
    }

    fn accepts(&self, channels: usize) -> bool {
        channels == 1 || channels == 3
    }

    fn extract(&self, images: &Tensor) -> Result<Tensor> {
        self.net.features(images)
    }
}

/// The extractor in `path`: Inception-v3 weights when the file has pytorch-fid's first
/// convolution, else a tailgrad classifier checkpoint.
pub fn load(path: &Path) -> Result<Box<dyn Features>> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| Error::Format {
        path: path.display().to_string(),
        offset: 0,
        msg: format!("not a safetensors file: {e}"),
    })?;
    if meta.tensors().contains_key(INCEPTION_FIRST) {
        return Ok(Box::new(InceptionFeatures::load(path)?));
    }
    Ok(Box::new(ClassifierFeatures::load(path)?))
}

/// A tensor only Inception weight files have.
const INCEPTION_FIRST: &str = "Conv2d_1a_3x3.conv.weight";
