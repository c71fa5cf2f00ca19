//! Adjusted cross-entropy (GCL cloud, margin, scale, bias/mask, weights, focal): the fused kernel
//! in both row variants and the unfused composition against an f64 reference that reads the
//! cloud's noise by drawing it with a cloned Generator; fused against unfused with the same seed;
//! gradients against finite differences; masks, bad labels and shape errors.

mod common;
use common::{as_f32, assert_close, dev, gradcheck, upload, Rng, Tol};
use tailgrad::ops::softmax::{force_variant, Variant};
use tailgrad::{
    adjusted_ce_unfused, no_grad, AdjustedCe, Cloud, Device, Error, Focal, Generator, Tensor,
};

const VARIANTS: [Variant; 2] = [Variant::Row, Variant::Workgroup];

/// Loss against the f64 reference. Logits are cosines in [−1, 1] and s ≤ 30, so |z| ≤ ~40 and
/// each z carries ~3 roundings of ulp(32) ≈ 4e-6; ℓ = (max − z_y) + log Σ adds two more and
/// the log's; the weighted mean a few relative roundings.
const LOSS: Tol = Tol {
    rel: 1e-5,
    abs: 2e-5,
};
/// Gradient entries s·w·g·(softmax − onehot)/Σw: a probability from exp(z − max) with z off by
/// ≤ ~2e-5 is off by that much relatively (rel); p − 1 near p = 1 cancels, so the absolute part
/// is that error times the row factor s·max w/Σw, added per case by `grad_tol`.
const GRAD_REL: f64 = 1e-4;
const PROB_ABS: f64 = 2e-5;
/// Gradcheck: the f32 kernel against central differences of the f64 loss (s = 2.5).
const FD: Tol = Tol {
    rel: 2e-4,
    abs: 5e-5,
};

/// The knobs in f64, turned into GPU tensors by `Gpu::new`.
#[derive(Clone)]
struct Knobs {
    scale: f64,
    margin: Option<Vec<f64>>,
    /// (amp, ε)
    cloud: Option<(Vec<f64>, f64)>,
    /// (values, true for [C, C])
    bias: Option<(Vec<f64>, bool)>,
    weights: Option<Vec<f64>>,
    /// (γ, detach)
    focal: Option<(f64, bool)>,
}

const PLAIN: Knobs = Knobs {
    scale: 1.0,
    margin: None,
    cloud: None,
    bias: None,
    weights: None,
    focal: None,
};

struct Gpu {
    margin: Option<Tensor>,
    amp: Option<Tensor>,
    bias: Option<Tensor>,
    weights: Option<Tensor>,
}

impl Gpu {
    fn new(d: &Device, k: &Knobs, c: usize) -> Gpu {
        let bias_shape = |full: bool| if full { vec![c, c] } else { vec![c] };
        Gpu {
            margin: k.margin.as_ref().map(|m| upload(d, m, &[c])),
            amp: k.cloud.as_ref().map(|(a, _)| upload(d, a, &[c])),
            bias: k
                .bias
                .as_ref()
                .map(|(v, full)| upload(d, v, &bias_shape(*full))),
            weights: k.weights.as_ref().map(|w| upload(d, w, &[c])),
        }
    }

    fn args<'a>(&'a self, k: &Knobs, gen: &'a mut Generator) -> AdjustedCe<'a> {
        AdjustedCe {
            scale: k.scale as f32,
            margin: self.margin.as_ref(),
            cloud: k.cloud.as_ref().map(|(_, eps)| Cloud {
                amp: self.amp.as_ref().unwrap(),
                eps: *eps as f32,
                gen,
            }),
            bias: self.bias.as_ref(),
            weights: self.weights.as_ref(),
            focal: k.focal.map(|(gamma, detach)| Focal {
                gamma: gamma as f32,
                detach,
            }),
        }
    }
}

