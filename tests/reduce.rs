//! Reductions over any axis vs f64 references, on awkward shapes and on the 10^5–10^7-element rows
//! that batch norm produces (where burn 0.22 returned wrong sums on lavapipe).
mod common;
use common::*;

/// f64 reference: reduce `axis` of `shape` with `f` (fold from `init`).
fn reduce_ref(
    x: &[f64],
    shape: &[usize],
    axis: usize,
    init: f64,
    f: fn(f64, f64) -> f64,
) -> Vec<f64> {
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = vec![init; outer * inner];
    for o in 0..outer {
        for r in 0..n {
            for i in 0..inner {
                let k = o * inner + i;
                out[k] = f(out[k], x[(o * n + r) * inner + i]);
            }
        }
    }
    out
}

const SHAPES: &[&[usize]] = &[
    &[1],
    &[7],
    &[3, 5],
    &[1, 1000],
    &[13, 1, 17],
    &[2, 3, 5, 7],
    &[3, 4099],
];

/// Sum of n terms of |x| ≤ 3 in f32. The worst case is n²·2^-24·3; we allow one half-ulp of
/// max|x| per term (n·2^-24·3), far tighter, which an in-order f32 sum of random signs meets.
fn sum_tol(n: usize) -> Tol {
    Tol {
        rel: 1e-6,
        abs: n as f64 * 6e-8 * 3.0,
    }
}

#[test]
fn sum_mean_max_over_every_axis() {
    let d = dev();
    let mut rng = Rng::new(5);
    for shape in SHAPES {
        let x = as_f32(&rng.vec(shape.iter().product(), -3.0, 3.0));
        let t = upload(&d, &x, shape);
        for axis in 0..shape.len() {
            let n = shape[axis];
            let sum = reduce_ref(&x, shape, axis, 0.0, |a, b| a + b);
            assert_close(
                &format!("sum {shape:?} axis {axis}"),
                &t.sum(axis, false).unwrap().to_vec().unwrap(),
                &sum,
                sum_tol(n),
            );
            let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
            assert_close(
                &format!("mean {shape:?} axis {axis}"),
                &t.mean(axis, true).unwrap().to_vec().unwrap(),
                &mean,
                sum_tol(n),
            );
            let max = reduce_ref(&x, shape, axis, f64::NEG_INFINITY, f64::max);
            assert_close(
                &format!("max {shape:?} axis {axis}"),
                &t.max(axis, false).unwrap().to_vec().unwrap(),
                &max,
                Tol { rel: 0.0, abs: 0.0 },
            );
        }
    }
}

#[test]
fn var_and_argmax() {
    let d = dev();
    let mut rng = Rng::new(6);
    for shape in SHAPES {
        let x = as_f32(&rng.vec(shape.iter().product(), -3.0, 3.0));
        let t = upload(&d, &x, shape);
        let axis = shape.len() - 1;
        let n = shape[axis] as f64;
        let mean: Vec<f64> = reduce_ref(&x, shape, axis, 0.0, |a, b| a + b)
            .iter()
            .map(|s| s / n)
            .collect();
        let sq: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| (v - mean[i / shape[axis]]).powi(2))
            .collect();
        let var: Vec<f64> = reduce_ref(&sq, shape, axis, 0.0, |a, b| a + b)
            .iter()
            .map(|s| s / n)
            .collect();
        assert_close(
            &format!("var {shape:?}"),
            &t.var(axis, false).unwrap().to_vec().unwrap(),
            &var,
            Tol {
                rel: 1e-5,
                abs: 1e-6,
            },
        );
        let got = t.argmax(axis, false).unwrap().to_vec_u32().unwrap();
        for (row, &g) in got.iter().enumerate() {
            let r = &x[row * shape[axis]..(row + 1) * shape[axis]];
            let best = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(
                g as usize,
                r.iter().position(|&v| v == best).unwrap(),
                "argmax {shape:?} row {row}"
            );
        }
    }
}

#[test]
fn argmax_takes_first_of_ties() {
    let d = dev();
    let t = upload(&d, &[1.0, 5.0, 5.0, 2.0, 7.0, 7.0], &[2, 3]);
    assert_eq!(
        t.argmax(1, false).unwrap().to_vec_u32().unwrap(),
        vec![1, 1]
    );
}

