//! Conditional BN: the CondBatchNorm2d layer against the f64 reference (gains 1 + E0[y], biases
//! E1[y], table gradients scatter-added into the rows of the labels present), its state and
//! orthogonal init, label errors, and which kernels a backward of `cond_batch_norm2d` runs for
//! each need mask. The op's own forward and gradient checks are in tests/batch_norm.rs.
mod common;
use common::bn::{CondRef, COND_EPS};
use common::*;
use tailgrad::nn::{self, CondBatchNorm2d};
use tailgrad::{CondBatchNorm, Error, Generator, Tensor};

/// Dispatches of the entries of `shader` whose name starts with `entry` (buffer and texture
/// variants alike).
fn runs(c: &Counts, shader: &str, entry: &str) -> u64 {
    c.iter()
        .filter(|((s, e), _)| *s == shader && e.starts_with(entry))
        .map(|(_, n)| n)
        .sum()
}

/// The backward launches only what the needed gradients use: dx alone is plain BN's three
/// passes (no per-plane partials, no gain/bias pass); gain and bias alone skip dx's two passes;
/// all three take four. Nothing submits. Both the buffer and the texture path.
#[test]
fn backward_runs_only_needed_kernels() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(410);
    for shape in [[8, 16, 6, 6], [8, 16, 32, 32]] {
        let s = CondRef::random(&mut rng, 8, 16, true);
        let x = rng.vec(shape.iter().product(), -1.0, 1.0);
        let g = upload(&d, &rng.vec(x.len(), -1.0, 1.0), &shape);
        // (x needs a gradient, gain and bias do) → (reduce, grad_sample, grad_finalize, grad_x).
        let cases = [
            ((true, false), [1, 0, 1, 1]),
            ((false, true), [1, 1, 0, 0]),
            ((true, true), [1, 1, 1, 1]),
        ];
        for ((x_param, affine_params), want) in cases {
            let param = |t: Tensor, on: bool| if on { t.into_param() } else { t };
            let xt = param(upload(&d, &x, &shape), x_param);
            let gain = param(upload(&d, &s.gain, &[8, 16]), affine_params);
            let bias = param(upload(&d, &s.bias, &[8, 16]), affine_params);
            let cbn = CondBatchNorm {
                gain: &gain,
                bias: &bias,
                eps: COND_EPS as f32,
                relu: true,
            };
            let y = xt.cond_batch_norm2d(&cbn).unwrap();
            d.sync().unwrap();
            let submits = d.counters().1;
            let c = dispatched(&d, || y.backward_with(&g).unwrap());
            let what = format!("{shape:?} x param {x_param}, gain/bias params {affine_params}");
            let got = ["reduce", "grad_sample", "grad_finalize", "grad_x"]
                .map(|e| runs(&c, "batch_norm", e));
            assert_eq!(got, want, "{what}: {c:?}");
            assert_eq!(
                c.values().sum::<u64>(),
                want.iter().sum::<u64>(),
                "{what}: {c:?}"
            );
            assert_eq!(d.counters().1, submits, "submits: {what}");
            assert_eq!(xt.grad().is_some(), x_param, "{what}");
            assert_eq!(gain.grad().is_some(), affine_params, "{what}");
            assert_eq!(bias.grad().is_some(), affine_params, "{what}");
        }
    }
}

/// Labels with repeats and two absent classes (1 and 3) of K = 5.
const LABELS: [u32; 7] = [0, 2, 2, 4, 0, 2, 0];
const K: usize = 5;

/// The tables' rows for each label: (1 + E0[y] rounded to f32 as the layer adds it, E1[y]).
fn gathered(cbn: &CondBatchNorm2d, c: usize) -> (Vec<f64>, Vec<f64>) {
    let (e0, e1) = (cbn.e0.to_vec().unwrap(), cbn.e1.to_vec().unwrap());
    let rows = |e: &[f32], one: f32| -> Vec<f64> {
        LABELS
            .iter()
            .flat_map(|&k| e[k as usize * c..(k as usize + 1) * c].iter())
            .map(|&v| (one + v) as f64)
            .collect()
    };
    (rows(&e0, 1.0), rows(&e1, 0.0))
}

