//! The GAN losses and LeCam (`src/gan/`) against golden vectors from an independent float64 numpy
//! implementation (`tests/golden/gan_losses.py` → `gan_losses.json`): loss values, gradients
//! (central differences there), LeCam's EMAs over sequences of D steps on both sides of the start
//! step, its penalty and gradients, both variants, and resume (exact, and the gSR repo's quirk).
//!
//! Tolerances, f32 engine vs f64 reference (inputs and knobs are exactly the f32 values both see;
//! ε = f32::EPSILON, B = the batch):
//! - Loss: each per-sample term carries ≤ 4 roundings, softplus up to 12ε at |d| ≤ 30 (exp's
//!   error grows with |d|, tests/unary.rs), and the sequential batch sum ≤ (B/2)·ε of the sum of
//!   |terms|, so |Δ| ≤ (B/2 + 16)·ε·mag, mag = the loss with every term taken by absolute value.
//! - Loss gradients: each is ∂term/∂d / B with |∂term/∂d| ≤ 1 (hinge slopes, sigmoid, their
//!   t-weighted sums), built with ≤ 4 roundings and sigmoid's ≤ 10ε: |Δ| ≤ 16ε/B, plus 1e-8 for
//!   the finite differences (f64 rounding ε₆₄·|L|/h ≤ 4e-9 at h = 1e-6, L ≤ 16).
//! - LeCam EMAs: one update adds the batch mean's ≤ (B/2 + 2)·ε·dmax and the blend's 2ε·dmax;
//!   older errors shrink by the decay, so after k updates |Δα| ≤ k·(B/2 + 4)·ε·dmax.
//! - LeCam penalty: each relu argument x = d − α is off by ≤ |Δα| + ε·xmax, its square by
//!   2·xmax·that + ε·xmax², the mean adds (B/2 + 1)·ε·xmax²; two terms times λ:
//!   |ΔP| ≤ 2λ·(2·xmax·(|Δα| + ε·xmax) + (B/2 + 2)·ε·xmax²).
//! - LeCam gradients: ∂P/∂d_i = ±2λ·relu(x_i)/B: |Δ| ≤ (2λ/B)·(|Δα| + 5ε·xmax) + 1e-9 (the
//!   differences of a piecewise quadratic have no truncation error; rounding ≤ 4e-10).
//!
//! Each check is also shown to discriminate: the golden file carries, per case, the value of the
//! nearest wrong formula (t and 1 − t swapped; LeCam's second term with the other variant's
//! sign), and the test asserts it misses by far more than the tolerance (see the two tests).
//! Mutating the code fails them too: flipping the gSR variant's second-term sign misses its first
//! penalty by 0.19 against a tolerance of 8.2e-6, the canonical one's by 0.38 against 5.4e-5;
//! starting the penalty or the decay one step early, skipping the repo's zero EMA at step 0 or
//! its resumed mode, or swapping t and 1 − t in one branch each miss by 0.02 to 0.9.

mod common;
use common::{max_abs_diff, upload};
use serde::Deserialize;
use std::collections::BTreeMap;
use tailgrad::gan::{GanLoss, LeCam, LeCamConfig, LeCamVariant};
use tailgrad::train::{StateReader, StateWriter};
use tailgrad::{read_all, DType, Device, Error, Tensor};

const EPS32: f64 = f32::EPSILON as f64;
/// Finite-difference error of the golden loss gradients (see the module docs).
const FD_LOSS: f64 = 1e-8;
/// Finite-difference error of the golden LeCam gradients.
const FD_LECAM: f64 = 1e-9;

#[derive(Deserialize)]
struct Golden {
    losses: Vec<LossCase>,
    lecam: Vec<LeCamCase>,
}

#[derive(Deserialize)]
struct LossCase {
    name: String,
    loss: GanLoss,
    kind: String,
    shapes: BTreeMap<String, Vec<usize>>,
    inputs: BTreeMap<String, Vec<f64>>,
    value: f64,
    mag: f64,
    grads: BTreeMap<String, Vec<f64>>,
    swapped: Option<f64>,
}

#[derive(Deserialize)]
struct LeCamCase {
    name: String,
    variant: LeCamVariant,
    lambda: f32,
    decay: f32,
    start_step: u64,
    batch: usize,
    shape: Vec<usize>,
    resume_at: Option<usize>,
    repo_resume: bool,
    dmax: f64,
    steps: Vec<Record>,
}

