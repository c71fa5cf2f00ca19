//! `ops::mix_mask` (real-weight masks of GAN sample mixing) against an f64 CPU reference, on
//! awkward shapes (H, W ∈ {1, 2, 7, 13, 32}) and boxes inside, on and beyond the borders, empty
//! and covering the image, for the four kinds.
//!
//! Tolerances (absolute, the masks lie in [0, 1]; ε = f32::EPSILON):
//! - Mixup and CutMix: exact (a copy of λ; a 0/1 comparison of the pixel index with the edges).
//! - SRMix, logistic: the argument z = (x − e)/τ carries ≤ ε relative error, which moves s by
//!   ≤ max z·s'(z)·ε = 0.224ε; exp's error (Vulkan: 3 + 2|z| ulp) moves s by ≤ s(1 − s)·that ≤ 1ε;
//!   the 1 + e and the division add ε. So each s is within 2.3ε, a ramp within 5ε, the product of
//!   two ramps within 10.5ε, and a = 1 − b within 11ε. Tolerance: 11ε.
//! - SRMix, Gaussian: Φ's tail is ½·erfc from a Chebyshev fit of relative error 1.2e-7 (≈ 1ε),
//!   evaluated with a 10-term Horner sum of Σ|c_k| = 6.82 at t ≤ 1 (≤ 9ε·6.82 = 61ε on the
//!   exponent, so relative on the tail), exp's (3 + 2·|arg|) ulp relative to a tail whose
//!   e^(−x²) factor keeps it ≤ 6ε, and the t and x scalings ≤ 2ε: with tail ≤ ½ each Φ is within
//!   35ε, a ramp within 70.5ε, the product within 141.5ε and a within 142ε. Tolerance: 142ε. This
//!   is a worst-case bound; lavapipe's largest error is far below it (see the test output).
//!
//! Each comparison can fail (mutations of the shader, each reverted): evaluating the ramps at the
//! pixel index instead of the centre u + 0.5 misses by 0.48 (logistic) and 0.50 (Gaussian, on v);
//! CutMix with `u <= u2` fails the exact check; a Gaussian σ of 1.1·τ misses by 0.015 ≫ 142ε =
//! 1.7e-5. Dropping the symmetric form in `ramp` (always s(za) − s(zb)) stays within tolerance: it
//! costs relative precision where a ≈ 1, not absolute.

mod common;
use common::dev;
use tailgrad::ops::mix_mask::{mix_mask, MaskKind, MaskParams};
use tailgrad::{Error, Tensor};

const EPS: f64 = f32::EPSILON as f64;
const LOGISTIC_TOL: f64 = 11.0 * EPS;
const GAUSSIAN_TOL: f64 = 142.0 * EPS;

fn logistic(z: f64) -> f64 {
    0.5 * (1.0 + (0.5 * z).tanh())
}