/// Random knobs with every value exactly representable in f32.
fn knobs(rng: &mut Rng, c: usize, which: &str) -> Knobs {
    let mut k = PLAIN;
    for part in which.split('+') {
        match part {
            "plain" => {}
            "scale" => k.scale = 30.0,
            "margin" => k.margin = Some(as_f32(&rng.vec(c, 0.0, 0.5))),
            "cloud" => k.cloud = Some((as_f32(&rng.vec(c, 0.0, 1.0)), 0.5)),
            "bias" => k.bias = Some((as_f32(&rng.vec(c, -2.0, 2.0)), false)),
            "bias_cc" => k.bias = Some((as_f32(&rng.vec(c * c, -2.0, 2.0)), true)),
            "weights" => k.weights = Some(as_f32(&rng.vec(c, 0.2, 3.0))),
            "focal" => k.focal = Some((1.0, true)),
            "focal_full" => k.focal = Some((0.5, false)),
            "focal_full2" => k.focal = Some((2.0, false)),
            other => panic!("unknown knob {other}"),
        }
    }
    k
}

/// δ = |clamp(N, −1, 1)| as the op draws it: N from a clone of `gen`, read back.
fn noise(d: &Device, gen: &Generator, b: usize, c: usize) -> Vec<f64> {
    let n = gen.clone().normal(d, &[b, c], 0.0, 1.0 / 3.0).unwrap();
    n.to_vec()
        .unwrap()
        .iter()
        .map(|&v| (v as f64).clamp(-1.0, 1.0).abs())
        .collect()
}

/// (f, g) of the focal factor at row loss l: f = (1 − p)^γ, g = f or d(f·ℓ)/dℓ.
fn focal_ref(l: f64, focal: Option<(f64, bool)>) -> (f64, f64) {
    let Some((gamma, detach)) = focal else {
        return (1.0, 1.0);
    };
    let p = (-l).exp();
    let q = -(-l).exp_m1();
    let f = q.powf(gamma);
    if detach {
        return (f, f);
    }
    let ratio = if l == 0.0 { 1.0 } else { l / q };
    (f, f * (1.0 + gamma * p * ratio))
}

/// (loss, dL/dx) in f64; `delta` is the cloud's noise when the cloud is on.
fn reference(x: &[f64], labels: &[u32], c: usize, k: &Knobs, delta: &[f64]) -> (f64, Vec<f64>) {
    let (mut num, mut den) = (0.0, 0.0);
    let mut grad = vec![0.0; x.len()];
    for (r, row) in x.chunks(c).enumerate() {
        let y = labels[r] as usize;
        let w = k.weights.as_ref().map_or(1.0, |w| w[y]);
        let z: Vec<f64> = (0..c)
            .map(|j| {
                let mut v = row[j];
                if let Some((amp, eps)) = &k.cloud {
                    v -= eps * delta[r * c + j] * amp[j];
                }
                if j == y {
                    v -= k.margin.as_ref().map_or(0.0, |m| m[y]);
                }
                v *= k.scale;
                match &k.bias {
                    Some((b, true)) => v + b[y * c + j],
                    Some((b, false)) => v + b[j],
                    None => v,
                }
            })
            .collect();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = z.iter().map(|v| (v - m).exp()).sum();
        let l = (m - z[y]) + s.ln();
        let (f, g) = focal_ref(l, k.focal);
        num += w * f * l;
        den += w;
        for j in 0..c {
            let onehot = if j == y { 1.0 } else { 0.0 };
            grad[r * c + j] = k.scale * w * g * ((z[j] - m).exp() / s - onehot);
        }
    }
    grad.iter_mut().for_each(|g| *g /= den);
    (num / den, grad)
}

fn grad_tol(k: &Knobs, labels: &[u32]) -> Tol {
    let wmax = k
        .weights
        .as_ref()
        .map_or(1.0, |w| w.iter().cloned().fold(0.0, f64::max));
    let den: f64 = labels
        .iter()
        .map(|&y| k.weights.as_ref().map_or(1.0, |w| w[y as usize]))
        .sum();
    Tol {
        rel: GRAD_REL,
        abs: PROB_ABS * k.scale * wmax / den,
    }
}

