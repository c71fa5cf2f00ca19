//! SGD and Adam/AdamW against f64 references of PyTorch's update rules, on parameters of awkward
//! sizes, with skipped parameters, a learning-rate schedule, state round trips, the one-dispatch
//! and no-allocation guarantees, and a small regression that must learn.

mod common;
use common::{as_f32, assert_close, dev, upload, Rng, Tol};
use std::sync::{Mutex, MutexGuard};
use tailgrad::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use tailgrad::{read_all, Device, Tensor};

/// Dispatch and allocation counters are device-wide: tests that read them must not overlap with
/// other tests of this file.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Awkward sizes: a scalar, a prime, one not a multiple of any tile, a prime-sided matrix.
const SHAPES: [&[usize]; 4] = [&[1], &[7], &[1000], &[13, 17]];
/// Gradient scale per parameter, so one run mixes tiny and large gradients.
const GRAD_SCALE: [f64; 4] = [1.0, 1e-3, 1.0, 10.0];

/// Parameter updates of a few f32 roundings per step, over at most 6 steps.
const TOL: Tol = Tol {
    rel: 2e-6,
    abs: 2e-6,
};

fn make_params(d: &Device, rng: &mut Rng) -> (Vec<Tensor>, Vec<Vec<f64>>) {
    let init: Vec<Vec<f64>> = SHAPES
        .iter()
        .map(|s| as_f32(&rng.vec(s.iter().product(), -1.0, 1.0)))
        .collect();
    let params = init
        .iter()
        .zip(SHAPES)
        .map(|(v, s)| upload(d, v, s).into_param())
        .collect();
    (params, init)
}

/// Random gradients for this step; `skip` gets none.
fn set_grads(
    d: &Device,
    params: &[Tensor],
    rng: &mut Rng,
    skip: Option<usize>,
) -> Vec<Option<Vec<f64>>> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.zero_grad();
            if skip == Some(i) {
                return None;
            }
            let s = GRAD_SCALE[i];
            let g = as_f32(&rng.vec(p.numel(), -s, s));
            p.backward_with(&upload(d, &g, p.shape())).unwrap();
            Some(g)
        })
        .collect()
}

fn check_params(what: &str, params: &[Tensor], want: &[Vec<f64>]) {
    let got = read_all(&params.iter().collect::<Vec<_>>()).unwrap();
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(&format!("{what}: param {k}"), g, w, TOL);
    }
}

struct RefSgd {
    cfg: SgdConfig,
    buf: Vec<Vec<f64>>,
}

impl RefSgd {
    /// PyTorch: d = g + wd·x; buf = μ·buf + d; x -= lr·(Nesterov ? d + μ·buf : buf).
    fn step(&mut self, lr: f64, x: &mut [Vec<f64>], grads: &[Option<Vec<f64>>]) {
        let mu = self.cfg.momentum as f64;
        let wd = self.cfg.weight_decay as f64;
        for ((x, g), buf) in x.iter_mut().zip(grads).zip(&mut self.buf) {
            let Some(g) = g else { continue };
            for i in 0..x.len() {
                let mut d = g[i] + wd * x[i];
                if mu > 0.0 {
                    buf[i] = mu * buf[i] + d;
                    d = if self.cfg.nesterov {
                        d + mu * buf[i]
                    } else {
                        buf[i]
                    };
                }
                x[i] -= lr * d;
            }
        }
    }
}

struct RefAdam {
    cfg: AdamConfig,
    m: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
    t: Vec<i32>,
}

impl RefAdam {
    /// PyTorch: bias-corrected moments, eps outside the sqrt, L2 or decoupled decay.
    fn step(&mut self, lr: f64, x: &mut [Vec<f64>], grads: &[Option<Vec<f64>>]) {
        let (b1, b2) = (self.cfg.betas.0 as f64, self.cfg.betas.1 as f64);
        let (eps, wd) = (self.cfg.eps as f64, self.cfg.weight_decay as f64);
        for (k, (x, g)) in x.iter_mut().zip(grads).enumerate() {
            let Some(g) = g else { continue };
            self.t[k] += 1;
            let (bc1, bc2) = (1.0 - b1.powi(self.t[k]), 1.0 - b2.powi(self.t[k]));
            for i in 0..x.len() {
                let mut gi = g[i];
                if self.cfg.decoupled_weight_decay {
                    x[i] *= 1.0 - lr * wd;
                } else {
                    gi += wd * x[i];
                }
                let m = b1 * self.m[k][i] + (1.0 - b1) * gi;
                let v = b2 * self.v[k][i] + (1.0 - b2) * gi * gi;
                self.m[k][i] = m;
                self.v[k][i] = v;
                x[i] -= lr / bc1 * m / ((v / bc2).sqrt() + eps);
            }
        }
    }
}

