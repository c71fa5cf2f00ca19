//! FID/KID statistics (`src/eval/`) against golden vectors from an independent float64
//! numpy/scipy implementation (`tests/golden/fid.py` → `fid.json`): feature sets of dim 1, 7, 64,
//! 130 and n 2, 3, 50, 257, including rank-deficient, near-singular, equal-covariance,
//! large-offset and self pairs (see the script's header).
//!
//! Tolerances (u = 2⁻²⁴, the f32 unit roundoff; ε₆₄ = f64::EPSILON):
//! - Covariance: the GPU forms Σₖ cₖᵢcₖⱼ over K = min(n, CHUNK) rows in f32 from c = x − r
//!   rounded to f32 once. Any f32 summation order is within γ_K·Σₖ|cₖᵢcₖⱼ| (Higham, Thm 3.1),
//!   the input rounding adds 2u of the same sum, so entry (i, j) is allowed
//!   (K + 2)·u·1.01·Σₖ|cₖᵢcₖⱼ|/(n − 1) (≈ 1.5e-5 relative to √(Σᵢᵢ Σⱼⱼ) at K = 257), with c
//!   taken about the reference r the module docs promise (the first chunk's mean). A naive
//!   unshifted E[xxᵀ] − μμᵀ on the large-offset sets misses by ~10 where this allows ~3e-5.
//! - Mean: u·√Σᵢᵢ from rounding c to f32, plus n·ε₆₄·max|xᵢ| for the f64 sums.
//! - FID from the golden f64 mean/cov: 1e-6 relative to the exact value (the script's nuclear-
//!   norm formula), plus the eigen formula's own clipping noise 2·dim·√(ε₆₄·λmax(Σ₁)λmax(Σ₂))
//!   (a zero eigenvalue comes out as ±ε‖M‖ and its root adds up to √(ε‖M‖)); the script
//!   asserts numpy's eigen formula is within the same bound.
//! - FID end to end from the f32 features: see `fid_end_to_end_from_features`.
//! - MMD²: each f32 Gram entry g is within γ_d·Σₗ|xₗyₗ|, so its kernel (g/d + 1)³ within
//!   3(|g|/d + 1 + δ)²·δ, δ = that bound over d; the test sums those bounds with the estimator's
//!   weights (computed per case from the data), plus 1e-12 of the kernel sums for f64 rounding.

mod common;
use common::{dev, Rng};
use serde::Deserialize;
use tailgrad::eval::stats::CHUNK;
use tailgrad::eval::{fid, frechet_distance, kid, kid_indices, mmd2_unbiased, FeatureStats};
use tailgrad::Error;

const U: f64 = 1.0 / (1u64 << 24) as f64;
const EPS64: f64 = f64::EPSILON;

#[derive(Deserialize)]
struct Golden {
    sets: Vec<Set>,
    fid: Vec<FidCase>,
    kid: Vec<KidCase>,
}

#[derive(Deserialize)]
struct Set {
    name: String,
    n: usize,
    dim: usize,
    exp: i32,
    ints: Vec<i64>,
    mean: Vec<f64>,
    cov_upper: Vec<f64>,
    eig_min: f64,
    eig_max: f64,
}

#[derive(Deserialize)]
struct FidCase {
    a: String,
    b: String,
    fid: f64,
    fid_svd: f64,
}

#[derive(Deserialize)]
struct KidCase {
    a: String,
    b: String,
    ix: Vec<usize>,
    iy: Vec<usize>,
    mmd2: f64,
}

