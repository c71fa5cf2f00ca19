//! SNGAN-32 (methods.md §2.8): parameter counts at the paper's widths, state names, orthogonal
//! init with zero biases, output shapes and range at a tiny width, a D(G(z, y), y) backward
//! reaching every parameter of both nets, and a G step through a frozen D.
mod common;
use common::*;
use tailgrad::nn::sngan::{Discriminator, Generator, SnganConfig};
use tailgrad::nn::{self, Mode, Stateful};
use tailgrad::{Device, Generator as Rng, Tensor};

/// Trainable elements only: D's spectral-norm `weight_u`/`weight_v` buffers are not counted.
fn trainable(m: &dyn Stateful) -> usize {
    nn::parameters(m).iter().map(Tensor::numel).sum()
}

fn tiny() -> SnganConfig {
    SnganConfig {
        g_width: 16,
        d_width: 16,
        z_dim: 8,
        channels: 1,
        classes: 3,
    }
}

/// z ~ N(0, I) [b, z_dim] and labels 0, 1, 2, 0, ...
fn inputs(d: &Device, rng: &mut Rng, cfg: &SnganConfig, b: usize) -> (Tensor, Tensor) {
    let z = rng.randn(d, &[b, cfg.z_dim]).unwrap();
    let labels: Vec<u32> = (0..b as u32).map(|i| i % cfg.classes as u32).collect();
    (z, Tensor::from_u32(d, &labels, &[b]).unwrap())
}

fn assert_finite(what: &str, t: &Tensor) {
    let v = t.to_vec().unwrap();
    assert!(v.iter().all(|x| x.is_finite()), "{what} is not finite");
}

/// G: linear0 528,384 + 3 GenBlocks × 1,256,192 (two CBNs 2·2·10·256, two 3×3 convs 590,080,
/// 1×1 shortcut 65,792) + bn4 512 + conv2d5 6,915 = 4,304,387.
/// D: OptimizedBlock 151,680 + DiscBlocks 311,680 and 2 × 295,168 (no shortcut conv), linear1
/// 129 and embedding 10×128 = 1,280: 1,055,105, StudioGAN's log. The hand count of 1,054,105 is
/// exactly 1,000 short: the same sum with the embedding taken as 280 instead of 1,280.
#[test]
fn parameter_counts_at_paper_widths() {
    let d = dev();
    let mut rng = Rng::new(1, 0);
    let cfg = SnganConfig::paper(10);
    let g = Generator::new(&d, &mut rng, &cfg).unwrap();
    let dis = Discriminator::new(&d, &mut rng, &cfg).unwrap();
    assert_eq!(trainable(&g), 4_304_387);
    assert_eq!(trainable(&dis), 1_055_105);
    // G has no buffers (every BN uses batch statistics); D's are the SN vectors.
    assert!(nn::state_of(&g).iter().all(|s| s.trainable));
    let buffers: usize = nn::state_of(&dis)
        .iter()
        .filter(|s| !s.trainable)
        .map(|s| s.tensor.numel())
        .sum();
    // u [O] + v [numel/O]: 10 convs of 128 out (v: 3, 3·9, 128, 128·9 for the other 7), linear
    // 1 + 128, embedding 10 + 128.
    let convs = 10 * 128 + 3 + 27 + 128 + 7 * 1152;
    assert_eq!(buffers, convs + 129 + 138);
}

#[test]
fn state_names_follow_studiogan() {
    let d = dev();
    let mut rng = Rng::new(2, 0);
    let cfg = tiny();
    let names =
        |m: &dyn Stateful| -> Vec<String> { nn::state_of(m).into_iter().map(|s| s.name).collect() };
    let g = names(&Generator::new(&d, &mut rng, &cfg).unwrap());
    let dis = names(&Discriminator::new(&d, &mut rng, &cfg).unwrap());
    for want in [
        "linear0.weight",
        "linear0.bias",
        "blocks.0.0.bn1.embed0.weight",
        "blocks.2.0.bn2.embed1.weight",
        "blocks.1.0.conv2d0.weight",
        "blocks.2.0.conv2d2.bias",
        "bn4.weight",
        "bn4.bias",
        "conv2d5.weight",
    ] {
        assert!(g.iter().any(|n| n == want), "G lacks {want}: {g:?}");
    }
    for want in [
        "blocks.0.0.conv2d0.weight_orig",
        "blocks.1.0.conv2d0.weight_u",
        "blocks.3.0.conv2d2.weight_v",
        "linear1.bias",
        "linear1.weight_orig",
        "embedding.weight_orig",
    ] {
        assert!(dis.iter().any(|n| n == want), "D lacks {want}: {dis:?}");
    }
    // Blocks 3 and 4 keep their input as the shortcut.
    assert!(!dis.iter().any(|n| n.starts_with("blocks.2.0.conv2d0")));
    assert_eq!(g.len(), 2 + 3 * 10 + 2 + 2);
    // SN conv: bias, weight_orig, weight_u, weight_v.
    assert_eq!(dis.len(), 2 * 3 * 4 + 2 * 2 * 4 + 4 + 3);
}

