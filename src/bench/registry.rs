//! The list of benchmark entries. To add one, push a [`Bench`] from a function here and call it
//! from [`registry`]; see `add` below for the pattern.

use super::{peak, Bench};
use crate::ops::matmul::{self, Variant};
use crate::ops::spectral::PowerIteration;
use crate::optim::{Adam, AdamConfig, Optimizer};
use crate::{Device, Generator, Result, Tensor};

/// Every entry, peaks first (the percentages of the others are relative to them). `quick` keeps
/// the small shapes only, for CI smoke runs. Entries are cheap: nothing is allocated until one is
/// prepared.
pub fn registry(dev: &Device, quick: bool) -> Vec<Bench> {
    let mut r = Vec::new();
    peak::entries(&mut r, dev, quick);
    add(&mut r, quick);
    sum_rows(&mut r, quick);
    softmax(&mut r, quick);
    cross_entropy(&mut r, quick);
    randn(&mut r, quick);
    adam_step(&mut r, quick);
    matmul(&mut r, dev, quick);
    power_iteration(&mut r, quick);
    mlp_adam_step(&mut r, quick);
    super::conv2d::entries(&mut r, dev, quick);
    super::augment::entries(&mut r, quick);
    super::gcl::entries(&mut r, quick);
    super::norm::entries(&mut r, dev, quick);
    super::resnet::entries(&mut r, quick);
    super::gan::entries(&mut r, quick);
    r
}

/// Elementwise add of two same-shape tensors: 1 FLOP and 3×4 bytes per element.
fn add(r: &mut Vec<Bench>, quick: bool) {
    let sizes: &[usize] = if quick {
        &[1 << 20]
    } else {
        &[1 << 20, 1 << 24]
    };
    for &n in sizes {
        r.push(Bench::memory(
            "add",
            n.to_string(),
            "default",
            n as f64,
            12.0 * n as f64,
            move |dev| {
                let a = input(dev, &[n], 1)?;
                let b = input(dev, &[n], 2)?;
                Ok(Box::new(move || a.add(&b).map(drop)))
            },
        ));
        peak::add_ref(r, n);
    }
}

/// Sum over the last axis: reads every element once, writes one value per row.
fn sum_rows(r: &mut Vec<Bench>, quick: bool) {
    let shapes: &[[usize; 2]] = if quick {
        &[[1024, 1024]]
    } else {
        &[[4096, 1024], [64, 65536]]
    };
    for &[rows, cols] in shapes {
        let n = (rows * cols) as f64;
        r.push(Bench::memory(
            "sum_rows",
            format!("{rows}x{cols}"),
            "default",
            n,
            4.0 * (n + rows as f64),
            move |dev| {
                let x = input(dev, &[rows, cols], 3)?;
                Ok(Box::new(move || x.sum(1, false).map(drop)))
            },
        ));
    }
}

/// Softmax over the last axis: reads each element twice (online max/sum, then normalise).
fn softmax(r: &mut Vec<Bench>, quick: bool) {
    let shapes: &[[usize; 2]] = if quick {
        &[[128, 256]]
    } else {
        &[[1024, 256], [256, 8142]]
    };
    for &[rows, cols] in shapes {
        let n = (rows * cols) as f64;
        r.push(Bench::memory(
            "softmax",
            format!("{rows}x{cols}"),
            "auto",
            4.0 * n,
            12.0 * n,
            move |dev| {
                let x = input(dev, &[rows, cols], 4)?;
                Ok(Box::new(move || x.softmax().map(drop)))
            },
        ));
    }
}

/// Fused cross-entropy forward + gradient with integer labels.
fn cross_entropy(r: &mut Vec<Bench>, quick: bool) {
    let shapes: &[[usize; 2]] = if quick {
        &[[128, 10]]
    } else {
        &[[128, 10], [512, 1000]]
    };
    for &[b, c] in shapes {
        let n = (b * c) as f64;
        r.push(Bench::memory(
            "cross_entropy",
            format!("{b}x{c}"),
            "fused",
            6.0 * n,
            12.0 * n,
            move |dev| {
                let x = input(dev, &[b, c], 5)?.into_param();
                let labels: Vec<u32> = (0..b as u32).map(|i| i % c as u32).collect();
                let y = Tensor::from_u32(dev, &labels, &[b])?;
                Ok(Box::new(move || x.cross_entropy(&y)?.backward()))
            },
        ));
    }
}

/// Philox4x32-10 normal samples: 4 outputs per 10-round block.
fn randn(r: &mut Vec<Bench>, quick: bool) {
    let n = if quick { 1 << 16 } else { 1 << 22 };
    r.push(Bench::memory(
        "randn",
        n.to_string(),
        "philox",
        50.0 * n as f64,
        4.0 * n as f64,
        move |dev| {
            let dev = dev.clone();
            let mut g = Generator::new(7, 0);
            Ok(Box::new(move || g.randn(&dev, &[n]).map(drop)))
        },
    ));
}

/// One Adam step over ~100 parameter tensors (~0.45 M values): flat-buffer update, one dispatch.
fn adam_step(r: &mut Vec<Bench>, quick: bool) {
    let pairs = if quick { 5 } else { 50 };
    let shapes: Vec<Vec<usize>> = (0..pairs)
        .flat_map(|i| [vec![96, 90 + i % 7], vec![96]])
        .collect();
    let total: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
    let label = format!("{}tensors_{total}", shapes.len());
    // Reads p, g, m, v and writes p, m, v: 7 floats per value (plus the copies in and out).
    r.push(Bench::memory(
        "adam_step",
        label,
        "flat",
        12.0 * total as f64,
        28.0 * total as f64,
        move |dev| {
            let mut params = Vec::new();
            for (i, s) in shapes.iter().enumerate() {
                let p = input(dev, s, 100 + i as u64)?.into_param();
                p.backward_with(&input(dev, s, 200 + i as u64)?)?;
                params.push(p);
            }
            let mut opt = Adam::new(params, AdamConfig::default())?;
            Ok(Box::new(move || opt.step()))
        },
    ));
}

