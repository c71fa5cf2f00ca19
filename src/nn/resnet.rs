//! ResNet for 32×32 inputs (He et al. 2016, CIFAR variant; methods.md §1.3): a 3×3 stem, three
//! stages of `n` BasicBlocks with widths 16/32/64 (stride 2 into stages 2 and 3), parameter-free
//! option-A shortcuts and a global average pool. Depth 6n+2: ResNet-8/20/32/56 for n = 1/3/5/9.
//! The classifier head lives in [`Classifier`](super::Classifier); this is the feature extractor.

use super::{join, BatchNorm2d, Conv2d, Mode, Module, State, Stateful};
use crate::{Device, Error, Generator, Result, Tensor};

/// conv3x3 → BN → ReLU → conv3x3 → BN, plus the shortcut, then ReLU.
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    conv2: Conv2d,
    bn2: BatchNorm2d,
    stride: usize,
    cout: usize,
    /// Option A: subsample + zero channels when the shape changes, identity otherwise.
    project: bool,
}

impl BasicBlock {
    pub fn new(
        dev: &Device,
        gen: &mut Generator,
        cin: usize,
        cout: usize,
        stride: usize,
    ) -> Result<Self> {
        Ok(BasicBlock {
            conv1: Conv2d::new(dev, gen, cin, cout, 3, stride, 1, false)?,
            bn1: BatchNorm2d::new(dev, cout)?,
            conv2: Conv2d::new(dev, gen, cout, cout, 3, 1, 1, false)?,
            bn2: BatchNorm2d::new(dev, cout)?,
            stride,
            cout,
            project: stride != 1 || cin != cout,
        })
    }
}

impl Stateful for BasicBlock {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        self.conv1.state(&join(prefix, "conv1"), out);
        self.bn1.state(&join(prefix, "bn1"), out);
        self.conv2.state(&join(prefix, "conv2"), out);
        self.bn2.state(&join(prefix, "bn2"), out);
    }
}

impl Module for BasicBlock {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let y = self.bn1.forward_relu(&self.conv1.forward(x, mode)?, mode)?;
        let y = self.bn2.forward(&self.conv2.forward(&y, mode)?, mode)?;
        let shortcut = match self.project {
            true => x.shortcut_a(self.stride, self.cout)?,
            false => x.clone(),
        };
        y.add(&shortcut)?.relu()
    }
}

pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm2d,
    /// `layers[s][b]`: block b of stage s.
    layers: Vec<Vec<BasicBlock>>,
}

impl ResNet {
    /// Stage widths.
    pub const WIDTHS: [usize; 3] = [16, 32, 64];

    /// ResNet-`depth` (6n+2) over `in_channels`-channel images; outputs [B, 64] features.
    pub fn new(
        dev: &Device,
        gen: &mut Generator,
        depth: usize,
        in_channels: usize,
    ) -> Result<Self> {
        if depth < 8 || !(depth - 2).is_multiple_of(6) {
            return Err(Error::Invalid {
                op: "resnet",
                msg: format!("depth must be 6n+2 with n >= 1 (8, 20, 32, 56, ...), got {depth}"),
            });
        }
        let n = (depth - 2) / 6;
        let conv1 = Conv2d::new(dev, gen, in_channels, 16, 3, 1, 1, false)?;
        let bn1 = BatchNorm2d::new(dev, 16)?;
        let mut cin = 16;
        let mut layers = Vec::new();
        for (s, &cout) in Self::WIDTHS.iter().enumerate() {
            let mut blocks = Vec::new();
            for b in 0..n {
                let stride = if s > 0 && b == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(dev, gen, cin, cout, stride)?);
                cin = cout;
            }
            layers.push(blocks);
        }
        Ok(ResNet { conv1, bn1, layers })
    }

    pub fn feature_dim(&self) -> usize {
        Self::WIDTHS[2]
    }
}

impl Stateful for ResNet {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        self.conv1.state(&join(prefix, "conv1"), out);
        self.bn1.state(&join(prefix, "bn1"), out);
        for (s, blocks) in self.layers.iter().enumerate() {
            for (b, block) in blocks.iter().enumerate() {
                block.state(&join(prefix, &format!("layer{}.{b}", s + 1)), out);
            }
        }
    }
}

impl Module for ResNet {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let mut y = self.bn1.forward_relu(&self.conv1.forward(x, mode)?, mode)?;
        for block in self.layers.iter().flatten() {
            y = block.forward(&y, mode)?;
        }
        y.global_avg_pool()
    }
}
