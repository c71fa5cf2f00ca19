//! A ResNet training step after warm-up: no allocation, no compile, one submit. Its own binary:
//! the device counters are process-wide and no other test may allocate or submit meanwhile.

mod common;
use common::*;
use tailgrad::nn::{self, Arch, Classifier, HeadKind, Mode, Module};
use tailgrad::optim::{Optimizer, Sgd, SgdConfig};
use tailgrad::{Generator, Tensor};

#[test]
fn resnet_training_step_reaches_a_steady_state() {
    // After warm-up a ResNet step allocates no buffer, compiles no pipeline and submits once.
    let d = dev();
    let m = Classifier::new(&d, 3, Arch::ResNet(8), HeadKind::Normed, 3, 10).unwrap();
    let mut opt = Sgd::new(
        nn::parameters(&m),
        SgdConfig {
            lr: 0.05,
            momentum: 0.9,
            nesterov: false,
            weight_decay: 5e-4,
        },
    )
    .unwrap();
    let x = Generator::new(4, 0).randn(&d, &[8, 3, 32, 32]).unwrap();
    let y = Tensor::from_u32(&d, &[0, 1, 2, 3, 4, 5, 6, 7], &[8]).unwrap();
    let mut marks = Vec::new();
    for _ in 0..6 {
        let loss = m
            .forward(&x, Mode::Train)
            .unwrap()
            .scale(30.0)
            .unwrap()
            .cross_entropy(&y)
            .unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
        opt.zero_grad();
        d.end_step().unwrap();
        marks.push((d.buffers_created(), d.pipelines_compiled(), d.counters().1));
    }
    assert_steady(&marks);
}
