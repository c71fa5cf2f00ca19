//! batch_norm2d against an f64 reference in every mode, with and without affine and fused ReLU,
//! in both reduction variants; running statistics after two steps; gradients by finite
//! differences (small shapes) and against the f64 closed form (shapes past the loop budget).
//! The same for cond_batch_norm2d (per-sample gain and bias); which of its backward passes run
//! is tested with the layer in tests/cond_batch_norm.rs.
mod common;
use common::bn::{batch_stats, CondRef, COND_EPS};
use common::*;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tailgrad::ops::batch_norm::{batch_norm2d_ex, cond_batch_norm2d_ex, BnVariant};
use tailgrad::{BatchNorm, BnMode, CondBatchNorm, Error, Tensor};

/// The tests share one device: the one that counts its dispatches holds this exclusively, the
/// others share it, so no other test records dispatches while it counts.
static DEVICE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    DEVICE.read().unwrap_or_else(PoisonError::into_inner)
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    DEVICE.write().unwrap_or_else(PoisonError::into_inner)
}

const VARIANTS: [BnVariant; 2] = [BnVariant::Lanes, BnVariant::Tree];
const EPS: f64 = 1e-5;

/// [B, C, H·W] of an NCHW or [B, C] shape.
fn dims(shape: &[usize]) -> [usize; 3] {
    [shape[0], shape[1], shape[2..].iter().product()]
}

/// Everything a reference call needs besides x.
#[derive(Clone)]
struct Setup {
    gamma: Option<Vec<f64>>,
    beta: Option<Vec<f64>>,
    run_mean: Vec<f64>,
    run_var: Vec<f64>,
    mode: BnMode,
    relu: bool,
}

impl Setup {
    /// The statistics that normalise x in this mode.
    fn stats(&self, x: &[f64], d: [usize; 3]) -> (Vec<f64>, Vec<f64>) {
        match self.mode {
            BnMode::Eval => (self.run_mean.clone(), self.run_var.clone()),
            _ => batch_stats(x, d),
        }
    }

    fn forward(
        &self,
        x: &[f64],
        d: [usize; 3],
        gamma: Option<&[f64]>,
        beta: Option<&[f64]>,
    ) -> Vec<f64> {
        let (mean, var) = self.stats(x, d);
        let [_, c, hw] = d;
        (0..x.len())
            .map(|i| {
                let ch = i / hw % c;
                let xhat = (x[i] - mean[ch]) / (var[ch] + EPS).sqrt();
                let y = xhat * gamma.map_or(1.0, |g| g[ch]) + beta.map_or(0.0, |b| b[ch]);
                if self.relu {
                    y.max(0.0)
                } else {
                    y
                }
            })
            .collect()
    }

    /// Closed-form backward in f64: (dx, dgamma, dbeta).
    fn backward(&self, x: &[f64], g: &[f64], d: [usize; 3]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mean, var) = self.stats(x, d);
        let y = self.forward(x, d, self.gamma.as_deref(), self.beta.as_deref());
        let [b, c, hw] = d;
        let n = (b * hw) as f64;
        let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + EPS).sqrt()).collect();
        let ch = |i: usize| i / hw % c;
        let gm: Vec<f64> = (0..x.len())
            .map(|i| if self.relu && y[i] <= 0.0 { 0.0 } else { g[i] })
            .collect();
        let (mut dg, mut db) = (vec![0.0; c], vec![0.0; c]);
        for i in 0..x.len() {
            db[ch(i)] += gm[i];
            dg[ch(i)] += gm[i] * (x[i] - mean[ch(i)]) * invstd[ch(i)];
        }
        let dx = (0..x.len())
            .map(|i| {
                let k = self.gamma.as_ref().map_or(1.0, |gm| gm[ch(i)]) * invstd[ch(i)];
                match self.mode {
                    BnMode::Eval => k * gm[i],
                    _ => {
                        let xhat = (x[i] - mean[ch(i)]) * invstd[ch(i)];
                        k * (gm[i] - db[ch(i)] / n - xhat * dg[ch(i)] / n)
                    }
                }
            })
            .collect();
        (dx, dg, db)
    }
}

