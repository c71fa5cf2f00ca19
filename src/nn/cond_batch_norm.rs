//! Conditional BatchNorm2d, the class-conditioned normalisation of SNGAN's generator
//! (methods.md §2.2, gSR's and StudioGAN's `ConditionalBatchNorm2d`):
//! out = BN(x)·(1 + E0[y]) + E1[y], BN without affine of its own, eps 1e-4, with class tables
//! E0, E1 [K, C]. One fused op does the statistics, the per-sample gain and bias and the
//! optional ReLU ([`Tensor::cond_batch_norm2d`]).
//!
//! Running statistics are not tracked: gSR builds the BN with momentum 0.1 but
//! `track_running_stats=False`, so training and sampling both normalise with the batch's own
//! statistics and the momentum is never used. The layer therefore has no buffers: its state is
//! the two tables, under gSR's state-dict names `embed0.weight` and `embed1.weight`.

use super::{param, Init, State, Stateful};
use crate::tensor::DType;
use crate::{CondBatchNorm, Device, Error, Generator, Result, Tensor};

const OP: &str = "CondBatchNorm2d";

pub struct CondBatchNorm2d {
    /// E0 [K, C]: each class's gain minus 1 (gSR's γ_y).
    pub e0: Tensor,
    /// E1 [K, C]: each class's bias (gSR's β_y).
    pub e1: Tensor,
    pub eps: f32,
}

impl CondBatchNorm2d {
    /// Both tables orthogonal with gain 1 (PyTorch's `orthogonal_` on the [K, C] weight: rows
    /// orthonormal when K ≤ C), as gSR's `init_weights(.., 'ortho')` treats every `nn.Embedding`;
    /// E0 is drawn first.
    pub fn new(
        dev: &Device,
        gen: &mut Generator,
        classes: usize,
        channels: usize,
    ) -> Result<CondBatchNorm2d> {
        let mut table = || {
            Init::Orthogonal { gain: 1.0 }
                .tensor(dev, gen, &[classes, channels], channels)
                .map(Tensor::into_param)
        };
        Ok(CondBatchNorm2d {
            e0: table()?,
            e1: table()?,
            eps: 1e-4,
        })
    }

    /// relu?(BN(x)·(1 + E0[y]) + E1[y]) for x [B, C, H, W] (or [B, C]) and class labels y, a u32
    /// tensor [B]. The rows are gathered with `index_select`, so each table's gradient is the
    /// scatter-add of the per-sample ones: rows of classes absent from y get zeros. Labels must
    /// be below K; that is not checked on the device, and a larger one reads zero rows (as
    /// `index_select` does), leaving that sample plain BN.
    pub fn forward(&self, x: &Tensor, y: &Tensor, relu: bool) -> Result<Tensor> {
        if y.dtype() != DType::U32 || y.rank() != 1 || x.shape().first() != Some(&y.numel()) {
            return Err(Error::Invalid {
                op: OP,
                msg: format!(
                    "labels must be a u32 tensor [B] for x {:?}, got {y:?}",
                    x.shape()
                ),
            });
        }
        let gain = self.e0.index_select(0, y)?.add_scalar(1.0)?;
        let bias = self.e1.index_select(0, y)?;
        x.cond_batch_norm2d(&CondBatchNorm {
            gain: &gain,
            bias: &bias,
            eps: self.eps,
            relu,
        })
    }
}

impl Stateful for CondBatchNorm2d {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "embed0.weight", &self.e0);
        param(out, prefix, "embed1.weight", &self.e1);
    }
}
