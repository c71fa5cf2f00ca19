//! The long-tail losses (`src/train/loss.rs`) against golden vectors from an independent float64
//! numpy implementation of the spec (`tests/golden/losses.py` → `losses.json`): the loss, its
//! gradient (central differences there), la-posthoc's prediction, GCL's noise (a numpy Philox),
//! the knob defaults, §6.4's GCL amplitudes and §B.8's worked example.
//!
//! Tolerances, f32 engine vs f64 reference (inputs and knobs are exactly the f32 values both see):
//! an adjusted logit (prior, margin, noise, scale s) carries ≤ 2 roundings and the log-sum-exp
//! (max subtraction, exp, log) ≤ 2 more, so |Δẑ| ≤ dz = 4·ε₃₂·zmax, zmax = the case's largest
//! |ẑ|. A row loss lse(ẑ) − ẑ_y is then off by ≤ 2·dz; the batch mean, the class weights and the
//! focal power add ~B·ε₃₂ relative, covered by 1e-4 relative. The gradient is
//! factor·(softmax − onehot) with |factor| ≤ gscale (an a-priori bound from losses.py); softmax
//! moves by ≤ 2·dz under logit errors, plus ≤ 1e-5 for the rounding of exp, its C-term sum and
//! the division, so |Δg| ≤ gscale·(1e-5 + 2·dz). GCL adds the f32 noise's error: the measured
//! max |ΔN| moves ẑ by ≤ s·ε·|ΔN|/3 (amplitudes ≤ 1). The finite differences themselves are good
//! to < 1e-9·gscale (h = 1e-6 against h = 1e-4 agree to 1.5e-6·gscale, truncation ∝ h²).

mod common;
use common::max_abs_diff;
use serde::Deserialize;
use serde_json::{Map, Value};
use tailgrad::train::loss::NOISE_STREAM;
use tailgrad::train::{Loss, LossKnobs, Method};
use tailgrad::{Device, Generator, Tensor};

const EPS32: f64 = f32::EPSILON as f64;
const LOSS_REL: f64 = 1e-4;
const GRAD_REL: f64 = 1e-5;
/// f32 Box–Muller (log, sqrt, cos, sin) vs f64: lavapipe is within 2e-6 (tests/rng.rs); a wrong
/// seed, stream or counter is off by O(1).
const NOISE_ABS: f64 = 1e-5;

