//! The GPU runtime: adapter choice, pipeline cache, buffer pool, command recording and readback.
//! Nothing here knows about tensors.

pub mod adapter;
mod device;
mod kernel;
mod pipelines;
mod pool;
mod recorder;

pub use adapter::AdapterReport;
pub use device::{Device, DeviceClass};
pub use kernel::{grid_1d, Bind, Kernel, MAX_GROUPS, SOFTWARE_LOOP_BUDGET, WG};
pub use pool::{size_class, BufferPool, GpuBuffer, GpuTexture};
pub use recorder::Res;