fn labels_for(rng: &mut Rng, b: usize, c: usize) -> Vec<u32> {
    (0..b).map(|_| rng.below(c) as u32).collect()
}

/// A generator a few blocks below a 2^32 boundary of its counter, so the kernel's 64-bit
/// counter carry is exercised.
fn generator(seed: u64) -> Generator {
    let mut g = Generator::new(seed, 3);
    g.set_counter((5u64 << 32) - 7);
    g
}

/// (loss, gradient) of the fused op (or the unfused one) through `backward()`.
fn run(
    d: &Device,
    x: &[f64],
    labels: &Tensor,
    k: &Knobs,
    gen: &mut Generator,
    fused: bool,
) -> (Vec<f32>, Vec<f32>) {
    let (b, c) = (labels.numel(), x.len() / labels.numel());
    let gpu = Gpu::new(d, k, c);
    let p = upload(d, x, &[b, c]).into_param();
    let a = gpu.args(k, gen);
    let loss = if fused {
        p.adjusted_ce(labels, a).unwrap()
    } else {
        adjusted_ce_unfused(&p, labels, a).unwrap()
    };
    assert_eq!(loss.shape(), &[1]);
    loss.backward().unwrap();
    (loss.to_vec().unwrap(), p.grad().unwrap().to_vec().unwrap())
}

/// The fused op (each variant) and the unfused one against the f64 reference, plus the fused
/// forward without grad (one pass, no gradient written) giving the same loss bits.
fn check(d: &Device, x: &[f64], labels: &[u32], c: usize, k: &Knobs, what: &str) {
    let b = labels.len();
    let lt = Tensor::from_u32(d, labels, &[b]).unwrap();
    let gen = generator(b as u64 * 7919 + c as u64);
    let delta = noise(d, &gen, b, c);
    let (want_loss, want_grad) = reference(x, labels, c, k, &delta);
    let gtol = grad_tol(k, labels);
    let blocks = (b * c).div_ceil(4) as u64;
    for v in VARIANTS {
        let _g = force_variant(v);
        let what = format!("{what} {v:?} [{b}, {c}]");
        let mut g = gen.clone();
        let (loss, grad) = run(d, x, &lt, k, &mut g, true);
        assert_close(&format!("loss {what}"), &loss, &[want_loss], LOSS);
        assert_close(&format!("grad {what}"), &grad, &want_grad, gtol);
        if k.cloud.is_some() {
            assert_eq!(g.counter(), gen.counter() + blocks, "{what}: counter");
        }
        let eval = {
            let _ng = no_grad();
            let gpu = Gpu::new(d, k, c);
            let mut g = gen.clone();
            let xt = upload(d, x, &[b, c]);
            xt.adjusted_ce(&lt, gpu.args(k, &mut g)).unwrap()
        };
        assert_eq!(eval.to_vec().unwrap(), loss, "eval loss {what}");
    }
    let (loss, grad) = run(d, x, &lt, k, &mut gen.clone(), false);
    assert_close(&format!("unfused loss {what}"), &loss, &[want_loss], LOSS);
    assert_close(&format!("unfused grad {what}"), &grad, &want_grad, gtol);
}

/// A [C, C] bias of 8142² floats (265 MB) is past lavapipe's 128 MiB binding limit, so the
/// [C, C] knob is tried up to here (hard_mask_bias_stays_finite reads one at C = 3001).
const MAX_CC: usize = 4096;

const SHAPES: [(usize, usize); 9] = [
    (1, 1),
    (1, 2),
    (3, 2),
    (7, 13),
    (64, 10),
    (31, 257),
    (2, 1000),
    (5, 8142),
    (130, 3),
];

