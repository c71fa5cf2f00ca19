//! SNGAN-32 (methods.md §2.8, gSR's and StudioGAN's `models/resnet.py`): a ResNet generator with
//! class-conditional BN and a spectrally normalised projection discriminator, for 1- or 3-channel
//! 32×32 images. Widths are knobs; [`SnganConfig::paper`] is the paper's G 256, D 128, z 128.
//!
//! Init (gSR's `init_weights(.., 'ortho')`): every conv, linear and embedding weight orthogonal
//! with gain 1, biases zero. D's spectral-norm vectors are drawn right after each layer's weight.
//! State names follow StudioGAN's SNGAN (`linear0`, `blocks.1.0.conv2d1.weight`, `bn4`,
//! `conv2d5`; D's `blocks.0.0.conv2d0.weight_orig`, `linear1`, `embedding`).

use super::{
    join, param, CondBatchNorm2d, Conv2d, Embedding, Init, LayerInit, Linear, Mode, Module,
    SnConv2d, SnEmbedding, SnLinear, State, Stateful, SN_EPS,
};
use crate::{BatchNorm, BnMode, Device, Error, Result, Tensor};

/// The RNG (named so to keep `Generator` for G).
type Rng = crate::Generator;

/// Widths and sizes of an SNGAN-32 pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnganConfig {
    /// Channels of every G block (paper 256 = 4·g_conv_dim).
    pub g_width: usize,
    /// Channels of every D block (paper 128 = 2·d_conv_dim).
    pub d_width: usize,
    pub z_dim: usize,
    /// Image channels, 1 or 3.
    pub channels: usize,
    pub classes: usize,
}

impl SnganConfig {
    /// The paper's widths (G 256, D 128, z 128) for 3-channel images.
    pub fn paper(classes: usize) -> SnganConfig {
        SnganConfig {
            g_width: 256,
            d_width: 128,
            z_dim: 128,
            channels: 3,
            classes,
        }
    }

    fn check(&self) -> Result<()> {
        let sizes = [self.g_width, self.d_width, self.z_dim, self.classes];
        if !matches!(self.channels, 1 | 3) || sizes.contains(&0) {
            return Err(Error::Invalid {
                op: "sngan",
                msg: format!("needs 1 or 3 channels and non-zero sizes, got {self:?}"),
            });
        }
        Ok(())
    }
}

/// Orthogonal weight, zero bias.
const ORTHO: LayerInit = LayerInit {
    weight: Init::Orthogonal { gain: 1.0 },
    bias: Some(Init::Zeros),
};

fn conv(dev: &Device, gen: &mut Rng, cin: usize, cout: usize, k: usize) -> Result<Conv2d> {
    Conv2d::with_init(dev, gen, cin, cout, k, 1, k / 2, ORTHO)
}

fn sn_conv(dev: &Device, gen: &mut Rng, cin: usize, cout: usize, k: usize) -> Result<SnConv2d> {
    let c = conv(dev, gen, cin, cout, k)?;
    SnConv2d::new(c, gen, SN_EPS)
}

/// `blocks.{i}.0`: StudioGAN keeps each block in a one-element list.
fn block_prefix(prefix: &str, i: usize) -> String {
    join(prefix, &format!("blocks.{i}.0"))
}

/// GenBlock: CBN1 → ReLU → up ×2 → conv3x3 → CBN2 → ReLU → conv3x3, plus up ×2 → conv1x1.
struct GenBlock {
    bn1: CondBatchNorm2d,
    bn2: CondBatchNorm2d,
    conv2d0: Conv2d,
    conv2d1: Conv2d,
    conv2d2: Conv2d,
}

impl GenBlock {
    fn new(dev: &Device, gen: &mut Rng, ch: usize, classes: usize) -> Result<GenBlock> {
        Ok(GenBlock {
            bn1: CondBatchNorm2d::new(dev, gen, classes, ch)?,
            bn2: CondBatchNorm2d::new(dev, gen, classes, ch)?,
            conv2d0: conv(dev, gen, ch, ch, 1)?,
            conv2d1: conv(dev, gen, ch, ch, 3)?,
            conv2d2: conv(dev, gen, ch, ch, 3)?,
        })
    }

