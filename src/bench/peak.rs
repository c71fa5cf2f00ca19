//! The device's measured peaks (`shaders/peak.wgsl`): every other entry is reported as a
//! percentage of `peak_fma` (GFLOP/s) or `peak_copy` (GB/s), whichever bounds it. Also the
//! `add` reference kernel, which streams like the copy.

use super::{Bench, Step};
use crate::runtime::{grid_1d, Bind, DeviceClass, GpuBuffer, Kernel, Res, WG};
use crate::{Device, Result};
use std::sync::Arc;

// Trusted (no naga bounds checks): every access is guarded by `n`, which the host sizes the
// buffers for, and a peak should measure the device, not the checks.
static FMA: Kernel = peak_kernel("fma_peak", &[Bind::ReadWrite]);
static COPY: Kernel = peak_kernel("copy_peak", &[Bind::ReadWrite, Bind::Read]);
static ADD: Kernel = peak_kernel("add_ref", &[Bind::ReadWrite, Bind::Read, Bind::Read]);

const fn peak_kernel(entry: &'static str, bindings: &'static [Bind]) -> Kernel {
    Kernel {
        name: "peak",
        source: include_str!("../../shaders/peak.wgsl"),
        entry,
        bindings,
        trusted: true,
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    iters: u32,
    m: f32,
    c: f32,
}

/// FMAs per loop trip of one invocation: 8 chains unrolled 4 times in the shader.
const FMAS_PER_TRIP: f64 = 32.0;
/// vec4s each invocation of a streaming kernel moves (ITEMS in the shader).
const ITEMS: u32 = 4;

pub(super) fn entries(r: &mut Vec<Bench>, dev: &Device, quick: bool) {
    // A CPU driver is full with a few workgroups per core; a GPU needs ~10^6 invocations.
    let (groups, iters, mib) = match (dev.class(), quick) {
        (DeviceClass::Software, false) => (64u32, 4096u32, 64u64),
        (DeviceClass::Software, true) => (64, 1024, 16),
        (DeviceClass::Gpu, _) => (16384, 2048, 1024),
    };
    let inv = groups * WG;
    let flops = 2.0 * FMAS_PER_TRIP * iters as f64 * inv as f64;
    let out_bytes = 16.0 * inv as f64;
    r.push(Bench::compute(
        "peak_fma",
        format!("{inv}x{iters}"),
        "default",
        flops,
        out_bytes,
        move |dev| fma(dev, inv, iters),
    ));
    let bytes = (mib << 20).min(dev.max_binding() / 16 * 16);
    r.push(Bench::memory(
        "peak_copy",
        format!("{}MiB", bytes >> 20),
        "default",
        0.0,
        2.0 * bytes as f64,
        move |dev| copy(dev, bytes),
    ));
}

fn fma(dev: &Device, inv: u32, iters: u32) -> Result<Step> {
    let out = dev.alloc("peak_fma", 16 * inv as u64)?;
    // x ← 0.999·x + 0.001 converges to 1: no overflow, no denormals.
    let p = Params {
        n: inv,
        iters,
        m: 0.999,
        c: 0.001,
    };
    let dev = dev.clone();
    Ok(Box::new(move || {
        dev.dispatch(
            "peak_fma",
            &FMA,
            &[],
            bytemuck::bytes_of(&p),
            vec![Res::Buf(out.clone())],
            grid_1d(inv as usize, WG),
            &[],
        )
    }))
}

fn copy(dev: &Device, bytes: u64) -> Result<Step> {
    let src = dev.alloc("peak_copy", bytes)?;
    let dst = dev.alloc("peak_copy", bytes)?;
    Ok(stream(dev, "peak_copy", &COPY, vec![dst, src], bytes / 16))
}

/// The plainest elementwise add (vec4 loads, no index maths): what `add` could reach. The
/// library's broadcasting kernel pays shape arithmetic and an op switch per element.
pub(super) fn add_ref(r: &mut Vec<Bench>, n: usize) {
    r.push(Bench::memory(
        "add",
        n.to_string(),
        "vec4_ref",
        n as f64,
        12.0 * n as f64,
        move |dev| {
            let a = super::input(dev, &[n], 1)?;
            let b = super::input(dev, &[n], 2)?;
            let y = dev.alloc("add_ref", 4 * n as u64)?;
            let bufs = vec![y, a.buf().clone(), b.buf().clone()];
            Ok(stream(dev, "add_ref", &ADD, bufs, n as u64 / 4))
        },
    ));
}

/// A step running a grid-stride kernel over `n` vec4s of `bufs` (output first).
fn stream(
    dev: &Device,
    op: &'static str,
    k: &'static Kernel,
    bufs: Vec<Arc<GpuBuffer>>,
    n: u64,
) -> Step {
    let p = Params {
        n: n as u32,
        iters: 0,
        m: 0.0,
        c: 0.0,
    };
    let dev = dev.clone();
    Box::new(move || {
        let res = bufs.iter().map(|b| Res::Buf(b.clone())).collect();
        dev.dispatch(
            op,
            k,
            &[],
            bytemuck::bytes_of(&p),
            res,
            grid_1d(n as usize, WG * ITEMS),
            &[],
        )
    })
}