/// erf by its everywhere-positive series e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)), 2/√π in front: no
/// cancellation, so it is accurate to a few 1e-16 absolute, which is all the mask needs.
fn erf(x: f64) -> f64 {
    if x.abs() > 6.0 {
        return x.signum();
    }
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-17 * sum.abs() {
        n += 1.0;
        term *= 2.0 * x * x / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

fn phi(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// The f64 mask [B, H, W] of parameter rows (their f32 values, as the GPU sees them).
fn reference(kind: MaskKind, ps: &[MaskParams], h: usize, w: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for p in ps {
        let f = |x: f32| x as f64;
        let (u1, u2, v1, v2, tu, tv) = (f(p.u1), f(p.u2), f(p.v1), f(p.v2), f(p.tau_u), f(p.tau_v));
        for v in 0..h {
            for u in 0..w {
                let (uf, vf) = (u as f64, v as f64);
                let (x, y) = (uf + 0.5, vf + 0.5);
                out.push(match kind {
                    MaskKind::Constant => f(p.lambda),
                    MaskKind::Box => {
                        let inside = u1 <= uf && uf < u2 && v1 <= vf && vf < v2;
                        if inside {
                            0.0
                        } else {
                            1.0
                        }
                    }
                    MaskKind::Logistic => {
                        let bu = logistic((x - u1) / tu) - logistic((x - u2) / tu);
                        let bv = logistic((y - v1) / tv) - logistic((y - v2) / tv);
                        1.0 - bu * bv
                    }
                    MaskKind::Gaussian => {
                        let bu = phi((x - u1) / tu) - phi((x - u2) / tu);
                        let bv = phi((y - v1) / tv) - phi((y - v2) / tv);
                        1.0 - bu * bv
                    }
                });
            }
        }
    }
    out
}

fn params(lambda: f32, u: (f32, f32), v: (f32, f32), tau: (f32, f32)) -> MaskParams {
    MaskParams {
        lambda,
        u1: u.0,
        u2: u.1,
        v1: v.0,
        v2: v.1,
        tau_u: tau.0,
        tau_v: tau.1,
    }
}

/// Boxes for an h×w image: interior, touching each border, beyond the borders (negative and
/// past-the-end edges), empty (zero width, or an edge pair outside), covering the image, and
/// fractional edges.
fn boxes(h: usize, w: usize) -> Vec<MaskParams> {
    let (hf, wf) = (h as f32, w as f32);
    vec![
        params(
            0.37,
            (wf * 0.25, wf * 0.75),
            (hf * 0.3, hf * 0.6),
            (0.8, 1.3),
        ),
        params(0.0, (0.0, wf * 0.5), (hf * 0.5, hf), (0.4, 0.4)),
        params(1.0, (-3.0, wf + 5.0), (-0.5, hf * 0.5), (2.5, 0.1)),
        params(0.5, (wf * 0.5, wf * 0.5), (0.0, hf), (0.1, 0.1)),
        params(0.25, (wf + 1.0, wf + 4.0), (0.0, hf), (0.3, 0.3)),
        params(
            0.9,
            (0.0, wf),
            (0.0, hf),
            (0.1 * wf.max(1.0), 0.1 * hf.max(1.0)),
        ),
        params(0.61, (1.3, 2.7), (0.49, 5.51), (0.05, 3.0)),
    ]
}

fn run(kind: MaskKind, ps: &[MaskParams], h: usize, w: usize) -> Vec<f32> {
    let d = dev();
    mix_mask(&MaskParams::upload(&d, ps).unwrap(), kind, h, w)
        .unwrap()
        .to_vec()
        .unwrap()
}

/// The largest |got − want|, after checking the shape and that every value is in [0, 1].
fn max_err(kind: MaskKind, ps: &[MaskParams], h: usize, w: usize) -> f64 {
    let got = run(kind, ps, h, w);
    let want = reference(kind, ps, h, w);
    assert_eq!(got.len(), want.len());
    let mut worst: f64 = 0.0;
    for (i, (&g, &r)) in got.iter().zip(&want).enumerate() {
        let e = (g as f64 - r).abs();
        assert!(
            (0.0..=1.0).contains(&g),
            "{kind:?} {h}x{w}: index {i}: {g} outside [0, 1]"
        );
        assert!(!e.is_nan(), "{kind:?} {h}x{w}: NaN at {i}");
        worst = worst.max(e);
    }
    worst
}

const SHAPES: [(usize, usize); 7] = [(1, 1), (1, 13), (7, 1), (2, 2), (13, 7), (7, 13), (32, 32)];

#[test]
fn constant_and_box_masks_are_exact() {
    for (h, w) in SHAPES {
        let ps = boxes(h, w);
        // CutMix edges are whole pixels; round the fractional ones.
        let ints: Vec<MaskParams> = ps
            .iter()
            .map(|p| MaskParams {
                u1: p.u1.round(),
                u2: p.u2.round(),
                v1: p.v1.round(),
                v2: p.v2.round(),
                ..*p
            })
            .collect();
        assert_eq!(max_err(MaskKind::Constant, &ps, h, w), 0.0, "mixup {h}x{w}");
        assert_eq!(max_err(MaskKind::Box, &ints, h, w), 0.0, "cutmix {h}x{w}");
    }
}

#[test]
fn smooth_masks_match_the_f64_reference() {
    let (mut worst_l, mut worst_g): (f64, f64) = (0.0, 0.0);
    for (h, w) in SHAPES {
        let ps = boxes(h, w);
        let el = max_err(MaskKind::Logistic, &ps, h, w);
        let eg = max_err(MaskKind::Gaussian, &ps, h, w);
        assert!(
            el <= LOGISTIC_TOL,
            "logistic {h}x{w}: {el:e} > {LOGISTIC_TOL:e}"
        );
        assert!(
            eg <= GAUSSIAN_TOL,
            "gaussian {h}x{w}: {eg:e} > {GAUSSIAN_TOL:e}"
        );
        (worst_l, worst_g) = (worst_l.max(el), worst_g.max(eg));
    }
    println!(
        "largest error: logistic {:.2} ε, gaussian {:.2} ε",
        worst_l / EPS,
        worst_g / EPS
    );
}

#[test]
fn empty_and_full_boxes() {
    let (h, w) = (7, 13);
    let empty = params(0.5, (4.0, 4.0), (0.0, 7.0), (0.5, 0.5));
    for kind in [MaskKind::Box, MaskKind::Logistic, MaskKind::Gaussian] {
        // Equal edges: both ramps read the same value, so b is exactly 0.
        assert!(
            run(kind, &[empty], h, w).iter().all(|&a| a == 1.0),
            "{kind:?}"
        );
    }
    let full = params(0.5, (0.0, 13.0), (0.0, 7.0), (0.01, 0.01));
    assert!(run(MaskKind::Box, &[full], h, w).iter().all(|&a| a == 0.0));
    // A sharp SRMix box covering the image is fake to within e^(−50) at every pixel centre.
    for kind in [MaskKind::Logistic, MaskKind::Gaussian] {
        let a = run(kind, &[full], h, w);
        assert!(a.iter().all(|&a| a.abs() <= 1e-6), "{kind:?}: {a:?}");
    }
}

#[test]
fn the_mask_is_a_constant_and_bad_parameters_are_errors() {
    let d = dev();
    let p = MaskParams::upload(&d, &[params(0.5, (1.0, 2.0), (1.0, 2.0), (0.1, 0.1))])
        .unwrap()
        .into_param();
    let m = mix_mask(&p, MaskKind::Logistic, 3, 3).unwrap();
    assert_eq!(m.shape(), &[1, 1, 3, 3]);
    assert!(!m.requires_grad());
    let bad = Tensor::from_slice(&d, &[0.0; 7], &[1, 7]).unwrap();
    let e = mix_mask(&bad, MaskKind::Constant, 2, 2).unwrap_err();
    assert!(
        matches!(e, Error::Invalid { op: "mix_mask", .. }) && e.to_string().contains("[B, 8]"),
        "{e}"
    );
    let u = Tensor::from_u32(&d, &[0; 8], &[1, 8]).unwrap();
    assert!(mix_mask(&u, MaskKind::Constant, 2, 2).is_err());
    let p = MaskParams::upload(&d, &[MaskParams::default()]).unwrap();
    assert!(matches!(
        mix_mask(&p, MaskKind::Constant, 0, 4),
        Err(Error::ZeroSized { .. })
    ));
}
