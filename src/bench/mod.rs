//! Benchmark entries shared by `tailgrad bench` and the criterion harness (`benches/kernels.rs`).
//!
//! An entry names a kernel, a shape and a variant, says what one iteration costs (FLOPs and the
//! bytes it must move at least), and knows how to set itself up: the setup creates the inputs
//! (outside any timed region) and returns a [`Step`] that records one iteration. How entries are
//! timed is in [`timing`](measure); the list of entries is [`registry`].

mod augment;
mod conv2d;
mod gan;
mod gcl;
mod norm;
mod peak;
mod registry;
mod resnet;
mod timing;

pub use gan::sngan_macs;
pub use registry::{input, registry};
pub use timing::{measure, Measurement, Opts, Prepared};

use crate::{Device, Result};

/// Which device peak an entry is reported against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// Limited by arithmetic: reported as % of the FMA peak (GFLOP/s).
    Compute,
    /// Limited by memory traffic: reported as % of the copy peak (GB/s).
    Memory,
}

/// Records one iteration of the benchmarked op(s). It must not sync or read back: the timer
/// records several iterations per submit and waits once.
pub type Step = Box<dyn FnMut() -> Result<()>>;

type Setup = Box<dyn Fn(&Device) -> Result<Step>>;

/// One benchmark: a kernel at one shape in one variant.
pub struct Bench {
    /// Kernel family; `tailgrad bench KERNEL` selects entries by prefix of this.
    pub kernel: &'static str,
    /// Shape label, e.g. `4096x1024` or `256x256x256` (M×N×K for matmul).
    pub shape: String,
    /// Kernel variant, `default` when the op has one.
    pub variant: String,
    pub bound: Bound,
    /// FLOPs of one iteration.
    pub flops: f64,
    /// Bytes one iteration must move at least: inputs read once plus outputs written once.
    pub bytes: f64,
    /// Items (images) one iteration processes, for whole-model entries; 0 for kernels.
    pub items: f64,
    setup: Setup,
}

impl Bench {
    /// An entry limited by arithmetic.
    pub fn compute(
        kernel: &'static str,
        shape: impl Into<String>,
        variant: impl Into<String>,
        flops: f64,
        bytes: f64,
        setup: impl Fn(&Device) -> Result<Step> + 'static,
    ) -> Bench {
        Bench::new(kernel, shape, variant, Bound::Compute, flops, bytes, setup)
    }

    /// An entry limited by memory traffic.
    pub fn memory(
        kernel: &'static str,
        shape: impl Into<String>,
        variant: impl Into<String>,
        flops: f64,
        bytes: f64,
        setup: impl Fn(&Device) -> Result<Step> + 'static,
    ) -> Bench {
        Bench::new(kernel, shape, variant, Bound::Memory, flops, bytes, setup)
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        kernel: &'static str,
        shape: impl Into<String>,
        variant: impl Into<String>,
        bound: Bound,
        flops: f64,
        bytes: f64,
        setup: impl Fn(&Device) -> Result<Step> + 'static,
    ) -> Bench {
        Bench {
            kernel,
            shape: shape.into(),
            variant: variant.into(),
            bound,
            flops,
            bytes,
            items: 0.0,
            setup: Box::new(setup),
        }
    }

    /// Reports `items` per iteration as items/s (images/s for a training step).
    pub fn with_items(mut self, items: f64) -> Bench {
        self.items = items;
        self
    }

    /// Whether any filter is a prefix of the kernel name (no filters: everything matches).
    pub fn matches(&self, filters: &[String]) -> bool {
        filters.is_empty() || filters.iter().any(|f| self.kernel.starts_with(f.as_str()))
    }

    /// Creates the inputs and waits for their upload, so nothing of the setup is timed.
    pub fn prepare(&self, dev: &Device) -> Result<Prepared> {
        let step = (self.setup)(dev)?;
        dev.sync()?;
        Ok(Prepared::new(dev, step, self.bytes))
    }
}