/// Sums per-sample rows [B, C] into the rows of their labels: the tables' gradients.
fn scatter(per_sample: &[f64], c: usize) -> Vec<f64> {
    let mut out = vec![0.0; K * c];
    for (n, &k) in LABELS.iter().enumerate() {
        for ch in 0..c {
            out[k as usize * c + ch] += per_sample[n * c + ch];
        }
    }
    out
}

/// Forward and backward of the layer against the f64 reference, with and without ReLU. The
/// tables' gradients are the per-sample gain/bias gradients summed per label; the rows of the
/// absent classes are exactly zero. Tolerances: f32 sums of at most 63 terms of size ≤ ~4
/// (≤ 63·6e-8·4 ≈ 1.5e-5 in the worst case).
#[test]
fn layer_matches_reference_and_scatters_into_present_rows() {
    let _serial = serial();
    let d = dev();
    let c = 6;
    let shape = [LABELS.len(), c, 3, 3];
    let dm = [shape[0], c, 9];
    let mut rng = Rng::new(411);
    let mut gen = Generator::new(12, 0);
    let cbn = CondBatchNorm2d::new(&d, &mut gen, K, c).unwrap();
    let y = Tensor::from_u32(&d, &LABELS, &[LABELS.len()]).unwrap();
    let (gain, bias) = gathered(&cbn, c);
    let tol = Tol {
        rel: 1e-4,
        abs: 2e-5,
    };
    for relu in [false, true] {
        let r = CondRef {
            gain: gain.clone(),
            bias: bias.clone(),
            relu,
        };
        let x = as_f32(&rng.vec(shape.iter().product(), -2.0, 2.0));
        let g = as_f32(&rng.vec(x.len(), -1.0, 1.0));
        let xt = upload(&d, &x, &shape).into_param();
        let out = cbn.forward(&xt, &y, relu).unwrap();
        let what = format!("relu={relu}");
        assert_close(
            &format!("forward {what}"),
            &out.to_vec().unwrap(),
            &r.forward(&x, dm, &gain, &bias),
            tol,
        );
        out.backward_with(&upload(&d, &g, &shape)).unwrap();
        let (dx, dgain, dbias) = r.backward(&x, &g, dm);
        let grad = |t: &Tensor| t.grad().unwrap().to_vec().unwrap();
        assert_close(&format!("dx {what}"), &grad(&xt), &dx, tol);
        for (name, t, per_sample) in [("e0", &cbn.e0, &dgain), ("e1", &cbn.e1, &dbias)] {
            let got = grad(t);
            assert_close(
                &format!("d{name} {what}"),
                &got,
                &scatter(per_sample, c),
                tol,
            );
            for absent in [1, 3] {
                let row = &got[absent * c..(absent + 1) * c];
                assert!(
                    row.iter().all(|&v| v == 0.0),
                    "d{name} row {absent}: {row:?}"
                );
            }
            t.zero_grad();
        }
    }
}

/// State: the two tables under gSR's names, trainable, no buffers (no running statistics).
/// Init: orthogonal, rows orthonormal for K ≤ C (SNGAN: 10 × 256) and columns for K > C; f32
/// entries of an f64 QR give Gram matrices within ~1e-6 of the identity at these sizes.
#[test]
fn state_is_two_orthogonal_tables() {
    let _serial = serial();
    let d = dev();
    let mut gen = Generator::new(13, 0);
    for (k, c) in [(10, 256), (12, 5)] {
        let cbn = CondBatchNorm2d::new(&d, &mut gen, k, c).unwrap();
        let state = nn::state_of(&cbn);
        let names: Vec<&str> = state.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["embed0.weight", "embed1.weight"]);
        assert!(state
            .iter()
            .all(|s| s.trainable && s.tensor.shape() == [k, c]));
        assert_eq!(cbn.eps, 1e-4);
        let e0 = cbn.e0.to_vec().unwrap();
        assert_ne!(
            e0,
            cbn.e1.to_vec().unwrap(),
            "the tables are drawn independently"
        );
        for (name, t) in [("e0", e0), ("e1", cbn.e1.to_vec().unwrap())] {
            // Rows when wide, columns (the transpose's rows) when tall.
            let t: Vec<f64> = t.iter().map(|&v| v as f64).collect();
            let (n, len, m) = if k <= c {
                (k, c, t)
            } else {
                (c, k, (0..k * c).map(|i| t[(i % k) * c + i / k]).collect())
            };
            for a in 0..n {
                for b in 0..n {
                    let dot: f64 = (0..len).map(|i| m[a * len + i] * m[b * len + i]).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!(
                        (dot - want).abs() < 1e-5,
                        "{name} {k}x{c} [{a}, {b}]: {dot}"
                    );
                }
            }
        }
    }
}

