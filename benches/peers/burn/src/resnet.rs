//! One CIFAR ResNet-32 training step (option-A shortcuts, methods.md §1.3): stem conv-BN-ReLU,
//! 3 stages × 5 BasicBlocks of 16/32/64 channels, parameter-free shortcut (every second pixel,
//! zero channel padding), global average pool, Linear 64→10. A fixed batch (128 unless asked
//! otherwise) of N(0, 1) 3×32×32 inputs, cross-entropy, SGD (lr 0.01, momentum 0.9 without
//! dampening, weight decay 5e-4 on every parameter). A timed step is forward + backward +
//! optimizer update, then `device.sync()`.

use crate::{labels, median_ms, record};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::ops::PadMode;
use burn::tensor::Distribution;
use std::time::Instant;

const HW: usize = 32;
const CLASSES: usize = 10;
const BLOCKS: usize = 5;
/// Smaller than the CIFAR recipe's 0.1 so that the loss on the repeated batch falls step by
/// step, a sanity check of the gradients; the step's cost does not depend on it.
const LR: f64 = 0.01;

/// Kaiming-normal, fan_in, ReLU gain (§1.3).
fn kaiming() -> Initializer {
    Initializer::KaimingNormal {
        gain: 2f64.sqrt(),
        fan_out_only: false,
    }
}

fn conv3x3(cin: usize, cout: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [3, 3])
        .with_stride([stride; 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .with_initializer(kaiming())
        .init(device)
}

#[derive(Module, Debug)]
struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Zero channels added before and after the subsampled input; 0 = identity shortcut.
    pad: usize,
}

impl BasicBlock {
    fn new(cin: usize, cout: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv1: conv3x3(cin, cout, stride, device),
            bn1: BatchNormConfig::new(cout).init(device),
            conv2: conv3x3(cout, cout, 1, device),
            bn2: BatchNormConfig::new(cout).init(device),
            pad: (cout - cin) / 2,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.bn1.forward(self.conv1.forward(x.clone())));
        let y = self.bn2.forward(self.conv2.forward(y));
        // Every stride-2 block in ResNet-32 also widens, so `pad > 0` marks option A.
        let shortcut = if self.pad == 0 {
            x
        } else {
            x.slice(s![.., .., ..;2, ..;2]).pad(
                [(self.pad, self.pad), (0, 0), (0, 0)],
                PadMode::Constant(0.0),
            )
        };
        relu(y + shortcut)
    }
}

#[derive(Module, Debug)]
struct ResNet32 {
    conv: Conv2d,
    bn: BatchNorm,
    blocks: Vec<BasicBlock>,
    fc: Linear,
}

impl ResNet32 {
    fn new(device: &Device) -> Self {
        let mut blocks = Vec::new();
        let mut cin = 16;
        for (stage, cout) in [16, 32, 64].into_iter().enumerate() {
            for i in 0..BLOCKS {
                let stride = if stage > 0 && i == 0 { 2 } else { 1 };
                blocks.push(BasicBlock::new(cin, cout, stride, device));
                cin = cout;
            }
        }
        Self {
            conv: conv3x3(3, 16, 1, device),
            bn: BatchNormConfig::new(16).init(device),
            blocks,
            fc: LinearConfig::new(64, CLASSES)
                .with_initializer(kaiming())
                .init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut y = relu(self.bn.forward(self.conv.forward(x)));
        for block in &self.blocks {
            y = block.forward(y);
        }
        let [b, c, h, w] = y.dims();
        let pooled = y.reshape([b, c, h * w]).mean_dim(2).reshape([b, c]);
        self.fc.forward(pooled)
    }
}

pub fn train_step(device: &Device, batch: usize, reps: usize, adapter: &(String, String)) {
    eprintln!(
        "resnet32_step batch {batch}: warm-up (minutes of JIT + autotune on a cold lavapipe) ..."
    );
    let device = device.clone().autodiff();
    let mut model = ResNet32::new(&device);
    let params = model.num_params();
    let mut optim = SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_dampening(0.0)))
        .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let x = Tensor::<4>::random([batch, 3, HW, HW], Distribution::Normal(0.0, 1.0), &device);
    let y = labels(batch, CLASSES, &device);
    device.sync().expect("inputs ready");
    let mut losses = Vec::new();
    let ms = median_ms(reps, || {
        let t = Instant::now();
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(LR, model.clone(), grads);
        device.sync().expect("train step");
        losses.push(loss.detach());
        eprintln!(
            "resnet32_step: step {} took {:.1} s",
            losses.len(),
            t.elapsed().as_secs_f64()
        );
    });
    let losses: Vec<f32> = losses.into_iter().map(|l| l.into_scalar::<f32>()).collect();
    let finite = losses.iter().all(|l| l.is_finite());
    eprintln!(
        "resnet32_step: {params} parameters (incl. BN running statistics); losses per step \
         {losses:.4?} (same batch every step: must be finite and fall){}",
        if finite {
            ""
        } else {
            "; NOT FINITE: burn computed garbage, see README"
        }
    );
    let mut rec = record(
        "resnet32_step",
        &format!("{batch}x3x{HW}x{HW}"),
        adapter,
        ms,
        0.0,
        0.0,
    );
    rec["images_per_sec"] = serde_json::json!(batch as f64 / (ms / 1e3));
    rec["losses_finite"] = serde_json::json!(finite);
    println!("{rec}");
}