/// GPU tensors of a setup's parameters and running statistics.
struct Params {
    gamma: Option<Tensor>,
    beta: Option<Tensor>,
    run_mean: Tensor,
    run_var: Tensor,
}

impl Params {
    fn new(s: &Setup, params: bool) -> Params {
        let d = dev();
        let c = s.run_mean.len();
        let up = |v: &Vec<f64>| {
            let t = upload(&d, v, &[c]);
            if params {
                t.into_param()
            } else {
                t
            }
        };
        Params {
            gamma: s.gamma.as_ref().map(up),
            beta: s.beta.as_ref().map(up),
            run_mean: upload(&d, &s.run_mean, &[c]),
            run_var: upload(&d, &s.run_var, &[c]),
        }
    }

    fn bn(&self, s: &Setup) -> BatchNorm<'_> {
        BatchNorm {
            gamma: self.gamma.as_ref(),
            beta: self.beta.as_ref(),
            running_mean: Some(&self.run_mean),
            running_var: Some(&self.run_var),
            mode: s.mode,
            eps: EPS as f32,
            relu: s.relu,
        }
    }
}

const MODES: [BnMode; 3] = [
    BnMode::Train { momentum: 0.1 },
    BnMode::Eval,
    BnMode::BatchStats,
];

fn setup(rng: &mut Rng, c: usize, mode: BnMode, affine: bool, relu: bool) -> Setup {
    Setup {
        gamma: affine.then(|| as_f32(&rng.vec(c, 0.5, 1.5))),
        beta: affine.then(|| as_f32(&rng.vec(c, -1.0, 1.0))),
        run_mean: as_f32(&rng.vec(c, -0.5, 0.5)),
        run_var: as_f32(&rng.vec(c, 0.2, 2.0)),
        mode,
        relu,
    }
}

/// The statistics come from partial sums of at most 16 384 f32 terms (random-walk error about
/// sqrt(16 384)·2^-24 ≈ 8e-6 of the spread); the output carries that times |x̂|·|gamma| ≤ ~8,
/// plus a few roundings relative to |y|.
const FWD_TOL: Tol = Tol {
    rel: 1e-5,
    abs: 1e-4,
};

/// Shapes: channel count 1 and primes, odd planes (buffer path), [B, C], planes a multiple of 4
/// past 64 K elements (texture path on lavapipe), B·H·W past 65 535 per channel on both paths,
/// and single planes so long that one lane's share is split into segments (loop budget).
const SHAPES: &[&[usize]] = &[
    &[2, 1, 1, 1],
    &[3, 5, 7, 3],
    &[4, 7],
    &[8, 16, 8, 8],
    &[16, 16, 32, 32],
    &[128, 3, 23, 23],
    &[64, 2, 32, 34],
    &[1, 1, 2001, 2001],
    &[1, 1, 1448, 1448],
];

#[test]
fn forward_matches_reference() {
    let _device = shared();
    let d = dev();
    let mut rng = Rng::new(401);
    for (si, &shape) in SHAPES.iter().enumerate() {
        let dm = dims(shape);
        // An offset far from 0 on some shapes: the statistics must not lose the spread to it.
        let offset = if si % 2 == 1 { 50.0 } else { 0.0 };
        let x = as_f32(&rng.vec(shape.iter().product(), offset - 1.0, offset + 1.0));
        let xt = upload(&d, &x, shape);
        for (mi, &mode) in MODES.iter().enumerate() {
            for variant in VARIANTS {
                let (affine, relu) = ((si + mi) % 2 == 0, (si + mi) % 3 == 0);
                let mut s = setup(&mut rng, dm[1], mode, affine, relu);
                if mode == BnMode::Eval {
                    // Running statistics near the data's, so the output is O(1).
                    s.run_mean = as_f32(&s.run_mean.iter().map(|m| m + offset).collect::<Vec<_>>());
                }
                let p = Params::new(&s, false);
                let y = batch_norm2d_ex(&xt, &p.bn(&s), variant).unwrap();
                assert_eq!(y.shape(), shape);
                let want = s.forward(&x, dm, s.gamma.as_deref(), s.beta.as_deref());
                let what = format!("{shape:?} {mode:?} {variant:?} affine={affine} relu={relu}");
                assert_close(&what, &y.to_vec().unwrap(), &want, FWD_TOL);
            }
        }
    }
}

