//! burn 0.22.1 peer for `tailgrad bench`: matmul 256/512/1024 and one MLP 784-256-10 training
//! step (cross-entropy + Adam) at batch 128, on the adapter burn's wgpu `DefaultDevice` picks
//! (wgpu's high-performance request: lavapipe on a machine without a GPU). Prints one JSON
//! object per line with the keys of `tailgrad bench --json`, and a progress line per entry on
//! stderr.
//!
//! Also conv2d forward at the ResNet stem (batch 64, 3→16, 32×32), conv2d forward, grad-input
//! and grad-weight at the five ResNet-32 layer shapes (batch 128), and one whole ResNet-32
//! training step (batch 128, SGD momentum 0.9, wd 5e-4); see `conv.rs` and `resnet.rs`.
//!
//! Usage: `burn-peer [REPS] [ENTRY...]`, REPS default 5, ENTRY one of `matmul`, `mlp`, `conv`,
//! `resnet32` or `resnet32:BATCH` (default: all, the ResNet step at batch 128). Timing: untimed warm-up calls pay burn's JIT and autotune (tens of
//! seconds per matmul size on a cold lavapipe), then each rep runs the op, `device.sync()`s, and
//! the median over reps is reported.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::wgpu::wgpu;
use burn::tensor::Distribution;
use std::time::Instant;

mod conv;
mod resnet;

const BATCH: usize = 128;
const IN: usize = 784;
const HIDDEN: usize = 256;
const CLASSES: usize = 10;
const WARMUP: usize = 2;

#[derive(Module, Debug)]
struct Mlp {
    fc1: Linear,
    act: Relu,
    fc2: Linear,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Self {
            fc1: LinearConfig::new(IN, HIDDEN).init(device),
            act: Relu::new(),
            fc2: LinearConfig::new(HIDDEN, CLASSES).init(device),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(self.act.forward(self.fc1.forward(x)))
    }
}

/// The adapter burn's `DeviceKind::DefaultDevice` gets, found the way cubecl-wgpu 0.11 finds
/// it: the first of Vulkan, DX12, GL that has a non-CPU adapter (else the first with any), then
/// wgpu's high-performance request on that backend alone.
fn adapter_info() -> (String, String) {
    let mut chosen = None;
    for backend in [
        wgpu::Backends::VULKAN,
        wgpu::Backends::DX12,
        wgpu::Backends::GL,
    ] {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backend;
        let instance = wgpu::Instance::new(desc);
        let infos: Vec<_> = pollster::block_on(instance.enumerate_adapters(backend))
            .iter()
            .map(|a| a.get_info())
            .collect();
        if infos.iter().any(|i| i.device_type != wgpu::DeviceType::Cpu) {
            chosen = Some(instance);
            break;
        }
        if chosen.is_none() && !infos.is_empty() {
            chosen = Some(instance);
        }
    }
    let options = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    };
    match chosen.map(|i| pollster::block_on(i.request_adapter(&options))) {
        Some(Ok(a)) => {
            let info = a.get_info();
            (info.name, format!("{:?}", info.backend).to_lowercase())
        }
        _ => ("unknown".into(), "unknown".into()),
    }
}

/// Median wall time in ms of `reps` calls of `f` after `WARMUP` untimed ones; `f` must sync.
pub(crate) fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..WARMUP {
        f();
    }
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// One result line with the keys of `tailgrad bench --json`.
pub(crate) fn record(
    kernel: &str,
    shape: &str,
    (device, backend): &(String, String),
    ms: f64,
    flops: f64,
    bytes: f64,
) -> serde_json::Value {
    serde_json::json!({
        "kernel": kernel,
        "shape": shape,
        "device": device,
        "backend": backend,
        "variant": "burn-0.22.1",
        "median_ms": ms,
        "gflops": flops / ms / 1e6,
        "gbps": bytes / ms / 1e6,
    })
}

pub(crate) fn emit(
    kernel: &str,
    shape: &str,
    adapter: &(String, String),
    ms: f64,
    flops: f64,
    bytes: f64,
) {
    println!("{}", record(kernel, shape, adapter, ms, flops, bytes));
}

