//! An image classifier: a backbone (ResNet or the small CNN) producing features, then a Linear or
//! cosine (NormedLinear) head. The split lets two-stage methods re-train only the head.

use super::{join, Linear, Mode, Module, NormedLinear, ResNet, SmallCnn, State, Stateful};
use crate::{Device, Error, Generator, Result, Tensor};
use std::fmt;
use std::str::FromStr;

/// Backbone architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// CIFAR ResNet of this depth (6n+2).
    ResNet(usize),
    /// [`SmallCnn`] with base width 16.
    SmallCnn,
}

impl FromStr for Arch {
    type Err = Error;
    fn from_str(s: &str) -> Result<Arch> {
        let bad = || {
            Error::Config(format!(
            "unknown model {s:?}: use small-cnn or resnetN with N = 6n+2 (resnet8, resnet20, resnet32, resnet56)"
        ))
        };
        if s == "small-cnn" {
            return Ok(Arch::SmallCnn);
        }
        let depth: usize = s
            .strip_prefix("resnet")
            .ok_or_else(bad)?
            .parse()
            .map_err(|_| bad())?;
        if depth < 8 || !(depth - 2).is_multiple_of(6) {
            return Err(bad());
        }
        Ok(Arch::ResNet(depth))
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arch::ResNet(d) => write!(f, "resnet{d}"),
            Arch::SmallCnn => write!(f, "small-cnn"),
        }
    }
}

/// Classifier head type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadKind {
    /// Linear with bias: logits.
    Linear,
    /// Cosine classifier: logits in [−1, 1], scaled by the loss.
    Normed,
}

impl FromStr for HeadKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<HeadKind> {
        match s {
            "linear" => Ok(HeadKind::Linear),
            "normed" | "cosine" => Ok(HeadKind::Normed),
            _ => Err(Error::Config(format!(
                "unknown head {s:?}: use linear or normed"
            ))),
        }
    }
}

impl fmt::Display for HeadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeadKind::Linear => "linear",
            HeadKind::Normed => "normed",
        })
    }
}

pub enum Head {
    Linear(Linear),
    Normed(NormedLinear),
}

impl Stateful for Head {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        match self {
            Head::Linear(l) => l.state(prefix, out),
            Head::Normed(l) => l.state(prefix, out),
        }
    }
}

impl Module for Head {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        match self {
            Head::Linear(l) => l.forward(x, mode),
            Head::Normed(l) => l.forward(x, mode),
        }
    }
}

/// A freshly initialised backbone of `arch` and its feature width.
pub fn backbone(
    dev: &Device,
    gen: &mut Generator,
    arch: Arch,
    in_channels: usize,
) -> Result<(Box<dyn Module>, usize)> {
    Ok(match arch {
        Arch::ResNet(depth) => {
            let r = ResNet::new(dev, gen, depth, in_channels)?;
            let d = r.feature_dim();
            (Box::new(r), d)
        }
        Arch::SmallCnn => {
            let c = SmallCnn::new(dev, gen, in_channels, 16)?;
            let d = c.feature_dim();
            (Box::new(c), d)
        }
    })
}

pub struct Classifier {
    pub arch: Arch,
    pub backbone: Box<dyn Module>,
    pub head: Head,
}

impl Classifier {
    /// A freshly initialised classifier; `seed` fixes every initial weight.
    pub fn new(
        dev: &Device,
        seed: u64,
        arch: Arch,
        head: HeadKind,
        in_channels: usize,
        classes: usize,
    ) -> Result<Classifier> {
        let mut gen = Generator::new(seed, 0x1417);
        let (backbone, dim) = backbone(dev, &mut gen, arch, in_channels)?;
        let head = match head {
            HeadKind::Linear => Head::Linear(Linear::new(dev, &mut gen, dim, classes)?),
            HeadKind::Normed => Head::Normed(NormedLinear::new(dev, &mut gen, dim, classes)?),
        };
        Ok(Classifier {
            arch,
            backbone,
            head,
        })
    }

    /// Backbone features [B, F].
    pub fn features(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.backbone.forward(x, mode)
    }
}

impl Stateful for Classifier {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        self.backbone.state(prefix, out);
        self.head.state(&join(prefix, "fc"), out);
    }
}

impl Module for Classifier {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.head.forward(&self.features(x, mode)?, mode)
    }
}