/// A frozen layer (a generator seen through the discriminator's step, say) runs no table or
/// gain/bias gradient kernel; with x constant instead, no dx kernel runs.
#[test]
fn frozen_tables_launch_no_gradient_kernels() {
    let _serial = serial();
    let d = dev();
    let mut rng = Rng::new(414);
    let mut gen = Generator::new(14, 0);
    let cbn = CondBatchNorm2d::new(&d, &mut gen, K, 8).unwrap();
    let y = Tensor::from_u32(&d, &LABELS, &[LABELS.len()]).unwrap();
    let shape = [LABELS.len(), 8, 4, 4];
    let x = rng.vec(shape.iter().product(), -1.0, 1.0);
    let g = upload(&d, &rng.vec(x.len(), -1.0, 1.0), &shape);
    nn::freeze(&cbn).unwrap();
    let xt = upload(&d, &x, &shape).into_param();
    let out = cbn.forward(&xt, &y, true).unwrap();
    let c = dispatched(&d, || out.backward_with(&g).unwrap());
    assert_eq!(runs(&c, "batch_norm", "grad_sample"), 0, "{c:?}");
    assert_eq!(runs(&c, "gather", "add_rows"), 0, "{c:?}");
    assert_eq!(c.values().sum::<u64>(), 3, "{c:?}");
    assert!(xt.grad().is_some() && cbn.e0.grad().is_none() && cbn.e1.grad().is_none());

    nn::unfreeze(&cbn).unwrap();
    let out = cbn.forward(&upload(&d, &x, &shape), &y, true).unwrap();
    let c = dispatched(&d, || out.backward_with(&g).unwrap());
    assert_eq!(runs(&c, "batch_norm", "grad_x"), 0, "{c:?}");
    assert_eq!(runs(&c, "batch_norm", "grad_sample"), 1, "{c:?}");
    assert_eq!(runs(&c, "gather", "add_rows"), 2, "{c:?}");
    assert!(cbn.e0.grad().is_some() && cbn.e1.grad().is_some());
}

#[test]
fn bad_labels_are_errors() {
    let _serial = serial();
    let d = dev();
    let mut gen = Generator::new(15, 0);
    let cbn = CondBatchNorm2d::new(&d, &mut gen, K, 4).unwrap();
    let x = Tensor::zeros(&d, &[3, 4, 2, 2]).unwrap();
    for y in [
        Tensor::from_u32(&d, &[0, 1], &[2]).unwrap(),
        Tensor::from_u32(&d, &[0, 1, 2], &[3, 1]).unwrap(),
        Tensor::zeros(&d, &[3]).unwrap(),
    ] {
        let e = cbn.forward(&x, &y, false).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("CondBatchNorm2d") && msg.contains("[3, 4, 2, 2]"),
            "{msg}"
        );
    }
    // The channel count is the op's to check: it names both shapes.
    let y = Tensor::from_u32(&d, &[0, 1, 2], &[3]).unwrap();
    let wide = Tensor::zeros(&d, &[3, 5, 2, 2]).unwrap();
    let e = cbn.forward(&wide, &y, false).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    assert!(e.to_string().contains("[3, 5, 2, 2]") && e.to_string().contains("[3, 4]"));
}
