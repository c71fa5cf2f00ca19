//! ReLU as a module, for model code that lists layers.

use super::{Mode, Module, State, Stateful};
use crate::{Result, Tensor};

#[derive(Clone, Copy, Debug, Default)]
pub struct Relu;

impl Stateful for Relu {
    fn state(&self, _: &str, _: &mut Vec<State>) {}
}

impl Module for Relu {
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.relu()
    }
}
