//! conv2d, every variant: the forward pass against an f64 direct convolution, both gradients
//! against f64 references and finite differences, reductions longer than the loop budget (so
//! the split planning runs), bitwise-deterministic weight gradients, and a training-style loop
//! that reaches a steady state (no allocation, no compile, no submit inside a step).
mod common;
use common::*;
use std::sync::{Mutex, MutexGuard};
use tailgrad::ops::conv2d::{self, conv2d_ex, conv2d_grad_input, conv2d_grad_weight, Variant};
use tailgrad::{Device, Error, Tensor};

/// The steady-state test reads device-wide counters: the tests of this file run one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

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

fn shapes(c: &Case) -> [Vec<usize>; 3] {
    let &(b, ci, h, w, o, kh, kw, _, _) = c;
    let (oh, ow) = out_hw(c);
    [vec![b, ci, h, w], vec![o, ci, kh, kw], vec![b, o, oh, ow]]
}

/// Calls f(x index, w index, y index) for every product of the convolution (zero padding).
fn taps(c: &Case, mut f: impl FnMut(usize, usize, usize)) {
    let &(b, ci, h, wd, o, kh, kw, s, p) = c;
    let (oh, ow) = out_hw(c);
    for bi in 0..b {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ic in 0..ci {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let (iy, ix) =
                                    ((oy * s + ky).wrapping_sub(p), (ox * s + kx).wrapping_sub(p));
                                if iy < h && ix < wd {
                                    f(
                                        ((bi * ci + ic) * h + iy) * wd + ix,
                                        ((oc * ci + ic) * kh + ky) * kw + kx,
                                        ((bi * o + oc) * oh + oy) * ow + ox,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An f64 result and, per element, the sum of the magnitudes of its terms (error scale).
struct Ref {
    val: Vec<f64>,
    mag: Vec<f64>,
    terms: usize,
}

impl Ref {
    fn new(n: usize, terms: usize) -> Ref {
        Ref {
            val: vec![0.0; n],
            mag: vec![0.0; n],
            terms,
        }
    }

    fn add(&mut self, i: usize, t: f64) {
        self.val[i] += t;
        self.mag[i] += t.abs();
    }

    /// f32 sums of `terms` products in any order (split partials included): rounding errors
    /// grow like sqrt(terms)·2^-24 per unit of Σ|term|; 4× margin, plus the f32 rounding of the
    /// result itself.
    fn check(&self, what: &str, got: &[f32]) {
        assert_eq!(got.len(), self.val.len(), "{what}: length");
        let eps = 2f64.powi(-24);
        for (i, &g) in got.iter().enumerate() {
            let allowed = 4.0 * (self.terms as f64).sqrt() * eps * self.mag[i]
                + 2.0 * eps * self.val[i].abs()
                + 1e-30;
            let err = (g as f64 - self.val[i]).abs();
            assert!(
                err <= allowed,
                "{what}: index {i}: got {g}, want {} (err {err:.3e} > allowed {allowed:.3e})",
                self.val[i]
            );
        }
    }
}

fn forward_ref(c: &Case, x: &[f64], w: &[f64], bias: Option<&[f64]>) -> Ref {
    let [_, ws, ys] = shapes(c);
    let mut r = Ref::new(ys.iter().product(), ws[1] * ws[2] * ws[3] + 1);
    taps(c, |xi, wi, yi| r.add(yi, x[xi] * w[wi]));
    if let Some(bias) = bias {
        let per = ys[2] * ys[3];
        for (i, v) in r.val.clone().iter().enumerate() {
            let _ = v;
            r.add(i, bias[(i / per) % ys[1]]);
        }
    }
    r
}

fn grad_input_ref(c: &Case, dy: &[f64], w: &[f64]) -> Ref {
    let [xs, ws, _] = shapes(c);
    let mut r = Ref::new(xs.iter().product(), ws[0] * ws[2] * ws[3]);
    taps(c, |xi, wi, yi| r.add(xi, dy[yi] * w[wi]));
    r
}

fn grad_weight_ref(c: &Case, x: &[f64], dy: &[f64]) -> Ref {
    let [_, ws, ys] = shapes(c);
    let mut r = Ref::new(ws.iter().product(), ys[0] * ys[2] * ys[3]);
    taps(c, |xi, wi, yi| r.add(wi, dy[yi] * x[xi]));
    r
}

fn forward_plain(c: &Case, x: &[f64], w: &[f64], bias: Option<&[f64]>) -> Vec<f64> {
    forward_ref(c, x, w, bias).val
}

const FORWARD_CASES: &[Case] = &[
    (1, 1, 1, 1, 1, 1, 1, 1, 0),     // everything 1
    (2, 3, 5, 7, 4, 3, 3, 1, 1),     // 3×3, pad 1, odd non-square input
    (2, 3, 7, 5, 2, 3, 3, 2, 1),     // stride 2
    (1, 2, 6, 6, 3, 1, 1, 1, 0),     // 1×1
    (1, 2, 6, 6, 3, 1, 1, 2, 0),     // 1×1 stride 2 (ResNet projection shape)
    (2, 2, 5, 5, 3, 5, 3, 2, 2),     // non-square kernel, pad 2
    (1, 7, 8, 12, 5, 2, 4, 1, 0),    // even non-square kernel, pad 0
    (3, 3, 16, 16, 16, 3, 3, 1, 1),  // a small ResNet stem
    (1, 17, 13, 11, 19, 3, 3, 1, 1), // primes: channels off every tile
    (2, 5, 9, 9, 33, 3, 3, 2, 0),    // 3 channel tiles, pad 0, stride 2
    (5, 16, 8, 8, 16, 3, 3, 1, 1),   // several pixel groups
    (1, 3, 4, 4, 2, 2, 2, 3, 0),     // stride 3 > kernel: input phases without taps
    (1, 2, 3, 3, 2, 3, 3, 1, 2),     // padding wider than needed
];

fn variants() -> Vec<Variant> {
    let mut v = conv2d::variants(&dev());
    v.push(Variant::Auto);
    v
}

fn random(rng: &mut Rng, shape: &[usize]) -> Vec<f64> {
    as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0))
}

fn positive(rng: &mut Rng, shape: &[usize]) -> Vec<f64> {
    as_f32(&rng.vec(shape.iter().product(), 0.0, 1.0))
}

#[test]
fn forward_matches_direct_convolution() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(101);
    for c in FORWARD_CASES {
        let [xs, ws, ys] = shapes(c);
        let (x, w, bias) = (
            random(&mut rng, &xs),
            random(&mut rng, &ws),
            random(&mut rng, &[c.4]),
        );
        let (xt, wt, bt) = (
            upload(&d, &x, &xs),
            upload(&d, &w, &ws),
            upload(&d, &bias, &[c.4]),
        );
        let (with, without) = (
            forward_ref(c, &x, &w, Some(&bias)),
            forward_ref(c, &x, &w, None),
        );
        for v in variants() {
            let y = conv2d_ex(&xt, &wt, Some(&bt), c.7, c.8, v).unwrap();
            assert_eq!(y.shape(), &ys[..], "{c:?} {v:?}");
            with.check(&format!("conv2d {c:?} {v:?}"), &y.to_vec().unwrap());
            let y = conv2d_ex(&xt, &wt, None, c.7, c.8, v).unwrap();
            without.check(&format!("conv2d no bias {c:?} {v:?}"), &y.to_vec().unwrap());
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let _serial = serial();
    let mut rng = Rng::new(102);
    for c in [
        (1, 2, 5, 4, 3, 3, 3, 2, 1),
        (2, 2, 4, 4, 2, 3, 3, 1, 1),
        (1, 3, 3, 3, 2, 1, 1, 1, 0),
        (1, 2, 5, 6, 2, 2, 3, 2, 0),
        (1, 5, 3, 4, 2, 1, 1, 2, 0),
    ] {
        let [xs, ws, _] = shapes(&c);
        let inputs = [
            (rng.vec(xs.iter().product(), -1.0, 1.0), xs.clone()),
            (rng.vec(ws.iter().product(), -1.0, 1.0), ws.clone()),
            (rng.vec(c.4, -1.0, 1.0), vec![c.4]),
        ];
        for v in variants() {
            gradcheck(
                &format!("conv2d {c:?} {v:?}"),
                &inputs,
                &|t| conv2d_ex(&t[0], &t[1], Some(&t[2]), c.7, c.8, v),
                &|x| forward_plain(&c, &x[0], &x[1], Some(&x[2])),
                Tol {
                    rel: 1e-3,
                    abs: 1e-4,
                },
            );
        }
    }
}

/// Both gradients directly against f64 references, on shapes with more pixels, channels and
/// taps than the finite-difference cases can afford.
#[test]
fn gradients_match_references_on_larger_shapes() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(103);
    for c in [
        (4, 16, 16, 16, 32, 3, 3, 2, 1), // a ResNet downsampling conv
        (2, 32, 8, 8, 32, 3, 3, 1, 1),
        (3, 6, 11, 13, 5, 3, 3, 1, 1),
        (1, 17, 9, 7, 33, 5, 3, 2, 2),
        (2, 3, 32, 32, 16, 3, 3, 1, 1), // the stem
        (2, 16, 8, 8, 32, 1, 1, 2, 0),  // 1×1 projection
    ] {
        let [xs, ws, ys] = shapes(&c);
        let (x, w, dy) = (
            random(&mut rng, &xs),
            random(&mut rng, &ws),
            random(&mut rng, &ys),
        );
        let (xt, wt, dyt) = (
            upload(&d, &x, &xs),
            upload(&d, &w, &ws),
            upload(&d, &dy, &ys),
        );
        let (gi, gw) = (grad_input_ref(&c, &dy, &w), grad_weight_ref(&c, &x, &dy));
        for v in variants() {
            let dx = conv2d_grad_input(&dyt, &wt, &xs, c.7, c.8, v).unwrap();
            gi.check(&format!("grad_input {c:?} {v:?}"), &dx.to_vec().unwrap());
            let dw = conv2d_grad_weight(&xt, &dyt, &ws, c.7, c.8, v).unwrap();
            gw.check(&format!("grad_weight {c:?} {v:?}"), &dw.to_vec().unwrap());
            // The same through autograd, with the bias gradient.
            let (xp, wp) = (xt.detach().into_param(), wt.detach().into_param());
            let bp = Tensor::zeros(&d, &[c.4]).unwrap().into_param();
            let y = conv2d_ex(&xp, &wp, Some(&bp), c.7, c.8, v).unwrap();
            y.backward_with(&dyt).unwrap();
            gi.check(
                &format!("autograd dx {c:?} {v:?}"),
                &xp.grad().unwrap().to_vec().unwrap(),
            );
            gw.check(
                &format!("autograd dw {c:?} {v:?}"),
                &wp.grad().unwrap().to_vec().unwrap(),
            );
            let per = ys[2] * ys[3];
            let mut db = Ref::new(c.4, ys[0] * per);
            for (i, &g) in dy.iter().enumerate() {
                db.add((i / per) % c.4, g);
            }
            db.check(
                &format!("autograd db {c:?} {v:?}"),
                &bp.grad().unwrap().to_vec().unwrap(),
            );
        }
    }
}

/// Reductions longer than llvmpipe's 65 535 loop iterations per invocation: the weight
/// gradient over 2 130 048 and 2 125 922 pixels (more than 8 lanes x 65 535 trips of 4 pixels;
/// W % 4 = 0 reads x and dy in place, W = 1031 through packed copies), the forward pass over
/// 30 000 input channels and the input gradient over 30 000 output channels (K = 270 000: 67 500
/// texture steps). Without the split planning the loops would be cut short and the sums quietly
/// wrong. The data are non-negative, so nothing cancels: a sum missing even 1% of its terms is
/// far outside the rounding tolerance.
#[test]
fn reductions_past_the_loop_budget_are_split() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(104);
    for c in [
        (2, 1, 1032, 1032, 2, 3, 3, 1, 1),
        (2, 1, 1031, 1031, 2, 3, 3, 1, 1),
    ] {
        let [xs, ws, ys] = shapes(&c);
        assert!(ys[0] * ys[2] * ys[3] > 8 * 4 * 65_535);
        let (x, dy) = (positive(&mut rng, &xs), positive(&mut rng, &ys));
        let (xt, dyt) = (upload(&d, &x, &xs), upload(&d, &dy, &ys));
        let gw = grad_weight_ref(&c, &x, &dy);
        for v in variants() {
            let dw = conv2d_grad_weight(&xt, &dyt, &ws, c.7, c.8, v).unwrap();
            gw.check(&format!("grad_weight {c:?} {v:?}"), &dw.to_vec().unwrap());
        }
    }
    for c in [
        (1, 30_000, 3, 3, 1, 3, 3, 1, 1),
        (1, 1, 3, 3, 30_000, 3, 3, 1, 1),
    ] {
        let [xs, ws, ys] = shapes(&c);
        let (x, w, dy) = (
            positive(&mut rng, &xs),
            positive(&mut rng, &ws),
            positive(&mut rng, &ys),
        );
        let (xt, wt, dyt) = (
            upload(&d, &x, &xs),
            upload(&d, &w, &ws),
            upload(&d, &dy, &ys),
        );
        let (fwd, gi) = (forward_ref(&c, &x, &w, None), grad_input_ref(&c, &dy, &w));
        for v in variants() {
            let y = conv2d_ex(&xt, &wt, None, c.7, c.8, v).unwrap();
            fwd.check(&format!("conv2d {c:?} {v:?}"), &y.to_vec().unwrap());
            let dx = conv2d_grad_input(&dyt, &wt, &xs, c.7, c.8, v).unwrap();
            gi.check(&format!("grad_input {c:?} {v:?}"), &dx.to_vec().unwrap());
        }
    }
}

/// The split-K weight gradient sums a fixed partition in a fixed order: two runs agree bit for
/// bit (both texture kernels: rows read in place, W = 521 packed).
#[test]
fn weight_gradient_is_deterministic() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(105);
    for c in [
        (2, 2, 520, 520, 3, 3, 3, 1, 1),
        (2, 2, 521, 521, 3, 3, 3, 1, 1),
    ] {
        let [xs, ws, ys] = shapes(&c);
        let xt = upload(&d, &random(&mut rng, &xs), &xs);
        let dyt = upload(&d, &random(&mut rng, &ys), &ys);
        for v in variants() {
            let run = || {
                conv2d_grad_weight(&xt, &dyt, &ws, c.7, c.8, v)
                    .unwrap()
                    .to_vec()
                    .unwrap()
            };
            let (a, b) = (run(), run());
            let same = a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same, "{c:?} {v:?}: two runs differ");
        }
    }
}