#[test]
fn each_knob_alone_against_f64() {
    let d = dev();
    let mut rng = Rng::new(21);
    for (b, c) in SHAPES {
        let x = as_f32(&rng.vec(b * c, -1.0, 1.0));
        let labels = labels_for(&mut rng, b, c);
        for which in [
            "plain",
            "scale",
            "margin",
            "cloud",
            "bias",
            "bias_cc",
            "weights",
            "focal",
            "focal_full",
        ] {
            if which.contains("bias_cc") && c > MAX_CC {
                continue;
            }
            let k = knobs(&mut rng, c, which);
            check(&d, &x, &labels, c, &k, which);
        }
    }
}

#[test]
fn knobs_combined_against_f64() {
    let d = dev();
    let mut rng = Rng::new(22);
    for (b, c) in SHAPES {
        let x = as_f32(&rng.vec(b * c, -1.0, 1.0));
        let labels = labels_for(&mut rng, b, c);
        for which in [
            "scale+cloud",                                    // GCL stage 1
            "scale+cloud+margin+focal",                       // GCL stage 2
            "scale+cloud+margin+bias_cc+weights+focal_full2", // everything
            "scale+margin+bias+weights+focal_full",
        ] {
            let which = if c > MAX_CC {
                which.replace("bias_cc", "bias")
            } else {
                which.into()
            };
            let k = knobs(&mut rng, c, &which);
            check(&d, &x, &labels, c, &k, &which);
        }
    }
}

/// GCL's settings with the same seed: fused and unfused agree with each other, and the generator
/// ends at the same counter as after `gen.normal(.., [B, C], ..)`.
#[test]
fn fused_matches_unfused_with_the_same_seed() {
    let d = dev();
    let mut rng = Rng::new(23);
    for (b, c) in [(64, 10), (17, 101), (4, 8142)] {
        let x = as_f32(&rng.vec(b * c, -1.0, 1.0));
        let labels = labels_for(&mut rng, b, c);
        let lt = Tensor::from_u32(&d, &labels, &[b]).unwrap();
        for which in ["scale+cloud", "scale+cloud+margin+focal"] {
            let k = knobs(&mut rng, c, which);
            let gen = generator(99);
            let (mut gf, mut gu) = (gen.clone(), gen.clone());
            let (lf, df) = run(&d, &x, &lt, &k, &mut gf, true);
            let (lu, du) = run(&d, &x, &lt, &k, &mut gu, false);
            let what = format!("{which} [{b}, {c}]");
            let wide = |v: &[f32]| -> Vec<f64> { v.iter().map(|&a| a as f64).collect() };
            // Each side is within LOSS / grad_tol of the exact value: twice that apart at most.
            let twice = |t: Tol| Tol {
                rel: 2.0 * t.rel,
                abs: 2.0 * t.abs,
            };
            assert_close(&format!("loss {what}"), &lf, &wide(&lu), twice(LOSS));
            let tol = twice(grad_tol(&k, &labels));
            assert_close(&format!("grad {what}"), &df, &wide(&du), tol);
            assert_eq!(gf, gu, "{what}: generators");
            let mut g = gen.clone();
            g.normal(&d, &[b, c], 0.0, 1.0 / 3.0).unwrap();
            assert_eq!(gf, g, "{what}: counter as after normal()");
        }
    }
}

/// Every call draws fresh noise (the counter moves on); equal generators give equal bits.
#[test]
fn fresh_noise_per_call_and_deterministic() {
    let d = dev();
    let mut rng = Rng::new(24);
    let (b, c) = (40, 37);
    let x = upload(&d, &rng.vec(b * c, -1.0, 1.0), &[b, c]);
    let lt = Tensor::from_u32(&d, &labels_for(&mut rng, b, c), &[b]).unwrap();
    let amp = upload(&d, &rng.vec(c, 0.5, 1.0), &[c]);
    let loss = |gen: &mut Generator| {
        let a = AdjustedCe {
            scale: 30.0,
            cloud: Some(Cloud {
                amp: &amp,
                eps: 0.5,
                gen,
            }),
            ..Default::default()
        };
        x.adjusted_ce(&lt, a).unwrap().item().unwrap()
    };
    for v in VARIANTS {
        let _g = force_variant(v);
        let mut g = generator(5);
        let (first, second) = (loss(&mut g), loss(&mut g));
        assert_ne!(first.to_bits(), second.to_bits(), "{v:?}: same noise twice");
        assert_eq!(first.to_bits(), loss(&mut generator(5)).to_bits(), "{v:?}");
    }
}

