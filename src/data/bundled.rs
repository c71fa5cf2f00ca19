//! The long-tailed Fashion-MNIST subset compiled into the binary, so demos and tests run with
//! no download. Made by `scripts/make_bundled.py` from the Debian package's files; docs/data.md
//! says how it was cut and its licence (MIT, Zalando SE).
//!
//! Train: the first 1000 images of each class (file order), then `long_tailed` with ρ = 100,
//! the exponential profile and seed 0 (1000 … 10 per class, 2478 images). Test: the first 200
//! images of each class of the official test set, in file order (2000 images).

use super::{idx, Dataset, FASHION_MNIST_CLASSES};
use crate::Result;

/// Head count per class before the long-tail cut.
pub const HEAD: usize = 1000;
/// Imbalance ratio of the training split.
pub const RHO: f64 = 100.0;
/// Seed of the long-tail shuffle.
pub const SEED: u64 = 0;
/// Test images per class.
pub const TEST_PER_CLASS: usize = 200;

macro_rules! bundled {
    ($file:literal) => {
        (
            concat!("bundled/", $file),
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/bundled/", $file)),
        )
    };
}

const TRAIN: [(&str, &[u8]); 2] = [
    bundled!("train-images-idx3-ubyte.gz"),
    bundled!("train-labels-idx1-ubyte.gz"),
];
const TEST: [(&str, &[u8]); 2] = [
    bundled!("t10k-images-idx3-ubyte.gz"),
    bundled!("t10k-labels-idx1-ubyte.gz"),
];

/// Decodes the training (`train`) or test split.
pub fn load(train: bool) -> Result<Dataset> {
    let [(ni, img), (nl, lab)] = if train { TRAIN } else { TEST };
    idx::decode_pair(
        (ni, img.to_vec()),
        (nl, lab.to_vec()),
        FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}
