//! Evaluation of generated images (gan.md §5): feature extractors, and the statistics on their
//! features: Fréchet distance (FID) between feature means and covariances, and KID's unbiased
//! MMD² with the cubic polynomial kernel. The GAN protocol over them is `train::gan::Evaluator`.
//!
//! Features come in as n×dim row-major f32 (from whatever extractor produced them; numbers from
//! anything but the 2015 TF Inception-v3 are not comparable with published FIDs). The large
//! products run on the GPU with the engine's f32 matmul; everything that cancels (covariance,
//! the matrix square roots, the MMD² sums) is done in f64 on the CPU.

pub mod features;
pub mod fid;
pub mod inception;
pub mod kid;
pub mod stats;

pub use features::{load, ClassifierFeatures, Features, InceptionFeatures};
pub use fid::{fid, frechet_distance};
pub use inception::InceptionV3;
pub use kid::{kid, kid_indices, mmd2_unbiased, Kid};
pub use stats::FeatureStats;

use crate::{Error, Result};

/// The number of rows in `len` values of `dim` features, or an error naming `op`.
pub(crate) fn rows_of(op: &'static str, len: usize, dim: usize) -> Result<usize> {
    if dim == 0 || !len.is_multiple_of(dim) {
        return Err(Error::Invalid {
            op,
            msg: format!("{len} feature values do not split into rows of dim {dim}"),
        });
    }
    Ok(len / dim)
}