/// One D step of a LeCam sequence.
#[derive(Deserialize)]
struct Record {
    step: u64,
    d_real: Vec<f64>,
    d_fake: Vec<f64>,
    ema_real: Vec<f64>,
    ema_fake: Vec<f64>,
    penalty: Option<f64>,
    flipped: Option<f64>,
    grad_real: Option<Vec<f64>>,
    grad_fake: Option<Vec<f64>>,
    xmax: Option<f64>,
}

fn golden() -> Golden {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/gan_losses.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Pushes a mismatch message unless |got − want| ≤ tol (NaN fails).
fn expect(bad: &mut Vec<String>, what: String, err: f64, tol: f64) {
    // A NaN error fails the comparison and is reported.
    if err.abs() <= tol {
        return;
    }
    bad.push(format!("{what}: off by {:.3e} > {tol:.3e}", err.abs()));
}

fn assert_none(bad: &[String]) {
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The loss of one golden case on GPU tensors (targets `t` are constants).
fn eval(case: &LossCase, x: &BTreeMap<String, Tensor>) -> tailgrad::Result<Tensor> {
    match case.kind.as_str() {
        "d" => case.loss.d_loss(&x["d_real"], &x["d_fake"]),
        "g" => case.loss.g_loss(&x["d_fake"]),
        "mixed" => case.loss.d_loss_mixed(&x["d"], &x["t"]),
        other => panic!("gan_losses.json: unknown kind {other}"),
    }
}

/// Runs one loss case; returns the mismatches (empty when it passes).
fn run_loss_case(d: &Device, case: &LossCase) -> Vec<String> {
    let x: BTreeMap<String, Tensor> = case
        .inputs
        .iter()
        .map(|(k, v)| {
            let t = upload(d, v, &case.shapes[k]);
            (k.clone(), if k == "t" { t } else { t.into_param() })
        })
        .collect();
    let loss = eval(case, &x).unwrap();
    assert_eq!(loss.shape(), &[1], "{}: loss shape", case.name);
    loss.backward().unwrap();
    let b = case.inputs.values().map(Vec::len).max().unwrap() as f64;
    let mut bad = Vec::new();
    let got = loss.item().unwrap() as f64;
    let tol = (b / 2.0 + 16.0) * EPS32 * case.mag;
    expect(
        &mut bad,
        format!("{} loss", case.name),
        got - case.value,
        tol,
    );
    for (k, want) in &case.grads {
        let g = x[k].grad().expect("no gradient reached a D output");
        assert_eq!(g.shape(), x[k].shape(), "{}: d/d{k} shape", case.name);
        let tol = 16.0 * EPS32 / want.len() as f64 + FD_LOSS;
        let err = max_abs_diff(&g.to_vec().unwrap(), want);
        expect(&mut bad, format!("{} d/d{k}", case.name), err, tol);
    }
    bad
}

/// Every loss case; for the mixed ones also that swapping t and 1 − t misses by > 1000× the loss
/// tolerance (the smallest margin in the file is 28,700×).
#[test]
fn losses_match_golden() {
    let d = common::dev();
    let g = golden();
    for loss in GanLoss::ALL {
        for kind in ["d", "g", "mixed"] {
            let n = g
                .losses
                .iter()
                .filter(|c| c.loss == loss && c.kind == kind)
                .count();
            assert!(n >= 3, "{loss} {kind}: only {n} golden cases");
        }
    }
    let bad: Vec<String> = g.losses.iter().flat_map(|c| run_loss_case(&d, c)).collect();
    assert_none(&bad);
    for c in g.losses.iter().filter(|c| c.kind == "mixed") {
        let b = c.inputs["d"].len() as f64;
        let tol = (b / 2.0 + 16.0) * EPS32 * c.mag;
        let miss = (c.swapped.unwrap() - c.value).abs();
        assert!(
            miss > 1000.0 * tol,
            "{}: t ↔ 1 − t only moves the loss by {miss:.3e}",
            c.name
        );
    }
}

fn lecam_config(case: &LeCamCase) -> LeCamConfig {
    LeCamConfig {
        lambda: case.lambda,
        decay: case.decay,
        start_step: case.start_step,
        variant: case.variant,
        repo_resume: case.repo_resume,
    }
}

/// Saves `lc` as a run state would, and restores it into a fresh LeCam of the case's config.
fn resume(d: &Device, case: &LeCamCase, lc: &LeCam, dir: &std::path::Path) -> LeCam {
    let path = dir.join("state.safetensors");
    let mut w = StateWriter::new();
    for (name, t) in lc.tensors() {
        w.tensor(name, t);
    }
    w.save(&path).unwrap();
    let mut fresh = LeCam::new(d, lecam_config(case), case.batch).unwrap();
    let r = StateReader::load(&path).unwrap();
    fresh.load(|n, s| r.tensor(n, DType::F32, s)).unwrap();
    r.finish().unwrap();
    fresh
}

/// The tolerances of one LeCam record after `k` updates: (EMA, penalty, gradient).
fn lecam_tols(case: &LeCamCase, rec: &Record, k: usize) -> (f64, f64, f64) {
    let b = case.batch as f64;
    let lambda = case.lambda as f64;
    let ema = k as f64 * (b / 2.0 + 4.0) * EPS32 * case.dmax;
    let x = rec.xmax.unwrap_or(0.0);
    let penalty = 2.0 * lambda * (2.0 * x * (ema + EPS32 * x) + (b / 2.0 + 2.0) * EPS32 * x * x);
    let grad = 2.0 * lambda / b * (ema + 5.0 * EPS32 * x) + FD_LECAM;
    (ema, penalty, grad)
}

/// Checks one D step: EMAs, the penalty's presence, value and gradients.
fn check_record(d: &Device, case: &LeCamCase, lc: &mut LeCam, i: usize, bad: &mut Vec<String>) {
    let rec = &case.steps[i];
    let what = format!("{} [{i}] step {}", case.name, rec.step);
    let real = upload(d, &rec.d_real, &case.shape).into_param();
    let fake = upload(d, &rec.d_fake, &case.shape).into_param();
    let p = lc.regularize(&real, &fake, rec.step).unwrap();
    assert_eq!(p.is_some(), lc.active(rec.step), "{what}: active()");
    let (ema_tol, p_tol, g_tol) = lecam_tols(case, rec, i + 1);
    let emas = read_all(&[lc.ema_real(), lc.ema_fake()]).unwrap();
    expect(
        bad,
        format!("{what} ema_real"),
        max_abs_diff(&emas[0], &rec.ema_real),
        ema_tol,
    );
    expect(
        bad,
        format!("{what} ema_fake"),
        max_abs_diff(&emas[1], &rec.ema_fake),
        ema_tol,
    );
    assert!(
        !lc.ema_real().requires_grad() && !lc.ema_fake().requires_grad(),
        "{what}: EMA in a graph"
    );
    let (p, want) = match (p, rec.penalty) {
        (None, None) => return,
        (Some(p), Some(want)) => (p, want),
        (p, want) => panic!("{what}: penalty {:?}, golden {want:?}", p.is_some()),
    };
    p.backward().unwrap();
    expect(
        bad,
        format!("{what} penalty"),
        p.item().unwrap() as f64 - want,
        p_tol,
    );
    for (t, want, name) in [
        (&real, &rec.grad_real, "d_real"),
        (&fake, &rec.grad_fake, "d_fake"),
    ] {
        let g = t.grad().unwrap().to_vec().unwrap();
        expect(
            bad,
            format!("{what} d/d{name}"),
            max_abs_diff(&g, want.as_ref().unwrap()),
            g_tol,
        );
    }
}

fn run_lecam_case(d: &Device, index: usize, case: &LeCamCase) -> Vec<String> {
    let dir = common::scratch(&format!("lecam-{index}"));
    let mut lc = LeCam::new(d, lecam_config(case), case.batch).unwrap();
    let mut bad = Vec::new();
    for i in 0..case.steps.len() {
        if case.resume_at == Some(i) {
            lc = resume(d, case, &lc, &dir);
        }
        check_record(d, case, &mut lc, i, &mut bad);
    }
    bad
}

/// Both variants through sequences of D steps (canonical across its start step, from 998 to
/// 1002 with the defaults; the gSR repo's from step 0), with exact resumes and the repo's
/// resumed mode.
#[test]
fn lecam_matches_golden() {
    let d = common::dev();
    let g = golden();
    for v in LeCamVariant::ALL {
        assert!(
            g.lecam.iter().filter(|c| c.variant == v).count() >= 3,
            "{v}: too few cases"
        );
    }
    let bad: Vec<String> = (g.lecam.iter().enumerate())
        .flat_map(|(i, c)| run_lecam_case(&d, i, c))
        .collect();
    assert_none(&bad);
}

/// The golden data can tell the variants' second terms apart: with the other sign every
/// penalty moves by > 100× its tolerance (the smallest margin in the file is 743×).
#[test]
fn lecam_golden_tells_the_signs_apart() {
    let g = golden();
    let mut worst = f64::INFINITY;
    for case in &g.lecam {
        for (i, rec) in case.steps.iter().enumerate() {
            if let (Some(p), Some(f)) = (rec.penalty, rec.flipped) {
                worst = worst.min((p - f).abs() / lecam_tols(case, rec, i + 1).1);
            }
        }
    }
    eprintln!("smallest sign margin: {worst:.0}× the tolerance");
    assert!(
        worst > 100.0,
        "a flipped sign misses by only {worst:.1}× the tolerance"
    );
}

#[test]
fn defaults_are_the_spec_values() {
    assert_eq!(GanLoss::default(), GanLoss::Hinge);
    let c = LeCamConfig::default();
    assert_eq!((c.lambda, c.decay, c.start_step), (0.3, 0.99, 1000));
    assert_eq!((c.variant, c.repo_resume), (LeCamVariant::Canonical, false));
}

#[test]
fn names_parse_and_print() {
    for l in GanLoss::ALL {
        assert_eq!(l.to_string().parse::<GanLoss>().unwrap(), l);
    }
    for v in LeCamVariant::ALL {
        assert_eq!(v.to_string().parse::<LeCamVariant>().unwrap(), v);
    }
    assert!(matches!("wgan".parse::<GanLoss>(), Err(Error::Config(_))));
    assert!(matches!(
        "gsr".parse::<LeCamVariant>(),
        Err(Error::Config(_))
    ));
    let c: LeCamConfig = toml::from_str("variant = \"gsr-repo\"\ndecay = 0.9").unwrap();
    assert_eq!(
        (c.variant, c.decay, c.lambda),
        (LeCamVariant::GsrRepo, 0.9, 0.3)
    );
    assert!(
        toml::from_str::<LeCamConfig>("lamda = 0.1").is_err(),
        "unknown key accepted"
    );
}

#[test]
fn bad_shapes_and_configs_are_typed_errors() {
    let d = common::dev();
    let x = |shape: &[usize]| Tensor::zeros(&d, shape).unwrap();
    let hinge = GanLoss::Hinge;
    assert!(matches!(
        hinge.d_loss(&x(&[4, 2]), &x(&[4])),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        hinge.g_loss(&x(&[4, 1, 1])),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        hinge.d_loss_mixed(&x(&[4]), &x(&[3])),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        GanLoss::Bce.d_loss_mixed(&x(&[4, 1]), &x(&[1, 4])),
        Err(Error::Shape { .. })
    ));

    let gsr = LeCamConfig {
        variant: LeCamVariant::GsrRepo,
        ..LeCamConfig::default()
    };
    let mut lc = LeCam::new(&d, gsr, 4).unwrap();
    assert!(matches!(
        lc.regularize(&x(&[4]), &x(&[5]), 3),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        lc.penalty(&x(&[1]), &x(&[4]), 3),
        Err(Error::Shape { .. })
    ));
    let wrong = |_: &str, _: &[usize]| Tensor::zeros(&d, &[5]);
    assert!(matches!(lc.load(wrong), Err(Error::Invalid { .. })));
    for bad in [
        LeCamConfig {
            decay: 1.0,
            ..LeCamConfig::default()
        },
        LeCamConfig {
            lambda: -0.1,
            ..LeCamConfig::default()
        },
        LeCamConfig {
            repo_resume: true,
            ..LeCamConfig::default()
        },
    ] {
        assert!(matches!(LeCam::new(&d, bad, 4), Err(Error::Config(_))));
    }
}
