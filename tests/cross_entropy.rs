//! Fused softmax cross-entropy (plain and class-weighted), both kernel variants, against an f64
//! log-sum-exp reference; the fused gradient against the analytic one and finite differences.

mod common;
use common::{as_f32, assert_close, dev, gradcheck, upload, Rng, Tol};
use tailgrad::ops::softmax::{force_variant, Variant};
use tailgrad::{no_grad, Device, Error, Tensor};

const VARIANTS: [Variant; 2] = [Variant::Row, Variant::Workgroup];

/// Row loss (max − x_y) + log s: ~ulp(|max − x_y|) plus log of the sum's relative error (≤ 1e-6
/// measured at C = 8142); the mean adds a few roundings (rel).
const LOSS: Tol = Tol {
    rel: 1e-6,
    abs: 5e-6,
};
/// Fused gradient w·(softmax − onehot)/Σw against the f64 analytic gradient.
const GRAD: Tol = Tol {
    rel: 2e-5,
    abs: 1e-8,
};
/// Gradcheck: f32 kernel vs central differences of the f64 loss.
const FD: Tol = Tol {
    rel: 2e-4,
    abs: 2e-5,
};

/// (mean loss, gradient of the mean) in f64; `w` per class or None.
fn reference(x: &[f64], labels: &[u32], c: usize, w: Option<&[f64]>) -> (f64, Vec<f64>) {
    let mut num = 0.0;
    let mut den = 0.0;
    let mut grad = vec![0.0; x.len()];
    for (r, row) in x.chunks(c).enumerate() {
        let y = labels[r] as usize;
        let wr = w.map_or(1.0, |w| w[y]);
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        num += wr * (m + s.ln() - row[y]);
        den += wr;
        for (j, v) in row.iter().enumerate() {
            grad[r * c + j] = wr * ((v - m).exp() / s - if j == y { 1.0 } else { 0.0 });
        }
    }
    grad.iter_mut().for_each(|g| *g /= den);
    (num / den, grad)
}

fn labels_for(rng: &mut Rng, b: usize, c: usize) -> Vec<u32> {
    (0..b).map(|_| rng.below(c) as u32).collect()
}

fn loss_of(x: &Tensor, labels: &Tensor, w: Option<&Tensor>) -> Tensor {
    match w {
        Some(w) => x.cross_entropy_weighted(labels, w).unwrap(),
        None => x.cross_entropy(labels).unwrap(),
    }
}

/// Forward without grad (the kernel skips the gradient) and forward + backward with grad.
fn check(d: &Device, x: &[f64], labels: &[u32], b: usize, c: usize, w: Option<&[f64]>) {
    let x = as_f32(x);
    let w = w.map(as_f32);
    let (want_loss, want_grad) = reference(&x, labels, c, w.as_deref());
    let lt = Tensor::from_u32(d, labels, &[b]).unwrap();
    let wt = w.as_ref().map(|w| upload(d, w, &[c]));
    for v in VARIANTS {
        let _g = force_variant(v);
        let what = format!("{v:?} [{b}, {c}] weighted={}", w.is_some());
        let eval = {
            let _ng = no_grad();
            loss_of(&upload(d, &x, &[b, c]), &lt, wt.as_ref())
        };
        assert_eq!(eval.shape(), &[1]);
        assert_close(
            &format!("eval loss {what}"),
            &eval.to_vec().unwrap(),
            &[want_loss],
            LOSS,
        );
        let p = upload(d, &x, &[b, c]).into_param();
        let loss = loss_of(&p, &lt, wt.as_ref());
        loss.backward().unwrap();
        assert_eq!(loss.to_vec().unwrap(), eval.to_vec().unwrap(), "{what}");
        assert_close(
            &format!("grad {what}"),
            &p.grad().unwrap().to_vec().unwrap(),
            &want_grad,
            GRAD,
        );
    }
}

#[test]
fn forward_and_fused_grad_random_and_awkward_shapes() {
    let d = dev();
    let mut rng = Rng::new(11);
    for (b, c) in [
        (1, 1),
        (1, 2),
        (3, 2),
        (7, 13),
        (64, 10),
        (31, 257),
        (2, 1000),
        (5, 8142),
        (130, 3),
    ] {
        let x = rng.vec(b * c, -5.0, 5.0);
        let labels = labels_for(&mut rng, b, c);
        let w = rng.vec(c, 0.1, 3.0);
        check(&d, &x, &labels, b, c, None);
        check(&d, &x, &labels, b, c, Some(&w));
    }
}

#[test]
fn extreme_logits() {
    let d = dev();
    let mut rng = Rng::new(12);
    let (b, c) = (6, 300);
    let mut x: Vec<f64> = (0..b * c)
        .map(|_| if rng.below(2) == 0 { 1e4 } else { -1e4 } + rng.uniform(-2.0, 2.0))
        .collect();
    x[c..2 * c].fill(-1e4); // all tied
    x[2 * c] = 1e38;
    let mut labels = labels_for(&mut rng, b, c);
    labels[2] = 5; // far below the 1e38 max: loss ≈ 1e38, finite even weighted
    labels[3] = (0..c).find(|&j| x[3 * c + j] < 0.0).unwrap() as u32; // ~2e4 loss
    check(&d, &x, &labels, b, c, None);
    check(&d, &x, &labels, b, c, Some(&rng.vec(c, 0.5, 2.0)));
}

