//! The Inception-v3 feature extractor of FID: pytorch-fid's "FID Inception" (the TensorFlow
//! graph of 2015-12-05 that TTUR's reference FID code uses, ported to PyTorch by pytorch-fid),
//! up to pool3, the 2048-d average of `Mixed_7c`.
//!
//! **What it computes.** [`InceptionV3::features`] takes images [N, 3, H, W] with values in
//! [−1, 1] (pytorch-fid's `normalize_input` maps [0, 1] there; do `2x − 1` first), or [N, 1, H, W]
//! grayscale images whose channel is repeated three times (pytorch-fid has no grayscale path: it
//! is what repeating the channel before calling it gives). It resizes them to 299×299 with
//! bilinear interpolation as `F.interpolate(mode="bilinear", align_corners=False)` does (32×32
//! CIFAR images are upsampled), runs the graph with every BatchNorm in eval mode (eps 1e-3,
//! folded into its convolution at load time, in f64) and returns [N, 2048]. The blocks differ
//! from torchvision's `Inception3` as pytorch-fid's `FIDInceptionA/C/E_1/E_2` do: their average
//! pools exclude the padding from the divisor (`count_include_pad=False`), and `Mixed_7c`'s pool
//! branch max-pools. It runs under `no_grad` (the features carry no gradient) and in batches
//! that keep the largest activation within the device's storage-binding limit.
//!
//! **Weights.** [`InceptionV3::load`] reads a safetensors file with pytorch-fid's parameter
//! names (`Conv2d_1a_3x3.conv.weight`, `Conv2d_1a_3x3.bn.running_mean`,
//! `Mixed_5b.branch1x1.conv.weight`, ...), f32; other entries (`fc.*`, `num_batches_tracked`)
//! are ignored. To make it from pytorch-fid's FID weights (`pt_inception-2015-12-05-6726825d.pth`),
//! on a machine with PyTorch, pytorch-fid and safetensors (`pip install pytorch-fid safetensors`):
//!
//! ```text
//! python3 scripts/convert_inception.py inception-fid.safetensors [--pth pt_inception-2015-12-05-6726825d.pth]
//! ```
//!
//! (without `--pth` the script lets torch.hub fetch pytorch-fid's `FID_WEIGHTS_URL`). Then
//! `InceptionV3::load(&dev, Path::new("inception-fid.safetensors"))`.
//! [`InceptionV3::random`] builds the same graph on deterministic random weights (tests).

mod graph;
mod weights;

use crate::nn::{State, Stateful};
use crate::report::checkpoint::Checkpoint;
use crate::{no_grad, Device, Error, Result, Tensor};
use graph::{Branch, ConvSpec, Graph, Layer};
use std::path::Path;

/// One `BasicConv2d` with its BatchNorm folded in: conv (+ bias) then ReLU.
struct Conv {
    spec: ConvSpec,
    weight: Tensor,
    bias: Tensor,
}

impl Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let [ph, pw] = self.spec.pad;
        let (w, b, s) = (&self.weight, Some(&self.bias), self.spec.stride);
        let y = if ph == pw {
            x.conv2d(w, b, s, ph)?
        } else {
            // conv2d pads both axes alike: 1×7 and 7×1 kernels pad first.
            let pad = crate::ops::pad::Pad2d::symmetric(ph, pw);
            x.pad2d(pad)?.conv2d(w, b, s, 0)?
        };
        y.relu()
    }
}

/// pytorch-fid's FID Inception-v3 up to pool3 (see the module doc).
pub struct InceptionV3 {
    graph: Graph<Conv>,
}

impl InceptionV3 {
    /// The side the input is resized to.
    pub const SIZE: usize = 299;
    /// Feature dimension (pool3).
    pub const FEATURES: usize = 2048;

    /// Loads pytorch-fid's FID weights from a safetensors file with its parameter names. A
    /// missing tensor, or one of another dtype or shape, is `Error::Checkpoint` naming the file,
    /// the tensor and both shapes; an unreadable file is `Error::Io` or `Error::Format`.
    pub fn load(dev: &Device, path: &Path) -> Result<InceptionV3> {
        let bytes = std::fs::read(path).map_err(Error::io(path))?;
        let file = weights::SafeFile::parse(path, &bytes)?;
        Self::build(dev, &mut |name, shape| file.get(name, shape))
    }

    /// The same graph on deterministic random weights (for tests): tensor `name` holds, at flat
    /// index i, u_i = (splitmix64(base + i) >> 40)·2⁻²⁴ with base = splitmix64(fnv1a64(name) ^
    /// seed) (wrapping u64 arithmetic; splitmix64(x) is Vigna's finaliser of x + 0x9E3779B97F4A7C15),
    /// mapped to (2u − 1)·√(6/fan_in) for conv weights (He-uniform: activations stay O(1)),
    /// 0.5 + u for BN weights and running variances and 0.2·(2u − 1) for BN biases and running
    /// means, computed in f64 and rounded once to f32. `tests/golden/inception.py` implements
    /// the same formula.
    pub fn random(dev: &Device, seed: u64) -> Result<InceptionV3> {
        Self::build(dev, &mut |name, shape| {
            Ok(weights::random_tensor(seed, name, shape))
        })
    }

