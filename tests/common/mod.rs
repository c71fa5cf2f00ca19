//! Shared test helpers: a seeded generator, f64 references, named tolerances and a mid-graph
//! central-difference gradient check.
#![allow(dead_code)]

pub mod bn;
pub mod gan;
pub mod run_dir;

use std::path::{Path, PathBuf};
use tailgrad::{Device, Result, Tensor};

pub fn dev() -> Device {
    Device::get().expect("a GPU adapter (install mesa-vulkan-drivers)")
}

/// xorshift64*: reproducible test data without a rand dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

pub fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Values round-tripped through f32, so the f64 reference sees exactly what the GPU sees.
pub fn as_f32(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| x as f32 as f64).collect()
}

pub fn upload(d: &Device, v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(d, &f32s(v), shape).unwrap()
}

/// A named rel + abs tolerance: |got − want| ≤ abs + rel·|want|.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub rel: f64,
    pub abs: f64,
}

pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: Tol) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w).abs();
        let allowed = tol.abs + tol.rel * w.abs();
        // Written so that NaN on either side fails.
        if !(err <= allowed || (g as f64) == w) {
            panic!("{what}: index {i}: got {g}, want {w} (err {err:.3e} > allowed {allowed:.3e}, {tol:?})");
        }
    }
}

/// The largest |got − want|, NaN if any is.
pub fn max_abs_diff(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0, |m, e| if e.is_nan() || e > m { e } else { m })
}

/// Central differences of a scalar f64 function, step h.
pub fn finite_diff(f: &dyn Fn(&[Vec<f64>]) -> f64, inputs: &[Vec<f64>], h: f64) -> Vec<Vec<f64>> {
    inputs
        .iter()
        .enumerate()
        .map(|(k, x)| {
            (0..x.len())
                .map(|i| {
                    let mut plus = inputs.to_vec();
                    let mut minus = inputs.to_vec();
                    plus[k][i] += h;
                    minus[k][i] -= h;
                    (f(&plus) - f(&minus)) / (2.0 * h)
                })
                .collect()
        })
        .collect()
}

/// Checks an op's backward rule mid-graph: loss = 2.5 · Σ c ⊙ op(x...) with random c, so the rule
/// must chain a non-unit upstream gradient. `gpu` builds op on parameters; `cpu` is the f64
/// reference of op. Gradients are compared against central differences of the f64 loss.
pub fn gradcheck(
    name: &str,
    inputs: &[(Vec<f64>, Vec<usize>)],
    gpu: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    cpu: &dyn Fn(&[Vec<f64>]) -> Vec<f64>,
    tol: Tol,
) {
    let d = dev();
    let xs: Vec<Vec<f64>> = inputs.iter().map(|(v, _)| as_f32(v)).collect();
    let params: Vec<Tensor> = xs
        .iter()
        .zip(inputs)
        .map(|(v, (_, s))| upload(&d, v, s).into_param())
        .collect();
    let y = gpu(&params).unwrap();
    let mut rng = Rng::new(0xC0FFEE);
    let c = as_f32(&rng.vec(y.numel(), -1.0, 1.0));
    let ct = upload(&d, &c, y.shape());
    let loss = y.mul(&ct).unwrap().sum_all().unwrap().scale(2.5).unwrap();
    loss.backward().unwrap();
    let f = |v: &[Vec<f64>]| 2.5 * cpu(v).iter().zip(&c).map(|(a, b)| a * b).sum::<f64>();
    let want = finite_diff(&f, &xs, 1e-6);
    for (k, p) in params.iter().enumerate() {
        let g = p
            .grad()
            .unwrap_or_else(|| panic!("{name}: input {k} got no gradient"))
            .to_vec()
            .unwrap();
        assert_close(&format!("{name} d/dx{k}"), &g, &want[k], tol);
    }
}

/// A fresh, empty directory for one test, removed when the test passes (kept for a look if it
/// fails).
pub struct Scratch(pub PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn scratch(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("tailgrad-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Per-step `(buffers_created, pipelines_compiled, submits)` marks of a training loop: from the
/// third step on, no new buffers, no new pipelines and one submit per step.
pub fn assert_steady(marks: &[(u64, usize, u64)]) {
    for w in marks[2..].windows(2) {
        assert_eq!(
            (w[1].0, w[1].1),
            (w[0].0, w[0].1),
            "allocation or compile after step 2: {marks:?}"
        );
        assert_eq!(
            w[1].2 - w[0].2,
            1,
            "more than one submit in a step: {marks:?}"
        );
    }
}

/// Tests that count dispatches on the shared device run one at a time behind this lock.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Dispatches per (shader, entry point).
pub type Counts = std::collections::HashMap<(&'static str, &'static str), u64>;

/// Dispatches per kernel that `f` records.
pub fn dispatched(d: &Device, f: impl FnOnce()) -> Counts {
    let before = d.dispatch_counts();
    f();
    let mut counts = d.dispatch_counts();
    for (k, n) in counts.iter_mut() {
        *n -= before.get(k).copied().unwrap_or(0);
    }
    counts.retain(|_, n| *n > 0);
    counts
}