/// Matmul C = A·B per variant: the square sizes of the issue plus the skinny weight-gradient shape
/// (small M·N, huge K). The storage-buffer variants are too slow on software adapters for the
/// large sizes (≈1 GFLOP/s), so there they run at the small ones only.
fn matmul(r: &mut Vec<Bench>, dev: &Device, quick: bool) {
    let gpu = dev.class() == crate::runtime::DeviceClass::Gpu;
    let mut shapes = vec![
        (256, 256, 256),
        (512, 512, 512),
        (1024, 1024, 1024),
        (2048, 2048, 2048),
        (16, 144, 65536),
    ];
    if gpu {
        shapes.push((4096, 4096, 4096));
    }
    if quick {
        shapes.truncate(1);
    }
    let mut variants = vec![Variant::Auto];
    variants.extend(matmul::variants(dev));
    for (m, n, k) in shapes {
        for &v in &variants {
            let slow = matches!(v, Variant::Tiled | Variant::Blocked) && !gpu;
            if slow && m * n * k > 512 * 512 * 512 {
                continue;
            }
            let flops = 2.0 * (m * n * k) as f64;
            let bytes = 4.0 * (m * k + k * n + m * n) as f64;
            r.push(Bench::compute(
                "matmul",
                format!("{m}x{n}x{k}"),
                v.name(),
                flops,
                bytes,
                move |dev| {
                    let a = input(dev, &[m, k], 11)?;
                    let b = input(dev, &[k, n], 12)?;
                    Ok(Box::new(move || {
                        matmul::matmul_ex(&a, &b, false, false, v).map(drop)
                    }))
                },
            ));
        }
    }
}

/// Batched power iteration σ = uᵀWv over a stack of small matrices (gSR's per-class BN
/// matrices): 6 layers × 10 classes of 16×16, and 1000 classes of 16×24.
fn power_iteration(r: &mut Vec<Bench>, quick: bool) {
    let stacks: &[[usize; 3]] = if quick {
        &[[60, 16, 16]]
    } else {
        &[[60, 16, 16], [1000, 16, 24]]
    };
    for &[batch, rows, cols] in stacks {
        for iters in [1u32, 5] {
            // Each iteration: Wᵀu and Wv (2 FLOP per weight each), then σ = uᵀ(Wv).
            let flops = (batch * rows * cols) as f64 * (4.0 * iters as f64 + 2.0);
            let bytes = 4.0 * (batch * (rows * cols + 2 * (rows + cols) + 1)) as f64;
            r.push(Bench::compute(
                "power_iteration",
                format!("{batch}x{rows}x{cols}"),
                if iters == 1 { "iters1" } else { "iters5" },
                flops,
                bytes,
                move |dev| {
                    let w = input(dev, &[batch, rows, cols], 13)?;
                    let mut pi = PowerIteration::new(dev, batch, rows, cols, 14, iters, 1e-3)?;
                    Ok(Box::new(move || pi.sigma(&w).map(drop)))
                },
            ));
        }
    }
}

/// One training step of an MLP 784-256-10 (bias, ReLU, cross-entropy) with Adam at batch 128:
/// forward, backward and the update, recorded into one submit.
fn mlp_adam_step(r: &mut Vec<Bench>, quick: bool) {
    let batch = if quick { 32 } else { 128 };
    let (d_in, hidden, classes) = (784, 256, 10);
    // Forward, the two weight gradients and the hidden-layer gradient (the input needs none), as
    // the burn peer counts them: ≈ 104.7 MFLOP at batch 128.
    let fwd = 2.0 * batch as f64 * (d_in * hidden + hidden * classes) as f64;
    let flops = 2.0 * fwd + 2.0 * (batch * hidden * classes) as f64;
    let params = (d_in * hidden + hidden + hidden * classes + classes) as f64;
    r.push(Bench::compute(
        "mlp_adam_step",
        format!("{batch}x{d_in}-{hidden}-{classes}"),
        "auto",
        flops,
        4.0 * (batch * d_in) as f64 + 28.0 * params,
        move |dev| {
            let w1 = input(dev, &[d_in, hidden], 21)?.scale(0.05)?.into_param();
            let b1 = Tensor::zeros(dev, &[hidden])?.into_param();
            let w2 = input(dev, &[hidden, classes], 22)?.scale(0.1)?.into_param();
            let b2 = Tensor::zeros(dev, &[classes])?.into_param();
            let x = input(dev, &[batch, d_in], 23)?;
            let labels: Vec<u32> = (0..batch as u32).map(|i| i % classes as u32).collect();
            let y = Tensor::from_u32(dev, &labels, &[batch])?;
            let mut opt = Adam::new(
                vec![w1.clone(), b1.clone(), w2.clone(), b2.clone()],
                AdamConfig::default(),
            )?;
            Ok(Box::new(move || {
                let h = x.matmul(&w1)?.add(&b1)?.relu()?;
                let loss = h.matmul(&w2)?.add(&b2)?.cross_entropy(&y)?;
                opt.zero_grad();
                loss.backward()?;
                opt.step()
            }))
        },
    ));
}

/// Uniform values in [-1, 1) from the GPU generator, seeded per input so runs are reproducible.
pub fn input(dev: &Device, shape: &[usize], seed: u64) -> Result<Tensor> {
    Generator::new(seed, 0).uniform(dev, shape, -1.0, 1.0)
}