fn golden() -> Golden {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/fid.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

impl Set {
    /// The features, exact in f32 (integers times 2^-exp).
    fn features(&self) -> Vec<f32> {
        let scale = (2.0f64).powi(-self.exp);
        self.ints
            .iter()
            .map(|&i| (i as f64 * scale) as f32)
            .collect()
    }

    /// The golden covariance, dim × dim row-major, from its stored upper triangle.
    fn cov(&self) -> Vec<f64> {
        let d = self.dim;
        let mut c = vec![0.0; d * d];
        let mut k = 0;
        for i in 0..d {
            for j in i..d {
                c[i * d + j] = self.cov_upper[k];
                c[j * d + i] = self.cov_upper[k];
                k += 1;
            }
        }
        c
    }

    fn stats(&self) -> FeatureStats {
        FeatureStats::from_parts(self.n, self.dim, self.mean.clone(), self.cov()).unwrap()
    }

    fn trace(&self) -> f64 {
        let c = self.cov();
        (0..self.dim).map(|i| c[i * self.dim + i]).sum()
    }
}

impl Golden {
    fn set(&self, name: &str) -> &Set {
        self.sets.iter().find(|s| s.name == name).unwrap()
    }
}

/// The covariance and mean bounds of the module docs for `x` (n × dim), with c about the first
/// chunk's mean as the implementation shifts.
fn stats_bounds(x: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / dim;
    let k = n.min(CHUNK) as f64;
    let r = col_mean(&x[..n.min(CHUNK) * dim], dim);
    let c: Vec<f64> = x
        .iter()
        .zip(r.iter().cycle())
        .map(|(&v, &r)| v as f64 - r)
        .collect();
    // Σₖ|cₖᵢcₖⱼ|, plus the s sᵀ/n term's share of the input rounding: u(|sᵢ|Aⱼ + |sⱼ|Aᵢ)/n.
    let (mut abs, mut s, mut a) = (vec![0.0; dim * dim], vec![0.0; dim], vec![0.0; dim]);
    for row in c.chunks(dim) {
        for i in 0..dim {
            s[i] += row[i];
            a[i] += row[i].abs();
            for j in 0..dim {
                abs[i * dim + j] += (row[i] * row[j]).abs();
            }
        }
    }
    let nf = n as f64;
    let cov_tol = (0..dim * dim)
        .map(|ij| {
            let (i, j) = (ij / dim, ij % dim);
            let prod = (k + 2.0) * U * 1.01 * abs[ij];
            let corr = U * (s[i].abs() * a[j] + s[j].abs() * a[i]) / nf;
            (prod + corr) / (nf - 1.0) + 8.0 * EPS64 * abs[ij] / (nf - 1.0)
        })
        .collect();
    let max_abs = |i: usize| {
        x.iter()
            .skip(i)
            .step_by(dim)
            .fold(0.0f64, |m, &v| m.max((v as f64).abs()))
    };
    let mean_tol = (0..dim)
        .map(|i| U * (abs[i * dim + i] / nf).sqrt() + nf * EPS64 * max_abs(i))
        .collect();
    (cov_tol, mean_tol)
}

fn col_mean(x: &[f32], dim: usize) -> Vec<f64> {
    let n = (x.len() / dim) as f64;
    (0..dim)
        .map(|i| {
            x.iter()
                .skip(i)
                .step_by(dim)
                .map(|&v| v as f64)
                .sum::<f64>()
                / n
        })
        .collect()
}

/// Checks `got` against the reference with the bounds of `stats_bounds`; returns the worst
/// error as a fraction of its bound.
fn check_stats(what: &str, got: &FeatureStats, x: &[f32], mean: &[f64], cov: &[f64]) -> f64 {
    let (cov_tol, mean_tol) = stats_bounds(x, got.dim());
    let mut worst = 0.0f64;
    for (i, ((g, w), t)) in got.mean().iter().zip(mean).zip(&mean_tol).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= *t,
            "{what}: mean[{i}] {g} vs {w} (err {err:.3e} > {t:.3e})"
        );
        worst = worst.max(err / t);
    }
    for (ij, ((g, w), t)) in got.cov().iter().zip(cov).zip(&cov_tol).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= *t,
            "{what}: cov[{}, {}] {g} vs {w} (err {err:.3e} > {t:.3e})",
            ij / got.dim(),
            ij % got.dim()
        );
        worst = worst.max(err / t);
    }
    worst
}

#[test]
fn stats_match_golden() {
    let (d, g) = (dev(), golden());
    for set in &g.sets {
        let x = set.features();
        let got = FeatureStats::of(&d, &x, set.dim).unwrap();
        assert_eq!((got.n(), got.dim()), (set.n, set.dim), "{}", set.name);
        let worst = check_stats(&set.name, &got, &x, &set.mean, &set.cov());
        eprintln!("stats {}: worst error {worst:.3} of its bound", set.name);
    }
}

