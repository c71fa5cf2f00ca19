//! Layers and models: small `Stateful` / `Module` traits over the ops (candle/PyTorch-shaped).
//!
//! A module is a plain struct of tensors. [`Stateful::state`] lists every tensor under a dotted
//! name: trainable parameters and buffers (BatchNorm running statistics, spectral-norm vectors).
//! That one list is the parameter list for an optimizer and the state dict for a checkpoint.
//! [`Module`] adds the one-input `forward`, which takes the [`Mode`] explicitly (no hidden
//! train/eval flag to forget); a model with another forward signature (a GAN's G(z, y),
//! D(x, y)) implements only `Stateful` and still gets [`parameters`], [`state_of`],
//! [`load_state`] and [`freeze`].

mod batch_norm;
mod classifier;
mod cond_batch_norm;
mod conv2d;
mod embedding;
mod init;
mod linear;
mod normed_linear;
mod qr;
mod relu;
mod resnet;
mod small_cnn;
pub mod sngan;
mod spectral_norm;

pub use batch_norm::BatchNorm2d;
pub use classifier::{backbone, Arch, Classifier, Head, HeadKind};
pub use cond_batch_norm::CondBatchNorm2d;
pub use conv2d::Conv2d;
pub use embedding::Embedding;
pub use init::{Init, LayerInit};
pub use linear::Linear;
pub use normed_linear::NormedLinear;
pub use relu::Relu;
pub use resnet::{BasicBlock, ResNet};
pub use small_cnn::SmallCnn;
pub use spectral_norm::{SnConv2d, SnEmbedding, SnLinear, SpectralNorm, SN_EPS, TORCH_SN_EPS};

use crate::{Error, Result, Tensor};

/// Training uses batch statistics and updates running ones; evaluation uses running statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// One named state tensor of a module.
#[derive(Clone, Debug)]
pub struct State {
    pub name: String,
    pub tensor: Tensor,
    /// Parameters are trained; buffers (running statistics) are only saved and loaded.
    pub trainable: bool,
}

/// Anything that owns named state tensors: every layer and model.
pub trait Stateful {
    /// Appends every state tensor, named `prefix` + field path (`layer1.0.conv1.weight`).
    fn state(&self, prefix: &str, out: &mut Vec<State>);
}

/// A layer or model with one input.
pub trait Module: Stateful {
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor>;
}

/// The state list of a module.
pub fn state_of(m: &dyn Stateful) -> Vec<State> {
    let mut out = Vec::new();
    m.state("", &mut out);
    out
}

/// The trainable parameters of a module, in a fixed order (an optimizer's parameter list).
pub fn parameters(m: &dyn Stateful) -> Vec<Tensor> {
    state_of(m)
        .into_iter()
        .filter(|s| s.trainable)
        .map(|s| s.tensor)
        .collect()
}

/// Copies `values` (name → tensor of the same shape) into the module's tensors in place, so
/// optimizers holding them see the new values. Every state tensor must be present.
pub fn load_state(m: &dyn Stateful, values: &dyn Fn(&str) -> Option<Tensor>) -> Result<()> {
    for s in state_of(m) {
        let src = values(&s.name).ok_or_else(|| Error::Invalid {
            op: "load_state",
            msg: format!("missing state tensor {:?}", s.name),
        })?;
        s.tensor.assign(&src).map_err(|e| Error::Invalid {
            op: "load_state",
            msg: format!("{}: {e}", s.name),
        })?;
    }
    Ok(())
}

/// Freezes every parameter of `m` (buffers are not trained anyway): `parameters` still lists
/// them, so an optimizer keeps its handles, but `backward` leaves them without gradient.
pub fn freeze(m: &dyn Stateful) -> Result<()> {
    set_trainable(m, false)
}

/// Undoes [`freeze`].
pub fn unfreeze(m: &dyn Stateful) -> Result<()> {
    set_trainable(m, true)
}

/// Checks every trainable entry first, so an error leaves the module untouched.
fn set_trainable(m: &dyn Stateful, on: bool) -> Result<()> {
    let params: Vec<State> = state_of(m).into_iter().filter(|s| s.trainable).collect();
    if let Some(s) = params.iter().find(|s| !s.tensor.is_param()) {
        return Err(Error::Invalid {
            op: if on { "unfreeze" } else { "freeze" },
            msg: format!("{:?} is listed as trainable but is not a parameter", s.name),
        });
    }
    params
        .iter()
        .try_for_each(|s| s.tensor.set_requires_grad(on))
}

/// `prefix.name`, or `name` at the root.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Pushes a parameter.
pub(crate) fn param(out: &mut Vec<State>, prefix: &str, name: &str, t: &Tensor) {
    out.push(State {
        name: join(prefix, name),
        tensor: t.clone(),
        trainable: true,
    });
}

/// Pushes a buffer.
pub(crate) fn buffer(out: &mut Vec<State>, prefix: &str, name: &str, t: &Tensor) {
    out.push(State {
        name: join(prefix, name),
        tensor: t.clone(),
        trainable: false,
    });
}
