//! The list of benchmark entries. To add one, push a [`Bench`] from a function here and call it
//! from [`registry`]; see `add` below for the pattern.

use super::{peak, Bench};
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

/// Uniform values in [-1, 1) from the GPU generator, seeded per input so runs are reproducible.
pub fn input(dev: &Device, shape: &[usize], seed: u64) -> Result<Tensor> {
    Generator::new(seed, 0).uniform(dev, shape, -1.0, 1.0)
}
