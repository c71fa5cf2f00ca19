//! Pooling and resampling (avg/max pool, global average, sum over H·W, nearest upsampling, the
//! option-A shortcut) against f64 references, and their gradients by finite differences.
mod common;
use common::*;
use tailgrad::{Error, Tensor};

type Shape4 = [usize; 4];

fn at(s: Shape4, b: usize, c: usize, y: usize, x: usize) -> usize {
    ((b * s[1] + c) * s[2] + y) * s[3] + x
}

fn pooled(s: Shape4, k: usize, st: usize) -> Shape4 {
    [s[0], s[1], (s[2] - k) / st + 1, (s[3] - k) / st + 1]
}

/// Every (output index, window inputs in row-major order) of a k×k stride-st pooling.
fn windows(s: Shape4, k: usize, st: usize) -> Vec<(usize, Vec<usize>)> {
    let o = pooled(s, k, st);
    let mut out = Vec::new();
    for b in 0..s[0] {
        for c in 0..s[1] {
            for oy in 0..o[2] {
                for ox in 0..o[3] {
                    let win = (0..k * k)
                        .map(|t| at(s, b, c, oy * st + t / k, ox * st + t % k))
                        .collect();
                    out.push((at(o, b, c, oy, ox), win));
                }
            }
        }
    }
    out
}

fn avg_ref(x: &[f64], s: Shape4, k: usize, st: usize) -> Vec<f64> {
    let mut y = vec![0.0; pooled(s, k, st).iter().product()];
    for (o, win) in windows(s, k, st) {
        y[o] = win.iter().map(|&i| x[i]).sum::<f64>() / (k * k) as f64;
    }
    y
}

/// Max values and the input index of each window's first maximum.
fn max_ref(x: &[f64], s: Shape4, k: usize, st: usize) -> (Vec<f64>, Vec<usize>) {
    let n = pooled(s, k, st).iter().product();
    let (mut y, mut arg) = (vec![0.0; n], vec![0; n]);
    for (o, win) in windows(s, k, st) {
        let best = win
            .iter()
            .copied()
            .fold(win[0], |b, i| if x[i] > x[b] { i } else { b });
        (y[o], arg[o]) = (x[best], best);
    }
    (y, arg)
}

fn plane_sums(x: &[f64], s: Shape4) -> Vec<f64> {
    x.chunks(s[2] * s[3]).map(|p| p.iter().sum()).collect()
}

fn upsample_ref(x: &[f64], s: Shape4) -> Vec<f64> {
    let o = [s[0], s[1], 2 * s[2], 2 * s[3]];
    let mut y = vec![0.0; o.iter().product()];
    for b in 0..s[0] {
        for c in 0..s[1] {
            for yy in 0..o[2] {
                for xx in 0..o[3] {
                    y[at(o, b, c, yy, xx)] = x[at(s, b, c, yy / 2, xx / 2)];
                }
            }
        }
    }
    y
}

fn shortcut_ref(x: &[f64], s: Shape4, st: usize, out_c: usize) -> Vec<f64> {
    let o = [s[0], out_c, s[2].div_ceil(st), s[3].div_ceil(st)];
    let pad = (out_c - s[1]) / 2;
    let mut y = vec![0.0; o.iter().product()];
    for b in 0..s[0] {
        for c in 0..s[1] {
            for yy in 0..o[2] {
                for xx in 0..o[3] {
                    y[at(o, b, c + pad, yy, xx)] = x[at(s, b, c, yy * st, xx * st)];
                }
            }
        }
    }
    y
}

/// (shape, k, stride): 1s, odd and prime sizes, overlapping windows (k > stride), gaps between
/// windows (stride > k), rows longer than one invocation's run, and a 9×9 window.
const POOL_CASES: &[(Shape4, usize, usize)] = &[
    ([1, 1, 1, 1], 1, 1),
    ([2, 3, 7, 5], 2, 2),
    ([1, 2, 9, 11], 3, 2),
    ([2, 1, 6, 6], 3, 1),
    ([3, 5, 13, 17], 2, 3),
    ([2, 3, 31, 257], 2, 2),
    ([1, 2, 19, 23], 9, 4),
];

