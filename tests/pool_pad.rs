//! Padded pooling that ignores the padding (`ops::pool_pad`: TensorFlow's and the FID
//! Inception's avg pool with `count_include_pad=False`, and max pool with padding) against f64
//! references that clip every window to the input.
//!
//! Tolerances: max pool moves values, so it must match exactly. The average of n ≤ k² ≤ 25 f32
//! values in [−1, 1] sums in f32 (≤ (n − 1)·2⁻²⁴·Σ|x| ≤ 24·25·6e-8 = 3.6e-5 on the sum) and
//! divides once: ≤ 1.5e-6 on the mean, so abs 2e-6. Mutation seen to fail: dividing by k²
//! (count_include_pad=True).

mod common;
use common::*;
use tailgrad::{Error, Tensor};

struct Win {
    k: usize,
    stride: usize,
    pad: usize,
}

fn out_side(n: usize, w: &Win) -> usize {
    (n + 2 * w.pad - w.k) / w.stride + 1
}

/// For each output in order, the input indices of its window inside the input.
fn windows([b, c, h, w]: [usize; 4], win: &Win) -> Vec<Vec<usize>> {
    let (oh, ow) = (out_side(h, win), out_side(w, win));
    let span = |o: usize, n: usize| {
        let s = (o * win.stride) as i64 - win.pad as i64;
        (s.max(0) as usize)..((s + win.k as i64).min(n as i64) as usize)
    };
    let mut out = Vec::new();
    for q in 0..b * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut ids = Vec::new();
                for y in span(oy, h) {
                    ids.extend(span(ox, w).map(|x| (q * h + y) * w + x));
                }
                out.push(ids);
            }
        }
    }
    out
}

fn avg_ref(x: &[f64], shape: [usize; 4], win: &Win) -> Vec<f64> {
    let ws = windows(shape, win);
    ws.iter()
        .map(|ids| ids.iter().map(|&i| x[i]).sum::<f64>() / ids.len() as f64)
        .collect()
}

fn max_ref(x: &[f64], shape: [usize; 4], win: &Win) -> Vec<f64> {
    let ws = windows(shape, win);
    ws.iter()
        .map(|ids| ids.iter().map(|&i| x[i]).fold(f64::MIN, f64::max))
        .collect()
}

/// (shape, k, stride, pad): the FID graph's 3×3/1/1 (at 35, 17 and 8), ones, primes, windows
/// wider than the input's interior, strides past 1, rows of 131 > 64 outputs.
const CASES: [([usize; 4], usize, usize, usize); 10] = [
    ([1, 1, 1, 1], 1, 1, 0),
    ([1, 1, 1, 1], 3, 1, 1),
    ([2, 3, 35, 35], 3, 1, 1),
    ([1, 5, 17, 17], 3, 1, 1),
    ([2, 7, 8, 8], 3, 1, 1),
    ([3, 2, 7, 13], 3, 2, 1),
    ([1, 3, 2, 5], 5, 1, 2),
    ([2, 2, 11, 9], 4, 3, 2),
    ([1, 2, 3, 131], 3, 1, 1),
    ([2, 1, 6, 5], 2, 2, 0),
];

#[test]
fn avg_and_max_match_the_clipped_window_reference() {
    let d = dev();
    let mut rng = Rng::new(11);
    for (shape, k, stride, pad) in CASES {
        let win = Win { k, stride, pad };
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let xt = upload(&d, &x, &shape);
        let out = [
            shape[0],
            shape[1],
            out_side(shape[2], &win),
            out_side(shape[3], &win),
        ];
        let what = format!("{shape:?} k{k} s{stride} p{pad}");
        let avg = xt.avg_pool2d_exclude_pad(k, stride, pad).unwrap();
        assert_eq!(avg.shape(), out, "{what}");
        let tol = Tol {
            rel: 0.0,
            abs: 2e-6,
        };
        assert_close(
            &format!("avg {what}"),
            &avg.to_vec().unwrap(),
            &avg_ref(&x, shape, &win),
            tol,
        );
        let max = xt.max_pool2d_padded(k, stride, pad).unwrap();
        assert_eq!(max.shape(), out, "{what}");
        let exact = Tol { rel: 0.0, abs: 0.0 };
        assert_close(
            &format!("max {what}"),
            &max.to_vec().unwrap(),
            &max_ref(&x, shape, &win),
            exact,
        );
    }
}

