//! Bench entries for the batch gather + augment kernel: one training batch of the bundled
//! Fashion-MNIST (1×28×28 → 32×32) and of CIFAR-shaped images (3×32×32), crop pad 4 + flip.

use super::Bench;
use crate::data::gpu::{Augment, GpuDataset};
use crate::data::{bundled, DatasetKind};
use crate::Result;

pub(super) fn entries(r: &mut Vec<Bench>, quick: bool) {
    let b = if quick { 32 } else { 128 };
    for (c, hw) in [(1, 28), (3, 32)] {
        // Reads each source pixel once (u8) and its index, writes B·C·32·32 f32 and B labels.
        let bytes = (b * c * hw * hw + 4 * b + 4 * b * c * 32 * 32 + 4 * b) as f64;
        r.push(Bench::memory(
            "augment",
            format!("{b}x{c}x{hw}x{hw}-32"),
            "crop4-flip",
            0.0,
            bytes,
            move |dev| {
                let mut ds = bundled::load(true)?;
                if c == 3 {
                    // CIFAR geometry over the same pixels (632 images of 3×32×32).
                    ds.channels = 3;
                    ds.height = 32;
                    ds.width = 32;
                    let n = ds.images.len() / (3 * 32 * 32);
                    ds.images.truncate(n * 3 * 32 * 32);
                    ds.labels.truncate(n);
                }
                let (mean, std) = if c == 3 {
                    DatasetKind::Cifar10.mean_std()
                } else {
                    DatasetKind::FashionMnist.mean_std()
                };
                let aug = Augment::crop_flip(32, 4, mean, std);
                let g = GpuDataset::new(dev, &ds)?;
                let n = ds.len() as u32;
                let idx: Vec<u32> = (0..b as u32).map(|k| k * 7919 % n).collect();
                let mut step = 0;
                Ok(Box::new(move || -> Result<()> {
                    step += 1;
                    g.batch(&idx, &aug, 0, step).map(drop)
                }))
            },
        ));
    }
}
