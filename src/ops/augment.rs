//! Batch gather + augmentation of u8 images in one dispatch (`shaders/augment.wgsl`): centre on
//! a square canvas, random crop with zero padding, random horizontal flip, per-channel
//! normalisation. Random numbers come from Philox on the GPU, keyed by (seed, step, slot).

use super::items_per_invocation;
use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(AUGMENT = ["philox", "augment"]::"main" [Read, Read, Read, ReadWrite, ReadWrite]);

/// Channels the kernel's uniform holds normalisation constants for.
pub const MAX_CHANNELS: usize = 4;
/// Largest crop padding (keeps 2·pad + 1 and the offsets inside the kernel's integers).
pub const MAX_PAD: usize = 1 << 15;

/// What [`augment`] does to each image.
#[derive(Clone, Debug, PartialEq)]
pub struct Augment {
    /// Output side S: the H×W image is centred on an S×S zero canvas (S ≥ H, W).
    pub size: usize,
    /// Random crop offset range [−pad, pad] in each direction, zero fill (0: no crop).
    pub pad: usize,
    /// Random horizontal flip with probability 1/2.
    pub flip: bool,
    /// Per-channel mean and std of pixels scaled to [0, 1].
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Augment {
    /// Evaluation: centre and normalise only.
    pub fn eval(size: usize, mean: &[f32], std: &[f32]) -> Augment {
        Augment {
            size,
            pad: 0,
            flip: false,
            mean: mean.to_vec(),
            std: std.to_vec(),
        }
    }

    /// Training: random crop with `pad` and random horizontal flip (the CIFAR recipe,
    /// RandomCrop(size, padding=pad) + RandomHorizontalFlip).
    pub fn crop_flip(size: usize, pad: usize, mean: &[f32], std: &[f32]) -> Augment {
        Augment {
            size,
            pad,
            flip: true,
            mean: mean.to_vec(),
            std: std.to_vec(),
        }
    }

    fn check(&self, channels: usize, height: usize, width: usize) -> Result<()> {
        let invalid = |msg: String| Err(Error::Invalid { op: "augment", msg });
        if channels > MAX_CHANNELS {
            return invalid(format!(
                "{channels} channels; at most {MAX_CHANNELS} supported"
            ));
        }
        if self.mean.len() != channels || self.std.len() != channels {
            return invalid(format!(
                "needs a mean and std per channel ({channels}), got {} and {}",
                self.mean.len(),
                self.std.len()
            ));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return invalid(format!(
                "needs finite means and positive finite stds, got {:?} and {:?}",
                self.mean, self.std
            ));
        }
        if self.size < height.max(width) {
            return invalid(format!(
                "output size {} is smaller than the {height}×{width} images",
                self.size
            ));
        }
        if self.pad > MAX_PAD {
            return invalid(format!("pad {} is above {MAX_PAD}", self.pad));
        }
        Ok(())
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    batch: u32,
    channels: u32,
    height: u32,
    width: u32,
    size: u32,
    pad: u32,
    flip: u32,
    items: u32,
    top: u32,
    left: u32,
    runs: u32,
    _pad: u32,
    key: [u32; 2],
    step: [u32; 2],
    norm: [[f32; 4]; MAX_CHANNELS],
}

/// `pixels`: the u8 images of `shape` = [N, C, H, W], packed 4 per u32 (byte k of the flat
/// N·C·H·W array in bits 8·(k mod 4) of word k/4); `labels`: [N] u32. Returns the batch
/// [B, C, S, S] f32 and its labels [B] u32 for the images at `indices` (each below N), augmented
/// by `aug` with the random draws of (`seed`, `step`).
pub fn augment(
    pixels: &Tensor,
    labels: &Tensor,
    shape: [usize; 4],
    indices: &[u32],
    aug: &Augment,
    seed: u64,
    step: u64,
) -> Result<(Tensor, Tensor)> {
    let [n, c, h, w] = shape;
    aug.check(c, h, w)?;
    let bytes = n * c * h * w;
    if bytes > u32::MAX as usize {
        return Err(Error::Invalid {
            op: "augment",
            msg: format!("{shape:?} images hold {bytes} bytes; the kernel addresses at most 4 GiB"),
        });
    }
    let words = bytes.div_ceil(4);
    if pixels.dtype() != DType::U32 || pixels.numel() < words || labels.dtype() != DType::U32 {
        return Err(Error::Invalid {
            op: "augment",
            msg: format!("needs packed u32 pixels for {shape:?} and u32 labels, got {pixels:?} and {labels:?}"),
        });
    }
    if labels.numel() != n {
        return Err(Error::Shape {
            op: "augment",
            lhs: labels.shape().to_vec(),
            rhs: vec![n],
        });
    }
    if let Some(&i) = indices.iter().find(|&&i| i as usize >= n) {
        return Err(Error::Invalid {
            op: "augment",
            msg: format!("index {i} out of range for {n} images"),
        });
    }
    let dev = pixels.device();
    let b = indices.len();
    let idx = Tensor::from_u32(dev, indices, &[b])?;
    let x = Tensor::empty(dev, "augment", &[b, c, aug.size, aug.size], DType::F32)?;
    let y = Tensor::empty(dev, "augment", &[b], DType::U32)?;
    let items = items_per_invocation(dev);
    let area = aug.size * aug.size;
    let runs = area.div_ceil(items as usize);
    let mut norm = [[0.0f32; 4]; MAX_CHANNELS];
    for (k, (&m, &s)) in aug.mean.iter().zip(&aug.std).enumerate() {
        let (m, s) = (m as f64, s as f64);
        norm[k] = [(1.0 / (255.0 * s)) as f32, (-m / s) as f32, 0.0, 0.0];
    }
    let p = Params {
        batch: b as u32,
        channels: c as u32,
        height: h as u32,
        width: w as u32,
        size: aug.size as u32,
        pad: aug.pad as u32,
        flip: aug.flip as u32,
        items,
        top: ((aug.size - h) / 2) as u32,
        left: ((aug.size - w) / 2) as u32,
        runs: runs as u32,
        _pad: 0,
        key: [seed as u32, (seed >> 32) as u32],
        step: [step as u32, (step >> 32) as u32],
        norm,
    };
    dev.dispatch(
        "augment",
        &AUGMENT,
        &[],
        bytemuck::bytes_of(&p),
        vec![
            Res::Buf(pixels.buf().clone()),
            Res::Buf(labels.buf().clone()),
            Res::Buf(idx.buf().clone()),
            Res::Buf(x.buf().clone()),
            Res::Buf(y.buf().clone()),
        ],
        grid_1d(b * c * runs, WG),
        &[(x.buf(), x.numel())],
    )?;
    Ok((x, y))
}