#[test]
fn the_padding_never_counts() {
    // Constant input: every average is exactly the constant (count_include_pad=True would give
    // 4/9 of it in the corners of a 3×3/1/1 pool); negative input: no max is the padding's 0.
    let d = dev();
    let shape = [2, 3, 6, 7];
    let n = shape.iter().product();
    let ones = Tensor::from_slice(&d, &vec![1.5; n], &shape).unwrap();
    let avg = ones
        .avg_pool2d_exclude_pad(3, 1, 1)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(avg.iter().all(|&v| v == 1.5), "{avg:?}");
    let neg = Tensor::from_slice(&d, &vec![-2.0; n], &shape).unwrap();
    let max = neg.max_pool2d_padded(3, 1, 1).unwrap().to_vec().unwrap();
    assert!(max.iter().all(|&v| v == -2.0), "{max:?}");
}

#[test]
fn max_propagates_nan_and_matches_max_pool2d_without_padding() {
    let d = dev();
    let mut rng = Rng::new(5);
    let shape = [2, 3, 9, 9];
    let mut x = f32s(&rng.vec(shape.iter().product(), -1.0, 1.0));
    x[10] = f32::NAN;
    let xt = Tensor::from_slice(&d, &x, &shape).unwrap();
    let padded = xt.max_pool2d_padded(3, 1, 1).unwrap().to_vec().unwrap();
    // Input (0, 1, 1) is in the windows of outputs (0..3, 0..3) of plane 0.
    for (i, v) in padded.iter().enumerate().take(81) {
        let (oy, ox) = (i / 9, i % 9);
        assert_eq!(v.is_nan(), oy < 3 && ox < 3, "output {i}: {v}");
    }
    // Without padding the windows (3×3, stride 2) are those of the existing max_pool2d.
    let a = xt.max_pool2d_padded(3, 2, 0).unwrap().to_vec().unwrap();
    let b = xt.max_pool2d(3, 2).unwrap().to_vec().unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let d = dev();
    let x = Tensor::zeros(&d, &[1, 2, 5, 5]).unwrap();
    let invalid = |r: tailgrad::Result<Tensor>, needle: &str| match r.unwrap_err() {
        e @ Error::Invalid { .. } => assert!(e.to_string().contains(needle), "{e}"),
        e => panic!("{e}"),
    };
    // pad > k/2 (PyTorch refuses it too), a window past the padded input, stride 0, rank 3.
    invalid(
        x.avg_pool2d_exclude_pad(3, 1, 2),
        "avg_pool2d_exclude_pad: a 3x3",
    );
    invalid(x.max_pool2d_padded(9, 1, 1), "max_pool2d_padded: a 9x9");
    invalid(x.max_pool2d_padded(3, 0, 1), "stride 0");
    let x3 = Tensor::zeros(&d, &[2, 5, 5]).unwrap();
    invalid(x3.avg_pool2d_exclude_pad(3, 1, 1), "[2, 5, 5]");
    // Forward only: an input that needs a gradient is refused, and accepted under no_grad.
    let p = Tensor::zeros(&d, &[1, 2, 5, 5]).unwrap().into_param();
    invalid(p.avg_pool2d_exclude_pad(3, 1, 1), "no backward");
    invalid(p.max_pool2d_padded(3, 1, 1), "no backward");
    let _guard = tailgrad::no_grad();
    p.avg_pool2d_exclude_pad(3, 1, 1).unwrap();
    p.max_pool2d_padded(3, 1, 1).unwrap();
}