#[test]
fn long_rows_use_two_passes_and_stay_exact() {
    let d = dev();
    let mut rng = Rng::new(7);
    // Few outputs with long rows: [2, 10^5], [1, 10^6], and one [10^7] row with a channel axis
    // behind it the way BN reduces [N·H·W] per channel.
    for (shape, axis) in [
        (vec![2usize, 100_000], 1usize),
        (vec![1, 1_000_000], 1),
        (vec![1_250_000, 8], 0),
    ] {
        let x = as_f32(&rng.vec(shape.iter().product(), 0.0, 1.0));
        let t = upload(&d, &x, &shape);
        let want = reduce_ref(&x, &shape, axis, 0.0, |a, b| a + b);
        // Positive data: the f32 error of a chunked sum is ≤ (chunk + chunks)·2^-24·sum.
        assert_close(
            &format!("sum {shape:?}"),
            &t.sum(axis, false).unwrap().to_vec().unwrap(),
            &want,
            Tol {
                rel: 1e-4,
                abs: 0.0,
            },
        );
        let mean: Vec<f64> = want.iter().map(|s| s / shape[axis] as f64).collect();
        assert_close(
            &format!("mean {shape:?}"),
            &t.mean(axis, false).unwrap().to_vec().unwrap(),
            &mean,
            Tol {
                rel: 1e-4,
                abs: 0.0,
            },
        );
    }
}

#[test]
fn backward_rules() {
    let mut rng = Rng::new(8);
    let tol = Tol {
        rel: 1e-3,
        abs: 1e-4,
    };
    let shape = vec![3usize, 5, 4];
    for axis in 0..3 {
        let x = rng.vec(60, -2.0, 2.0);
        let s = shape.clone();
        gradcheck(
            &format!("sum axis {axis}"),
            &[(x.clone(), shape.clone())],
            &|t| t[0].sum(axis, false),
            &move |v| reduce_ref(&v[0], &s, axis, 0.0, |a, b| a + b),
            tol,
        );
        let s = shape.clone();
        gradcheck(
            &format!("max axis {axis}"),
            &[(x.clone(), shape.clone())],
            &|t| t[0].max(axis, true),
            &move |v| reduce_ref(&v[0], &s, axis, f64::NEG_INFINITY, f64::max),
            tol,
        );
        let s = shape.clone();
        gradcheck(
            &format!("var axis {axis}"),
            &[(x, shape.clone())],
            &|t| t[0].var(axis, false),
            &move |v| {
                let n = s[axis] as f64;
                let mean = reduce_ref(&v[0], &s, axis, 0.0, |a, b| a + b);
                let sq = reduce_ref(
                    &v[0].iter().map(|a| a * a).collect::<Vec<_>>(),
                    &s,
                    axis,
                    0.0,
                    |a, b| a + b,
                );
                mean.iter()
                    .zip(sq)
                    .map(|(m, q)| q / n - (m / n).powi(2))
                    .collect()
            },
            tol,
        );
    }
}

#[test]
fn bad_axis_is_an_error() {
    let d = dev();
    let t = upload(&d, &[1.0, 2.0], &[2]);
    let e = t.sum(1, false).unwrap_err().to_string();
    assert!(e.contains("sum") && e.contains("axis 1"), "{e}");
}

#[test]
fn rows_longer_than_the_software_loop_budget() {
    // llvmpipe stops loops after 65535 iterations per invocation; these rows are longer.
    let d = dev();
    let n = 100_003;
    let mut x = vec![0.0f32; 2 * n];
    x[90_001] = 5.0; // row 0: one maximum late in the row
    x[n + 70_000] = 3.0; // row 1: a tie, the first one wins
    x[n + 99_999] = 3.0;
    let t = tailgrad::Tensor::from_slice(&d, &x, &[2, n]).unwrap();
    assert_eq!(
        t.argmax(1, false).unwrap().to_vec_u32().unwrap(),
        vec![90_001, 70_000]
    );
    assert_eq!(t.max(1, false).unwrap().to_vec().unwrap(), vec![5.0, 3.0]);
    assert_eq!(t.sum(1, false).unwrap().to_vec().unwrap(), vec![5.0, 6.0]);
}
