//! Zero padding with separate amounts per side (`ops::pad`) against an f64 reference.
//!
//! Tolerance 0 everywhere: padding moves values without arithmetic, and its backward (a crop)
//! does too. Mutation seen to fail: the column offset taken from `top` instead of `left`.

mod common;
use common::*;
use tailgrad::ops::pad::Pad2d;
use tailgrad::{Error, Tensor};

fn pad_ref(x: &[f64], [b, c, h, w]: [usize; 4], p: Pad2d) -> Vec<f64> {
    let (oh, ow) = (h + p.top + p.bottom, w + p.left + p.right);
    let mut y = vec![0.0; b * c * oh * ow];
    for q in 0..b * c {
        for i in 0..h {
            for j in 0..w {
                y[(q * oh + i + p.top) * ow + j + p.left] = x[(q * h + i) * w + j];
            }
        }
    }
    y
}

fn pad(top: usize, bottom: usize, left: usize, right: usize) -> Pad2d {
    Pad2d {
        top,
        bottom,
        left,
        right,
    }
}

/// Ones, primes, Inception's one-axis pads, and rows of 131 + 6 > 64 outputs (several runs of
/// the software path).
const CASES: [([usize; 4], [usize; 4]); 8] = [
    ([1, 1, 1, 1], [0, 0, 0, 0]),
    ([1, 1, 1, 1], [1, 2, 3, 4]),
    ([2, 3, 5, 7], [0, 0, 3, 3]),
    ([2, 3, 7, 5], [3, 3, 0, 0]),
    ([3, 2, 17, 17], [0, 0, 1, 1]),
    ([1, 5, 8, 8], [1, 1, 0, 0]),
    ([2, 1, 3, 131], [2, 0, 5, 1]),
    ([1, 7, 13, 1], [0, 4, 0, 2]),
];

#[test]
fn forward_and_backward_match_the_reference() {
    let d = dev();
    let mut rng = Rng::new(3);
    for (shape, [t, b, l, r]) in CASES {
        let p = pad(t, b, l, r);
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let xt = upload(&d, &x, &shape).into_param();
        let y = xt.pad2d(p).unwrap();
        let want = pad_ref(&x, shape, p);
        let out = [shape[0], shape[1], shape[2] + t + b, shape[3] + l + r];
        assert_eq!(y.shape(), out, "{shape:?} {p:?}");
        let exact = Tol { rel: 0.0, abs: 0.0 };
        assert_close(
            &format!("pad {shape:?} {p:?}"),
            &y.to_vec().unwrap(),
            &want,
            exact,
        );
        // The backward crops g: the adjoint of padding.
        let g = as_f32(&rng.vec(y.numel(), -1.0, 1.0));
        y.backward_with(&upload(&d, &g, &out)).unwrap();
        let crop: Vec<f64> = (0..x.len())
            .map(|k| {
                let (q, i, j) = (
                    k / (shape[2] * shape[3]),
                    k / shape[3] % shape[2],
                    k % shape[3],
                );
                g[(q * out[2] + i + t) * out[3] + j + l]
            })
            .collect();
        let dx = xt.grad().unwrap().to_vec().unwrap();
        assert_close(&format!("crop {shape:?} {p:?}"), &dx, &crop, exact);
    }
}

#[test]
fn symmetric_is_pytorch_padding_pair() {
    assert_eq!(Pad2d::symmetric(3, 0), pad(3, 3, 0, 0));
    assert_eq!(Pad2d::symmetric(0, 1), pad(0, 0, 1, 1));
}

#[test]
fn bad_inputs_are_typed_errors() {
    let d = dev();
    let invalid = |r: tailgrad::Result<Tensor>, needle: &str| match r.unwrap_err() {
        e @ Error::Invalid { op: "pad2d", .. } => assert!(e.to_string().contains(needle), "{e}"),
        e => panic!("{e}"),
    };
    let x3 = Tensor::zeros(&d, &[2, 3, 4]).unwrap();
    invalid(x3.pad2d(pad(1, 1, 1, 1)), "[2, 3, 4]");
    let xu = Tensor::from_u32(&d, &[0; 4], &[1, 1, 2, 2]).unwrap();
    invalid(xu.pad2d(pad(1, 1, 1, 1)), "f32");
}
