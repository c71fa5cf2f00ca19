//! Whole-model entry: one ResNet-32 training step (forward, cross-entropy, backward, SGD with
//! momentum and weight decay) on a CIFAR-shaped batch, reported as images/s.

use super::{input, Bench};
use crate::nn::{self, Arch, Classifier, HeadKind, Mode, Module};
use crate::optim::{Optimizer, Sgd, SgdConfig};
use crate::Tensor;

pub(super) fn entries(r: &mut Vec<Bench>, quick: bool) {
    let (depth, b) = if quick { (8, 16) } else { (32, 128) };
    let kernel = if quick {
        "resnet8_step"
    } else {
        "resnet32_step"
    };
    // Forward FLOPs of ResNet-32 per 32×32 image: 2·Σ MACs of the convolutions and the head
    // (≈ 69 M MACs for ResNet-32); a training step is ≈ 3× the forward.
    let macs = resnet_macs(depth);
    r.push(
        Bench::compute(
            kernel,
            format!("{b}x3x32x32"),
            "sgd",
            3.0 * 2.0 * macs * b as f64,
            0.0,
            move |dev| {
                let model = Classifier::new(dev, 0, Arch::ResNet(depth), HeadKind::Linear, 3, 10)?;
                let mut opt = Sgd::new(
                    nn::parameters(&model),
                    SgdConfig {
                        lr: 0.05,
                        momentum: 0.9,
                        nesterov: false,
                        weight_decay: 5e-4,
                    },
                )?;
                let x = input(dev, &[b, 3, 32, 32], 41)?;
                let labels: Vec<u32> = (0..b as u32).map(|i| i % 10).collect();
                let y = Tensor::from_u32(dev, &labels, &[b])?;
                Ok(Box::new(move || {
                    let loss = model.forward(&x, Mode::Train)?.cross_entropy(&y)?;
                    loss.backward()?;
                    opt.step()?;
                    opt.zero_grad();
                    Ok(())
                }))
            },
        )
        .with_items(b as f64),
    );
}

/// Multiply-accumulates of one forward pass of the CIFAR ResNet of this depth (convs + head).
fn resnet_macs(depth: usize) -> f64 {
    let n = (depth - 2) / 6;
    let conv = |cin: usize, cout: usize, hw: usize| (cin * cout * 9 * hw * hw) as f64;
    let mut macs = conv(3, 16, 32);
    for (s, (w, hw)) in [(16, 32), (32, 16), (64, 8)].into_iter().enumerate() {
        let cin = if s == 0 { 16 } else { w / 2 };
        macs += conv(cin, w, hw) + conv(w, w, hw) + (2 * n - 2) as f64 * conv(w, w, hw);
    }
    macs + 64.0 * 10.0
}
