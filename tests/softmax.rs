//! softmax / log_softmax / logsumexp along the last axis, both kernel variants, against f64
//! references; backward rules by mid-graph gradcheck.

mod common;
use common::{as_f32, assert_close, dev, gradcheck, upload, Rng, Tol};
use tailgrad::ops::softmax::{force_variant, Variant};
use tailgrad::{read_all, Error, Tensor};

const VARIANTS: [Variant; 2] = [Variant::Row, Variant::Workgroup];

/// f32 exp is good to a few ulp and the row sum adds up to C terms sequentially per thread.
const SOFTMAX: Tol = Tol {
    rel: 2e-5,
    abs: 1e-12,
};
/// log_softmax and logsumexp: (x − max) is exact or rounds at ulp(|x|); log s adds ~1e-6.
const LOG: Tol = Tol {
    rel: 2e-6,
    abs: 4e-6,
};
/// Backward: f32 kernels vs central differences of the f64 reference.
const GRAD: Tol = Tol {
    rel: 2e-4,
    abs: 2e-5,
};

/// (max, log Σ exp(x − max)) of each row, in f64.
fn row_lse(x: &[f64], cols: usize) -> Vec<f64> {
    x.chunks(cols)
        .map(|r| {
            let m = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + r.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
        })
        .collect()
}

fn ref_log_softmax(x: &[f64], cols: usize) -> Vec<f64> {
    let lse = row_lse(x, cols);
    x.iter()
        .enumerate()
        .map(|(i, v)| v - lse[i / cols])
        .collect()
}

fn ref_softmax(x: &[f64], cols: usize) -> Vec<f64> {
    ref_log_softmax(x, cols).iter().map(|v| v.exp()).collect()
}

/// Checks all three forwards on `x` with both variants.
fn check_forward(x: &[f64], shape: &[usize]) {
    let d = dev();
    let cols = *shape.last().unwrap();
    let xt = upload(&d, x, shape);
    let x = as_f32(x);
    for v in VARIANTS {
        let _g = force_variant(v);
        let (s, ls, lse) = (
            xt.softmax().unwrap(),
            xt.log_softmax().unwrap(),
            xt.logsumexp().unwrap(),
        );
        let mut lse_shape = shape[..shape.len() - 1].to_vec();
        if lse_shape.is_empty() {
            lse_shape.push(1);
        }
        assert_eq!(lse.shape(), &lse_shape[..]);
        let got = read_all(&[&s, &ls, &lse]).unwrap();
        let what = format!("{v:?} {shape:?}");
        assert_close(
            &format!("softmax {what}"),
            &got[0],
            &ref_softmax(&x, cols),
            SOFTMAX,
        );
        assert_close(
            &format!("log_softmax {what}"),
            &got[1],
            &ref_log_softmax(&x, cols),
            LOG,
        );
        assert_close(
            &format!("logsumexp {what}"),
            &got[2],
            &row_lse(&x, cols),
            LOG,
        );
    }
}

#[test]
fn forward_random_and_awkward_shapes() {
    let mut rng = Rng::new(1);
    for shape in [
        &[1, 1][..],
        &[1, 7],
        &[3, 1000],
        &[5, 8142],
        &[2, 3, 17],
        &[13],
        &[70, 3],
        &[2, 257],
    ] {
        let n = shape.iter().product();
        check_forward(&rng.vec(n, -6.0, 6.0), shape);
    }
}

#[test]
fn forward_extreme_logits() {
    let mut rng = Rng::new(2);
    // ±1e4 spreads, ties at the max, and a row of one huge value: no overflow, no NaN.
    let mut x: Vec<f64> = (0..4 * 300)
        .map(|_| {
            let big = if rng.below(2) == 0 { 1e4 } else { -1e4 };
            big + rng.uniform(-3.0, 3.0)
        })
        .collect();
    x[300..600].fill(1e4);
    x[600..900].iter_mut().for_each(|v| *v = -1e4 + *v * 1e-9);
    x[900] = 3e38;
    check_forward(&x, &[4, 300]);
}

#[test]
fn minus_inf_masks_and_nan() {
    let d = dev();
    let ninf = f32::NEG_INFINITY;
    let cols = 300;
    let mut x = vec![0.5f32; 4 * cols];
    // row 0: leading -inf run (the seed path) then values; row 1: all -inf;
    // row 2: -inf scattered, including at the end; row 3: one NaN.
    x[..150].fill(ninf);
    for (j, v) in x[150..cols].iter_mut().enumerate() {
        *v = (j % 7) as f32 - 3.0;
    }
    x[cols..2 * cols].fill(ninf);
    for j in (0..cols).step_by(3) {
        x[2 * cols + j] = ninf;
    }
    x[3 * cols - 1] = ninf;
    x[3 * cols + 17] = f32::NAN;
    let xt = Tensor::from_slice(&d, &x, &[4, cols]).unwrap();
    if d.debug_sync() {
        // TAILGRAD_DEBUG=sync reports the NaN row instead of returning it.
        let r = xt.softmax();
        assert!(
            matches!(r, Err(Error::NonFinite { op: "softmax", .. })),
            "{r:?}"
        );
        return;
    }
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for v in VARIANTS {
        let _g = force_variant(v);
        let got = read_all(&[
            &xt.softmax().unwrap(),
            &xt.log_softmax().unwrap(),
            &xt.logsumexp().unwrap(),
        ])
        .unwrap();
        let masked = [0..cols, 2 * cols..3 * cols];
        for r in masked.iter().cloned() {
            let want = ref_softmax(&x64[r.clone()], cols);
            assert_close(
                &format!("{v:?} masked softmax"),
                &got[0][r.clone()],
                &want,
                SOFTMAX,
            );
            for (j, &xv) in x[r.clone()].iter().enumerate() {
                if xv == ninf {
                    assert_eq!(got[0][r.start + j], 0.0, "{v:?}: masked prob must be 0");
                    assert_eq!(got[1][r.start + j], ninf, "{v:?}: masked log-prob");
                }
            }
            let lse = row_lse(&x64[r.clone()], cols)[0];
            assert_close(
                &format!("{v:?} masked lse"),
                &[got[2][r.start / cols]],
                &[lse],
                LOG,
            );
        }
        // All -inf: NaN probabilities (as PyTorch), logsumexp -inf.
        assert!(got[0][cols..2 * cols].iter().all(|p| p.is_nan()), "{v:?}");
        assert!(got[1][cols..2 * cols].iter().all(|p| p.is_nan()), "{v:?}");
        assert_eq!(got[2][1], ninf, "{v:?}");
        // A NaN must not be dropped from the row's statistics.
        assert!(got[2][3].is_nan(), "{v:?}: NaN lost in logsumexp");
        assert!(got[0][3 * cols..].iter().all(|p| p.is_nan()), "{v:?}");
    }
}