#[test]
fn gradcheck_chains_upstream() {
    let mut rng = Rng::new(13);
    for (b, c) in [(1, 1), (3, 2), (4, 7), (2, 300)] {
        let x = rng.vec(b * c, -3.0, 3.0);
        let labels = labels_for(&mut rng, b, c);
        let w = as_f32(&rng.vec(c, 0.2, 2.0));
        let d = dev();
        let lt = Tensor::from_u32(&d, &labels, &[b]).unwrap();
        let wt = upload(&d, &w, &[c]);
        for v in VARIANTS {
            let _g = force_variant(v);
            gradcheck(
                &format!("cross_entropy {v:?} [{b}, {c}]"),
                &[(x.clone(), vec![b, c])],
                &|t| t[0].cross_entropy(&lt),
                &|xs| vec![reference(&xs[0], &labels, c, None).0],
                FD,
            );
            gradcheck(
                &format!("cross_entropy_weighted {v:?} [{b}, {c}]"),
                &[(x.clone(), vec![b, c])],
                &|t| t[0].cross_entropy_weighted(&lt, &wt),
                &|xs| vec![reference(&xs[0], &labels, c, Some(&w)).0],
                FD,
            );
        }
    }
}

#[test]
fn deterministic() {
    let d = dev();
    let mut rng = Rng::new(14);
    let (b, c) = (300, 37);
    let x = upload(&d, &rng.vec(b * c, -4.0, 4.0), &[b, c]);
    let lt = Tensor::from_u32(&d, &labels_for(&mut rng, b, c), &[b]).unwrap();
    for v in VARIANTS {
        let _g = force_variant(v);
        let a = x.cross_entropy(&lt).unwrap().to_vec().unwrap();
        let b = x.cross_entropy(&lt).unwrap().to_vec().unwrap();
        assert_eq!(a[0].to_bits(), b[0].to_bits(), "{v:?}");
    }
}

#[test]
fn label_out_of_range_is_nan() {
    let d = dev();
    let x = Tensor::from_slice(&d, &[1.0, 2.0, 3.0, 0.5, 0.5, 0.5], &[2, 3])
        .unwrap()
        .into_param();
    let lt = Tensor::from_u32(&d, &[1, 3], &[2]).unwrap();
    for v in VARIANTS {
        let _g = force_variant(v);
        x.zero_grad();
        if d.debug_sync() {
            let r = x.cross_entropy(&lt);
            assert!(
                matches!(
                    r,
                    Err(Error::NonFinite {
                        op: "cross_entropy",
                        ..
                    })
                ),
                "{r:?}"
            );
            continue;
        }
        let loss = x.cross_entropy(&lt).unwrap();
        assert!(loss.item().unwrap().is_nan(), "{v:?}");
        loss.backward().unwrap();
        let g = x.grad().unwrap().to_vec().unwrap();
        assert!(g.iter().all(|v| v.is_nan()), "{v:?}: {g:?}");
    }
}

#[test]
fn errors() {
    let d = dev();
    let x = Tensor::zeros(&d, &[2, 3]).unwrap();
    let good = Tensor::from_u32(&d, &[0, 1], &[2]).unwrap();
    let f32_labels = Tensor::from_slice(&d, &[0.0, 1.0], &[2]).unwrap();
    assert!(matches!(
        x.cross_entropy(&f32_labels),
        Err(Error::Invalid {
            op: "cross_entropy",
            ..
        })
    ));
    let long = Tensor::from_u32(&d, &[0, 1, 2], &[3]).unwrap();
    match x.cross_entropy(&long) {
        Err(Error::Shape { op, lhs, rhs }) => {
            assert_eq!((op, lhs, rhs), ("cross_entropy", vec![2, 3], vec![3]))
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    let rank3 = Tensor::zeros(&d, &[2, 3, 1]).unwrap();
    assert!(matches!(
        rank3.cross_entropy(&good),
        Err(Error::Invalid { .. })
    ));
    let w = Tensor::ones(&d, &[2]).unwrap();
    match x.cross_entropy_weighted(&good, &w) {
        Err(Error::Shape { op, lhs, rhs }) => {
            assert_eq!((op, lhs, rhs), ("cross_entropy", vec![2, 3], vec![2]))
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
}

#[test]
fn classes_beyond_the_software_loop_budget() {
    let d = dev();
    let c = 70_001;
    let mut rng = Rng::new(78);
    let x = as_f32(&rng.vec(3 * c, -4.0, 4.0));
    let labels = vec![0u32, 35_000, 70_000];
    let t = upload(&d, &x, &[3, c]);
    let y = Tensor::from_u32(&d, &labels, &[3]).unwrap();
    let (loss, _) = reference(&x, &labels, c, None);
    assert_close(
        "cross_entropy 3x70001",
        &t.cross_entropy(&y).unwrap().to_vec().unwrap(),
        &[loss],
        LOSS,
    );
}