fn zeros(d: &Device, shape: &[usize]) -> Tensor {
    Tensor::zeros(d, shape).unwrap()
}

#[test]
fn bad_shapes_are_errors() {
    let _serial = serial();
    let d = dev();
    let x = zeros(&d, &[1, 3, 4, 4]);
    let e = x
        .conv2d(&zeros(&d, &[2, 2, 3, 3]), None, 1, 0)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("conv2d") && e.contains("[1, 3, 4, 4]") && e.contains("[2, 2, 3, 3]"),
        "{e}"
    );
    let w = zeros(&d, &[2, 3, 5, 5]);
    assert!(matches!(
        x.conv2d(&w, None, 1, 0),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        x.conv2d(&w, None, 0, 2),
        Err(Error::Invalid { .. })
    ));
    let bias = zeros(&d, &[3]);
    assert!(matches!(
        x.conv2d(&w, Some(&bias), 1, 2),
        Err(Error::Shape { .. })
    ));
    // A dy that is not the output shape.
    let w = zeros(&d, &[2, 3, 3, 3]);
    let dy = zeros(&d, &[1, 2, 3, 3]);
    for v in variants() {
        assert!(matches!(
            conv2d_grad_input(&dy, &w, &[1, 3, 4, 4], 1, 1, v),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            conv2d_grad_weight(&x, &dy, &[2, 3, 3, 3], 1, 1, v),
            Err(Error::Shape { .. })
        ));
    }
}

