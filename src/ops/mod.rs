//! One module per kernel family: shape checks, the launch, and the backward rule. Each has a
//! shader of the same name in `shaders/` and a test file of the same name in `tests/`.

pub mod binary;
pub mod broadcast;
pub mod fill;
pub mod gather;
pub mod layout;
pub mod matmul;
pub mod reduce;
pub mod unary;
pub mod where_cond;