/// Biases are zero; conv, linear and embedding weights, viewed as [O, numel/O], have orthonormal
/// rows (wide) or columns (tall).
#[test]
fn init_is_orthogonal_with_zero_biases() {
    let d = dev();
    let mut rng = Rng::new(3, 0);
    let cfg = tiny();
    let g = Generator::new(&d, &mut rng, &cfg).unwrap();
    let dis = Discriminator::new(&d, &mut rng, &cfg).unwrap();
    let mut checked = 0;
    for s in nn::state_of(&g).into_iter().chain(nn::state_of(&dis)) {
        let v = s.tensor.to_vec().unwrap();
        let rows = s.tensor.shape()[0];
        let cols = v.len() / rows;
        let weight = s.name.ends_with("weight") || s.name.ends_with("weight_orig");
        if s.name.ends_with(".bias") && !s.name.starts_with("bn4") {
            assert!(v.iter().all(|&x| x == 0.0), "{} is not zero", s.name);
        } else if weight && !s.name.starts_with("bn4") {
            // Entry (r, c) of the matrix or of its transpose, whichever is wide.
            let at = |r: usize, c: usize| match rows <= cols {
                true => v[r * cols + c],
                false => v[c * cols + r],
            };
            let (n, m) = (rows.min(cols), rows.max(cols));
            for i in 0..n {
                for j in 0..n {
                    let dot: f32 = (0..m).map(|k| at(i, k) * at(j, k)).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-4, "{} rows {i}, {j}: {dot}", s.name);
                }
            }
            checked += 1;
        }
    }
    // G: linear0, 3 × (4 CBN tables + 3 convs), conv2d5; D: 10 convs, linear1, embedding.
    assert_eq!(checked, 23 + 12);
}

#[test]
fn output_shapes_and_range() {
    let d = dev();
    let mut rng = Rng::new(4, 0);
    let cfg = tiny();
    let g = Generator::new(&d, &mut rng, &cfg).unwrap();
    let dis = Discriminator::new(&d, &mut rng, &cfg).unwrap();
    let (z, y) = inputs(&d, &mut rng, &cfg, 4);
    let x = {
        let _g = tailgrad::no_grad();
        g.forward(&z, &y).unwrap()
    };
    assert_eq!(x.shape(), [4, 1, 32, 32]);
    let v = x.to_vec().unwrap();
    assert!(
        v.iter().all(|p| (-1.0..=1.0).contains(p)),
        "G leaves [-1, 1]"
    );
    assert!(v.iter().any(|&p| p != 0.0));
    for mode in [Mode::Train, Mode::Eval] {
        let out = dis.forward(&x, &y, mode).unwrap();
        assert_eq!(out.shape(), [4]);
        assert_finite("D(x, y)", &out);
    }
    // Three channels too.
    let cfg3 = SnganConfig { channels: 3, ..cfg };
    let g3 = Generator::new(&d, &mut rng, &cfg3).unwrap();
    let dis3 = Discriminator::new(&d, &mut rng, &cfg3).unwrap();
    let x3 = g3.forward(&z, &y).unwrap();
    assert_eq!(x3.shape(), [4, 3, 32, 32]);
    assert_eq!(dis3.forward(&x3, &y, Mode::Train).unwrap().shape(), [4]);
    // Bad configs and inputs are refused.
    let bad = SnganConfig { channels: 2, ..cfg };
    assert!(Generator::new(&d, &mut rng, &bad).is_err());
    assert!(g.forward(&x, &y).is_err());
}

#[test]
fn backward_reaches_both_nets() {
    let d = dev();
    let mut rng = Rng::new(5, 0);
    let cfg = tiny();
    let g = Generator::new(&d, &mut rng, &cfg).unwrap();
    let dis = Discriminator::new(&d, &mut rng, &cfg).unwrap();
    let (z, y) = inputs(&d, &mut rng, &cfg, 4);
    let x = g.forward(&z, &y).unwrap();
    dis.forward(&x, &y, Mode::Train)
        .unwrap()
        .mean_all()
        .unwrap()
        .backward()
        .unwrap();
    for (m, net) in [(&g as &dyn Stateful, "G"), (&dis, "D")] {
        for s in nn::state_of(m).into_iter().filter(|s| s.trainable) {
            let grad = s
                .tensor
                .grad()
                .unwrap_or_else(|| panic!("{net} {}", s.name));
            assert_eq!(grad.shape(), s.tensor.shape());
            assert_finite(&s.name, &grad);
        }
    }
}

/// The G step: D frozen, so the loss reaches G's parameters only.
#[test]
fn frozen_discriminator_gets_no_gradient() {
    let d = dev();
    let mut rng = Rng::new(6, 0);
    let cfg = tiny();
    let g = Generator::new(&d, &mut rng, &cfg).unwrap();
    let dis = Discriminator::new(&d, &mut rng, &cfg).unwrap();
    nn::freeze(&dis).unwrap();
    let (z, y) = inputs(&d, &mut rng, &cfg, 4);
    let x = g.forward(&z, &y).unwrap();
    let loss = dis
        .forward(&x, &y, Mode::Train)
        .unwrap()
        .mean_all()
        .unwrap();
    loss.neg().unwrap().backward().unwrap();
    assert!(nn::parameters(&dis).iter().all(|p| p.grad().is_none()));
    for p in nn::parameters(&g) {
        assert_finite("G grad", &p.grad().expect("G parameter without gradient"));
    }
}