/// Several chunks, a 1e4 offset and a mean that drifts by 2 per chunk (unshuffled data), against
/// a two-pass f64 reference. Without the shift the f32 products of ~1e8 miss by far more.
#[test]
fn stats_stream_over_chunks_with_offset_and_drift() {
    let d = dev();
    let (n, dim) = (2 * CHUNK + 300, 5);
    let mut rng = Rng::new(11);
    let x: Vec<f32> = (0..n * dim)
        .map(|k| {
            let drift = 2.0 * ((k / dim) / CHUNK) as f64;
            let spread = 0.5 + (k % dim) as f64 * 0.3;
            (1e4 + drift + spread * rng.uniform(-1.7, 1.7)) as f32
        })
        .collect();
    let mean = col_mean(&x, dim);
    let mut cov = vec![0.0; dim * dim];
    for row in x.chunks(dim) {
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] += (row[i] as f64 - mean[i]) * (row[j] as f64 - mean[j]);
            }
        }
    }
    cov.iter_mut().for_each(|c| *c /= (n - 1) as f64);
    let got = FeatureStats::of(&d, &x, dim).unwrap();
    let worst = check_stats("chunks", &got, &x, &mean, &cov);
    eprintln!("stats over chunks: worst error {worst:.3} of its bound");
}

/// The eigen formula's clipping noise (module docs).
fn clip_noise(a: &Set, b: &Set) -> f64 {
    2.0 * a.dim as f64 * (EPS64 * a.eig_max * b.eig_max).sqrt()
}

fn scale(a: &Set, b: &Set) -> f64 {
    let dmu: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    a.trace() + b.trace() + dmu
}

#[test]
fn fid_from_golden_stats() {
    let g = golden();
    for case in &g.fid {
        let (a, b) = (g.set(&case.a), g.set(&case.b));
        let got = frechet_distance(&a.mean, &a.cov(), &b.mean, &b.cov(), a.dim).unwrap();
        let want = case.fid_svd;
        let tol = 1e-6 * want.abs() + clip_noise(a, b);
        let err = (got - want).abs();
        eprintln!(
            "fid {} {}: {got} vs {want} (numpy eigen {}), err {err:.3e}, tol {tol:.3e}",
            a.name, b.name, case.fid
        );
        assert!(err <= tol, "FID {} vs {}: {got} vs {want}", a.name, b.name);
    }
}

/// Whether either covariance has an eigenvalue below 1e-6 of its largest (rank-deficient or
/// near-singular).
fn singular(a: &Set, b: &Set) -> bool {
    [a, b].iter().any(|s| s.eig_min < 1e-6 * s.eig_max)
}

/// Stats from the features on the GPU, then FID, against the exact golden value.
///
/// Tolerance, relative to scale = tr Σ₁ + tr Σ₂ + ‖Δμ‖²: the GPU covariances carry up to
/// ~1.5e-5 of √(ΣᵢᵢΣⱼⱼ) per entry (above). With full-rank covariances FID is smooth in them and
/// the trace terms move by that fraction, so 1e-5·scale (observed on lavapipe: ≤ 4e-8). With a
/// singular covariance, tr (Σ₁Σ₂)^{1/2} is only Hölder-½ continuous: an O(δ) perturbation of a
/// zero eigenvalue moves its root by O(√δ), and rigorous bounds (Powers–Størmer) exceed 1% of the
/// scale, so these cases get 2e-4·scale, an engineering bound (observed: ≤ 5.5e-5, sub64 vs a64).
/// The f64 path is checked tightly by `fid_from_golden_stats`; this test guards the composition
/// (a wrong divisor or mean moves FID by ~1e-2 of the scale).
#[test]
fn fid_end_to_end_from_features() {
    let (d, g) = (dev(), golden());
    for case in &g.fid {
        let (a, b) = (g.set(&case.a), g.set(&case.b));
        let sa = FeatureStats::of(&d, &a.features(), a.dim).unwrap();
        let sb = FeatureStats::of(&d, &b.features(), b.dim).unwrap();
        let got = fid(&sa, &sb).unwrap();
        let rel = if singular(a, b) { 2e-4 } else { 1e-5 };
        let err = (got - case.fid_svd).abs();
        eprintln!(
            "end to end {} {}: err {:.3e} of scale (allowed {rel:.0e})",
            a.name,
            b.name,
            err / scale(a, b)
        );
        assert!(
            err <= rel * scale(a, b),
            "FID {} {}: {got} vs {}",
            a.name,
            b.name,
            case.fid_svd
        );
    }
}