#[test]
fn gradcheck_without_cloud() {
    let mut rng = Rng::new(25);
    for (b, c) in [(1, 1), (3, 2), (4, 7), (2, 300)] {
        let x = rng.vec(b * c, -1.0, 1.0);
        let labels = labels_for(&mut rng, b, c);
        for which in [
            "plain",
            "margin+bias",
            "bias_cc+weights",
            "margin+weights+focal_full",
            "bias+focal_full2",
        ] {
            let mut k = knobs(&mut rng, c, which);
            k.scale = 2.5;
            let d = dev();
            let gpu = Gpu::new(&d, &k, c);
            let lt = Tensor::from_u32(&d, &labels, &[b]).unwrap();
            for v in VARIANTS {
                let _g = force_variant(v);
                gradcheck(
                    &format!("adjusted_ce {which} {v:?} [{b}, {c}]"),
                    &[(x.clone(), vec![b, c])],
                    &|t| t[0].adjusted_ce(&lt, gpu.args(&k, &mut Generator::new(0, 0))),
                    &|xs| vec![reference(&xs[0], &labels, c, &k, &[]).0],
                    FD,
                );
            }
        }
    }
}

/// Detached focal (GCL): the gradient is f·(CE gradient), not the derivative of f·ℓ, which the
/// full variant gives (checked by gradcheck above); the losses are the same.
#[test]
fn focal_detach_vs_full() {
    let d = dev();
    let mut rng = Rng::new(26);
    let (b, c) = (9, 12);
    let x = as_f32(&rng.vec(b * c, -1.0, 1.0));
    let labels = labels_for(&mut rng, b, c);
    let lt = Tensor::from_u32(&d, &labels, &[b]).unwrap();
    let mut k = knobs(&mut rng, c, "scale");
    k.scale = 4.0;
    let mut gen = Generator::new(0, 0);
    let (_, plain) = run(&d, &x, &lt, &k, &mut gen, true);
    k.focal = Some((1.0, true));
    let (ld, detached) = run(&d, &x, &lt, &k, &mut gen, true);
    k.focal = Some((1.0, false));
    let (lf, full) = run(&d, &x, &lt, &k, &mut gen, true);
    assert_eq!(ld, lf);
    let (_, want_plain) = reference(&x, &labels, c, &PLAIN_SCALED_4, &[]);
    assert_close("plain grad", &plain, &want_plain, grad_tol(&k, &labels));
    // Detached: row r's CE gradient times f_r = 1 − p_r.
    for r in 0..b {
        let row = &x[r * c..(r + 1) * c];
        let z: Vec<f64> = row.iter().map(|v| 4.0 * v).collect();
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let l = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[labels[r] as usize];
        let f = 1.0 - (-l).exp();
        let want: Vec<f64> = (0..c).map(|j| f * plain[r * c + j] as f64).collect();
        assert_close(
            &format!("detached row {r}"),
            &detached[r * c..(r + 1) * c],
            &want,
            grad_tol(&k, &labels),
        );
    }
    let differ = detached
        .iter()
        .zip(&full)
        .any(|(a, b)| (a - b).abs() > 1e-3 * a.abs().max(1e-3));
    assert!(differ, "full focal gradient equals the detached one");
}

const PLAIN_SCALED_4: Knobs = Knobs {
    scale: 4.0,
    ..PLAIN
};