    fn forward(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        let h = self.bn1.forward(x, y, true)?.upsample_nearest2x()?;
        let h = self.conv2d1.forward(&h, Mode::Train)?;
        let h = self.bn2.forward(&h, y, true)?;
        let h = self.conv2d2.forward(&h, Mode::Train)?;
        let skip = self
            .conv2d0
            .forward(&x.upsample_nearest2x()?, Mode::Train)?;
        h.add(&skip)
    }
}

impl Stateful for GenBlock {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        self.bn1.state(&join(prefix, "bn1"), out);
        self.bn2.state(&join(prefix, "bn2"), out);
        self.conv2d0.state(&join(prefix, "conv2d0"), out);
        self.conv2d1.state(&join(prefix, "conv2d1"), out);
        self.conv2d2.state(&join(prefix, "conv2d2"), out);
    }
}

/// G(z, y): linear → 4×4 → three up-blocks → BN → ReLU → conv3x3 → tanh.
///
/// No mode: every BN normalises with the batch's statistics, in training and in sampling alike
/// (gSR's "Change breaking"). The last BN (`bn4`, affine, eps 1e-4) therefore keeps no running
/// statistics: its state is `bn4.weight` and `bn4.bias` only, and it runs as
/// [`BnMode::BatchStats`], which neither reads nor writes running buffers.
pub struct Generator {
    linear0: Linear,
    blocks: Vec<GenBlock>,
    bn4_weight: Tensor,
    bn4_bias: Tensor,
    conv2d5: Conv2d,
    width: usize,
    z_dim: usize,
}

impl Generator {
    pub fn new(dev: &Device, gen: &mut Rng, cfg: &SnganConfig) -> Result<Generator> {
        cfg.check()?;
        let ch = cfg.g_width;
        let linear0 = Linear::with_init(dev, gen, cfg.z_dim, ch * 16, ORTHO)?;
        let blocks = (0..3)
            .map(|_| GenBlock::new(dev, gen, ch, cfg.classes))
            .collect::<Result<Vec<_>>>()?;
        Ok(Generator {
            linear0,
            blocks,
            bn4_weight: Tensor::ones(dev, &[ch])?.into_param(),
            bn4_bias: Tensor::zeros(dev, &[ch])?.into_param(),
            conv2d5: conv(dev, gen, ch, cfg.channels, 3)?,
            width: ch,
            z_dim: cfg.z_dim,
        })
    }

    /// The six conditional BN layers in forward order (what gSR regularises).
    pub fn cbn_layers(&self) -> Vec<&CondBatchNorm2d> {
        self.blocks.iter().flat_map(|b| [&b.bn1, &b.bn2]).collect()
    }

    pub fn z_dim(&self) -> usize {
        self.z_dim
    }

    /// `z` [B, z_dim], `y` u32 [B] → images [B, channels, 32, 32] in [-1, 1].
    pub fn forward(&self, z: &Tensor, y: &Tensor) -> Result<Tensor> {
        let b = z.shape()[0];
        if z.shape() != [b, self.z_dim] {
            return Err(Error::Invalid {
                op: "sngan generator",
                msg: format!("z must be [B, {}], got {:?}", self.z_dim, z.shape()),
            });
        }
        let mut h = self
            .linear0
            .forward(z, Mode::Train)?
            .reshape(&[b, self.width, 4, 4])?;
        for block in &self.blocks {
            h = block.forward(&h, y)?;
        }
        let h = h.batch_norm2d(&BatchNorm {
            gamma: Some(&self.bn4_weight),
            beta: Some(&self.bn4_bias),
            running_mean: None,
            running_var: None,
            mode: BnMode::BatchStats,
            eps: 1e-4,
            relu: true,
        })?;
        self.conv2d5.forward(&h, Mode::Train)?.tanh()
    }
}

impl Stateful for Generator {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        self.linear0.state(&join(prefix, "linear0"), out);
        for (i, block) in self.blocks.iter().enumerate() {
            block.state(&block_prefix(prefix, i), out);
        }
        param(out, prefix, "bn4.weight", &self.bn4_weight);
        param(out, prefix, "bn4.bias", &self.bn4_bias);
        self.conv2d5.state(&join(prefix, "conv2d5"), out);
    }
}