fn zeros_like(x: &[Vec<f64>]) -> Vec<Vec<f64>> {
    x.iter().map(|v| vec![0.0; v.len()]).collect()
}

/// The f32 learning rate at step `t` of a decaying schedule, as the GPU sees it.
fn schedule(lr0: f32, t: usize) -> f32 {
    lr0 * 0.8f32.powi(t as i32)
}

#[test]
fn sgd_matches_reference() {
    let _s = serial();
    let d = dev();
    let configs = [
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
        SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 1e-2,
            ..Default::default()
        },
        SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-2,
        },
    ];
    for (c, cfg) in configs.into_iter().enumerate() {
        let mut rng = Rng::new(100 + c as u64);
        let (params, mut want) = make_params(&d, &mut rng);
        let mut opt = Sgd::new(params.clone(), cfg).unwrap();
        let mut reference = RefSgd {
            cfg,
            buf: zeros_like(&want),
        };
        for t in 0..5 {
            let lr = schedule(cfg.lr, t);
            opt.set_lr(lr);
            assert_eq!(opt.lr(), lr);
            let grads = set_grads(&d, &params, &mut rng, (t == 2).then_some(1));
            opt.step().unwrap();
            reference.step(lr as f64, &mut want, &grads);
            check_params(&format!("sgd {cfg:?} step {t}"), &params, &want);
        }
        let state = opt.state().unwrap();
        if cfg.momentum > 0.0 {
            assert_eq!(state.len(), 1);
            assert_eq!(state[0].0, "momentum");
            let flat: Vec<f64> = reference.buf.concat();
            assert_close("sgd momentum", &state[0].1.to_vec().unwrap(), &flat, TOL);
        } else {
            assert!(state.is_empty());
        }
    }
}

#[test]
fn adam_and_adamw_match_reference() {
    let _s = serial();
    let d = dev();
    let base = AdamConfig {
        lr: 0.05,
        betas: (0.9, 0.999),
        eps: 1e-8,
        ..Default::default()
    };
    let configs = [
        base,
        AdamConfig {
            weight_decay: 0.1,
            ..base
        },
        AdamConfig {
            weight_decay: 0.1,
            decoupled_weight_decay: true,
            betas: (0.5, 0.9),
            eps: 1e-3,
            ..base
        },
    ];
    for (c, cfg) in configs.into_iter().enumerate() {
        let mut rng = Rng::new(200 + c as u64);
        let (params, mut want) = make_params(&d, &mut rng);
        let mut opt = Adam::new(params.clone(), cfg).unwrap();
        let mut reference = RefAdam {
            cfg,
            m: zeros_like(&want),
            v: zeros_like(&want),
            t: vec![0; want.len()],
        };
        // Skips put the parameters' step counts out of line, which splits the update into runs.
        let skips = [None, Some(2), None, Some(0), None, None];
        for (t, skip) in skips.into_iter().enumerate() {
            let lr = schedule(cfg.lr, t);
            opt.set_lr(lr);
            let grads = set_grads(&d, &params, &mut rng, skip);
            opt.step().unwrap();
            reference.step(lr as f64, &mut want, &grads);
            check_params(&format!("adam {cfg:?} step {t}"), &params, &want);
        }
        let state = opt.state().unwrap();
        let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["m", "v", "step"]);
        assert_close(
            "adam m",
            &state[0].1.to_vec().unwrap(),
            &reference.m.concat(),
            TOL,
        );
        // v ~ g² spans 1e-6..100 across parameters: compare relative to each value.
        let tol_v = Tol {
            rel: 1e-5,
            abs: 1e-12,
        };
        assert_close(
            "adam v",
            &state[1].1.to_vec().unwrap(),
            &reference.v.concat(),
            tol_v,
        );
        let steps: Vec<i32> = state[2]
            .1
            .to_vec_u32()
            .unwrap()
            .iter()
            .map(|&s| s as i32)
            .collect();
        assert_eq!(steps, reference.t);
    }
}

/// Dispatches one `step` records.
fn dispatches_of(d: &Device, opt: &mut dyn Optimizer) -> u64 {
    let before = d.counters().0;
    opt.step().unwrap();
    d.counters().0 - before
}

