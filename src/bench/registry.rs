//! The list of benchmark entries. To add one, push a [`Bench`] from a function here and call it
//! from [`registry`]; see `add` below for the pattern.

use super::{peak, Bench};
use crate::{Device, Result, Tensor};

/// Every entry, peaks first (the percentages of the others are relative to them). `quick` keeps
/// the small shapes only, for CI smoke runs. Entries are cheap: nothing is allocated until one is
/// prepared.
pub fn registry(dev: &Device, quick: bool) -> Vec<Bench> {
    let mut r = Vec::new();
    peak::entries(&mut r, dev, quick);
    add(&mut r, quick);
    sum_rows(&mut r, quick);
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

/// A tensor of uniform values in [-1, 1) from a seeded xorshift generator (reproducible inputs
/// without a rand dependency).
pub fn input(dev: &Device, shape: &[usize], seed: u64) -> Result<Tensor> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            let bits = s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
            bits as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    Tensor::from_slice(dev, &data, shape)
}
