//! A dataset resident on the GPU: pixels uploaded once as u8 packed 4 per u32 word, labels as
//! u32; each step uploads only its batch indices and runs one gather + augment dispatch.

use super::Dataset;
use crate::ops::augment::augment;
pub use crate::ops::augment::Augment;
use crate::{Device, Result, Tensor};

pub struct GpuDataset {
    pixels: Tensor,
    labels: Tensor,
    shape: [usize; 4],
    classes: usize,
}

impl GpuDataset {
    /// Uploads `ds` (one write each for pixels and labels, no sync).
    pub fn new(dev: &Device, ds: &Dataset) -> Result<GpuDataset> {
        let words: Vec<u32> = ds
            .images
            .chunks(4)
            .map(|q| {
                let mut b = [0u8; 4];
                b[..q.len()].copy_from_slice(q);
                u32::from_le_bytes(b)
            })
            .collect();
        Ok(GpuDataset {
            pixels: Tensor::from_u32(dev, &words, &[words.len()])?,
            labels: Tensor::from_u32(dev, &ds.labels, &[ds.len()])?,
            shape: [ds.len(), ds.channels, ds.height, ds.width],
            classes: ds.classes,
        })
    }

    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Never true: an empty dataset cannot be uploaded.
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    /// [N, C, H, W] of the stored images.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The images at `indices` augmented by `aug` as a [B, C, S, S] f32 batch, and their [B]
    /// u32 labels. The random crops and flips are a pure function of (`seed`, `step`, slot).
    pub fn batch(
        &self,
        indices: &[u32],
        aug: &Augment,
        seed: u64,
        step: u64,
    ) -> Result<(Tensor, Tensor)> {
        augment(
            &self.pixels,
            &self.labels,
            self.shape,
            indices,
            aug,
            seed,
            step,
        )
    }
}