/// A k² sum of values in [-1, 1] rounds k² times by at most 2^-24 of a partial sum ≤ k²; the
/// mean divides that by k². 2× margin.
fn window_tol(k: usize) -> Tol {
    Tol {
        rel: 0.0,
        abs: 2.0 * (k * k) as f64 * 6e-8,
    }
}

const EXACT: Tol = Tol { rel: 0.0, abs: 0.0 };

/// The gradient tolerance of the other families: f32 gradients vs f64 central differences.
const GRAD_TOL: Tol = Tol {
    rel: 1e-3,
    abs: 1e-4,
};

#[test]
fn avg_pool_matches_reference() {
    let d = dev();
    let mut rng = Rng::new(301);
    for &(s, k, st) in POOL_CASES {
        let x = as_f32(&rng.vec(s.iter().product(), -1.0, 1.0));
        let y = upload(&d, &x, &s).avg_pool2d(k, st).unwrap();
        assert_eq!(y.shape(), pooled(s, k, st), "{s:?} k{k} s{st}");
        let what = format!("avg_pool2d {s:?} k{k} s{st}");
        assert_close(
            &what,
            &y.to_vec().unwrap(),
            &avg_ref(&x, s, k, st),
            window_tol(k),
        );
    }
}

#[test]
fn max_pool_matches_reference() {
    let d = dev();
    let mut rng = Rng::new(302);
    for &(s, k, st) in POOL_CASES {
        let x = as_f32(&rng.vec(s.iter().product(), -1.0, 1.0));
        let y = upload(&d, &x, &s).max_pool2d(k, st).unwrap();
        assert_eq!(y.shape(), pooled(s, k, st));
        let what = format!("max_pool2d {s:?} k{k} s{st}");
        assert_close(&what, &y.to_vec().unwrap(), &max_ref(&x, s, k, st).0, EXACT);
    }
}

/// With many ties, each window's gradient goes to its first maximum in row-major order, and
/// overlapping windows that share an argmax add up there.
#[test]
fn max_pool_gradient_goes_to_the_first_maximum() {
    let d = dev();
    let mut rng = Rng::new(303);
    for (s, k, st) in [
        ([2, 3, 9, 8], 3, 1),
        ([1, 2, 8, 10], 2, 2),
        ([2, 2, 11, 7], 3, 2),
    ] {
        let x: Vec<f64> = (0..s.iter().product())
            .map(|_| rng.below(3) as f64)
            .collect();
        let xt = upload(&d, &x, &s).into_param();
        let y = xt.max_pool2d(k, st).unwrap();
        let g = as_f32(&rng.vec(y.numel(), -1.0, 1.0));
        y.backward_with(&upload(&d, &g, y.shape())).unwrap();
        let mut want = vec![0.0; x.len()];
        for (o, &i) in max_ref(&x, s, k, st).1.iter().enumerate() {
            want[i] += g[o];
        }
        let what = format!("max_pool2d ties {s:?} k{k} s{st}");
        assert_close(
            &what,
            &xt.grad().unwrap().to_vec().unwrap(),
            &want,
            window_tol(k),
        );
    }
}

#[test]
fn max_pool_propagates_nan() {
    let d = dev();
    let x = Tensor::from_slice(&d, &[1.0, f32::NAN, 3.0, 2.0], &[1, 1, 2, 2]).unwrap();
    assert!(x.max_pool2d(2, 2).unwrap().to_vec().unwrap()[0].is_nan());
}

/// A sum of n values in [-1, 1]: partial sums stay within ~4·sqrt(n) and the n roundings of
/// 2^-24 of them add up like a random walk, sqrt(n) · 4·sqrt(n) · 2^-24 = 4n · 6e-8.
fn sum_tol(n: usize) -> Tol {
    Tol {
        rel: 1e-6,
        abs: 4.0 * n as f64 * 6e-8,
    }
}

