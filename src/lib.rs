//! tailgrad: GPU tensors with handwritten WGSL kernels and reverse-mode autograd, on any
//! Vulkan, Metal, DX12 or GL device through wgpu.
//!
//! ```no_run
//! use tailgrad::{Device, Tensor};
//! let dev = Device::get()?;
//! let w = Tensor::from_slice(&dev, &[1.0, 2.0, 3.0], &[3])?.into_param();
//! let loss = w.mul(&w)?.sum_all()?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap().to_vec()?, vec![2.0, 4.0, 6.0]);
//! # Ok::<(), tailgrad::Error>(())
//! ```

pub mod autograd;
pub mod bench;
pub mod data;
mod error;
pub mod eval;
pub mod gan;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod report;
pub mod runtime;
mod tensor;
pub mod train;

pub use autograd::{grad_enabled, no_grad};
pub use error::{EntryProblem, Error, Result};
pub use ops::adjusted_ce::{adjusted_ce_unfused, AdjustedCe, Cloud, Focal};
pub use ops::batch_norm::{BatchNorm, BnMode, CondBatchNorm};
pub use ops::rng::Generator;
pub use runtime::Device;
pub use tensor::{read_all, DType, Tensor};