/// Two training steps with momentum 0.3: running mean and unbiased variance updated in place,
/// by the f64 recurrence; eval and batch-stats steps leave them alone.
#[test]
fn running_stats_after_two_steps() {
    let _device = shared();
    let d = dev();
    let mut rng = Rng::new(402);
    for &shape in &[
        &[4, 3, 5, 5][..],
        &[6, 5],
        &[64, 2, 32, 34],
        &[128, 3, 23, 23],
    ] {
        let dm = dims(shape);
        let mut s = setup(
            &mut rng,
            dm[1],
            BnMode::Train { momentum: 0.3 },
            true,
            false,
        );
        let p = Params::new(&s, false);
        let (mut rm, mut rv) = (s.run_mean.clone(), s.run_var.clone());
        for variant in VARIANTS {
            let x = as_f32(&rng.vec(shape.iter().product(), 2.0, 4.0));
            batch_norm2d_ex(&upload(&d, &x, shape), &p.bn(&s), variant).unwrap();
            let (mean, var) = batch_stats(&x, dm);
            let n = (dm[0] * dm[2]) as f64;
            for ch in 0..dm[1] {
                rm[ch] = 0.7 * rm[ch] + 0.3 * mean[ch];
                rv[ch] = 0.7 * rv[ch] + 0.3 * var[ch] * n / (n - 1.0);
            }
        }
        for mode in [BnMode::Eval, BnMode::BatchStats] {
            s.mode = mode;
            let x = upload(&d, &rng.vec(shape.iter().product(), 0.0, 1.0), shape);
            x.batch_norm2d(&p.bn(&s)).unwrap();
        }
        // Each step rounds a few times relative to the stats (~1e-7) and the batch statistics
        // carry ~8e-6 relative error (see FWD_TOL).
        let tol = Tol {
            rel: 1e-5,
            abs: 1e-5,
        };
        assert_close(
            &format!("running mean {shape:?}"),
            &p.run_mean.to_vec().unwrap(),
            &rm,
            tol,
        );
        assert_close(
            &format!("running var {shape:?}"),
            &p.run_var.to_vec().unwrap(),
            &rv,
            tol,
        );
    }
}

/// Every mode, with and without affine and ReLU, both variants, on [B, C, H, W] and [B, C].
#[test]
fn gradients_match_finite_differences() {
    let _device = shared();
    let mut rng = Rng::new(403);
    for &shape in &[&[3, 2, 3, 5][..], &[5, 3], &[2, 1, 4, 3]] {
        let dm = dims(shape);
        for mode in MODES {
            for (affine, relu) in [(false, false), (true, false), (false, true), (true, true)] {
                for variant in VARIANTS {
                    let s = setup(&mut rng, dm[1], mode, affine, relu);
                    let mut inputs =
                        vec![(rng.vec(shape.iter().product(), -2.0, 2.0), shape.to_vec())];
                    if affine {
                        inputs.push((s.gamma.clone().unwrap(), vec![dm[1]]));
                        inputs.push((s.beta.clone().unwrap(), vec![dm[1]]));
                    }
                    let p = Params::new(&s, false);
                    let gpu = |t: &[Tensor]| {
                        let bn = BatchNorm {
                            gamma: t.get(1),
                            beta: t.get(2),
                            ..p.bn(&s)
                        };
                        batch_norm2d_ex(&t[0], &bn, variant)
                    };
                    let cpu = |v: &[Vec<f64>]| {
                        s.forward(
                            &v[0],
                            dm,
                            v.get(1).map(|g| &g[..]),
                            v.get(2).map(|b| &b[..]),
                        )
                    };
                    let what =
                        format!("{shape:?} {mode:?} {variant:?} affine={affine} relu={relu}");
                    let tol = Tol {
                        rel: 1e-3,
                        abs: 1e-4,
                    };
                    gradcheck(&what, &inputs, &gpu, &cpu, tol);
                }
            }
        }
    }
}

