//! Elementwise unary ops vs f64 references, plus every backward rule by finite differences.
mod common;
use common::*;
use tailgrad::{Result, Tensor};

type GpuFn = fn(&Tensor) -> Result<Tensor>;
/// (name, gpu op, f64 reference, input range, tolerance)
type Case = (&'static str, GpuFn, fn(f64) -> f64, (f64, f64), Tol);

/// ln(1 + eˣ) in f64.
fn softplus(v: f64) -> f64 {
    v.max(0.0) + (-v.abs()).exp().ln_1p()
}

/// For x < 0 softplus ≈ eˣ, so its relative error is exp's, which grows with |x| (the rounding of
/// x·log2 e; Vulkan allows 3 + 2|x| ulp). lavapipe: 9.6 ε at |x| ≤ 20, 2.1 ε for x ≥ 0.
const SOFTPLUS: Tol = Tol {
    rel: 2e-6,
    abs: 0.0,
};
/// The same out to |x| = 87, where lavapipe reaches 33 ε.
const SOFTPLUS_FAR: f64 = 1e-5;

fn table() -> Vec<Case> {
    let exact = Tol { rel: 0.0, abs: 0.0 };
    // Vulkan/WGSL allow a few ulp for transcendental functions: 2^-20 relative covers them.
    let transc = Tol {
        rel: 1e-6,
        abs: 1e-7,
    };
    vec![
        ("neg", |x| x.neg(), |v| -v, (-3.0, 3.0), exact),
        ("exp", |x| x.exp(), f64::exp, (-10.0, 10.0), transc),
        (
            "log",
            |x| x.log(),
            f64::ln,
            (1e-3, 100.0),
            Tol {
                rel: 1e-6,
                abs: 2e-7,
            },
        ),
        ("sqrt", |x| x.sqrt(), f64::sqrt, (0.0, 100.0), transc),
        (
            "rsqrt",
            |x| x.rsqrt(),
            |v| 1.0 / v.sqrt(),
            (1e-2, 100.0),
            transc,
        ),
        ("abs", |x| x.abs(), f64::abs, (-3.0, 3.0), exact),
        ("relu", |x| x.relu(), |v| v.max(0.0), (-3.0, 3.0), exact),
        (
            "leaky_relu",
            |x| x.leaky_relu(0.2),
            |v| if v > 0.0 { v } else { 0.2 * v },
            (-3.0, 3.0),
            Tol {
                rel: 1e-7,
                abs: 0.0,
            },
        ),
        (
            "tanh",
            |x| x.tanh(),
            f64::tanh,
            (-20.0, 20.0),
            Tol {
                rel: 1e-6,
                abs: 1e-6,
            },
        ),
        (
            "sigmoid",
            |x| x.sigmoid(),
            |v| 1.0 / (1.0 + (-v).exp()),
            (-30.0, 30.0),
            Tol {
                rel: 1e-6,
                abs: 1e-7,
            },
        ),
        (
            "clamp",
            |x| x.clamp(-0.5, 0.7),
            |v| v.clamp(-0.5, 0.7f32 as f64),
            (-3.0, 3.0),
            exact,
        ),
        (
            "powf3",
            |x| x.powf(3.0),
            |v| v.powi(3),
            (-3.0, 3.0),
            Tol {
                rel: 1e-5,
                abs: 1e-6,
            },
        ),
        (
            "powf_half",
            |x| x.powf(0.5),
            f64::sqrt,
            (0.0, 9.0),
            Tol {
                rel: 1e-5,
                abs: 1e-6,
            },
        ),
        // Rounding of a·x (|a·x| ≤ 4.5, half ulp 2.4e-7) survives the cancellation with b.
        (
            "affine",
            |x| x.affine(1.5, -2.0),
            |v| 1.5 * v - 2.0,
            (-3.0, 3.0),
            Tol {
                rel: 6e-8,
                abs: 2.4e-7,
            },
        ),
        ("sign", |x| x.sign(), f64::signum, (-3.0, 3.0), exact),
        (
            "softplus",
            |x| x.softplus(),
            softplus,
            (-20.0, 20.0),
            SOFTPLUS,
        ),
    ]
}

#[test]
fn forward_matches_f64_reference() {
    let d = dev();
    let mut rng = Rng::new(1);
    // 1, a prime, a non-multiple of the 256-element workgroup stride, and one past it; then sizes
    // that take the texture path on software adapters (≥ 65 536 and a multiple of 4), one of them
    // not a whole number of 4096-element texture rows.
    for n in [1usize, 7, 1000, 257, 65_537, 65_540, 262_144] {
        for (name, gpu, cpu, (lo, hi), tol) in table() {
            let x = as_f32(&rng.vec(n, lo, hi));
            let y = gpu(&upload(&d, &x, &[n])).unwrap().to_vec().unwrap();
            let want: Vec<f64> = x.iter().map(|&v| cpu(v)).collect();
            assert_close(&format!("{name} n={n}"), &y, &want, tol);
        }
    }
}

#[test]
fn extreme_inputs_stay_finite() {
    let d = dev();
    let x = upload(&d, &[-1e30, -100.0, 100.0, 1e30], &[4]);
    for y in [x.tanh().unwrap(), x.sigmoid().unwrap()] {
        assert!(y.to_vec().unwrap().iter().all(|v| v.is_finite()));
    }
    assert_eq!(
        x.tanh().unwrap().to_vec().unwrap(),
        vec![-1.0, -1.0, 1.0, 1.0]
    );
    assert_eq!(
        x.sigmoid().unwrap().to_vec().unwrap(),
        vec![0.0, 0.0, 1.0, 1.0]
    );
    // Negative base with integer exponent keeps the sign; fractional exponent is NaN.
    let y = upload(&d, &[-2.0], &[1]);
    assert_eq!(y.powf(3.0).unwrap().to_vec().unwrap(), vec![-8.0]);
    assert_eq!(y.powf(2.0).unwrap().to_vec().unwrap(), vec![4.0]);
    assert!(y.powf(0.5).unwrap().to_vec().unwrap()[0].is_nan());
}

/// Far out softplus is x itself for large x (no overflow of eˣ) and eˣ for very negative x, down
/// to where eˣ leaves f32's normal range (GPUs may flush those to 0). Its gradient sigmoid(x)
/// stays finite too: 1 and 0 at ±100.
#[test]
fn softplus_at_large_magnitudes() {
    let d = dev();
    let xs = [-100.0, -80.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 80.0, 100.0];
    let x = upload(&d, &xs, &[xs.len()]).into_param();
    let y = x.softplus().unwrap();
    let want: Vec<f64> = xs.iter().map(|&v| softplus(v)).collect();
    let tol = Tol {
        rel: SOFTPLUS_FAR,
        abs: f32::MIN_POSITIVE as f64,
    };
    assert_close("softplus far", &y.to_vec().unwrap(), &want, tol);
    y.sum_all().unwrap().backward().unwrap();
    let sigmoid: Vec<f64> = xs.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
    assert_close(
        "softplus far d/dx",
        &x.grad().unwrap().to_vec().unwrap(),
        &sigmoid,
        tol,
    );
}

#[test]
fn backward_rules_match_finite_differences() {
    let mut rng = Rng::new(2);
    let tol = Tol {
        rel: 1e-3,
        abs: 1e-4,
    };
    for (name, gpu, cpu, (lo, hi), _) in table() {
        if name == "sign" {
            continue; // zero gradient by definition
        }
        // Keep clear of kinks (relu/abs/clamp at their corners) where FD is meaningless.
        let (lo, hi) = if name == "tanh" || name == "sigmoid" {
            (-3.0, 3.0)
        } else {
            (lo.max(-3.0), hi.min(5.0))
        };
        let mut x = rng.vec(13, lo, hi);
        for v in x.iter_mut() {
            if v.abs() < 0.05 || (*v + 0.5).abs() < 0.05 || (*v - 0.7).abs() < 0.05 {
                *v += 0.1;
            }
        }
        gradcheck(
            name,
            &[(x, vec![13])],
            &|t| gpu(&t[0]),
            &|v| v[0].iter().map(|&a| cpu(a)).collect(),
            tol,
        );
    }
}
