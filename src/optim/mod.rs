//! Optimizers (`shaders/optim.wgsl`): SGD with momentum / Nesterov and Adam / AdamW, with
//! PyTorch's update rules.
//!
//! A step costs one dispatch for the whole model, not one per tensor (~0.2 ms each on lavapipe):
//! the optimizer owns flat buffers holding every parameter, gradient and state value, each
//! parameter at a vec4-aligned offset. `step` records buffer copies of each parameter and gradient
//! into the flat buffers, one update dispatch per run of parameters that share a step, and copies
//! back into each parameter's own buffer, so `Tensor` handles held elsewhere see the new values.
//! Nothing is read back and nothing is allocated after construction.
//!
//! A parameter whose `.grad()` is `None` is skipped, as in PyTorch: its value, its state and (for
//! Adam) its step count stay as they are. The cost is extra dispatches: one per run of consecutive
//! parameters that have gradients and (Adam) equal step counts, so an Adam parameter skipped once
//! stays in a run of its own until the others are skipped alike.

mod adam;
mod flat;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use sgd::{Sgd, SgdConfig};

use crate::{Result, Tensor};

/// What every optimizer offers a training loop and a checkpoint writer.
pub trait Optimizer {
    /// Updates every parameter that has a gradient. Records GPU work; reads nothing back.
    fn step(&mut self) -> Result<()>;
    /// Clears the gradient of every parameter.
    fn zero_grad(&self);
    /// Sets the learning rate for the next steps (schedules; compiles nothing).
    fn set_lr(&mut self, lr: f32);
    fn lr(&self) -> f32;
    /// A snapshot of the optimizer state, named (`"m"`, `"v"`, `"step"`, `"momentum"`). Moment
    /// tensors are the parameters' values concatenated in construction order, unpadded.
    fn state(&self) -> Result<Vec<(String, Tensor)>>;
    /// Restores a [`state`](Optimizer::state) snapshot taken from an optimizer of the same kind
    /// over parameters of the same shapes.
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()>;
}