/// Backward against the f64 closed form where finite differences are out of reach: ResNet's
/// largest shape, B·H·W past 65 535 per channel, and a single plane past the loop budget.
#[test]
fn large_backward_matches_closed_form() {
    let _device = shared();
    let d = dev();
    let mut rng = Rng::new(404);
    let cases: &[(&[usize], BnMode, bool)] = &[
        (&[16, 16, 32, 32], BnMode::Train { momentum: 0.1 }, true),
        (&[128, 3, 23, 23], BnMode::BatchStats, false),
        (&[64, 2, 32, 34], BnMode::Eval, true),
        (&[1, 1, 2001, 2001], BnMode::Train { momentum: 0.1 }, false),
    ];
    for &(shape, mode, relu) in cases {
        let dm = dims(shape);
        let n = (dm[0] * dm[2]) as f64;
        let s = setup(&mut rng, dm[1], mode, true, relu);
        let p = Params::new(&s, true);
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let g = as_f32(&rng.vec(x.len(), -1.0, 1.0));
        for variant in VARIANTS {
            let xt = upload(&d, &x, shape).into_param();
            let y = batch_norm2d_ex(&xt, &p.bn(&s), variant).unwrap();
            y.backward_with(&upload(&d, &g, shape)).unwrap();
            let (dx, dg, db) = s.backward(&x, &g, dm);
            let what = format!("{shape:?} {mode:?} {variant:?} relu={relu}");
            // dx: k·g' (k ≤ ~3.5) plus terms of order 1/sqrt(n) carrying the sums' error.
            let dx_tol = Tol {
                rel: 1e-5,
                abs: 1e-4,
            };
            assert_close(
                &format!("dx {what}"),
                &xt.grad().unwrap().to_vec().unwrap(),
                &dx,
                dx_tol,
            );
            // Sums of n terms of size ≤ ~3: partials of ≤ 16 384 terms err by ~sqrt(16 384)·2^-24
            // of their size, and ~sqrt(n) of them add up.
            let sum_tol = Tol {
                rel: 1e-5,
                abs: 4.0 * 128.0 * 6e-8 * 3.0 * n.sqrt(),
            };
            let (gg, gb) = (p.gamma.as_ref().unwrap(), p.beta.as_ref().unwrap());
            assert_close(
                &format!("dgamma {what}"),
                &gg.grad().unwrap().to_vec().unwrap(),
                &dg,
                sum_tol,
            );
            assert_close(
                &format!("dbeta {what}"),
                &gb.grad().unwrap().to_vec().unwrap(),
                &db,
                sum_tol,
            );
            gg.zero_grad();
            gb.zero_grad();
        }
    }
}

/// A training forward and backward records 3 + 3 dispatches and never submits (no readback).
#[test]
fn training_step_stays_on_the_gpu() {
    let _device = exclusive();
    let d = dev();
    let mut rng = Rng::new(405);
    let shape = [16, 16, 32, 32];
    let s = setup(&mut rng, 16, BnMode::Train { momentum: 0.1 }, true, true);
    let p = Params::new(&s, true);
    let x = upload(&d, &rng.vec(shape.iter().product(), -1.0, 1.0), &shape).into_param();
    let g = upload(&d, &rng.vec(x.numel(), -1.0, 1.0), &shape);
    d.sync().unwrap();
    let (dispatches, submits) = d.counters();
    let y = x.batch_norm2d(&p.bn(&s)).unwrap();
    assert_eq!(d.counters().0 - dispatches, 3, "forward dispatches");
    y.backward_with(&g).unwrap();
    assert_eq!(
        d.counters().0 - dispatches,
        6,
        "forward + backward dispatches"
    );
    assert_eq!(d.counters().1, submits, "submits");
}

