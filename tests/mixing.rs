//! GAN sample mixing (`gan::Mixer`): the box geometry, masks, targets t, mixed batches and D's
//! mixed loss against golden vectors from an independent float64 numpy implementation
//! (`tests/golden/mixing.py` → `mixing.json`), plus the CPU draws: determinism in (seed, step,
//! slot), per-batch vs per-pair, the Beta and centre statistics, the p_mix gate, the config and
//! the error cases.
//!
//! Tolerances (ε = f32::EPSILON; the golden values are computed from the f32 inputs the engine
//! sees):
//! - Box geometry: both sides compute the edges in f64 and hand f32 to the GPU: the f32 edges and
//!   τ must be equal (CutMix's integer ranges exactly).
//! - Masks: exact for Mixup and CutMix, 11ε (logistic) and 142ε (Gaussian) absolute for SRMix, as
//!   derived in tests/mix_mask.rs (`MASK_TOL`).
//! - t = mean of H·W mask values in [0, 1]: the mask's error plus the f32 sum's ≤ (HW/2 + 1)ε.
//! - x_mix = a·x_r + (1 − a)·x_f with |x| ≤ 1: the mask error enters twice, plus ≤ 2ε of rounding
//!   (the products, 1 − a, the sum). Its gradients are c·a and c·(1 − a) (|c| ≤ 1): mask error
//!   plus ε.
//! - Soft loss: as tests/gan_loss.rs, (B/2 + 16)ε·mag, and ε/2 more for the weight. Its gradient:
//!   w·16ε/B plus 1e-8 for the golden finite differences.
//! - Consistency loss w·mean(d − T)², T = t·r + (1 − t)·f: T is within 2ε·(t|r| + (1 − t)|f|),
//!   d − T within ε/2 more, the square adds ε/2 relative, so each term is within
//!   5ε·(|d| + |T|)², the mean adds (B/2 + 1)ε and the weight ε/2: (B/2 + 7)ε·mag, mag =
//!   w·mean((|d| + t|r| + (1 − t)|f|)²). Gradient 2w(d − T)/B: within 2w·4ε·(|d| + |T|)/B,
//!   plus 1e-8 (the differences of a quadratic carry no truncation error).
//!
//! Mutations of src/gan/mixing.rs, each reverted, fail these tests: CutMix edges `e.round()`
//! instead of ⌈e − 0.5⌉ (they differ only when an edge falls on a pixel centre: the "ties" case);
//! τ from the clipped instead of the unclipped side; the consistency bracket not detached (D's
//! real outputs get a gradient); t and 1 − t swapped in the consistency target (value off by 2.0
//! against 2.1e-5); `per_batch` ignored; the p_mix gate inverted.

mod common;
use common::{dev, max_abs_diff, upload, Rng};
use serde::Deserialize;
use std::collections::BTreeMap;
use tailgrad::gan::{GanLoss, MixConfig, MixDraw, MixFormalism, MixKernel, MixKind, Mixer};
use tailgrad::{Error, Tensor};

const EPS: f64 = f32::EPSILON as f64;
/// Finite-difference error of the golden loss gradients.
const FD: f64 = 1e-8;

#[derive(Deserialize)]
struct Golden {
    masks: Vec<MaskCase>,
    losses: Vec<LossCase>,
}

#[derive(Deserialize)]
struct Draw {
    lambda: f64,
    cu: f64,
    cv: f64,
}

#[derive(Deserialize)]
struct Params {
    lambda: f32,
    /// CutMix: the first pixel and one past the last in the box, `[]` when none.
    pixels_u: Option<Vec<f32>>,
    pixels_v: Option<Vec<f32>>,
    edges: Option<[f32; 4]>,
    tau: Option<[f32; 2]>,
}

