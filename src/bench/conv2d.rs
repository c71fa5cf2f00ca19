//! conv2d entries: the forward pass and both gradients per variant, at the ResNet stem (batch 64,
//! 3→16, 32×32) and at the five 3×3 conv shapes of a CIFAR ResNet-32 at batch 128. Shapes read
//! `BxCxHxW-OxKHxKW`, with `s2` appended for stride 2; every conv here pads by 1.

use super::registry::input;
use super::Bench;
use crate::ops::conv2d::{self, Geom, Variant};
use crate::runtime::DeviceClass;
use crate::Device;

/// (batch, in channels, size, out channels, stride), 3×3 kernels, pad 1.
const SHAPES: &[(usize, usize, usize, usize, usize)] = &[
    (64, 3, 32, 16, 1),
    (128, 16, 32, 16, 1),
    (128, 16, 32, 32, 2),
    (128, 32, 16, 32, 1),
    (128, 32, 16, 64, 2),
    (128, 64, 8, 64, 1),
];
const QUICK: (usize, usize, usize, usize, usize) = (8, 3, 32, 16, 1);

pub(super) fn entries(r: &mut Vec<Bench>, dev: &Device, quick: bool) {
    let shapes = if quick { &[QUICK][..] } else { SHAPES };
    for kernel in ["conv2d", "conv2d_grad_input", "conv2d_grad_weight"] {
        for (i, &(b, c, hw, o, s)) in shapes.iter().enumerate() {
            let g = Geom::new("conv2d", &[b, c, hw, hw], &[o, c, 3, 3], s, 1)
                .expect("bench shapes are valid");
            for v in conv2d::variants(dev) {
                // The reference and the GPU variant run at ≈1 GFLOP/s on a software adapter:
                // there they are timed at the first shape only.
                let slow = v != Variant::Texture && dev.class() == DeviceClass::Software;
                if slow && i > 0 {
                    continue;
                }
                r.push(entry(kernel, g, v));
            }
        }
    }
}

fn entry(kernel: &'static str, g: Geom, v: Variant) -> Bench {
    let mut shape = format!("{}x{}x{}x{}-{}x{}x{}", g.b, g.c, g.h, g.w, g.o, g.kh, g.kw);
    if g.stride == 2 {
        shape.push_str("s2");
    }
    let [x, w, y] = [g.x_shape(), g.w_shape(), g.y_shape()].map(|s| s.iter().product::<usize>());
    // Each pass reads two of x, w, y and writes the third.
    let bytes = 4.0 * (x + w + y) as f64;
    Bench::compute(kernel, shape, v.name(), g.flops(), bytes, move |dev| {
        let xt = input(dev, &g.x_shape(), 31)?;
        let wt = input(dev, &g.w_shape(), 32)?;
        let dy = input(dev, &g.y_shape(), 33)?;
        let (s, p) = (g.stride, g.pad);
        Ok(match kernel {
            "conv2d" => Box::new(move || conv2d::conv2d_ex(&xt, &wt, None, s, p, v).map(drop)),
            "conv2d_grad_input" => Box::new(move || {
                conv2d::conv2d_grad_input(&dy, &wt, &g.x_shape(), s, p, v).map(drop)
            }),
            _ => Box::new(move || {
                conv2d::conv2d_grad_weight(&xt, &dy, &g.w_shape(), s, p, v).map(drop)
            }),
        })
    })
}