#[test]
fn fid_of_a_set_with_itself() {
    let g = golden();
    // Full rank (n 257 > dim 64): the cancellation leaves rounding only.
    let a = g.set("a64");
    let got = fid(&a.stats(), &a.stats()).unwrap();
    assert!(got.abs() <= 1e-9 * a.trace(), "FID(a64, a64) = {got}");
    let gpu = FeatureStats::of(&dev(), &a.features(), a.dim).unwrap();
    let got = fid(&gpu, &gpu).unwrap();
    assert!(
        got.abs() <= 1e-9 * a.trace(),
        "FID(a64, a64) from GPU stats = {got}"
    );
    // Rank 49 of 130: the clipped null space adds its noise (module docs of src/eval/fid.rs).
    let r = g.set("r130");
    let got = fid(&r.stats(), &r.stats()).unwrap();
    assert!(got.abs() <= clip_noise(r, r), "FID(r130, r130) = {got}");
    eprintln!("FID(r130, r130) = {got:.3e}, tr Σ {:.3}", r.trace());
}

#[test]
fn fid_is_symmetric() {
    let g = golden();
    for case in &g.fid {
        let (a, b) = (g.set(&case.a), g.set(&case.b));
        let ab = fid(&a.stats(), &b.stats()).unwrap();
        let ba = fid(&b.stats(), &a.stats()).unwrap();
        let tol = 1e-9 * scale(a, b) + clip_noise(a, b);
        assert!(
            (ab - ba).abs() <= tol,
            "{} {}: {ab} vs {ba}",
            a.name,
            b.name
        );
    }
}

#[test]
fn fid_of_equal_covariances_is_the_mean_distance() {
    let g = golden();
    let (a, b) = (g.set("eq7"), g.set("eq7s"));
    let dmu: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let got = fid(&a.stats(), &b.stats()).unwrap();
    assert!(
        (got - dmu).abs() <= 1e-9 * a.trace(),
        "{got} vs ‖Δμ‖² {dmu}"
    );
}

/// The bound of the module docs on |ΔMMD²| for one case.
fn mmd2_bound(x: &[f32], y: &[f32], dim: usize, ix: &[usize], iy: &[usize]) -> f64 {
    let row = |v: &[f32], i: usize| {
        v[i * dim..(i + 1) * dim]
            .iter()
            .map(|&t| t as f64)
            .collect::<Vec<_>>()
    };
    let d = dim as f64;
    let gamma = d * U / (1.0 - d * U);
    let k_err = |p: &[f64], q: &[f64]| {
        let g: f64 = p.iter().zip(q).map(|(a, b)| a * b).sum();
        let dg = gamma * p.iter().zip(q).map(|(a, b)| (a * b).abs()).sum::<f64>() / d;
        let k = (g / d + 1.0).powi(3).abs();
        3.0 * (g.abs() / d + 1.0 + dg).powi(2) * dg + 1e-12 * k
    };
    let mean_err = |p: &[usize], q: &[usize], a: &[f32], b: &[f32], same: bool| {
        let mut s = 0.0;
        for (i, &pi) in p.iter().enumerate() {
            for (j, &qj) in q.iter().enumerate() {
                if !(same && i == j) {
                    s += k_err(&row(a, pi), &row(b, qj));
                }
            }
        }
        let pairs = if same {
            p.len() * (p.len() - 1)
        } else {
            p.len() * q.len()
        };
        s / pairs as f64
    };
    mean_err(ix, ix, x, x, true)
        + mean_err(iy, iy, y, y, true)
        + 2.0 * mean_err(ix, iy, x, y, false)
}