/// −99999 bias entries (the hard per-label mask of the neighbour-silencing loss, [C, C] with the
/// diagonal kept, and a [C] prior with silenced classes): finite loss and gradient, exactly zero
/// gradient on silenced entries, equal to the reference over the remaining classes.
#[test]
fn hard_mask_bias_stays_finite() {
    let d = dev();
    let mut rng = Rng::new(27);
    for (b, c) in [(6, 5), (33, 64), (3, 3001)] {
        let x = as_f32(&rng.vec(b * c, -1.0, 1.0));
        let labels = labels_for(&mut rng, b, c);
        let mask_cc: Vec<f64> = (0..c * c)
            .map(|i| {
                let silenced = i / c != i % c && rng.below(3) == 0;
                if silenced {
                    -99999.0
                } else {
                    rng.uniform(-1.0, 1.0) as f32 as f64
                }
            })
            .collect();
        let mut mask_c = as_f32(&rng.vec(c, -1.0, 1.0));
        for (j, m) in mask_c.iter_mut().enumerate() {
            if j % 3 == 1 && !labels.contains(&(j as u32)) {
                *m = -99999.0;
            }
        }
        for (mask, full) in [(mask_cc, true), (mask_c, false)] {
            let mut k = knobs(&mut rng, c, "scale+cloud+margin+focal");
            k.bias = Some((mask.clone(), full));
            check(&d, &x, &labels, c, &k, &format!("mask full={full}"));
            let lt = Tensor::from_u32(&d, &labels, &[b]).unwrap();
            for fused in [true, false] {
                let (loss, grad) = run(&d, &x, &lt, &k, &mut generator(1), fused);
                assert!(loss[0].is_finite(), "fused={fused}: loss {loss:?}");
                for (i, g) in grad.iter().enumerate() {
                    let (r, j) = (i / c, i % c);
                    let bias = if full {
                        mask[labels[r] as usize * c + j]
                    } else {
                        mask[j]
                    };
                    assert!(g.is_finite(), "fused={fused}: grad[{i}] = {g}");
                    if bias < -1e4 {
                        assert_eq!(*g, 0.0, "fused={fused}: silenced grad[{i}]");
                    }
                }
            }
        }
    }
}

/// Rows too long for one invocation on a software adapter: the automatic choice must take the
/// workgroup variant (a truncated loop would drop columns and change the loss).
#[test]
fn classes_beyond_the_software_loop_budget() {
    let d = dev();
    let mut rng = Rng::new(28);
    let c = 70_001;
    let x = as_f32(&rng.vec(3 * c, -1.0, 1.0));
    let labels = vec![0u32, 35_000, 70_000];
    let k = knobs(&mut rng, c, "scale+cloud+margin+weights+focal");
    let lt = Tensor::from_u32(&d, &labels, &[3]).unwrap();
    let gen = generator(2);
    let (want, want_grad) = reference(&x, &labels, c, &k, &noise(&d, &gen, 3, c));
    let (loss, grad) = run(&d, &x, &lt, &k, &mut gen.clone(), true);
    assert_close("adjusted_ce 3x70001", &loss, &[want], LOSS);
    assert_close("grad 3x70001", &grad, &want_grad, grad_tol(&k, &labels));
}

#[test]
fn label_out_of_range_is_nan() {
    let d = dev();
    let x = upload(&d, &[0.1, 0.2, 0.3, 0.5, 0.5, 0.5], &[2, 3]).into_param();
    let lt = Tensor::from_u32(&d, &[1, 3], &[2]).unwrap();
    let w = upload(&d, &[1.0, 2.0, 3.0], &[3]);
    let amp = upload(&d, &[0.0, 0.5, 1.0], &[3]);
    for v in VARIANTS {
        let _g = force_variant(v);
        for (weighted, fused) in [(false, true), (true, true), (false, false), (true, false)] {
            x.zero_grad();
            let mut gen = Generator::new(1, 0);
            let a = AdjustedCe {
                scale: 30.0,
                cloud: Some(Cloud {
                    amp: &amp,
                    eps: 0.5,
                    gen: &mut gen,
                }),
                weights: weighted.then_some(&w),
                focal: Some(Focal {
                    gamma: 1.0,
                    detach: true,
                }),
                ..Default::default()
            };
            let what = format!("{v:?} weighted={weighted} fused={fused}");
            let r = if fused {
                x.adjusted_ce(&lt, a)
            } else {
                adjusted_ce_unfused(&x, &lt, a)
            };
            if d.debug_sync() {
                assert!(matches!(r, Err(Error::NonFinite { .. })), "{what}: {r:?}");
                continue;
            }
            let loss = r.unwrap();
            assert!(loss.item().unwrap().is_nan(), "{what}");
            loss.backward().unwrap();
            let g = x.grad().unwrap().to_vec().unwrap();
            assert!(g.iter().all(|v| v.is_nan()), "{what}: {g:?}");
        }
    }
}