#[test]
fn one_dispatch_per_step_until_steps_diverge() {
    let _s = serial();
    let d = dev();
    let mut rng = Rng::new(7);
    let (params, _) = make_params(&d, &mut rng);
    let mut adam = Adam::new(params.clone(), AdamConfig::adamw()).unwrap();
    set_grads(&d, &params, &mut rng, None);
    assert_eq!(dispatches_of(&d, &mut adam), 1);
    // Skipping parameter 1 leaves runs [0], [2, 3] this step, then [0], [1], [2, 3] while the
    // step counts differ.
    set_grads(&d, &params, &mut rng, Some(1));
    assert_eq!(dispatches_of(&d, &mut adam), 2);
    set_grads(&d, &params, &mut rng, None);
    assert_eq!(dispatches_of(&d, &mut adam), 3);
    // SGD keeps no step count: one dispatch per run of parameters with gradients.
    let mut sgd = Sgd::new(params.clone(), SgdConfig::default()).unwrap();
    assert_eq!(dispatches_of(&d, &mut sgd), 1);
    params[3].zero_grad();
    assert_eq!(dispatches_of(&d, &mut sgd), 1);
    params[1].zero_grad();
    assert_eq!(dispatches_of(&d, &mut sgd), 2);
    sgd.zero_grad();
    assert_eq!(dispatches_of(&d, &mut sgd), 0);
    assert!(params.iter().all(|p| p.grad().is_none()));
}

/// A tiny two-layer-free model: loss = mean((Σ_j x_ij w_j + b − y_i)²) with its tape.
fn regression_loss(x: &Tensor, y: &Tensor, w: &Tensor, b: &Tensor) -> Tensor {
    let pred = x.mul(w).unwrap().sum(1, false).unwrap().add(b).unwrap();
    let r = pred.sub(y).unwrap();
    r.mul(&r).unwrap().mean_all().unwrap()
}

#[test]
fn steady_state_allocates_nothing_and_schedules_compile_nothing() {
    let _s = serial();
    let d = dev();
    let mut rng = Rng::new(11);
    let (n, k) = (37, 5);
    let x = upload(&d, &rng.vec(n * k, -1.0, 1.0), &[n, k]);
    let y = upload(&d, &rng.vec(n, -1.0, 1.0), &[n]);
    let w = upload(&d, &rng.vec(k, -1.0, 1.0), &[1, k]).into_param();
    let b = Tensor::zeros(&d, &[1]).unwrap().into_param();
    let mut opt = Adam::new(vec![w.clone(), b.clone()], AdamConfig::default()).unwrap();
    let w_buf_before = w.to_vec().unwrap();
    let mut created = vec![];
    let mut compiled = vec![];
    for t in 0..6 {
        opt.set_lr(schedule(0.1, t));
        let loss = regression_loss(&x, &y, &w, &b);
        loss.backward().unwrap();
        assert_eq!(dispatches_of(&d, &mut opt), 1);
        opt.zero_grad();
        loss.item().unwrap();
        created.push(d.buffers_created());
        compiled.push(d.pipelines_compiled());
    }
    // TAILGRAD_DEBUG=nopool turns buffer reuse off on purpose.
    let pooled =
        !std::env::var("TAILGRAD_DEBUG").is_ok_and(|v| v.split(',').any(|s| s == "nopool"));
    assert!(
        !pooled || created[1..].iter().all(|&c| c == created[1]),
        "buffers created per step: {created:?}"
    );
    assert!(
        compiled[1..].iter().all(|&c| c == compiled[1]),
        "pipelines per step: {compiled:?}"
    );
    // The parameter tensors were updated in place.
    assert_ne!(w.to_vec().unwrap(), w_buf_before);
}

fn fit(
    d: &Device,
    opt_of: &dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>,
    steps: usize,
) -> (f32, f32, Vec<f32>) {
    let mut rng = Rng::new(5);
    let (n, k) = (64, 5);
    let xv = rng.vec(n * k, -1.0, 1.0);
    let w_true = [1.5, -2.0, 0.5, 3.0, -1.0];
    let yv: Vec<f64> = (0..n)
        .map(|i| (0..k).map(|j| xv[i * k + j] * w_true[j]).sum::<f64>() + 0.7)
        .collect();
    let x = upload(d, &xv, &[n, k]);
    let y = upload(d, &yv, &[n]);
    let w = Tensor::zeros(d, &[1, k]).unwrap().into_param();
    let b = Tensor::zeros(d, &[1]).unwrap().into_param();
    let mut opt = opt_of(vec![w.clone(), b.clone()]);
    let first = regression_loss(&x, &y, &w, &b).item().unwrap();
    for _ in 0..steps {
        opt.zero_grad();
        regression_loss(&x, &y, &w, &b).backward().unwrap();
        opt.step().unwrap();
    }
    let last = regression_loss(&x, &y, &w, &b).item().unwrap();
    let mut wb = w.to_vec().unwrap();
    wb.extend(b.to_vec().unwrap());
    (first, last, wb)
}