/// D's residual block. `optimized` is the first block (no leading ReLU, pool before the 1×1
/// shortcut); otherwise the block pools after both paths when `down`, and has no shortcut conv
/// (identity) when not.
struct DiscBlock {
    conv2d0: Option<SnConv2d>,
    conv2d1: SnConv2d,
    conv2d2: SnConv2d,
    optimized: bool,
    down: bool,
}

impl DiscBlock {
    fn new(
        dev: &Device,
        gen: &mut Rng,
        cin: usize,
        cout: usize,
        optimized: bool,
        down: bool,
    ) -> Result<DiscBlock> {
        let shortcut = down || cin != cout;
        Ok(DiscBlock {
            conv2d0: shortcut
                .then(|| sn_conv(dev, gen, cin, cout, 1))
                .transpose()?,
            conv2d1: sn_conv(dev, gen, cin, cout, 3)?,
            conv2d2: sn_conv(dev, gen, cout, cout, 3)?,
            optimized,
            down,
        })
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let h = if self.optimized { x.clone() } else { x.relu()? };
        let h = self.conv2d1.forward(&h, mode)?.relu()?;
        let mut h = self.conv2d2.forward(&h, mode)?;
        if self.down {
            h = h.avg_pool2d(2, 2)?;
        }
        let skip = match (&self.conv2d0, self.optimized) {
            (None, _) => x.clone(),
            (Some(c), true) => c.forward(&x.avg_pool2d(2, 2)?, mode)?,
            (Some(c), false) if self.down => c.forward(x, mode)?.avg_pool2d(2, 2)?,
            (Some(c), false) => c.forward(x, mode)?,
        };
        h.add(&skip)
    }
}

impl Stateful for DiscBlock {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        if let Some(c) = &self.conv2d0 {
            c.state(&join(prefix, "conv2d0"), out);
        }
        self.conv2d1.state(&join(prefix, "conv2d1"), out);
        self.conv2d2.state(&join(prefix, "conv2d2"), out);
    }
}

/// D(x, y): optimized block ↓ → block ↓ → block → block → ReLU → sum over H, W → h, then
/// `linear1(h) + <embedding[y], h>`. Every layer spectrally normalised (one power iteration per
/// `Mode::Train` forward).
pub struct Discriminator {
    blocks: Vec<DiscBlock>,
    linear1: SnLinear,
    embedding: SnEmbedding,
}

impl Discriminator {
    pub fn new(dev: &Device, gen: &mut Rng, cfg: &SnganConfig) -> Result<Discriminator> {
        cfg.check()?;
        let ch = cfg.d_width;
        let blocks = vec![
            DiscBlock::new(dev, gen, cfg.channels, ch, true, true)?,
            DiscBlock::new(dev, gen, ch, ch, false, true)?,
            DiscBlock::new(dev, gen, ch, ch, false, false)?,
            DiscBlock::new(dev, gen, ch, ch, false, false)?,
        ];
        let linear = Linear::with_init(dev, gen, ch, 1, ORTHO)?;
        let linear1 = SnLinear::new(linear, gen, SN_EPS)?;
        let emb = Embedding::new(dev, gen, cfg.classes, ch)?;
        let embedding = SnEmbedding::new(emb, gen, SN_EPS)?;
        Ok(Discriminator {
            blocks,
            linear1,
            embedding,
        })
    }

    /// `x` [B, channels, 32, 32], `y` u32 [B] → realness [B].
    pub fn forward(&self, x: &Tensor, y: &Tensor, mode: Mode) -> Result<Tensor> {
        let mut h = x.clone();
        for block in &self.blocks {
            h = block.forward(&h, mode)?;
        }
        let h = h.relu()?.sum_hw()?;
        let b = h.shape()[0];
        let out = self.linear1.forward(&h, mode)?.reshape(&[b])?;
        let proj = self.embedding.forward(y, mode)?.mul(&h)?.sum(1, false)?;
        out.add(&proj)
    }
}

impl Stateful for Discriminator {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        for (i, block) in self.blocks.iter().enumerate() {
            block.state(&block_prefix(prefix, i), out);
        }
        self.linear1.state(&join(prefix, "linear1"), out);
        self.embedding.state(&join(prefix, "embedding"), out);
    }
}
