//! Whole-model GAN entries at the small preset's and the paper's widths (SNGAN-32, batch 64,
//! 1-channel 32×32 real images from the bundled long-tailed set): G's forward, D's forward and
//! backward on a D step's batch (real and fake, 2B), one G step (G forward and backward through
//! the frozen D, Adam) and a whole iteration (n_dis = 5 D steps, then the G step), all through
//! the trainer's own code. FLOPs count 2 per multiply-accumulate of the convolutions and linear
//! layers; a backward is 2× its forward (input and weight gradients), 1× through the frozen D; a
//! D step runs G forward once on B images and D forward and backward on 2B.

use super::Bench;
use crate::nn::sngan::{Discriminator, Generator, SnganConfig};
use crate::nn::{self, Mode};
use crate::train::gan::{GanConfig, GanTrainer};
use crate::{no_grad, Generator as Rng, Result, Tensor};

const BATCH: usize = 64;
const N_DIS: usize = 5;

pub(super) fn entries(r: &mut Vec<Bench>, quick: bool) {
    let widths: &[(&str, usize, usize)] = match quick {
        true => &[("small", 16, 16)],
        false => &[("small", 32, 32), ("paper", 256, 128)],
    };
    let b = if quick { 8 } else { BATCH };
    for &(name, gw, dw) in widths {
        let cfg = GanConfig {
            dataset: "bundled".into(),
            g_width: gw,
            d_width: dw,
            batch: b,
            n_dis: N_DIS,
            ..GanConfig::default()
        };
        let model = cfg.model(1, 10);
        let (g, d) = sngan_macs(&model);
        let (gb, db) = (g * b as f64, d * b as f64);
        let shape = format!("{b}x1x32x32 G{gw} D{dw}");
        let variant = name.to_string();
        let d_step = gb + 3.0 * 2.0 * db;
        let g_step = 3.0 * gb + 2.0 * db;
        r.push(forward_g(
            shape.clone(),
            variant.clone(),
            model,
            b,
            2.0 * gb,
        ));
        r.push(d_fwd_bwd(
            shape.clone(),
            variant.clone(),
            model,
            b,
            6.0 * 2.0 * db,
        ));
        r.push(trainer_entry(
            "gan_g_step",
            shape.clone(),
            variant.clone(),
            &cfg,
            2.0 * g_step,
            b,
            false,
        ));
        let iteration = 2.0 * (N_DIS as f64 * d_step + g_step);
        let items = (N_DIS * 2 * b + b) as f64;
        r.push(trainer_entry(
            "gan_iteration",
            shape,
            variant,
            &cfg,
            iteration,
            items as usize,
            true,
        ));
    }
}

fn forward_g(shape: String, variant: String, m: SnganConfig, b: usize, flops: f64) -> Bench {
    Bench::compute("gan_g_forward", shape, variant, flops, 0.0, move |dev| {
        let g = Generator::new(dev, &mut Rng::new(1, 0), &m)?;
        let z = Rng::new(2, 0).randn(dev, &[b, m.z_dim])?;
        let y = labels(dev, b)?;
        Ok(Box::new(move || {
            let _guard = no_grad();
            g.forward(&z, &y).map(drop)
        }))
    })
    .with_items(b as f64)
}

fn d_fwd_bwd(shape: String, variant: String, m: SnganConfig, b: usize, flops: f64) -> Bench {
    Bench::compute("gan_d_fwd_bwd", shape, variant, flops, 0.0, move |dev| {
        let d = Discriminator::new(dev, &mut Rng::new(1, 0), &m)?;
        let x = Rng::new(3, 0).randn(dev, &[2 * b, m.channels, 32, 32])?;
        let y = labels(dev, 2 * b)?;
        Ok(Box::new(move || {
            d.forward(&x, &y, Mode::Train)?.sum_all()?.backward()?;
            nn::parameters(&d).iter().for_each(Tensor::zero_grad);
            Ok(())
        }))
    })
    .with_items(2.0 * b as f64)
}

/// A G step or a whole iteration of a [`GanTrainer`] (each optimizer step ends the device
/// step, as in training).
fn trainer_entry(
    kernel: &'static str,
    shape: String,
    variant: String,
    cfg: &GanConfig,
    flops: f64,
    items: usize,
    whole: bool,
) -> Bench {
    let cfg = cfg.clone();
    Bench::compute(kernel, shape, variant, flops, 0.0, move |_| {
        let mut t = GanTrainer::new(&cfg)?;
        Ok(Box::new(move || match whole {
            true => t.iteration(),
            false => t.g_step(),
        }))
    })
    .with_items(items as f64)
}

fn labels(dev: &crate::Device, n: usize) -> Result<Tensor> {
    let y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
    Tensor::from_u32(dev, &y, &[n])
}

/// Multiply-accumulates of one image through G and through D (convolutions, linear layers and
/// D's projection; normalisation and pooling are not counted).
pub fn sngan_macs(m: &SnganConfig) -> (f64, f64) {
    let conv = |cin: usize, cout: usize, k: usize, hw: usize| (cin * cout * k * k * hw * hw) as f64;
    let (g, c) = (m.g_width, m.channels);
    let mut gm = (m.z_dim * g * 16) as f64;
    for hw in [8, 16, 32] {
        gm += 2.0 * conv(g, g, 3, hw) + conv(g, g, 1, hw);
    }
    gm += conv(g, c, 3, 32);
    let d = m.d_width;
    let dm = conv(c, d, 3, 32)
        + conv(d, d, 3, 32)
        + conv(c, d, 1, 16)
        + 2.0 * conv(d, d, 3, 16)
        + conv(d, d, 1, 16)
        + 4.0 * conv(d, d, 3, 8)
        + 2.0 * d as f64;
    (gm, dm)
}