/// Planes of 1, a prime, 8×8 (ResNet's last stage), and 90 300 and 70 000 pixels: more than one
/// pass of 16 384 and more than the 65 535 loop iterations one invocation may run on lavapipe.
const PLANE_CASES: &[Shape4] = &[
    [1, 1, 1, 1],
    [2, 3, 7, 13],
    [128, 64, 8, 8],
    [1, 2, 300, 301],
    [2, 1, 70_000, 1],
];

#[test]
fn sum_hw_and_global_avg_pool_match_reference() {
    let d = dev();
    let mut rng = Rng::new(304);
    for &s in PLANE_CASES {
        let x = as_f32(&rng.vec(s.iter().product(), -1.0, 1.0));
        let xt = upload(&d, &x, &s);
        let sums = plane_sums(&x, s);
        let hw = s[2] * s[3];
        let y = xt.sum_hw().unwrap();
        assert_eq!(y.shape(), [s[0], s[1]]);
        assert_close(
            &format!("sum_hw {s:?}"),
            &y.to_vec().unwrap(),
            &sums,
            sum_tol(hw),
        );
        let means: Vec<f64> = sums.iter().map(|v| v / hw as f64).collect();
        let y = xt.global_avg_pool().unwrap();
        assert_eq!(y.shape(), [s[0], s[1]]);
        let tol = Tol {
            rel: 1e-6,
            abs: sum_tol(hw).abs / hw as f64,
        };
        assert_close(
            &format!("global_avg_pool {s:?}"),
            &y.to_vec().unwrap(),
            &means,
            tol,
        );
    }
}