#[test]
fn bad_arguments_are_errors() {
    let _device = shared();
    let d = dev();
    let x = Tensor::zeros(&d, &[2, 3, 4, 4]).unwrap();
    let c3 = Tensor::full(&d, &[3], 1.0).unwrap();
    let (rm, rv) = (
        Tensor::zeros(&d, &[3]).unwrap(),
        Tensor::full(&d, &[3], 1.0).unwrap(),
    );
    let c4 = Tensor::full(&d, &[4], 1.0).unwrap();
    let bn = |gamma, running_mean, running_var, mode| BatchNorm {
        gamma,
        beta: None,
        running_mean,
        running_var,
        mode,
        eps: 1e-5,
        relu: false,
    };
    let train = BnMode::Train { momentum: 0.1 };
    for (b, other) in [
        (bn(Some(&c4), Some(&rm), Some(&rv), train), [4]),
        (bn(Some(&c3), Some(&c4), Some(&rv), BnMode::Eval), [4]),
        (bn(None, Some(&rm), Some(&c4), train), [4]),
    ] {
        let e = x.batch_norm2d(&b).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("batch_norm2d")
                && msg.contains("[2, 3, 4, 4]")
                && msg.contains(&format!("{other:?}")),
            "{msg}"
        );
    }
    let beta = BatchNorm {
        beta: Some(&c4),
        ..bn(None, None, None, BnMode::BatchStats)
    };
    assert!(matches!(x.batch_norm2d(&beta), Err(Error::Shape { .. })));
    for b in [
        bn(None, None, Some(&rv), train),
        bn(None, Some(&rm), None, BnMode::Eval),
        bn(None, None, None, BnMode::Eval),
        bn(None, Some(&rm), Some(&rm), train),
        bn(Some(&rv), Some(&rm), Some(&rv), BnMode::Eval),
        BatchNorm {
            eps: -1.0,
            ..bn(None, None, None, BnMode::BatchStats)
        },
    ] {
        let e = x.batch_norm2d(&b).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
    }
    let one = Tensor::zeros(&d, &[1, 3]).unwrap();
    assert!(matches!(
        one.batch_norm2d(&bn(None, Some(&rm), Some(&rv), train)),
        Err(Error::Invalid { .. })
    ));
    let rank3 = Tensor::zeros(&d, &[2, 3, 4]).unwrap();
    assert!(matches!(
        rank3.batch_norm2d(&bn(None, None, None, BnMode::BatchStats)),
        Err(Error::Invalid { .. })
    ));
    let u = Tensor::from_u32(&d, &[0; 6], &[2, 3]).unwrap();
    assert!(matches!(
        u.batch_norm2d(&bn(None, None, None, BnMode::BatchStats)),
        Err(Error::Invalid { .. })
    ));
}

// ---- Conditional BN: batch statistics, per-sample gain and bias [B, C] ----------------------

fn cond_bn<'a>(gain: &'a Tensor, bias: &'a Tensor, relu: bool) -> CondBatchNorm<'a> {
    CondBatchNorm {
        gain,
        bias,
        eps: COND_EPS as f32,
        relu,
    }
}

/// Shapes: N = 2 with C = 1 and H·W = 1, primes, [B, C], odd planes (buffer path), planes a
/// multiple of 4 past 64 K elements (texture path on lavapipe), B·H·W past 65 535 per channel on
/// both paths, and single planes so long that a lane's share is split into segments (loop budget).
const COND_SHAPES: &[&[usize]] = &[
    &[2, 1, 1, 1],
    &[3, 5, 7, 3],
    &[4, 7],
    &[5, 3, 1, 1],
    &[8, 16, 8, 8],
    &[16, 16, 32, 32],
    &[128, 3, 23, 23],
    &[64, 2, 32, 34],
    &[1, 1, 2001, 2001],
    &[1, 1, 1448, 1448],
];

