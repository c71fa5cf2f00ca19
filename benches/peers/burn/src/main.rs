//! burn 0.22.1 peer for `tailgrad bench`: matmul 256/512/1024 and one MLP 784-256-10 training
//! step (cross-entropy + Adam) at batch 128, on the adapter burn's wgpu `DefaultDevice` picks
//! (wgpu's high-performance request: lavapipe on a machine without a GPU). Prints one JSON
//! object per line with the keys of `tailgrad bench --json`, and a progress line per entry on
//! stderr.
//!
//! Usage: `burn-peer [REPS]` (default 5). Timing: untimed warm-up calls pay burn's JIT and
//! autotune (tens of seconds per matmul size on a cold lavapipe), then each rep runs the op,
//! `device.sync()`s, and the median over reps is reported.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::wgpu::wgpu;
use burn::tensor::Distribution;
use std::time::Instant;

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
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
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

fn emit(
    kernel: &str,
    shape: &str,
    (device, backend): &(String, String),
    ms: f64,
    flops: f64,
    bytes: f64,
) {
    let rec = serde_json::json!({
        "kernel": kernel,
        "shape": shape,
        "device": device,
        "backend": backend,
        "variant": "burn-0.22.1",
        "median_ms": ms,
        "gflops": flops / ms / 1e6,
        "gbps": bytes / ms / 1e6,
    });
    println!("{rec}");
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

fn train_step(device: &Device, reps: usize, adapter: &(String, String)) {
    eprintln!("mlp_adam_step: warm-up ...");
    let device = device.clone().autodiff();
    let mut model = Mlp::new(&device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let x = Tensor::<2>::random([BATCH, IN], Distribution::Default, &device);
    let mut seed = 12345u64;
    let labels: Vec<i32> = (0..BATCH)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % CLASSES as u64) as i32
        })
        .collect();
    let y = Tensor::<1, Int>::from_data(TensorData::new(labels, [BATCH]), &device);
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

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("REPS must be a number"))
        .unwrap_or(5);
    let adapter = adapter_info();
    eprintln!("adapter: {} ({})", adapter.0, adapter.1);
    let device = Device::wgpu(DeviceKind::DefaultDevice);
    for n in [256, 512, 1024] {
        matmul(&device, n, reps, &adapter);
    }
    train_step(&device, reps, &adapter);
}
