//! conv2d (im2col + matmul) vs an f64 direct convolution, and its gradients by finite differences.
mod common;
use common::*;
use tailgrad::{Error, Tensor};

/// (batch, in channels, height, width, out channels, kernel h, kernel w, stride, pad)
type Case = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

fn out_hw(c: &Case) -> (usize, usize) {
    let &(_, _, h, w, _, kh, kw, s, p) = c;
    ((h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1)
}

/// Direct convolution in f64, NCHW, zero padding.
fn reference(c: &Case, x: &[f64], w: &[f64], bias: Option<&[f64]>) -> Vec<f64> {
    let &(b, ci, h, wd, o, kh, kw, s, p) = c;
    let (oh, ow) = out_hw(c);
    let mut y = vec![0.0; b * o * oh * ow];
    for bi in 0..b {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = bias.map_or(0.0, |bb| bb[oc]);
                    for ic in 0..ci {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let (iy, ix) = (
                                    (oy * s + ky) as isize - p as isize,
                                    (ox * s + kx) as isize - p as isize,
                                );
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                    acc += x[((bi * ci + ic) * h + iy as usize) * wd + ix as usize]
                                        * w[((oc * ci + ic) * kh + ky) * kw + kx];
                                }
                            }
                        }
                    }
                    y[((bi * o + oc) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    y
}

const CASES: &[Case] = &[
    (1, 1, 1, 1, 1, 1, 1, 1, 0),    // everything 1
    (2, 3, 5, 7, 4, 3, 3, 1, 1),    // 3×3, pad 1, odd non-square input
    (2, 3, 7, 5, 2, 3, 3, 2, 1),    // stride 2
    (1, 2, 6, 6, 3, 1, 1, 1, 0),    // 1×1
    (1, 2, 6, 6, 3, 1, 1, 2, 0),    // 1×1 stride 2 (ResNet projection shape)
    (2, 2, 5, 5, 3, 5, 3, 2, 2),    // non-square kernel, pad 2
    (3, 3, 16, 16, 16, 3, 3, 1, 1), // a small ResNet stem
];

/// Sums of K = C·KH·KW products of values in [-1, 1]: the f32 error of the matmul inside grows
/// like sqrt(K)·2^-24 per unit of Σ|x·w| ≤ K; 4× margin.
fn tol(c: &Case) -> Tol {
    let k = (c.1 * c.5 * c.6) as f64;
    Tol {
        rel: 1e-6,
        abs: 4.0 * k.sqrt() * 6e-8 * k,
    }
}

#[test]
fn forward_matches_direct_convolution() {
    let d = dev();
    let mut rng = Rng::new(101);
    for c in CASES {
        let &(b, ci, h, w, o, kh, kw, s, p) = c;
        let x = as_f32(&rng.vec(b * ci * h * w, -1.0, 1.0));
        let wt = as_f32(&rng.vec(o * ci * kh * kw, -1.0, 1.0));
        let bias = as_f32(&rng.vec(o, -1.0, 1.0));
        let (xt, wtt, bt) = (
            upload(&d, &x, &[b, ci, h, w]),
            upload(&d, &wt, &[o, ci, kh, kw]),
            upload(&d, &bias, &[o]),
        );
        let (oh, ow) = out_hw(c);
        let y = xt.conv2d(&wtt, Some(&bt), s, p).unwrap();
        assert_eq!(y.shape(), &[b, o, oh, ow], "{c:?}");
        assert_close(
            &format!("conv2d {c:?}"),
            &y.to_vec().unwrap(),
            &reference(c, &x, &wt, Some(&bias)),
            tol(c),
        );
        let y = xt.conv2d(&wtt, None, s, p).unwrap();
        assert_close(
            &format!("conv2d no bias {c:?}"),
            &y.to_vec().unwrap(),
            &reference(c, &x, &wt, None),
            tol(c),
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(102);
    for c in [
        (1, 2, 5, 4, 3, 3, 3, 2, 1),
        (2, 2, 4, 4, 2, 3, 3, 1, 1),
        (1, 3, 3, 3, 2, 1, 1, 1, 0),
    ] {
        let (b, ci, h, w, o, kh, kw, s, p) = c;
        let inputs = [
            (rng.vec(b * ci * h * w, -1.0, 1.0), vec![b, ci, h, w]),
            (rng.vec(o * ci * kh * kw, -1.0, 1.0), vec![o, ci, kh, kw]),
            (rng.vec(o, -1.0, 1.0), vec![o]),
        ];
        gradcheck(
            &format!("conv2d {c:?}"),
            &inputs,
            &|t| t[0].conv2d(&t[1], Some(&t[2]), s, p),
            &|v| reference(&c, &v[0], &v[1], Some(&v[2])),
            Tol {
                rel: 1e-3,
                abs: 1e-4,
            },
        );
    }
}

#[test]
fn bad_shapes_are_errors() {
    let d = dev();
    let x = Tensor::zeros(&d, &[1, 3, 4, 4]).unwrap();
    let e = x
        .conv2d(&Tensor::zeros(&d, &[2, 2, 3, 3]).unwrap(), None, 1, 0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d") && e.contains("[1, 3, 4, 4]") && e.contains("[2, 2, 3, 3]"),
        "{e}"
    );
    let w = Tensor::zeros(&d, &[2, 3, 5, 5]).unwrap();
    assert!(matches!(
        x.conv2d(&w, None, 1, 0),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        x.conv2d(&w, None, 0, 2),
        Err(Error::Invalid { .. })
    ));
    let bias = Tensor::zeros(&d, &[3]).unwrap();
    assert!(matches!(
        x.conv2d(&w, Some(&bias), 1, 2),
        Err(Error::Shape { .. })
    ));
}
