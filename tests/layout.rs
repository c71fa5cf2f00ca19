//! permute / transpose / slice / broadcast_to / concat / reshape vs index-arithmetic references.
mod common;
use common::*;
use tailgrad::Tensor;

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn permute_ref(x: &[f64], shape: &[usize], perm: &[usize]) -> Vec<f64> {
    let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let st = strides(shape);
    (0..x.len())
        .map(|i| {
            let idx = unravel(i, &out);
            x[idx.iter().zip(perm).map(|(c, &p)| c * st[p]).sum::<usize>()]
        })
        .collect()
}

fn slice_ref(x: &[f64], shape: &[usize], axis: usize, s: usize, e: usize) -> Vec<f64> {
    let mut out = shape.to_vec();
    out[axis] = e - s;
    let st = strides(shape);
    (0..out.iter().product())
        .map(|i| {
            let mut idx = unravel(i, &out);
            idx[axis] += s;
            x[idx.iter().zip(&st).map(|(a, b)| a * b).sum::<usize>()]
        })
        .collect()
}

const EXACT: Tol = Tol { rel: 0.0, abs: 0.0 };

#[test]
fn permute_and_transpose() {
    let d = dev();
    let mut rng = Rng::new(9);
    for (shape, perm) in [
        (vec![1usize], vec![0usize]),
        (vec![3, 5], vec![1, 0]),
        (vec![2, 3, 7], vec![2, 0, 1]),
        (vec![2, 1, 3, 5], vec![3, 1, 0, 2]),
    ] {
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let y = upload(&d, &x, &shape).permute(&perm).unwrap();
        assert_eq!(
            y.shape(),
            perm.iter().map(|&p| shape[p]).collect::<Vec<_>>()
        );
        assert_close(
            &format!("permute {shape:?} {perm:?}"),
            &y.to_vec().unwrap(),
            &permute_ref(&x, &shape, &perm),
            EXACT,
        );
        let s = shape.clone();
        let p2 = perm.clone();
        gradcheck(
            "permute",
            &[(x, shape.clone())],
            &|t| t[0].permute(&perm),
            &move |v| permute_ref(&v[0], &s, &p2),
            Tol {
                rel: 1e-4,
                abs: 1e-5,
            },
        );
    }
    let x = as_f32(&rng.vec(6, -1.0, 1.0));
    let t = upload(&d, &x, &[2, 3]).transpose(0, 1).unwrap();
    assert_close(
        "transpose",
        &t.to_vec().unwrap(),
        &permute_ref(&x, &[2, 3], &[1, 0]),
        EXACT,
    );
}

#[test]
fn slice_and_its_adjoint() {
    let d = dev();
    let mut rng = Rng::new(10);
    for (shape, axis, s, e) in [
        (vec![7usize], 0usize, 2usize, 5usize),
        (vec![3, 11], 1, 0, 1),
        (vec![4, 3, 5], 0, 1, 4),
        (vec![4, 3, 5], 2, 4, 5),
    ] {
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let y = upload(&d, &x, &shape).slice(axis, s, e).unwrap();
        assert_close(
            "slice",
            &y.to_vec().unwrap(),
            &slice_ref(&x, &shape, axis, s, e),
            EXACT,
        );
        let sh = shape.clone();
        gradcheck(
            "slice",
            &[(x, shape.clone())],
            &|t| t[0].slice(axis, s, e),
            &move |v| slice_ref(&v[0], &sh, axis, s, e),
            Tol {
                rel: 1e-4,
                abs: 1e-5,
            },
        );
    }
}

#[test]
fn broadcast_to_and_concat() {
    let d = dev();
    let mut rng = Rng::new(11);
    let x = as_f32(&rng.vec(3, -1.0, 1.0));
    let y = upload(&d, &x, &[3, 1]).broadcast_to(&[2, 3, 4]).unwrap();
    let want: Vec<f64> = (0..24).map(|i| x[(i / 4) % 3]).collect();
    assert_close("broadcast_to", &y.to_vec().unwrap(), &want, EXACT);
    gradcheck(
        "broadcast_to",
        &[(x, vec![3, 1])],
        &|t| t[0].broadcast_to(&[2, 3, 4]),
        &|v| (0..24).map(|i| v[0][(i / 4) % 3]).collect(),
        Tol {
            rel: 1e-4,
            abs: 1e-5,
        },
    );

    let a = as_f32(&rng.vec(6, -1.0, 1.0));
    let b = as_f32(&rng.vec(4, -1.0, 1.0));
    let cat = |a: &[f64], b: &[f64]| -> Vec<f64> {
        (0..2)
            .flat_map(|r| {
                a[r * 3..r * 3 + 3]
                    .iter()
                    .chain(&b[r * 2..r * 2 + 2])
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let y = Tensor::concat(&[&upload(&d, &a, &[2, 3]), &upload(&d, &b, &[2, 2])], 1).unwrap();
    assert_eq!(y.shape(), &[2, 5]);
    assert_close("concat", &y.to_vec().unwrap(), &cat(&a, &b), EXACT);
    gradcheck(
        "concat",
        &[(a, vec![2, 3]), (b, vec![2, 2])],
        &|t| Tensor::concat(&[&t[0], &t[1]], 1),
        &|v| cat(&v[0], &v[1]),
        Tol {
            rel: 1e-4,
            abs: 1e-5,
        },
    );
}

#[test]
fn kernels_past_the_one_dimensional_dispatch_limit() {
    // 65535 workgroups × 64 + 1 elements: `arange` (one element per invocation) needs the 2-D
    // grid fold; the strided copy behind it must then carry every element across.
    let d = dev();
    let n = 65_535 * 64 + 1;
    let x = Tensor::arange(&d, 0.0, n as f32, 1.0)
        .unwrap()
        .reshape(&[n, 1])
        .unwrap();
    let y = x.transpose(0, 1).unwrap().to_vec().unwrap();
    assert!(y.iter().enumerate().all(|(i, &v)| v == i as f32));
}

#[test]
fn bad_layout_arguments_are_errors() {
    let d = dev();
    let t = upload(&d, &[0.0; 6], &[2, 3]);
    assert!(t
        .permute(&[0, 0])
        .unwrap_err()
        .to_string()
        .contains("permute"));
    assert!(t.slice(1, 2, 2).is_err() && t.slice(1, 0, 4).is_err() && t.slice(2, 0, 1).is_err());
    let e = t.broadcast_to(&[3, 3]).unwrap_err().to_string();
    assert!(
        e.contains("broadcast_to") && e.contains("[2, 3]") && e.contains("[3, 3]"),
        "{e}"
    );
    let e = Tensor::concat(&[&t, &upload(&d, &[0.0; 4], &[4, 1])], 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("concat") && e.contains("[4, 1]"), "{e}");
    assert!(t
        .reshape(&[4, 2])
        .unwrap_err()
        .to_string()
        .contains("reshape"));
}