#[test]
fn linear_regression_learns() {
    let _s = serial();
    let d = dev();
    let sgd = |p| -> Box<dyn Optimizer> {
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            ..Default::default()
        };
        Box::new(Sgd::new(p, cfg).unwrap())
    };
    let adam = |p| -> Box<dyn Optimizer> {
        let cfg = AdamConfig {
            lr: 0.1,
            ..Default::default()
        };
        Box::new(Adam::new(p, cfg).unwrap())
    };
    for (name, opt, steps) in [("sgd", &sgd as &dyn Fn(_) -> _, 150), ("adam", &adam, 300)] {
        let (first, last, wb) = fit(&d, opt, steps);
        assert!(last < 1e-4 * first, "{name}: loss {first} -> {last}");
        let want = [1.5, -2.0, 0.5, 3.0, -1.0, 0.7];
        let tol = Tol {
            rel: 0.0,
            abs: 1e-2,
        };
        assert_close(&format!("{name} fitted [w, b]"), &wb, &want, tol);
    }
}

#[test]
fn state_round_trip_resumes_bit_for_bit() {
    let _s = serial();
    let d = dev();
    type Make = dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>;
    let makers: [(&str, Box<Make>); 2] = [
        (
            "sgd",
            Box::new(|p| {
                let cfg = SgdConfig {
                    lr: 0.05,
                    momentum: 0.8,
                    ..Default::default()
                };
                Box::new(Sgd::new(p, cfg).unwrap())
            }),
        ),
        (
            "adamw",
            Box::new(|p| Box::new(Adam::new(p, AdamConfig::adamw()).unwrap())),
        ),
    ];
    for (name, make) in &makers {
        let mut rng = Rng::new(31);
        let (a, _) = make_params(&d, &mut rng);
        let mut opt_a = make(a.clone());
        for t in 0..3 {
            set_grads(&d, &a, &mut rng, (t == 1).then_some(3));
            opt_a.step().unwrap();
        }
        // A fresh optimizer over copies of the current values, resumed from the snapshot.
        let b: Vec<Tensor> = a
            .iter()
            .map(|p| {
                Tensor::from_slice(&d, &p.to_vec().unwrap(), p.shape())
                    .unwrap()
                    .into_param()
            })
            .collect();
        let mut opt_b = make(b.clone());
        opt_b.load_state(&opt_a.state().unwrap()).unwrap();
        for t in 0..2 {
            let mut ga = Rng::new(77 + t);
            let mut gb = Rng::new(77 + t);
            set_grads(&d, &a, &mut ga, None);
            set_grads(&d, &b, &mut gb, None);
            opt_a.step().unwrap();
            opt_b.step().unwrap();
        }
        for (pa, pb) in a.iter().zip(&b) {
            assert_eq!(pa.to_vec().unwrap(), pb.to_vec().unwrap(), "{name}");
        }
    }
}

#[test]
fn bad_arguments_are_errors() {
    let _s = serial();
    let d = dev();
    let p = Tensor::zeros(&d, &[3]).unwrap().into_param();
    let q = Tensor::zeros(&d, &[4]).unwrap().into_param();
    assert!(Sgd::new(vec![], SgdConfig::default()).is_err(), "empty");
    assert!(
        Sgd::new(vec![p.clone(), p.clone()], SgdConfig::default()).is_err(),
        "duplicate"
    );
    let labels = Tensor::from_u32(&d, &[1, 2], &[2]).unwrap();
    assert!(
        Adam::new(vec![labels], AdamConfig::default()).is_err(),
        "u32 parameter"
    );
    let nesterov = SgdConfig {
        nesterov: true,
        ..Default::default()
    };
    assert!(
        Sgd::new(vec![p.clone()], nesterov).is_err(),
        "nesterov without momentum"
    );
    let lr = SgdConfig {
        lr: -1.0,
        ..Default::default()
    };
    assert!(Sgd::new(vec![p.clone()], lr).is_err(), "negative lr");
    let betas = AdamConfig {
        betas: (0.9, 1.0),
        ..Default::default()
    };
    assert!(Adam::new(vec![p.clone()], betas).is_err(), "beta2 = 1");
    let mut adam = Adam::new(vec![p.clone(), q.clone()], AdamConfig::default()).unwrap();
    adam.set_lr(f32::NAN);
    assert!(adam.step().is_err(), "NaN lr");
    adam.set_lr(1e-3);
    let state = adam.state().unwrap();
    let mut wrong = state.clone();
    wrong[0].1 = Tensor::zeros(&d, &[6]).unwrap();
    assert!(adam.load_state(&wrong).is_err(), "m of the wrong length");
    assert!(adam.load_state(&state[..2]).is_err(), "no step");
    let mut extra = state.clone();
    extra.push(("momentum".into(), Tensor::zeros(&d, &[7]).unwrap()));
    assert!(adam.load_state(&extra).is_err(), "unexpected entry");
    let mut sgd = Sgd::new(vec![p, q], SgdConfig::default()).unwrap();
    assert!(sgd.load_state(&state).is_err(), "adam state into sgd");
    adam.load_state(&state).unwrap();
}
