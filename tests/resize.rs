//! Bilinear resizing (`ops::resize`) against an f64 reference written from PyTorch's
//! `upsample_bilinear2d` with `align_corners=False`: source s = (o + 0.5)·in/out − 0.5, clamped
//! below at 0, i0 = floor(s), i1 = min(i0 + 1, in − 1), λ = s − i0.
//!
//! Tolerance abs 1e-6 for inputs in [−1, 1]: the kernel rounds λ once (≤ 2⁻²⁴) and evaluates
//! three f32 lerps of values ≤ 1 (≤ 2 roundings each, ≤ 6·2⁻²⁴ ≈ 3.6e-7 in all). Same-size
//! resizing is the identity, exactly. Mutation seen to fail: the half-pixel offset dropped
//! (s = (o + 0.5)·in/out).

mod common;
use common::*;
use tailgrad::{Error, Tensor};

/// (i0, i1, λ) for output o of an axis resized from `n` to `out`.
fn tap(o: usize, n: usize, out: usize) -> (usize, usize, f64) {
    let s = ((o as f64 + 0.5) * n as f64 / out as f64 - 0.5).max(0.0);
    let i0 = (s.floor() as usize).min(n - 1);
    (i0, (i0 + 1).min(n - 1), s - i0 as f64)
}

fn resize_ref(x: &[f64], [b, c, h, w]: [usize; 4], oh: usize, ow: usize) -> Vec<f64> {
    let mut y = Vec::with_capacity(b * c * oh * ow);
    for q in 0..b * c {
        let at = |i: usize, j: usize| x[(q * h + i) * w + j];
        for oy in 0..oh {
            let (y0, y1, ly) = tap(oy, h, oh);
            for ox in 0..ow {
                let (x0, x1, lx) = tap(ox, w, ow);
                let top = (1.0 - lx) * at(y0, x0) + lx * at(y0, x1);
                let bottom = (1.0 - lx) * at(y1, x0) + lx * at(y1, x1);
                y.push((1.0 - ly) * top + ly * bottom);
            }
        }
    }
    y
}

/// (input shape, output side): FID's 32 → 299 and its non-square and grayscale-sized kin, a
/// single pixel, downsampling (primes, a row of 131 > 64 outputs), and resizes to 1.
const CASES: [([usize; 4], [usize; 2]); 9] = [
    ([2, 3, 32, 32], [299, 299]),
    ([1, 1, 17, 23], [299, 299]),
    ([1, 1, 1, 1], [5, 3]),
    ([2, 2, 7, 13], [13, 7]),
    ([1, 3, 131, 67], [17, 131]),
    ([1, 2, 5, 9], [1, 1]),
    ([3, 1, 2, 2], [7, 64]),
    ([1, 1, 299, 301], [299, 299]),
    ([1, 1, 4, 1], [11, 1]),
];

const TOL: Tol = Tol {
    rel: 0.0,
    abs: 1e-6,
};

#[test]
fn matches_pytorch_geometry_on_awkward_shapes() {
    let d = dev();
    let mut rng = Rng::new(17);
    for (shape, [oh, ow]) in CASES {
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let y = upload(&d, &x, &shape).resize_bilinear(oh, ow).unwrap();
        assert_eq!(y.shape(), [shape[0], shape[1], oh, ow]);
        let want = resize_ref(&x, shape, oh, ow);
        assert_close(
            &format!("{shape:?} -> {oh}x{ow}"),
            &y.to_vec().unwrap(),
            &want,
            TOL,
        );
    }
}

#[test]
fn known_values_and_identity() {
    let d = dev();
    // torch.nn.functional.interpolate(torch.tensor([[[[1., 2.]]]]), size=(1, 4),
    // mode="bilinear", align_corners=False) is [1.0, 1.25, 1.75, 2.0].
    let x = Tensor::from_slice(&d, &[1.0, 2.0], &[1, 1, 1, 2]).unwrap();
    let y = x.resize_bilinear(1, 4).unwrap().to_vec().unwrap();
    assert_eq!(y, [1.0, 1.25, 1.75, 2.0]);
    // Halving averages 2×2 blocks: sources at 0.5 and 2.5.
    let x = Tensor::from_slice(
        &d,
        &(0..16).map(|v| v as f32).collect::<Vec<_>>(),
        &[1, 1, 4, 4],
    );
    let y = x.unwrap().resize_bilinear(2, 2).unwrap().to_vec().unwrap();
    assert_eq!(y, [2.5, 4.5, 10.5, 12.5]);
    let mut rng = Rng::new(2);
    let v = f32s(&rng.vec(2 * 3 * 9 * 11, -1.0, 1.0));
    let x = Tensor::from_slice(&d, &v, &[2, 3, 9, 11]).unwrap();
    assert_eq!(x.resize_bilinear(9, 11).unwrap().to_vec().unwrap(), v);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let d = dev();
    let invalid = |r: tailgrad::Result<Tensor>, needle: &str| match r.unwrap_err() {
        e @ Error::Invalid {
            op: "resize_bilinear",
            ..
        } => assert!(e.to_string().contains(needle), "{e}"),
        e => panic!("{e}"),
    };
    let x = Tensor::zeros(&d, &[1, 3, 4, 4]).unwrap();
    invalid(x.resize_bilinear(0, 4), "to 0x4");
    invalid(x.resize_bilinear(1 << 30, 4), "32-bit");
    let x3 = Tensor::zeros(&d, &[3, 4, 4]).unwrap();
    invalid(x3.resize_bilinear(8, 8), "[3, 4, 4]");
    let p = Tensor::zeros(&d, &[1, 3, 4, 4]).unwrap().into_param();
    invalid(p.resize_bilinear(8, 8), "no backward");
    let _guard = tailgrad::no_grad();
    assert_eq!(p.resize_bilinear(8, 8).unwrap().shape(), [1, 3, 8, 8]);
}