    /// The tensors [`InceptionV3::random`] uses, under pytorch-fid's names and shapes, as a
    /// checkpoint that [`Checkpoint::save`] writes in the format [`InceptionV3::load`] reads.
    pub fn random_state(seed: u64) -> Result<Checkpoint> {
        let mut ck = Checkpoint::new();
        for spec in graph::fid_inception_v3().convs() {
            for (name, shape) in weights::tensors(spec) {
                let values = weights::random_tensor(seed, &name, &shape);
                ck.insert_f32(name, &shape, values)?;
            }
        }
        Ok(ck)
    }

    fn build(dev: &Device, get: &mut weights::Fetch) -> Result<InceptionV3> {
        let graph = graph::fid_inception_v3().try_map(|spec| {
            let (w, b) = weights::fold(&spec, get)?;
            Ok::<_, Error>(Conv {
                weight: Tensor::from_slice(dev, &w, &spec.weight_shape())?,
                bias: Tensor::from_slice(dev, &b, &[spec.cout])?,
                spec,
            })
        })?;
        Ok(InceptionV3 { graph })
    }

    /// The network's input for images `x` ([N, 3 or 1, H, W], values in [−1, 1]): grayscale
    /// repeated to 3 channels, then resized bilinearly to 299×299 (PyTorch's
    /// `align_corners=False`; 299×299 input passes unchanged). Forward only.
    pub fn preprocess(x: &Tensor) -> Result<Tensor> {
        let [n, c, h, w] = images(x)?;
        let rgb = match c {
            1 => x.broadcast_to(&[n, 3, h, w])?,
            _ => x.clone(),
        };
        let s = Self::SIZE;
        if [h, w] == [s, s] {
            return Ok(rgb);
        }
        let _guard = no_grad();
        rgb.resize_bilinear(s, s)
    }

    /// pool3 features [N, 2048] of images `x` ([N, 3 or 1, H, W] in [−1, 1]; see
    /// [`InceptionV3::preprocess`]), computed under `no_grad` in batches whose largest
    /// activation (64×147×147 floats an image) fits the device's storage-binding limit twice.
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let _guard = no_grad();
        let [n, ..] = images(x)?;
        let per_image = 4 * 64 * 147 * 147;
        let batch = ((x.device().max_binding() / (2 * per_image)) as usize).max(1);
        if n <= batch {
            return self.forward(&Self::preprocess(x)?);
        }
        let parts = (0..n)
            .step_by(batch)
            .map(|s| self.forward(&Self::preprocess(&x.slice(0, s, (s + batch).min(n))?)?))
            .collect::<Result<Vec<_>>>()?;
        Tensor::concat(&parts.iter().collect::<Vec<_>>(), 0)
    }

    /// [N, 3, 299, 299] → [N, 2048].
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = run(&self.graph.stem, x)?;
        for block in &self.graph.blocks {
            let outs = block
                .iter()
                .map(|b| run(b, &x))
                .collect::<Result<Vec<_>>>()?;
            x = Tensor::concat(&outs.iter().collect::<Vec<_>>(), 1)?;
        }
        x.global_avg_pool()
    }
}

/// [N, C, H, W] of f32 images with C = 3 or 1.
fn images(x: &Tensor) -> Result<[usize; 4]> {
    let op = "inception";
    x.expect_f32(op)?;
    match *x.shape() {
        [n, c @ (1 | 3), h, w] => Ok([n, c, h, w]),
        [n, _, h, w] => Err(Error::Shape {
            op,
            lhs: vec![n, 3, h, w],
            rhs: x.shape().to_vec(),
        }),
        _ => Err(Error::Invalid {
            op,
            msg: format!("needs images [N, 3 or 1, H, W], got shape {:?}", x.shape()),
        }),
    }
}

/// One branch: its layers in turn, then its fork's convolutions side by side, concatenated.
fn run(branch: &Branch<Conv>, x: &Tensor) -> Result<Tensor> {
    let mut y = x.clone();
    for layer in &branch.layers {
        y = match layer {
            Layer::Conv(c) => c.forward(&y)?,
            Layer::AvgPool3 => y.avg_pool2d_exclude_pad(3, 1, 1)?,
            Layer::MaxPool3Pad => y.max_pool2d_padded(3, 1, 1)?,
            Layer::MaxPool3Stride2 => y.max_pool2d(3, 2)?,
        };
    }
    if branch.fork.is_empty() {
        return Ok(y);
    }
    let outs = branch
        .fork
        .iter()
        .map(|c| c.forward(&y))
        .collect::<Result<Vec<_>>>()?;
    Tensor::concat(&outs.iter().collect::<Vec<_>>(), 1)
}

/// The folded tensors, `{conv}.weight` [O, C, KH, KW] and `{conv}.bias` [O] for each
/// `BasicConv2d` of pytorch-fid's names (w·γ/√(var + eps) and β − mean·γ/√(var + eps)), as
/// buffers: nothing here trains.
impl Stateful for InceptionV3 {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        for c in self.graph.convs() {
            let name = crate::nn::join(prefix, &c.spec.name);
            crate::nn::buffer(out, &name, "weight", &c.weight);
            crate::nn::buffer(out, &name, "bias", &c.bias);
        }
    }
}