#[derive(Deserialize)]
struct MaskCase {
    name: String,
    kind: MixKind,
    kernel: MixKernel,
    kappa: f64,
    shape: [usize; 4],
    draws: Vec<Draw>,
    params: Vec<Params>,
    mask: Vec<f64>,
    t: Vec<f64>,
    x_real: Option<Vec<f64>>,
    x_fake: Option<Vec<f64>>,
    x_mix: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct LossCase {
    name: String,
    loss: GanLoss,
    formalism: MixFormalism,
    weight: f32,
    inputs: BTreeMap<String, Vec<f64>>,
    value: f64,
    mag: f64,
    grad_d_mix: Vec<f64>,
}

fn golden() -> Golden {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/mixing.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn mixer(kind: MixKind, f: impl FnOnce(&mut MixConfig)) -> Mixer {
    let mut cfg = MixConfig {
        kind,
        ..MixConfig::default()
    };
    f(&mut cfg);
    Mixer::new(cfg).unwrap()
}

/// The mask tolerance of tests/mix_mask.rs for a kind.
fn mask_tol(kind: MixKind, kernel: MixKernel) -> f64 {
    match (kind, kernel) {
        (MixKind::SrMix, MixKernel::Logistic) => 11.0 * EPS,
        (MixKind::SrMix, MixKernel::Gaussian) => 142.0 * EPS,
        _ => 0.0,
    }
}

#[test]
fn train_mixup_draws_are_unchanged_by_the_beta_move() {
    // λ bits and partners recorded from train::mixup::plan before its Beta sampler moved to
    // data::random.
    let pinned: [(f64, u64, u64, u32, [u32; 7]); 4] = [
        (0.2, 3, 17, 0x3f7f4ba9, [4, 1, 6, 5, 3, 2, 0]),
        (1.0, 3, 17, 0x3eb6a63f, [4, 2, 1, 6, 0, 3, 5]),
        (2.0, 11, 0, 0x3f27dde1, [4, 3, 6, 5, 0, 1, 2]),
        (0.5, 99, 12345, 0x3d3a349e, [3, 4, 6, 5, 0, 2, 1]),
    ];
    for (alpha, seed, step, bits, perm) in pinned {
        let p = tailgrad::train::mixup::plan(alpha, seed, step, 7);
        assert_eq!((p.lambda.to_bits(), p.perm.as_slice()), (bits, &perm[..]));
    }
}

#[test]
fn masks_targets_and_mixed_batches_match_the_golden_vectors() {
    let d = dev();
    let mut bad = Vec::new();
    let mut worst = BTreeMap::new();
    for case in golden().masks {
        let name = &case.name;
        let m = mixer(case.kind, |c| {
            c.kernel = case.kernel;
            c.kappa = case.kappa;
        });
        let [b, ch, h, w] = case.shape;
        let draws: Vec<MixDraw> = case
            .draws
            .iter()
            .map(|d| MixDraw {
                lambda: d.lambda,
                cu: d.cu,
                cv: d.cv,
            })
            .collect();
        // The box geometry, as handed to the GPU.
        for (i, (dr, want)) in draws.iter().zip(&case.params).enumerate() {
            let p = m.mask_params(dr, h, w);
            assert_eq!(p.lambda, want.lambda, "{name} [{i}] λ");
            if let (Some(pu), Some(pv)) = (&want.pixels_u, &want.pixels_v) {
                let got = [p.u1, p.u2, p.v1, p.v2];
                if pu.is_empty() || pv.is_empty() {
                    assert!(p.u1 >= p.u2 || p.v1 >= p.v2, "{name} [{i}] empty: {got:?}");
                } else {
                    assert_eq!(got, [pu[0], pu[1], pv[0], pv[1]], "{name} [{i}] CutMix box");
                }
            }
            if let (Some(e), Some(tau)) = (want.edges, want.tau) {
                assert_eq!([p.u1, p.u2, p.v1, p.v2], e, "{name} [{i}] edges");
                assert_eq!([p.tau_u, p.tau_v], tau, "{name} [{i}] τ");
            }
        }
        let shape = [b, ch, h, w];
        let (xr, xf) = match (&case.x_real, &case.x_fake) {
            (Some(r), Some(f)) => (r.clone(), f.clone()),
            _ => (vec![0.0; b * ch * h * w], vec![0.0; b * ch * h * w]),
        };
        let (xr_t, xf_t) = (
            upload(&d, &xr, &shape).into_param(),
            upload(&d, &xf, &shape).into_param(),
        );
        let mixed = m.mix_with(&xr_t, &xf_t, &draws).unwrap();
        assert_eq!(mixed.mask.shape(), &[b, 1, h, w]);
        assert_eq!(mixed.t.shape(), &[b]);
        let tol = mask_tol(case.kind, case.kernel);
        let mut check = |what: &str, got: &Tensor, want: &[f64], tol: f64| {
            let e = max_abs_diff(&got.to_vec().unwrap(), want);
            let key = match case.kind {
                MixKind::SrMix => format!("srmix {} {what}", case.kernel),
                k => format!("{k} {what}"),
            };
            let r: &mut f64 = worst.entry(key).or_insert(0.0);
            *r = r.max(e / EPS);
            if e.is_nan() || e > tol {
                bad.push(format!("{name}: {what} off by {e:.3e} > {tol:.3e}"));
            }
        };
        check("mask", &mixed.mask, &case.mask, tol);
        check(
            "t",
            &mixed.t,
            &case.t,
            tol + ((h * w) as f64 / 2.0 + 1.0) * EPS,
        );
        let Some(x_mix) = &case.x_mix else { continue };
        check("x_mix", &mixed.x, x_mix, 2.0 * tol + 2.0 * EPS);
        // Gradients reach both inputs: c·a and c·(1 − a), the mask broadcast over channels.
        let c = Rng::new(7).vec(xr.len(), -1.0, 1.0);
        let ct = upload(&d, &c, &shape);
        mixed
            .x
            .mul(&ct)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let hw = h * w;
        let a = |k: usize| case.mask[(k / (ch * hw)) * hw + k % hw];
        let ga: Vec<f64> = (0..c.len()).map(|k| c[k] * a(k)).collect();
        let gb: Vec<f64> = (0..c.len()).map(|k| c[k] * (1.0 - a(k))).collect();
        check("d/dx_real", &xr_t.grad().unwrap(), &ga, tol + EPS);
        check("d/dx_fake", &xf_t.grad().unwrap(), &gb, tol + EPS);
    }
    println!("largest errors in ε: {worst:?}");
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn mixed_losses_match_the_golden_vectors() {
    let d = dev();
    let mut bad = Vec::new();
    for case in golden().losses {
        let name = &case.name;
        let m = mixer(MixKind::SrMix, |c| {
            c.formalism = case.formalism;
            c.weight = case.weight;
        });
        let x = &case.inputs;
        let b = x["d_mix"].len() as f64;
        let w = case.weight as f64;
        let t_ = |k: &str| upload(&d, &x[k], &[x[k].len()]);
        let (d_mix, t) = (t_("d_mix").into_param(), t_("t"));
        let (d_real, d_fake) = (t_("d_real").into_param(), t_("d_fake").into_param());
        let l = m
            .loss(case.loss, &d_mix, &t, Some(&d_real), Some(&d_fake))
            .unwrap();
        l.backward().unwrap();
        let (value_tol, grad_tol): (f64, Vec<f64>) = match case.formalism {
            MixFormalism::Soft => (
                (b / 2.0 + 16.5) * EPS * case.mag,
                vec![w * 16.0 * EPS / b + FD; x["d_mix"].len()],
            ),
            MixFormalism::Consistency => {
                let g = (0..x["d_mix"].len()).map(|i| {
                    let tt = x["t"][i];
                    let target = tt * x["d_real"][i] + (1.0 - tt) * x["d_fake"][i];
                    2.0 * w * 4.0 * EPS * (x["d_mix"][i].abs() + target.abs()) / b + FD
                });
                ((b / 2.0 + 7.0) * EPS * case.mag, g.collect())
            }
        };
        let e = (l.item().unwrap() as f64 - case.value).abs();
        if e.is_nan() || e > value_tol {
            bad.push(format!("{name}: value off by {e:.3e} > {value_tol:.3e}"));
        }
        let g = d_mix.grad().unwrap().to_vec().unwrap();
        for (i, (&g, &want)) in g.iter().zip(&case.grad_d_mix).enumerate() {
            let e = (g as f64 - want).abs();
            if e.is_nan() || e > grad_tol[i] {
                bad.push(format!(
                    "{name}: d/dd_mix[{i}] off by {e:.3e} > {:.3e}",
                    grad_tol[i]
                ));
            }
        }
        // The consistency bracket is a constant: D's real and fake outputs get nothing from it.
        assert!(
            d_real.grad().is_none() && d_fake.grad().is_none(),
            "{name}: gradient through the bracket"
        );
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn draws_are_a_pure_function_of_seed_step_and_slot() {
    let m = mixer(MixKind::CutMix, |_| {});
    let a = m.draws(16, 5, 100, 2).unwrap();
    assert_eq!(a, m.draws(16, 5, 100, 2).unwrap());
    for other in [
        m.draws(16, 6, 100, 2),
        m.draws(16, 5, 101, 2),
        m.draws(16, 5, 100, 3),
    ] {
        let other = other.unwrap();
        assert!(a.iter().zip(&other).all(|(x, y)| x != y), "{other:?}");
    }
    // Pairs are drawn in order: a smaller batch gets the leading draws.
    assert_eq!(m.draws(5, 5, 100, 2).unwrap(), a[..5]);
    // Every kind draws the same λ and centre from the same key.
    for kind in [MixKind::Mixup, MixKind::SrMix] {
        assert_eq!(mixer(kind, |_| {}).draws(16, 5, 100, 2).unwrap(), a);
    }
    // The masks on the GPU repeat bit for bit.
    let d = dev();
    let x = Tensor::zeros(&d, &[4, 3, 9, 11]).unwrap();
    let y = Tensor::ones(&d, &[4, 3, 9, 11]).unwrap();
    let m = mixer(MixKind::SrMix, |_| {});
    let run = || {
        m.mix(&x, &y, 1, 2, 3)
            .unwrap()
            .unwrap()
            .mask
            .to_vec()
            .unwrap()
    };
    assert_eq!(run(), run());
}

#[test]
fn per_batch_draws_one_mask_for_the_batch() {
    let d = dev();
    let (x, y) = (
        Tensor::zeros(&d, &[6, 1, 8, 8]).unwrap(),
        Tensor::ones(&d, &[6, 1, 8, 8]).unwrap(),
    );
    let masks = |per_batch: bool| {
        let m = mixer(MixKind::CutMix, |c| {
            c.per_batch = per_batch;
            c.alpha = 2.0;
        });
        let draws = m.draws(6, 9, 4, 0).unwrap();
        let mask = m
            .mix(&x, &y, 9, 4, 0)
            .unwrap()
            .unwrap()
            .mask
            .to_vec()
            .unwrap();
        (
            draws,
            mask.chunks(64).map(<[f32]>::to_vec).collect::<Vec<_>>(),
        )
    };
    let (draws, rows) = masks(true);
    assert!(draws.iter().all(|d| *d == draws[0]));
    assert!(rows.iter().all(|r| *r == rows[0]));
    let (draws, rows) = masks(false);
    assert!(draws[1..].iter().all(|d| *d != draws[0]));
    assert!(rows[1..].iter().any(|r| *r != rows[0]));
}

#[test]
fn beta_draws_and_centres_have_the_right_moments() {
    // Beta(α, α): mean 1/2, variance 1/(4(2α + 1)); centres U[0, 1): 1/2, 1/12. 40 000 draws: the
    // mean's σ ≤ 0.0018, so 0.01 is > 5σ; the variance within 5 %.
    let n = 40_000;
    for alpha in [0.2, 1.0, 2.0] {
        let m = mixer(MixKind::SrMix, |c| c.alpha = alpha);
        let draws = m.draws(n, 3, 7, 1).unwrap();
        let moments = |f: &dyn Fn(&MixDraw) -> f64| {
            let mean = draws.iter().map(f).sum::<f64>() / n as f64;
            let var = draws.iter().map(|d| (f(d) - mean).powi(2)).sum::<f64>() / n as f64;
            (mean, var)
        };
        let want = 1.0 / (4.0 * (2.0 * alpha + 1.0));
        for (what, (mean, var), want_var) in [
            ("λ", moments(&|d| d.lambda), want),
            ("cu", moments(&|d| d.cu), 1.0 / 12.0),
            ("cv", moments(&|d| d.cv), 1.0 / 12.0),
        ] {
            assert!((mean - 0.5).abs() < 0.01, "α {alpha}: {what} mean {mean}");
            assert!(
                (var - want_var).abs() < 0.05 * want_var,
                "α {alpha}: {what} var {var} vs {want_var}"
            );
        }
        let inside = |d: &MixDraw| {
            [d.lambda, d.cu, d.cv]
                .iter()
                .all(|v| (0.0..=1.0).contains(v))
        };
        assert!(draws.iter().all(inside));
    }
}

#[test]
fn the_p_mix_gate_and_kind_none() {
    let d = dev();
    let x = Tensor::zeros(&d, &[2, 1, 3, 3]).unwrap();
    let never = mixer(MixKind::Mixup, |c| c.p_mix = 0.0);
    let always = mixer(MixKind::Mixup, |_| {});
    let none = mixer(MixKind::None, |_| {});
    for step in 0..200 {
        assert!(never.mix(&x, &x, 1, step, 0).unwrap().is_none());
        assert!(none.mix(&x, &x, 1, step, 0).unwrap().is_none());
        assert!(always.draws(2, 1, step, 0).is_some());
    }
    // p_mix 0.3 mixes in 30 % of the calls: 2000 of them, σ = 0.010, allow 4σ.
    let some = mixer(MixKind::Mixup, |c| c.p_mix = 0.3);
    let n = (0..2000)
        .filter(|&s| some.draws(1, 1, s, 0).is_some())
        .count();
    assert!((n as f64 / 2000.0 - 0.3).abs() < 0.04, "{n} of 2000");
    // The gate moves no other draw.
    let s = (0..2000)
        .find(|&s| some.draws(3, 1, s, 0).is_some())
        .unwrap();
    assert_eq!(some.draws(3, 1, s, 0), always.draws(3, 1, s, 0));
}

#[test]
fn fake_input_is_detached_unless_g_through_mix() {
    let d = dev();
    let g = Tensor::ones(&d, &[1, 1, 2, 2]).unwrap().into_param();
    let fake = g.scale(2.0).unwrap();
    assert!(!mixer(MixKind::SrMix, |_| {})
        .fake_input(&fake)
        .requires_grad());
    let through = mixer(MixKind::SrMix, |c| c.g_through_mix = true);
    assert!(through.fake_input(&fake).requires_grad());
}

#[test]
fn config_defaults_toml_and_errors() {
    let dflt: MixConfig = toml::from_str("").unwrap();
    assert_eq!(dflt, MixConfig::default());
    assert_eq!(
        (
            dflt.kind,
            dflt.alpha,
            dflt.kappa,
            dflt.kernel,
            dflt.per_batch
        ),
        (MixKind::None, 1.0, 0.1, MixKernel::Logistic, false)
    );
    assert_eq!(
        (
            dflt.weight,
            dflt.p_mix,
            dflt.replace_fake,
            dflt.g_through_mix
        ),
        (1.0, 1.0, false, false)
    );
    assert_eq!(dflt.formalism, MixFormalism::Soft);
    let full = r#"
        kind = "srmix"
        alpha = 0.4
        kappa = 0.2
        kernel = "gaussian"
        per_batch = true
        weight = 0.5
        p_mix = 0.8
        replace_fake = true
        g_through_mix = true
        formalism = "consistency"
    "#;
    let cfg: MixConfig = toml::from_str(full).unwrap();
    assert_eq!(
        toml::from_str::<MixConfig>(&toml::to_string(&cfg).unwrap()).unwrap(),
        cfg
    );
    assert_eq!(
        (cfg.kind, cfg.kernel),
        (MixKind::SrMix, MixKernel::Gaussian)
    );
    for (text, needle) in [
        ("kind = \"cutmx\"", "cutmix"),
        ("kernel = \"box\"", "gaussian"),
        ("formalism = \"hard\"", "consistency"),
        ("gamma = 1.0", "gamma"),
    ] {
        let e = toml::from_str::<MixConfig>(text).unwrap_err().to_string();
        assert!(e.contains(needle), "{text}: {e}");
    }
    let e = "cutmx".parse::<MixKind>().unwrap_err().to_string();
    assert!(
        e.contains("mixing kind") && e.contains("none, mixup, cutmix, srmix"),
        "{e}"
    );
    assert_eq!("srmix".parse::<MixKind>().unwrap(), MixKind::SrMix);
    assert_eq!(
        "gaussian".parse::<MixKernel>().unwrap(),
        MixKernel::Gaussian
    );
    assert_eq!(
        "consistency".parse::<MixFormalism>().unwrap(),
        MixFormalism::Consistency
    );
    for (cfg, needle) in [
        (
            MixConfig {
                alpha: 0.0,
                ..dflt.clone()
            },
            "alpha",
        ),
        (
            MixConfig {
                alpha: f64::NAN,
                ..dflt.clone()
            },
            "alpha",
        ),
        (
            MixConfig {
                kappa: 0.0,
                ..dflt.clone()
            },
            "kappa",
        ),
        (
            MixConfig {
                weight: -1.0,
                ..dflt.clone()
            },
            "weight",
        ),
        (
            MixConfig {
                p_mix: 1.5,
                ..dflt.clone()
            },
            "p_mix",
        ),
        (
            MixConfig {
                p_mix: f64::NAN,
                ..dflt.clone()
            },
            "p_mix",
        ),
    ] {
        let e = Mixer::new(cfg).unwrap_err();
        assert!(matches!(&e, Error::Config(m) if m.contains(needle)), "{e}");
    }
}

#[test]
fn shape_and_argument_errors() {
    let d = dev();
    let m = mixer(MixKind::CutMix, |_| {});
    let x = Tensor::zeros(&d, &[2, 3, 4, 4]).unwrap();
    let other = Tensor::zeros(&d, &[2, 3, 4, 5]).unwrap();
    let flat = Tensor::zeros(&d, &[2, 48]).unwrap();
    assert!(matches!(
        m.mix(&x, &other, 0, 0, 0),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        m.mix(&flat, &flat, 0, 0, 0),
        Err(Error::Shape { .. })
    ));
    let draw = MixDraw {
        lambda: 0.5,
        cu: 0.5,
        cv: 0.5,
    };
    let e = m.mix_with(&x, &x, &[draw]).unwrap_err().to_string();
    assert!(e.contains("1 draws for a batch of 2"), "{e}");
    let e = mixer(MixKind::None, |_| {})
        .mix_with(&x, &x, &[draw; 2])
        .unwrap_err();
    assert!(e.to_string().contains("none"), "{e}");

    let (d2, t2, d3) = (
        Tensor::zeros(&d, &[2]).unwrap(),
        Tensor::zeros(&d, &[2, 1]).unwrap(),
        Tensor::zeros(&d, &[3]).unwrap(),
    );
    let soft = mixer(MixKind::Mixup, |_| {});
    assert!(soft.loss(GanLoss::Hinge, &d2, &t2, None, None).is_ok());
    assert!(matches!(
        soft.loss(GanLoss::Bce, &d2, &d3, None, None),
        Err(Error::Shape { .. })
    ));
    let cons = mixer(MixKind::Mixup, |c| c.formalism = MixFormalism::Consistency);
    let e = cons
        .loss(GanLoss::Hinge, &d2, &t2, Some(&d2), None)
        .unwrap_err();
    assert!(e.to_string().contains("consistency"), "{e}");
    assert!(matches!(
        cons.loss(GanLoss::Hinge, &d2, &t2, Some(&d2), Some(&d3)),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        cons.loss(GanLoss::Hinge, &d2, &d3, Some(&d2), Some(&d2)),
        Err(Error::Shape { .. })
    ));
    assert!(cons
        .loss(GanLoss::Hinge, &t2, &t2, Some(&t2), Some(&d2))
        .is_ok());
}
