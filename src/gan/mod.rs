//! Pieces of class-conditional GAN training (issue #10) that sit beside the classifier's losses:
//! the adversarial losses ([`GanLoss`]: hinge by default, non-saturating BCE, and both on mixed
//! samples with soft realness targets) and LeCam regularization of D ([`LeCam`], canonical or
//! the gSR repository's variant), gSR's spectral regularization of G's CBN tables ([`Gsr`]) and
//! DiffAugment of D's inputs ([`DiffAugment`]) and sample mixing for D (Mixup, CutMix, SRMix:
//! [`Mixer`]).
//! docs/gan.md shows how a D and a G step use them.
//!
//! ```no_run
//! use tailgrad::gan::{GanLoss, LeCam, LeCamConfig};
//! use tailgrad::{Device, Tensor};
//! let dev = Device::get()?;
//! let (d_real, d_fake) = (Tensor::zeros(&dev, &[64])?, Tensor::ones(&dev, &[64, 1])?);
//! let mut lecam = LeCam::new(&dev, LeCamConfig::default(), 64)?;
//! let step = 1500; // G steps done so far
//! let mut d_loss = GanLoss::Hinge.d_loss(&d_real, &d_fake)?;
//! if let Some(r) = lecam.regularize(&d_real, &d_fake, step)? {
//!     d_loss = d_loss.add(&r)?;
//! }
//! # Ok::<(), tailgrad::Error>(())
//! ```

pub mod diffaug;
pub mod gsr;
pub mod lecam;
pub mod loss;
pub mod mixing;

pub use diffaug::{DiffAugConfig, DiffAugOp, DiffAugment};
pub use gsr::{group_shape, Grouping, Gsr, GsrConfig, GsrVariant};
pub use lecam::{LeCam, LeCamConfig, LeCamVariant};
pub use loss::GanLoss;
pub use mixing::{MixConfig, MixDraw, MixFormalism, MixKernel, MixKind, Mixed, Mixer};
