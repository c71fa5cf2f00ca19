//! One module per kernel family: shape checks, the launch, and the backward rule. Each has a
//! shader of the same name in `shaders/` and a test file of the same name in `tests/`.

pub mod binary;
pub mod broadcast;
pub mod cross_entropy;
pub mod fill;
pub mod gather;
pub mod layout;
pub mod matmul;
pub mod reduce;
pub mod rng;
pub mod softmax;
pub mod spectral;
pub mod unary;
pub mod where_cond;

use crate::runtime::{Device, DeviceClass};

/// Elements each invocation of an elementwise kernel handles. On CPU adapters every workgroup
/// costs ~0.8 µs of scheduling, so each lane walks a long contiguous run; on GPUs one element per
/// invocation keeps warp accesses coalesced.
pub(crate) fn items_per_invocation(dev: &Device) -> u32 {
    match dev.class() {
        DeviceClass::Software => 64,
        DeviceClass::Gpu => 1,
    }
}
