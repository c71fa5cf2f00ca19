//! GCL loss entries: the fused `adjusted_ce` kernel against its unfused composition of ordinary
//! ops, forward + gradient (loss, then backward) with GCL's stage-2 settings (§5.3 of the
//! methods spec): s = 20, target margin 0.1, Gaussian cloud ε = 0.5 with the CIFAR-style
//! amplitude ramp, focal γ = 1 with p detached. Fresh noise every iteration.

use super::{input, Bench};
use crate::{adjusted_ce_unfused, AdjustedCe, Cloud, Focal, Generator, Tensor};

pub(super) fn entries(r: &mut Vec<Bench>, quick: bool) {
    let shapes: &[[usize; 2]] = if quick {
        &[[128, 10]]
    } else {
        &[[128, 10], [512, 1000], [256, 8142]]
    };
    for &[b, c] in shapes {
        for (kernel, fused) in [("gcl_fused", true), ("gcl_unfused", false)] {
            push(r, kernel, b, c, fused);
        }
    }
}

fn push(r: &mut Vec<Bench>, kernel: &'static str, b: usize, c: usize, fused: bool) {
    let n = (b * c) as f64;
    // Per element: one Philox block per 4 (≈ 50 operations per value, as `randn` counts it)
    // and ~10 for the perturbation, softmax and gradient. Must read x and write dx.
    r.push(Bench::memory(
        kernel,
        format!("{b}x{c}"),
        "stage2",
        60.0 * n,
        8.0 * n,
        move |dev| {
            let x = input(dev, &[b, c], 61)?.into_param();
            let labels: Vec<u32> = (0..b as u32).map(|i| i % c as u32).collect();
            let y = Tensor::from_u32(dev, &labels, &[b])?;
            // Amplitudes 0..1 over the classes, as (log n_max − log n_j) normalised on an
            // exponential long-tail profile.
            let amp: Vec<f32> = (0..c).map(|j| j as f32 / (c - 1).max(1) as f32).collect();
            let amp = Tensor::from_slice(dev, &amp, &[c])?;
            let margin = Tensor::full(dev, &[c], 0.1)?;
            let mut gen = Generator::new(62, 0);
            Ok(Box::new(move || {
                x.zero_grad();
                let a = AdjustedCe {
                    scale: 20.0,
                    margin: Some(&margin),
                    cloud: Some(Cloud {
                        amp: &amp,
                        eps: 0.5,
                        gen: &mut gen,
                    }),
                    focal: Some(Focal {
                        gamma: 1.0,
                        detach: true,
                    }),
                    ..Default::default()
                };
                let loss = if fused {
                    x.adjusted_ce(&y, a)?
                } else {
                    adjusted_ce_unfused(&x, &y, a)?
                };
                loss.backward()
            }))
        },
    ));
}