#[test]
fn backward_masked_rows_stay_finite() {
    let d = dev();
    let x = [f32::NEG_INFINITY, 1.0, 2.0, f32::NEG_INFINITY, 0.0];
    if d.debug_sync() {
        // The -inf log-probabilities are reported by TAILGRAD_DEBUG=sync.
        let t = Tensor::from_slice(&d, &x, &[1, 5]).unwrap();
        let r = t.log_softmax();
        assert!(
            matches!(
                r,
                Err(Error::NonFinite {
                    op: "log_softmax",
                    ..
                })
            ),
            "{r:?}"
        );
        return;
    }
    for v in VARIANTS {
        let _g = force_variant(v);
        let p = Tensor::from_slice(&d, &x, &[1, 5]).unwrap().into_param();
        let c = Tensor::from_slice(&d, &[0.3, -1.0, 2.0, 0.5, 1.5], &[1, 5]).unwrap();
        let loss = p.softmax().unwrap().mul(&c).unwrap().sum_all().unwrap();
        let loss2 = p.log_softmax().unwrap().mul(&c).unwrap().sum_all().unwrap();
        let loss3 = p.logsumexp().unwrap().scale(2.0).unwrap();
        loss.add(&loss2)
            .unwrap()
            .add(&loss3)
            .unwrap()
            .backward()
            .unwrap();
        let g = p.grad().unwrap().to_vec().unwrap();
        // Masked entries: softmax and logsumexp pass 0, log_softmax passes g itself.
        assert_eq!((g[0], g[3]), (0.3, 0.5), "{v:?}: {g:?}");
        assert!(g.iter().all(|v| v.is_finite()), "{v:?}: {g:?}");
    }
}

fn grad_cases(
    name: &str,
    op: fn(&Tensor) -> tailgrad::Result<Tensor>,
    cpu: fn(&[f64], usize) -> Vec<f64>,
) {
    let mut rng = Rng::new(3);
    for shape in [&[1, 1][..], &[3, 5], &[2, 3, 17], &[2, 300]] {
        let n: usize = shape.iter().product();
        let cols = *shape.last().unwrap();
        let x = rng.vec(n, -3.0, 3.0);
        for v in VARIANTS {
            let _g = force_variant(v);
            gradcheck(
                &format!("{name} {v:?} {shape:?}"),
                &[(x.clone(), shape.to_vec())],
                &|t| op(&t[0]),
                &|xs| cpu(&xs[0], cols),
                GRAD,
            );
        }
    }
}

#[test]
fn gradcheck_softmax() {
    grad_cases("softmax", Tensor::softmax, ref_softmax);
}

#[test]
fn gradcheck_log_softmax() {
    grad_cases("log_softmax", Tensor::log_softmax, ref_log_softmax);
}

#[test]
fn gradcheck_logsumexp() {
    grad_cases("logsumexp", Tensor::logsumexp, row_lse);
}

#[test]
fn errors() {
    let d = dev();
    let u = Tensor::from_u32(&d, &[1, 2, 3], &[3]).unwrap();
    assert!(matches!(
        u.softmax(),
        Err(Error::Invalid { op: "softmax", .. })
    ));
    let scalar = Tensor::from_slice(&d, &[1.0], &[]).unwrap();
    assert!(matches!(
        scalar.logsumexp(),
        Err(Error::Invalid {
            op: "logsumexp",
            ..
        })
    ));
}

#[test]
fn rows_longer_than_the_software_loop_budget() {
    // 70 001 columns: one invocation per row would exceed llvmpipe's 65535 loop iterations, so
    // the automatic choice must move to a variant that splits the row; forcing Row must fail
    // loudly there instead of returning a silently truncated result.
    let d = dev();
    let cols = 70_001;
    let mut rng = Rng::new(77);
    let x = as_f32(&rng.vec(2 * cols, -4.0, 4.0));
    let t = upload(&d, &x, &[2, cols]);
    let got = t.softmax().unwrap().to_vec().unwrap();
    assert_close("softmax 2x70001", &got, &ref_softmax(&x, cols), SOFTMAX);
    let lsm = t.log_softmax().unwrap().to_vec().unwrap();
    assert_close("log_softmax 2x70001", &lsm, &ref_log_softmax(&x, cols), LOG);
    if d.loop_budget() < u64::MAX {
        let _g = force_variant(Variant::Row);
        assert!(matches!(t.softmax(), Err(Error::Invalid { .. })));
    }
}
