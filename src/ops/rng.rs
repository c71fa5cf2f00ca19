//! Random tensors from a counter-based generator (`shaders/rng.wgsl`, Philox4x32-10).
//!
//! A [`Generator`] is just `(seed, stream, counter)`: element `i` of a call is a pure function of
//! the seed, the stream and block `counter + i/4`, so results do not depend on the dispatch shape,
//! the device or the thread count, and saving the counter in a checkpoint is enough to resume the
//! exact same sequence.

use crate::runtime::{grid_1d, Device, Res, WG};
use crate::tensor::{check_shape, DType};
use crate::{kernel, Error, Result, Tensor};

kernel!(RNG = ["philox", "rng"]::"main" [ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    mode: u32,
    key: [u32; 2],
    base: [u32; 2],
    stream: u32,
    _pad: u32,
    a: f32,
    b: f32,
    _pad2: [u32; 2],
}

/// What the kernel does with the Philox words.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Mode {
    Raw = 0,
    Uniform,
    Normal,
}

/// Each Philox block yields four 32-bit words, so a call consumes `ceil(n / 4)` counter values.
const WORDS_PER_BLOCK: u64 = 4;

/// A seeded random stream. Distinct `stream`s of one seed never overlap: give each consumer its
/// own stream rather than a clone, which would repeat the same numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generator {
    seed: u64,
    stream: u32,
    counter: u64,
}

impl Generator {
    pub fn new(seed: u64, stream: u32) -> Generator {
        Generator {
            seed,
            stream,
            counter: 0,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn stream(&self) -> u32 {
        self.stream
    }

    /// The next Philox block to use; save it in checkpoints.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// Resumes from a saved counter.
    pub fn set_counter(&mut self, counter: u64) {
        self.counter = counter;
    }

    /// Uniform in [0, 1) with 24 random mantissa bits (never exactly 1).
    pub fn rand(&mut self, dev: &Device, shape: &[usize]) -> Result<Tensor> {
        self.uniform(dev, shape, 0.0, 1.0)
    }

    /// Standard normal (Box–Muller).
    pub fn randn(&mut self, dev: &Device, shape: &[usize]) -> Result<Tensor> {
        self.normal(dev, shape, 0.0, 1.0)
    }

    /// `lo + (hi − lo)·u` with `u` uniform in [0, 1). f32 rounding of the product can reach `hi`
    /// for some ranges, as in other frameworks.
    pub fn uniform(&mut self, dev: &Device, shape: &[usize], lo: f32, hi: f32) -> Result<Tensor> {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::Invalid {
                op: "uniform",
                msg: format!("needs finite lo <= hi, got [{lo}, {hi})"),
            });
        }
        self.launch(dev, "uniform", shape, Mode::Uniform, DType::F32, lo, hi)
    }

    /// `mean + std·z` with `z` standard normal.
    pub fn normal(&mut self, dev: &Device, shape: &[usize], mean: f32, std: f32) -> Result<Tensor> {
        if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
            return Err(Error::Invalid {
                op: "normal",
                msg: format!("needs finite mean and std >= 0, got mean {mean}, std {std}"),
            });
        }
        self.launch(dev, "normal", shape, Mode::Normal, DType::F32, mean, std)
    }

    /// The raw Philox words as a U32 tensor of shape `[n]` (for bit-exact tests and hashing).
    pub fn raw_u32(&mut self, dev: &Device, n: usize) -> Result<Tensor> {
        self.launch(dev, "raw_u32", &[n], Mode::Raw, DType::U32, 0.0, 0.0)
    }

    #[allow(clippy::too_many_arguments)]
    fn launch(
        &mut self,
        dev: &Device,
        op: &'static str,
        shape: &[usize],
        mode: Mode,
        dtype: DType,
        a: f32,
        b: f32,
    ) -> Result<Tensor> {
        let n = check_shape(op, shape)?;
        let y = Tensor::empty(dev, op, shape, dtype)?;
        let p = Params {
            n: n as u32,
            mode: mode as u32,
            key: [self.seed as u32, (self.seed >> 32) as u32],
            base: [self.counter as u32, (self.counter >> 32) as u32],
            stream: self.stream,
            _pad: 0,
            a,
            b,
            _pad2: [0; 2],
        };
        let blocks = (n as u64).div_ceil(WORDS_PER_BLOCK);
        let check = [(y.buf(), n)];
        let check: &[_] = if dtype == DType::F32 { &check } else { &[] };
        dev.dispatch(
            op,
            &RNG,
            &[],
            bytemuck::bytes_of(&p),
            vec![Res::Buf(y.buf().clone())],
            grid_1d(blocks as usize, WG),
            check,
        )?;
        self.counter = self.counter.wrapping_add(blocks);
        Ok(y)
    }
}

impl Tensor {
    /// Uniform [0, 1) from `Generator::new(seed, 0)` at counter 0.
    pub fn rand(dev: &Device, shape: &[usize], seed: u64) -> Result<Tensor> {
        Generator::new(seed, 0).rand(dev, shape)
    }

    /// Standard normal from `Generator::new(seed, 0)` at counter 0.
    pub fn randn(dev: &Device, shape: &[usize], seed: u64) -> Result<Tensor> {
        Generator::new(seed, 0).randn(dev, shape)
    }
}