/// Forward against the f64 reference, with and without ReLU, in both reduction variants. The
/// statistics are plain BN's (FWD_TOL gives the reasoning); |gain| ≤ 2 at most doubles the error
/// of x̂ (|x̂| ≤ ~8 here, |gain·x̂| ≤ 16, so 1e-4 absolute still holds).
#[test]
fn cond_forward_matches_reference() {
    let _device = shared();
    let d = dev();
    let mut rng = Rng::new(406);
    for (si, &shape) in COND_SHAPES.iter().enumerate() {
        let dm = dims(shape);
        let offset = if si % 2 == 1 { 50.0 } else { 0.0 };
        let x = as_f32(&rng.vec(shape.iter().product(), offset - 1.0, offset + 1.0));
        let xt = upload(&d, &x, shape);
        for relu in [false, true] {
            let s = CondRef::random(&mut rng, dm[0], dm[1], relu);
            let (gain, bias) = (upload(&d, &s.gain, &dm[..2]), upload(&d, &s.bias, &dm[..2]));
            let want = s.forward(&x, dm, &s.gain, &s.bias);
            for variant in VARIANTS {
                let y = cond_batch_norm2d_ex(&xt, &cond_bn(&gain, &bias, relu), variant).unwrap();
                assert_eq!(y.shape(), shape);
                let what = format!("cond {shape:?} {variant:?} relu={relu}");
                assert_close(&what, &y.to_vec().unwrap(), &want, FWD_TOL);
            }
        }
    }
}

/// With gain 1 and bias 0 the conditional forward is batch-statistics BN without affine, bit for
/// bit (scale invstd·1 and shift +0 are exact).
#[test]
fn cond_with_unit_gain_is_plain_batch_norm() {
    let _device = shared();
    let d = dev();
    let mut rng = Rng::new(407);
    for &shape in &[&[3, 5, 7, 3][..], &[16, 16, 32, 32]] {
        let dm = dims(shape);
        let x = upload(&d, &rng.vec(shape.iter().product(), -2.0, 2.0), shape);
        let (ones, zeros) = (
            Tensor::ones(&d, &dm[..2]).unwrap(),
            Tensor::zeros(&d, &dm[..2]).unwrap(),
        );
        for relu in [false, true] {
            let plain = x
                .batch_norm2d(&BatchNorm {
                    gamma: None,
                    beta: None,
                    running_mean: None,
                    running_var: None,
                    mode: BnMode::BatchStats,
                    eps: COND_EPS as f32,
                    relu,
                })
                .unwrap();
            let cond = x.cond_batch_norm2d(&cond_bn(&ones, &zeros, relu)).unwrap();
            assert_eq!(cond.to_vec().unwrap(), plain.to_vec().unwrap(), "{shape:?}");
        }
    }
}

/// x, gain and bias by central differences mid-graph (gradcheck's loss 2.5·Σ c ⊙ y), with and
/// without ReLU, both variants. The tolerance is plain BN's: f32 sums over ≤ 45 values against
/// f64 differences with h = 1e-6.
#[test]
fn cond_gradients_match_finite_differences() {
    let _device = shared();
    let mut rng = Rng::new(408);
    for &shape in &[&[3, 2, 3, 5][..], &[5, 3], &[2, 1, 4, 3], &[2, 3, 1, 1]] {
        let dm = dims(shape);
        for relu in [false, true] {
            for variant in VARIANTS {
                let s = CondRef::random(&mut rng, dm[0], dm[1], relu);
                let inputs = vec![
                    (rng.vec(shape.iter().product(), -2.0, 2.0), shape.to_vec()),
                    (s.gain.clone(), dm[..2].to_vec()),
                    (s.bias.clone(), dm[..2].to_vec()),
                ];
                let gpu = |t: &[Tensor]| {
                    cond_batch_norm2d_ex(&t[0], &cond_bn(&t[1], &t[2], relu), variant)
                };
                let cpu = |v: &[Vec<f64>]| s.forward(&v[0], dm, &v[1], &v[2]);
                let what = format!("cond {shape:?} {variant:?} relu={relu}");
                let tol = Tol {
                    rel: 1e-3,
                    abs: 1e-4,
                };
                gradcheck(&what, &inputs, &gpu, &cpu, tol);
            }
        }
    }
}