#[test]
fn upsample_and_shortcut_match_reference() {
    let d = dev();
    let mut rng = Rng::new(305);
    for s in [[1, 1, 1, 1], [2, 3, 5, 7], [1, 2, 33, 70], [3, 16, 32, 32]] {
        let x = as_f32(&rng.vec(s.iter().product(), -1.0, 1.0));
        let y = upload(&d, &x, &s).upsample_nearest2x().unwrap();
        assert_eq!(y.shape(), [s[0], s[1], 2 * s[2], 2 * s[3]]);
        let what = format!("upsample_nearest2x {s:?}");
        assert_close(&what, &y.to_vec().unwrap(), &upsample_ref(&x, s), EXACT);
    }
    // ResNet's 16→32 and 32→64 with stride 2, odd sizes, an odd channel gap, stride 1 and 3.
    for (s, st, out_c) in [
        ([2, 16, 32, 32], 2, 32),
        ([1, 32, 16, 16], 2, 64),
        ([2, 3, 7, 5], 2, 8),
        ([1, 1, 1, 1], 1, 1),
        ([2, 5, 9, 10], 3, 6),
        ([1, 2, 3, 3], 1, 7),
    ] {
        let x = as_f32(&rng.vec(s.iter().product(), -1.0, 1.0));
        let y = upload(&d, &x, &s).shortcut_a(st, out_c).unwrap();
        assert_eq!(
            y.shape(),
            [s[0], out_c, s[2].div_ceil(st), s[3].div_ceil(st)]
        );
        let what = format!("shortcut_a {s:?} s{st} -> {out_c}");
        assert_close(
            &what,
            &y.to_vec().unwrap(),
            &shortcut_ref(&x, s, st, out_c),
            EXACT,
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(306);
    for (s, k, st) in [
        ([2, 2, 5, 7], 2, 2),
        ([1, 3, 6, 5], 3, 1),
        ([2, 1, 7, 7], 2, 3),
    ] {
        let input = [(rng.vec(s.iter().product(), -1.0, 1.0), s.to_vec())];
        gradcheck(
            &format!("avg_pool2d {s:?} k{k} s{st}"),
            &input,
            &|t| t[0].avg_pool2d(k, st),
            &|v| avg_ref(&v[0], s, k, st),
            GRAD_TOL,
        );
        gradcheck(
            &format!("max_pool2d {s:?} k{k} s{st}"),
            &input,
            &|t| t[0].max_pool2d(k, st),
            &|v| max_ref(&v[0], s, k, st).0,
            GRAD_TOL,
        );
    }
    for s in [[2, 3, 4, 5], [1, 1, 1, 1], [3, 2, 3, 3]] {
        let input = [(rng.vec(s.iter().product(), -1.0, 1.0), s.to_vec())];
        let hw = (s[2] * s[3]) as f64;
        gradcheck(
            &format!("sum_hw {s:?}"),
            &input,
            &|t| t[0].sum_hw(),
            &|v| plane_sums(&v[0], s),
            GRAD_TOL,
        );
        gradcheck(
            &format!("global_avg_pool {s:?}"),
            &input,
            &|t| t[0].global_avg_pool(),
            &|v| plane_sums(&v[0], s).iter().map(|m| m / hw).collect(),
            GRAD_TOL,
        );
        gradcheck(
            &format!("upsample_nearest2x {s:?}"),
            &input,
            &|t| t[0].upsample_nearest2x(),
            &|v| upsample_ref(&v[0], s),
            GRAD_TOL,
        );
    }
    for (s, st, out_c) in [
        ([2, 2, 5, 4], 2, 4),
        ([1, 3, 5, 5], 3, 6),
        ([2, 2, 3, 3], 1, 3),
    ] {
        gradcheck(
            &format!("shortcut_a {s:?} s{st} -> {out_c}"),
            &[(rng.vec(s.iter().product(), -1.0, 1.0), s.to_vec())],
            &|t| t[0].shortcut_a(st, out_c),
            &|v| shortcut_ref(&v[0], s, st, out_c),
            GRAD_TOL,
        );
    }
}

/// Backward on planes beyond one pass and beyond the loop budget: the adjoints are exact
/// (broadcast, scatter of a strided subsample), so the gradients compare in closed form.
#[test]
fn large_plane_gradients() {
    let d = dev();
    let mut rng = Rng::new(307);
    let s = [1, 2, 300, 301];
    let hw = 300 * 301;
    let xt = upload(&d, &rng.vec(2 * hw, -1.0, 1.0), &s).into_param();
    let g = as_f32(&rng.vec(2, -1.0, 1.0));
    let y = xt.global_avg_pool().unwrap();
    y.backward_with(&upload(&d, &g, &[1, 2])).unwrap();
    let want: Vec<f64> = (0..2 * hw).map(|i| g[i / hw] / hw as f64).collect();
    let tol = Tol {
        rel: 1e-6,
        abs: 0.0,
    };
    assert_close(
        "global_avg_pool backward",
        &xt.grad().unwrap().to_vec().unwrap(),
        &want,
        tol,
    );
}

#[test]
fn bad_arguments_are_errors() {
    let d = dev();
    let x = Tensor::zeros(&d, &[1, 2, 4, 5]).unwrap();
    let flat = Tensor::zeros(&d, &[2, 4, 5]).unwrap();
    for r in [
        flat.avg_pool2d(2, 2),
        flat.max_pool2d(2, 2),
        flat.global_avg_pool(),
        flat.sum_hw(),
        flat.upsample_nearest2x(),
        flat.shortcut_a(2, 4),
        x.avg_pool2d(5, 1),
        x.max_pool2d(0, 1),
        x.avg_pool2d(2, 0),
        x.shortcut_a(0, 4),
        x.shortcut_a(2, 1),
    ] {
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
    }
    let e = flat.avg_pool2d(2, 2).unwrap_err().to_string();
    assert!(e.contains("avg_pool2d") && e.contains("[2, 4, 5]"), "{e}");
    let u = Tensor::from_u32(&d, &[1; 4], &[1, 1, 2, 2]).unwrap();
    assert!(matches!(u.max_pool2d(2, 2), Err(Error::Invalid { .. })));
}