#[derive(Deserialize)]
struct Golden {
    philox: Philox,
    gcl_amp_cifar10: Amp,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Philox {
    seed: u64,
    stream: u32,
    counter: u64,
    n: usize,
    raw: Vec<u32>,
    normal: Vec<f64>,
}

#[derive(Deserialize)]
struct Amp {
    counts: Vec<usize>,
    amp: Vec<f64>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    method: Method,
    knobs: Map<String, Value>,
    counts: Vec<usize>,
    seed: u64,
    epoch: usize,
    forward_calls: usize,
    b: usize,
    c: usize,
    logits: Vec<f64>,
    labels: Vec<u32>,
    loss: f64,
    grad: Vec<f64>,
    zmax: f64,
    gscale: f64,
    predict: Option<Vec<f64>>,
    mask: Option<Vec<u8>>,
    soft_lambda: Option<f32>,
    noise: Option<Vec<f64>>,
}

fn golden() -> Golden {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/losses.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The case's knobs by name, starting from the defaults; an unknown name is a stale file.
fn knobs(map: &Map<String, Value>) -> LossKnobs {
    let mut k = LossKnobs::default();
    for (name, v) in map {
        let x = v.as_f64().unwrap();
        match name.as_str() {
            "focal_gamma" => k.focal_gamma = x as f32,
            "cb_beta" => k.cb_beta = x,
            "la_tau" => k.la_tau = x as f32,
            "ldam_max_m" => k.ldam_max_m = x as f32,
            "ldam_s" => k.ldam_s = x as f32,
            "drw_epoch" => k.drw_epoch = x as usize,
            "gcl_s" => k.gcl_s = x as f32,
            "gcl_m" => k.gcl_m = x as f32,
            "gcl_eps" => k.gcl_eps = x as f32,
            "gcl_gamma" => k.gcl_gamma = x as f32,
            other => panic!("losses.json: unknown knob {other}"),
        }
    }
    k
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// |err| ≤ tol, false for NaN.
fn within(err: f64, tol: f64) -> bool {
    err.abs() <= tol
}

/// The noise the engine's GCL draws at the case's last forward call, measured against numpy's:
/// returns max |ΔN| (asserted ≤ NOISE_ABS).
fn noise_error(d: &Device, case: &Case) -> f64 {
    let want = case.noise.as_ref().expect("gcl case without noise");
    let mut g = Generator::new(case.seed, NOISE_STREAM);
    g.set_counter(((case.forward_calls - 1) * (case.b * case.c).div_ceil(4)) as u64);
    let got = g.randn(d, &[case.b, case.c]).unwrap().to_vec().unwrap();
    let err = max_abs_diff(&got, want);
    assert!(
        err <= NOISE_ABS,
        "{}: Generator({}, NOISE_STREAM) noise differs from numpy's by {err:.3e}",
        case.name,
        case.seed
    );
    err
}

/// Runs one golden case; returns the mismatches found (empty when it passes).
fn run_case(d: &Device, case: &Case) -> Vec<String> {
    let k = knobs(&case.knobs);
    let mut loss = Loss::new(d, case.method, &k, &case.counts, case.seed).unwrap();
    if let Some(mask) = &case.mask {
        let mask: Vec<bool> = mask.iter().map(|&m| m != 0).collect();
        loss = loss.with_silencing(&mask, case.soft_lambda).unwrap();
    }
    let shape = [case.b, case.c];
    let z = Tensor::from_slice(d, &f32s(&case.logits), &shape)
        .unwrap()
        .into_param();
    let y = Tensor::from_u32(d, &case.labels, &[case.b]).unwrap();
    // GCL draws fresh noise per call: earlier calls only advance the generator.
    for _ in 1..case.forward_calls {
        loss.forward(&z, &y, case.epoch).unwrap();
    }
    let l = loss.forward(&z, &y, case.epoch).unwrap();
    l.backward().unwrap();
    let got_loss = l.item().unwrap() as f64;
    let got_grad = z
        .grad()
        .expect("no gradient reached the logits")
        .to_vec()
        .unwrap();

    let mut dz = 4.0 * EPS32 * case.zmax;
    if case.method == Method::Gcl {
        dz += k.gcl_s as f64 * k.gcl_eps as f64 * noise_error(d, case) / 3.0;
    }
    let mut bad = Vec::new();
    let loss_tol = LOSS_REL * case.loss.abs() + 2.0 * dz;
    if !within(got_loss - case.loss, loss_tol) {
        bad.push(format!(
            "{}: loss {got_loss} want {} (err {:.3e} > {loss_tol:.3e})",
            case.name,
            case.loss,
            (got_loss - case.loss).abs()
        ));
    }
    let grad_tol = case.gscale * (GRAD_REL + 2.0 * dz);
    let off: Vec<(usize, f32, f64)> = got_grad
        .iter()
        .zip(&case.grad)
        .enumerate()
        .filter(|(_, (&g, &w))| !within(g as f64 - w, grad_tol))
        .map(|(i, (&g, &w))| (i, g, w))
        .collect();
    if let Some(&(i, g, w)) = off.first() {
        bad.push(format!(
            "{}: {} of {} gradient entries off by > {grad_tol:.3e}, first grad[{}, {}] = {g} want {w}",
            case.name,
            off.len(),
            got_grad.len(),
            i / case.c,
            i % case.c
        ));
    }

    let pred = loss.predict(&z).unwrap();
    assert_eq!(pred.shape(), &shape, "{}: predict shape", case.name);
    let pred = pred.to_vec().unwrap();
    match &case.predict {
        Some(want) => {
            let tol = 4.0 * EPS32 * want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = max_abs_diff(&pred, want);
            if !within(err, tol) {
                bad.push(format!(
                    "{}: predict off by {err:.3e} > {tol:.3e}",
                    case.name
                ));
            }
        }
        None => {
            if pred != f32s(&case.logits) {
                bad.push(format!("{}: predict changed the logits", case.name));
            }
        }
    }
    bad
}

fn check_method(name: &str) {
    let d = common::dev();
    let method: Method = serde_json::from_value(Value::from(name)).unwrap();
    let g = golden();
    let cases: Vec<&Case> = g.cases.iter().filter(|c| c.method == method).collect();
    assert!(
        cases.len() >= 3,
        "{name}: only {} golden cases",
        cases.len()
    );
    let bad: Vec<String> = cases.iter().flat_map(|c| run_case(&d, c)).collect();
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn ce() {
    check_method("ce");
}

#[test]
fn focal() {
    check_method("focal");
}

#[test]
fn cb_ce() {
    check_method("cb-ce");
}

#[test]
fn cb_focal() {
    check_method("cb-focal");
}

#[test]
fn la() {
    check_method("la");
}

#[test]
fn la_posthoc() {
    check_method("la-posthoc");
}

/// Plain BalCE and BalCE with hard and soft neighbour silencing (§B.2, §B.3, §B.8).
#[test]
fn balce() {
    check_method("balce");
}

#[test]
fn ldam_drw() {
    check_method("ldam-drw");
}

#[test]
fn gcl() {
    check_method("gcl");
}

#[test]
fn golden_file_covers_every_method_and_both_drw_sides() {
    let g = golden();
    for m in Method::ALL {
        assert!(g.cases.iter().any(|c| c.method == m), "no case for {m:?}");
    }
    let drw = |after: bool| {
        g.cases
            .iter()
            .any(|c| c.method == Method::LdamDrw && (c.epoch > knobs(&c.knobs).drw_epoch) == after)
    };
    assert!(
        drw(false) && drw(true),
        "ldam-drw needs cases before and after drw_epoch"
    );
    for c in &g.cases {
        assert_eq!(c.logits.len(), c.b * c.c, "{}", c.name);
        assert_eq!(c.grad.len(), c.b * c.c, "{}", c.name);
        assert_eq!(c.labels.len(), c.b, "{}", c.name);
    }
}

/// §5.6 (LDAM-DRW recipe), §6.2 (GCL stage 1), the focal and class-balanced papers' defaults.
#[test]
fn knob_defaults_are_the_spec_values() {
    let k = LossKnobs::default();
    assert_eq!(
        (k.focal_gamma, k.cb_beta, k.la_tau),
        (1.0, 0.9999, 1.0),
        "focal / cb / la"
    );
    assert_eq!(
        (k.ldam_max_m, k.ldam_s, k.drw_epoch),
        (0.5, 30.0, 160),
        "ldam-drw"
    );
    assert_eq!(
        (k.gcl_s, k.gcl_m, k.gcl_eps, k.gcl_gamma),
        (30.0, 0.0, 0.5, 0.0),
        "gcl stage 1"
    );
}

/// The engine's generator against numpy's Philox4x32-10 + Box–Muller, with a seed using both key
/// words and a counter whose low word carries mid-call: the raw words bit for bit, the normals
/// to NOISE_ABS.
#[test]
fn philox_matches_numpy() {
    let d = common::dev();
    let p = golden().philox;
    assert_eq!(
        p.stream, NOISE_STREAM,
        "numpy draws GCL noise from another stream"
    );
    let mut g = Generator::new(p.seed, p.stream);
    g.set_counter(p.counter);
    assert_eq!(g.raw_u32(&d, p.n).unwrap().to_vec_u32().unwrap(), p.raw);
    g.set_counter(p.counter);
    let z = g.randn(&d, &[p.n]).unwrap().to_vec().unwrap();
    let err = max_abs_diff(&z, &p.normal);
    assert!(err <= NOISE_ABS, "normals off by {err:.3e}");
}

/// GCL's noise for every golden case, from the generator the loss draws it with, against numpy's
/// (kept apart from the loss check so that a noise mismatch names itself).
#[test]
fn gcl_noise_of_every_case_matches_numpy() {
    let d = common::dev();
    let g = golden();
    let gcl: Vec<&Case> = g.cases.iter().filter(|c| c.method == Method::Gcl).collect();
    assert!(!gcl.is_empty());
    for c in gcl {
        noise_error(&d, c);
    }
}

/// §6.4: GCL's normalised amplitudes for CIFAR-10-LT ρ=100, read back out of the engine's loss.
/// With zero logits, s = 1, ε = 1, m = 0 every row's softmax is ∝ exp(−δ_ij·ã_j) and ã_0 = 0, so
/// ã_j = −ln(p_ij / p_i0) / δ_ij; the row with the largest δ_ij gives the best estimate. The
/// gradient of the mean is (p − onehot)/B with label 0, so p_i0 = 1 + B·g_i0, p_ij = B·g_ij.
#[test]
fn gcl_amplitudes_match_section_6_4() {
    const SPEC: [f64; 10] = [
        0.0, 0.1111, 0.2223, 0.3334, 0.4447, 0.5556, 0.6667, 0.7780, 0.8899, 1.0,
    ];
    let d = common::dev();
    let golden = golden().gcl_amp_cifar10;
    let (b, c, seed) = (64, 10, 99);
    let knobs = LossKnobs {
        gcl_s: 1.0,
        gcl_m: 0.0,
        gcl_eps: 1.0,
        gcl_gamma: 0.0,
        ..LossKnobs::default()
    };
    let mut loss = Loss::new(&d, Method::Gcl, &knobs, &golden.counts, seed).unwrap();
    let z = Tensor::from_slice(&d, &vec![0.0; b * c], &[b, c])
        .unwrap()
        .into_param();
    let y = Tensor::from_u32(&d, &vec![0; b], &[b]).unwrap();
    loss.forward(&z, &y, 1).unwrap().backward().unwrap();
    let g = z.grad().unwrap().to_vec().unwrap();
    let noise = Generator::new(seed, NOISE_STREAM)
        .randn(&d, &[b, c])
        .unwrap()
        .to_vec()
        .unwrap();
    let delta = |i: usize, j: usize| (noise[i * c + j] as f64 / 3.0).clamp(-1.0, 1.0).abs();
    for j in 1..c {
        let i = (0..b)
            .max_by(|&p, &q| delta(p, j).total_cmp(&delta(q, j)))
            .unwrap();
        let p0 = 1.0 + b as f64 * g[i * c] as f64;
        let pj = b as f64 * g[i * c + j] as f64;
        let amp = -(pj / p0).ln() / delta(i, j);
        // p in f32 is good to ~1e-6 relative and δ > 0.3 (the largest of 64 half-normals of σ
        // 1/3 is ~0.8), so the estimate is good to ~1e-5: 2e-5 against numpy; the spec rounds
        // to 4 decimals, 5e-5 more.
        assert!(delta(i, j) > 0.3, "column {j}: no row with a usable δ");
        assert!(
            (amp - golden.amp[j]).abs() <= 2e-5,
            "class {j}: engine amplitude {amp}, numpy {}",
            golden.amp[j]
        );
        assert!(
            (amp - SPEC[j]).abs() <= 7e-5,
            "class {j}: engine amplitude {amp}, spec {}",
            SPEC[j]
        );
    }
}

/// §B.8's worked example, written out from the spec rather than from the golden file: K = 4,
/// targets {0, 1}, aux {2, 3}, nb(0) = {2}, par(2) = {0}, counts (100, 10, 50, 50), z = (1, 0, 2,
/// 0.5). y = 0 under `no_fm_remove_normal_neg` gives 0.2927; y = 2 under `..._back` gives 0.0267
/// (4 decimals in the spec). Silenced columns get exactly no gradient.
#[test]
fn neighbour_silencing_worked_example_of_b8() {
    let d = common::dev();
    let counts = [100, 10, 50, 50];
    #[rustfmt::skip]
    let normal_neg = [
        true, true, false, true,
        true, true, true, true,
        false, true, true, true,
        true, true, true, true,
    ];
    #[rustfmt::skip]
    let back = [
        true, true, false, true,
        true, true, true, true,
        false, true, true, false,
        true, true, false, true,
    ];
    for (mask, label, want, silenced) in [
        (&normal_neg, 0u32, 0.2927, vec![2]),
        (&back, 2, 0.0267, vec![0, 3]),
    ] {
        let mut loss = Loss::new(&d, Method::Balce, &LossKnobs::default(), &counts, 0)
            .unwrap()
            .with_silencing(mask, None)
            .unwrap();
        let z = Tensor::from_slice(&d, &[1.0, 0.0, 2.0, 0.5], &[1, 4])
            .unwrap()
            .into_param();
        let y = Tensor::from_u32(&d, &[label], &[1]).unwrap();
        let l = loss.forward(&z, &y, 1).unwrap();
        l.backward().unwrap();
        let got = l.item().unwrap() as f64;
        // Spec rounding (5e-5) plus the f32 loss error (≤ 2·4·ε₃₂·|ẑ|max, |ẑ| ≤ 3.1).
        assert!(
            (got - want).abs() <= 5e-5 + 8.0 * EPS32 * 3.1,
            "y = {label}: loss {got}, spec {want}"
        );
        let g = z.grad().unwrap().to_vec().unwrap();
        for j in silenced {
            assert!(
                g[j].abs() < 1e-30,
                "y = {label}: silenced column {j} has gradient {}",
                g[j]
            );
        }
    }
}