/// Backward against the f64 closed form where finite differences are out of reach: SNGAN's
/// generator shape [64, 256, 32, 32], B·H·W past 65 535 per channel, and single planes past the
/// loop budget on both paths (their dgain and dbias are sums over 2–4 M values).
#[test]
fn cond_large_backward_matches_closed_form() {
    let _device = shared();
    let d = dev();
    let mut rng = Rng::new(409);
    let cases: &[(&[usize], bool)] = &[
        (&[64, 256, 32, 32], true),
        (&[128, 3, 23, 23], false),
        (&[64, 2, 32, 34], true),
        (&[1, 1, 2001, 2001], false),
        (&[1, 1, 1448, 1448], true),
    ];
    for &(shape, relu) in cases {
        let dm = dims(shape);
        let s = CondRef::random(&mut rng, dm[0], dm[1], relu);
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let g = as_f32(&rng.vec(x.len(), -1.0, 1.0));
        let (dx, dgain, dbias) = s.backward(&x, &g, dm);
        let gt = upload(&d, &g, shape);
        for variant in VARIANTS {
            let xt = upload(&d, &x, shape).into_param();
            let gain = upload(&d, &s.gain, &dm[..2]).into_param();
            let bias = upload(&d, &s.bias, &dm[..2]).into_param();
            let y = cond_batch_norm2d_ex(&xt, &cond_bn(&gain, &bias, relu), variant).unwrap();
            y.backward_with(&gt).unwrap();
            let what = format!("{shape:?} {variant:?} relu={relu}");
            // dx: invstd·gain·g' (≤ ~3.5·2) plus terms of order 1/sqrt(n) carrying the sums'
            // error, as plain BN's dx.
            let dx_tol = Tol {
                rel: 1e-5,
                abs: 2e-4,
            };
            let got = |t: &Tensor| t.grad().unwrap().to_vec().unwrap();
            assert_close(&format!("dx {what}"), &got(&xt), &dx, dx_tol);
            // Per-plane sums of H·W terms of size ≤ ~3: partials of ≤ 16 384 terms err by
            // ~sqrt(16 384)·2^-24 of their size, and ~sqrt(H·W) of them add up.
            let sum_tol = Tol {
                rel: 1e-5,
                abs: 4.0 * 128.0 * 6e-8 * 3.0 * (dm[2] as f64).sqrt(),
            };
            assert_close(&format!("dgain {what}"), &got(&gain), &dgain, sum_tol);
            assert_close(&format!("dbias {what}"), &got(&bias), &dbias, sum_tol);
        }
    }
}

#[test]
fn cond_bad_arguments_are_errors() {
    let _device = shared();
    let d = dev();
    let x = Tensor::zeros(&d, &[2, 3, 4, 4]).unwrap();
    let ok = Tensor::ones(&d, &[2, 3]).unwrap();
    for bad in [&[3, 3][..], &[2, 4], &[6], &[2, 3, 1, 1]] {
        let t = Tensor::ones(&d, bad).unwrap();
        for (gain, bias) in [(&t, &ok), (&ok, &t)] {
            let e = x
                .cond_batch_norm2d(&cond_bn(gain, bias, false))
                .unwrap_err();
            assert!(matches!(e, Error::Shape { .. }), "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains("cond_batch_norm2d")
                    && msg.contains("[2, 3, 4, 4]")
                    && msg.contains(&format!("{bad:?}")),
                "{msg}"
            );
        }
    }
    let u = Tensor::from_u32(&d, &[0; 6], &[2, 3]).unwrap();
    let rank3 = Tensor::zeros(&d, &[2, 3, 4]).unwrap();
    let cases = [
        (&x, cond_bn(&u, &ok, false)),
        (&x, cond_bn(&ok, &u, false)),
        (&rank3, cond_bn(&ok, &ok, false)),
        (
            &x,
            CondBatchNorm {
                eps: -1.0,
                ..cond_bn(&ok, &ok, false)
            },
        ),
    ];
    for (input, cbn) in cases {
        let e = input.cond_batch_norm2d(&cbn).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
        assert!(e.to_string().contains("cond_batch_norm2d"), "{e}");
    }
    let ux = Tensor::from_u32(&d, &[0; 6], &[2, 3]).unwrap();
    assert!(matches!(
        ux.cond_batch_norm2d(&cond_bn(&ok, &ok, false)),
        Err(Error::Invalid { .. })
    ));
}