fn matmul(device: &Device, n: usize, reps: usize, adapter: &(String, String)) {
    eprintln!("matmul {n}: warm-up (JIT + autotune) ...");
    let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    let b = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), device);
    device.sync().expect("inputs ready");
    let ms = median_ms(reps, || {
        // Held across the sync so a lazy backend cannot skip an unused result.
        let c = a.clone().matmul(b.clone());
        device.sync().expect("matmul");
        drop(c);
    });
    let n3 = (n * n * n) as f64;
    let shape = format!("{n}x{n}x{n}");
    emit(
        "matmul",
        &shape,
        adapter,
        ms,
        2.0 * n3,
        12.0 * (n * n) as f64,
    );
}

/// `n` pseudo-random class labels in `0..classes` (fixed LCG seed, so runs are comparable).
pub(crate) fn labels(n: usize, classes: usize, device: &Device) -> Tensor<1, Int> {
    let mut seed = 12345u64;
    let v: Vec<i32> = (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % classes as u64) as i32
        })
        .collect();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn train_step(device: &Device, reps: usize, adapter: &(String, String)) {
    eprintln!("mlp_adam_step: warm-up ...");
    let device = device.clone().autodiff();
    let mut model = Mlp::new(&device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let x = Tensor::<2>::random([BATCH, IN], Distribution::Default, &device);
    let y = labels(BATCH, CLASSES, &device);
    device.sync().expect("inputs ready");
    let (mut first, mut last) = (None, None);
    let ms = median_ms(reps, || {
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model.clone(), grads);
        device.sync().expect("train step");
        let loss = loss.detach();
        first.get_or_insert_with(|| loss.clone());
        last = Some(loss);
    });
    let read = |t: Option<Tensor<1>>| t.map_or(f32::NAN, |t| t.into_scalar::<f32>());
    eprintln!(
        "mlp_adam_step: loss {:.4} -> {:.4} (same batch every step: must decrease)",
        read(first),
        read(last)
    );
    // Forward 2·B·(784·256 + 256·10); backward dW1, dW2 and the hidden-layer gradient (the
    // input needs none): ≈ 2 × forward. Bytes: input, labels, weights read once.
    let b = BATCH as f64;
    let fwd = 2.0 * b * (IN * HIDDEN + HIDDEN * CLASSES) as f64;
    let bwd = 2.0 * b * (IN * HIDDEN + 2 * HIDDEN * CLASSES) as f64;
    let params = (IN * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES) as f64;
    let bytes = 4.0 * (b * IN as f64 + b + params);
    let shape = format!("{BATCH}x{IN}-{HIDDEN}-{CLASSES}");
    emit("mlp_adam_step", &shape, adapter, ms, fwd + bwd, bytes);
}

const ENTRIES: [&str; 4] = ["matmul", "mlp", "conv", "resnet32"];

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let reps: usize = match args.peek().and_then(|a| a.parse().ok()) {
        Some(n) => {
            args.next();
            n
        }
        None => 5,
    };
    let mut picked: Vec<String> = args.collect();
    let known = |e: &str| match e.split_once(':') {
        Some(("resnet32", b)) => b.parse::<usize>().is_ok_and(|b| b > 0),
        Some(_) => false,
        None => ENTRIES.contains(&e),
    };
    if let Some(bad) = picked.iter().find(|e| !known(e)) {
        eprintln!(
            "unknown entry {bad:?}; usage: burn-peer [REPS] [{}|resnet32:BATCH]...",
            ENTRIES.join("|")
        );
        std::process::exit(2);
    }
    if picked.is_empty() {
        picked = ENTRIES.iter().map(|e| e.to_string()).collect();
    }
    let adapter = adapter_info();
    eprintln!("adapter: {} ({})", adapter.0, adapter.1);
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let on = |e: &str| picked.iter().any(|p| p == e);
    if on("matmul") {
        for n in [256, 512, 1024] {
            matmul(&device, n, reps, &adapter);
        }
    }
    if on("mlp") {
        train_step(&device, reps, &adapter);
    }
    if on("conv") {
        conv::entries(&device, reps, &adapter);
    }
    for e in &picked {
        if let Some(rest) = e.strip_prefix("resnet32") {
            let batch = rest
                .strip_prefix(':')
                .map_or(128, |b| b.parse().expect("checked"));
            resnet::train_step(&device, batch, reps, &adapter);
        }
    }
}
