//! Normalisation and pooling entries at ResNet-32 shapes (batch 128 on CIFAR): batch norm in
//! training (forward + backward), the option-A shortcut and the global average pool; and
//! conditional batch norm at the SNGAN generator's last block (batch 64, 256×32×32).

use super::{input, Bench};
use crate::ops::batch_norm::{batch_norm2d_ex, cond_batch_norm2d_ex, BnVariant};
use crate::{BatchNorm, BnMode, CondBatchNorm, Device, Tensor};

pub(super) fn entries(r: &mut Vec<Bench>, _dev: &Device, quick: bool) {
    let b = if quick { 16 } else { 128 };
    batch_norm2d(r, b);
    shortcut_a(r, b);
    global_avg_pool(r, b);
    cond_batch_norm2d(r, if quick { 16 } else { 64 });
}

/// Training-mode BN with affine and fused ReLU, forward and backward (dx, dgamma, dbeta) at the
/// first stage's 16×32×32, in each reduction variant; and at 31×31, whose planes are not a
/// multiple of 4 long, so software adapters read storage buffers instead of textures. Must move
/// at least x and g in, y and dx out: 16 bytes per element.
fn batch_norm2d(r: &mut Vec<Bench>, b: usize) {
    let cases = [
        (32, BnVariant::Auto, "auto"),
        (32, BnVariant::Lanes, "lanes"),
        (32, BnVariant::Tree, "tree"),
        (31, BnVariant::Auto, "auto"),
    ];
    for (hw, variant, name) in cases {
        let shape = [b, 16, hw, hw];
        let n: usize = shape.iter().product();
        // Per element: 4 FLOPs for the statistics, 4 to normalise, 7 and 8 in the two backward
        // passes (ReLU mask recomputed in both).
        r.push(Bench::memory(
            "batch_norm2d",
            format!("{b}x16x{hw}x{hw}"),
            name,
            23.0 * n as f64,
            16.0 * n as f64,
            move |dev| {
                let x = input(dev, &shape, 41)?.into_param();
                let g = input(dev, &shape, 42)?;
                let gamma = Tensor::full(dev, &[16], 1.0)?.into_param();
                let beta = Tensor::zeros(dev, &[16])?.into_param();
                let (mean, var) = (Tensor::zeros(dev, &[16])?, Tensor::full(dev, &[16], 1.0)?);
                Ok(Box::new(move || {
                    for t in [&x, &gamma, &beta] {
                        t.zero_grad();
                    }
                    let bn = BatchNorm {
                        gamma: Some(&gamma),
                        beta: Some(&beta),
                        running_mean: Some(&mean),
                        running_var: Some(&var),
                        mode: BnMode::Train { momentum: 0.1 },
                        eps: 1e-5,
                        relu: true,
                    };
                    batch_norm2d_ex(&x, &bn, variant)?.backward_with(&g)
                }))
            },
        ));
    }
}

/// The 16→32 stride-2 shortcut, forward and backward: reads x and g once, writes y and dx.
fn shortcut_a(r: &mut Vec<Bench>, b: usize) {
    let shape = [b, 16, 32, 32];
    let n: usize = shape.iter().product();
    r.push(Bench::memory(
        "shortcut_a",
        format!("{b}x16x32x32-s2-32"),
        "default",
        0.0,
        // x and dx: n each; y and its gradient: [b, 32, 16, 16] = n/2 each.
        4.0 * (3 * n) as f64,
        move |dev| {
            let x = input(dev, &shape, 43)?.into_param();
            let g = input(dev, &[b, 32, 16, 16], 44)?;
            Ok(Box::new(move || {
                x.zero_grad();
                x.shortcut_a(2, 32)?.backward_with(&g)
            }))
        },
    ));
}

/// The global average pool before the head, forward only: [b, 64, 8, 8] → [b, 64].
fn global_avg_pool(r: &mut Vec<Bench>, b: usize) {
    let shape = [b, 64, 8, 8];
    let n: usize = shape.iter().product();
    r.push(Bench::memory(
        "global_avg_pool",
        format!("{b}x64x8x8"),
        "default",
        n as f64,
        4.0 * (n + b * 64) as f64,
        move |dev| {
            let x = input(dev, &shape, 45)?;
            Ok(Box::new(move || x.global_avg_pool().map(drop)))
        },
    ));
}

/// Conditional BN with fused ReLU, forward and backward (dx, dgain, dbias) at the last GenBlock's
/// 256×32×32, in each reduction variant. Bytes and FLOPs as batch_norm2d's (the per-sample gain
/// and bias are read once per plane).
fn cond_batch_norm2d(r: &mut Vec<Bench>, b: usize) {
    let shape = [b, 256, 32, 32];
    let n: usize = shape.iter().product();
    for (variant, name) in [
        (BnVariant::Auto, "auto"),
        (BnVariant::Lanes, "lanes"),
        (BnVariant::Tree, "tree"),
    ] {
        r.push(Bench::memory(
            "cond_batch_norm2d",
            format!("{b}x256x32x32"),
            name,
            23.0 * n as f64,
            16.0 * n as f64,
            move |dev| {
                let x = input(dev, &shape, 46)?.into_param();
                let g = input(dev, &shape, 47)?;
                let gain = input(dev, &[b, 256], 48)?.add_scalar(1.0)?.into_param();
                let bias = input(dev, &[b, 256], 49)?.into_param();
                Ok(Box::new(move || {
                    for t in [&x, &gain, &bias] {
                        t.zero_grad();
                    }
                    let cbn = CondBatchNorm {
                        gain: &gain,
                        bias: &bias,
                        eps: 1e-4,
                        relu: true,
                    };
                    cond_batch_norm2d_ex(&x, &cbn, variant)?.backward_with(&g)
                }))
            },
        ));
    }
}