#[test]
fn mmd2_matches_golden() {
    let (d, g) = (dev(), golden());
    for case in &g.kid {
        let (a, b) = (g.set(&case.a), g.set(&case.b));
        let (x, y) = (a.features(), b.features());
        let got = mmd2_unbiased(&d, &x, &y, a.dim, &case.ix, &case.iy).unwrap();
        let tol = mmd2_bound(&x, &y, a.dim, &case.ix, &case.iy);
        let err = (got - case.mmd2).abs();
        eprintln!(
            "mmd2 {} {} m {}: {got} vs {}, err {err:.3e}, tol {tol:.3e}",
            a.name,
            b.name,
            case.ix.len(),
            case.mmd2
        );
        assert!(
            err <= tol,
            "MMD² {} {}: {got} vs {}",
            a.name,
            b.name,
            case.mmd2
        );
    }
}

#[test]
fn kid_reproduces_with_its_seed() {
    let (d, g) = (dev(), golden());
    let (a, b) = (g.set("a64"), g.set("b64"));
    let (x, y) = (a.features(), b.features());
    let run = |seed| kid(&d, &x, &y, a.dim, 4, 60, seed).unwrap();
    let first = run(7);
    assert_eq!(first, run(7));
    assert_ne!(first.mean, run(8).mean);
    assert_eq!((first.subsets, first.subset_size), (4, 60));
    // The mean and population std of the subsets' MMD², recomputed from the documented indices.
    let mmds: Vec<f64> = (0..4)
        .map(|s| {
            let (ix, iy) = kid_indices(7, s, a.n, b.n, 60);
            for (idx, n) in [(&ix, a.n), (&iy, b.n)] {
                let mut u = idx.clone();
                u.sort();
                u.dedup();
                assert!(u.len() == 60 && u[59] < n, "subset {s}: {idx:?}");
            }
            mmd2_unbiased(&d, &x, &y, a.dim, &ix, &iy).unwrap()
        })
        .collect();
    let mean = mmds.iter().sum::<f64>() / 4.0;
    let std = (mmds.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
    assert_eq!((first.mean, first.std), (mean, std));
    assert!(std > 0.0);
    // Fewer rows than asked: the subsets shrink to the smaller set.
    let small = g.set("b7");
    let k = kid(
        &d,
        &g.set("a7").features(),
        &small.features(),
        7,
        2,
        1000,
        1,
    )
    .unwrap();
    assert_eq!(k.subset_size, small.n);
}

#[test]
fn bad_inputs_are_errors() {
    let d = dev();
    let x: Vec<f32> = (0..21).map(|i| i as f32 * 0.25).collect();
    let invalid = |r: Result<FeatureStats, Error>| matches!(r, Err(Error::Invalid { .. }));
    assert!(invalid(FeatureStats::of(&d, &x[..7], 7)), "n = 1");
    assert!(
        invalid(FeatureStats::of(&d, &x[..20], 7)),
        "20 values of dim 7"
    );
    assert!(invalid(FeatureStats::of(&d, &x, 0)), "dim 0");
    let mut nan = x.clone();
    nan[9] = f32::NAN;
    assert!(invalid(FeatureStats::of(&d, &nan, 7)), "NaN feature");
    assert!(FeatureStats::from_parts(3, 2, vec![0.0; 2], vec![0.0; 3]).is_err());

    let s7 = FeatureStats::of(&d, &x, 7).unwrap();
    let s3 = FeatureStats::of(&d, &x, 3).unwrap();
    assert!(matches!(fid(&s7, &s3), Err(Error::Shape { .. })));
    let bad_cov = vec![f64::NAN; 49];
    assert!(frechet_distance(s7.mean(), &bad_cov, s7.mean(), s7.cov(), 7).is_err());
    assert!(frechet_distance(s7.mean(), s7.cov(), s7.mean(), s7.cov(), 6).is_err());

    assert!(
        mmd2_unbiased(&d, &x, &x, 7, &[0], &[1, 2]).is_err(),
        "m_x = 1"
    );
    assert!(
        mmd2_unbiased(&d, &x, &x, 7, &[0, 3], &[1, 2]).is_err(),
        "index 3 of 3 rows"
    );
    assert!(
        mmd2_unbiased(&d, &x[..20], &x, 7, &[0, 1], &[1, 2]).is_err(),
        "20 values"
    );
    assert!(kid(&d, &x, &x[..7], 7, 10, 100, 0).is_err(), "one row in y");
    assert!(kid(&d, &x, &x, 7, 0, 100, 0).is_err(), "no subsets");
}