/// Forward and backward of two convolutions (the second strided, with bias) as a training step
/// runs them: from the third step on nothing is allocated or compiled and nothing is submitted
/// before the step's own flush.
#[test]
fn training_steps_reach_a_steady_state() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(106);
    let x = upload(&d, &random(&mut rng, &[4, 3, 16, 16]), &[4, 3, 16, 16]);
    for v in variants() {
        let w1 = upload(&d, &random(&mut rng, &[8, 3, 3, 3]), &[8, 3, 3, 3]).into_param();
        let w2 = upload(&d, &random(&mut rng, &[16, 8, 3, 3]), &[16, 8, 3, 3]).into_param();
        let b2 = Tensor::zeros(&d, &[16]).unwrap().into_param();
        let mut marks = Vec::new();
        for _ in 0..5 {
            for p in [&w1, &w2, &b2] {
                p.zero_grad();
            }
            let h = conv2d_ex(&x, &w1, None, 1, 1, v).unwrap().relu().unwrap();
            let y = conv2d_ex(&h, &w2, Some(&b2), 2, 1, v).unwrap();
            y.mul(&y).unwrap().sum_all().unwrap().backward().unwrap();
            d.flush();
            marks.push((d.buffers_created(), d.pipelines_compiled(), d.counters().1));
        }
        for w in marks[2..].windows(2) {
            assert_eq!(
                (w[1].0, w[1].1),
                (w[0].0, w[0].1),
                "{v:?}: allocation or compile: {marks:?}"
            );
            assert_eq!(
                w[1].2 - w[0].2,
                1,
                "{v:?}: a submit inside a step: {marks:?}"
            );
        }
        assert!(w1.grad().is_some() && w2.grad().is_some() && b2.grad().is_some());
    }
}