#[test]
fn errors() {
    let d = dev();
    let x = Tensor::zeros(&d, &[2, 3]).unwrap();
    let good = Tensor::from_u32(&d, &[0, 1], &[2]).unwrap();
    let c3 = Tensor::ones(&d, &[3]).unwrap();
    let c2 = Tensor::ones(&d, &[2]).unwrap();
    let c33 = Tensor::ones(&d, &[3, 3]).unwrap();
    let c34 = Tensor::ones(&d, &[3, 4]).unwrap();
    let long = Tensor::from_u32(&d, &[0, 1, 2], &[3]).unwrap();
    let shape_err = |r: tailgrad::Result<Tensor>, rhs: &[usize]| match r {
        Err(Error::Shape { op, lhs, rhs: got }) => {
            assert_eq!(
                (op, lhs.as_slice(), got.as_slice()),
                ("adjusted_ce", &[2usize, 3][..], rhs)
            )
        }
        other => panic!("expected a shape error, got {other:?}"),
    };
    let invalid = |r: tailgrad::Result<Tensor>| {
        assert!(
            matches!(
                r,
                Err(Error::Invalid {
                    op: "adjusted_ce",
                    ..
                })
            ),
            "{r:?}"
        )
    };
    for fused in [true, false] {
        let call = |labels: &Tensor, a: AdjustedCe| {
            if fused {
                x.adjusted_ce(labels, a)
            } else {
                adjusted_ce_unfused(&x, labels, a)
            }
        };
        shape_err(call(&long, AdjustedCe::default()), &[3]);
        let margin = AdjustedCe {
            margin: Some(&c2),
            ..Default::default()
        };
        shape_err(call(&good, margin), &[2]);
        let weights = AdjustedCe {
            weights: Some(&c33),
            ..Default::default()
        };
        shape_err(call(&good, weights), &[3, 3]);
        let bias = AdjustedCe {
            bias: Some(&c34),
            ..Default::default()
        };
        shape_err(call(&good, bias), &[3, 4]);
        let mut gen = Generator::new(0, 0);
        let cloud = AdjustedCe {
            cloud: Some(Cloud {
                amp: &c2,
                eps: 0.5,
                gen: &mut gen,
            }),
            ..Default::default()
        };
        shape_err(call(&good, cloud), &[2]);
        assert_eq!(gen.counter(), 0, "a refused call must not draw noise");
        invalid(call(
            &c2.reshape(&[2]).unwrap().eq(&c2).unwrap(),
            AdjustedCe::default(),
        ));
        let focal = AdjustedCe {
            focal: Some(Focal {
                gamma: -1.0,
                detach: true,
            }),
            ..Default::default()
        };
        invalid(call(&good, focal));
        let scale = AdjustedCe {
            scale: f32::NAN,
            ..Default::default()
        };
        invalid(call(&good, scale));
        let ok = AdjustedCe {
            bias: Some(&c33),
            weights: Some(&c3),
            ..Default::default()
        };
        assert!(call(&good, ok).is_ok());
    }
    let rank3 = Tensor::zeros(&d, &[2, 3, 1]).unwrap();
    invalid(rank3.adjusted_ce(&good, AdjustedCe::default()));
}
