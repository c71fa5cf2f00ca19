//! Batched power iteration and batched Jacobi SVD against an f64 one-sided Jacobi reference.
//!
//! Tolerances (f32 kernels, matrices ≤ 64 on a side, errors relative to σ_max of the matrix):
//! - power iteration σ (converged, spectral gap σ₂/σ₁ < 0.75): rel 1e-5, abs 1e-6·σ₁;
//!   singular-pair residual ‖Wv − σu‖ ≤ 1e-4·σ₁.
//! - iteration semantics vs an f64 replica of the same iteration: rel 1e-4, abs 1e-5·max|ref|.
//! - SVD singular values: abs 1e-5·σ₁ (backward-stable f32: a few ulps × √k);
//!   orthonormality |UᵀU − I|, |VᵀV − I| ≤ 2e-5; reconstruction |UΣVᵀ − W| ≤ 2e-5·σ₁.
//! - gradient: rel 1e-4, abs 1e-5 against central differences of the f64 σ_max.

mod common;
use common::{as_f32, assert_close, dev, gradcheck, upload, Rng, Tol};
use tailgrad::ops::spectral::{svd, PowerIteration, SVD_MAX_DIM};
use tailgrad::runtime::DeviceClass;
use tailgrad::{read_all, Error, Tensor};

// ---- f64 reference ---------------------------------------------------------------------------

/// Singular values (descending) of a row-major rows x cols matrix by f64 one-sided Jacobi.
fn ref_singular_values(w: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    // Work on the tall orientation: m x n with m >= n, column j = a[j].
    let (m, n) = (rows.max(cols), rows.min(cols));
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            (0..m)
                .map(|i| {
                    if rows >= cols {
                        w[i * cols + j]
                    } else {
                        w[j * cols + i]
                    }
                })
                .collect()
        })
        .collect();
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    for _ in 0..100 {
        let mut rotated = false;
        for j in 0..n {
            for k in j + 1..n {
                let (al, be, ga) = (dot(&a[j], &a[j]), dot(&a[k], &a[k]), dot(&a[j], &a[k]));
                if ga.abs() <= 1e-15 * (al * be).sqrt() || al == 0.0 || be == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (be - al) / (2.0 * ga);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                let (lo, hi) = a.split_at_mut(k);
                for (x, y) in lo[j].iter_mut().zip(&mut hi[0]) {
                    (*x, *y) = (c * *x - s * *y, s * *x + c * *y);
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let mut s: Vec<f64> = a.iter().map(|c| dot(c, c).sqrt()).collect();
    s.sort_by(|x, y| y.total_cmp(x));
    s
}

/// Matrix `b` of a stack [batch, rows, cols].
fn mat(w: &[f64], b: usize, rows: usize, cols: usize) -> &[f64] {
    &w[b * rows * cols..(b + 1) * rows * cols]
}

fn matvec(w: &[f64], rows: usize, cols: usize, x: &[f64]) -> Vec<f64> {
    (0..rows)
        .map(|r| (0..cols).map(|c| w[r * cols + c] * x[c]).sum())
        .collect()
}

fn matvec_t(w: &[f64], rows: usize, cols: usize, x: &[f64]) -> Vec<f64> {
    (0..cols)
        .map(|c| (0..rows).map(|r| w[r * cols + c] * x[r]).sum())
        .collect()
}

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// A stack of matrices with a clear spectral gap: noise of spectral norm ≈ 1 plus a rank-one
/// spike of strength 2.5 (so σ₁ ≈ 2.5-3.5, σ₂ ≈ 1).
fn gapped(rng: &mut Rng, batch: usize, rows: usize, cols: usize) -> Vec<f64> {
    let scale = 1.0 / (rows.max(cols) as f64).sqrt();
    let mut w = Vec::with_capacity(batch * rows * cols);
    for _ in 0..batch {
        let a = rng.vec(rows, -1.0, 1.0);
        let b = rng.vec(cols, -1.0, 1.0);
        let (na, nb) = (norm(&a), norm(&b));
        for x in &a {
            for y in &b {
                w.push(2.5 * x / na * y / nb + scale * rng.uniform(-1.0, 1.0));
            }
        }
    }
    as_f32(&w)
}

// ---- power iteration -------------------------------------------------------------------------

#[test]
fn power_iteration_converges_to_sigma_max() {
    let d = dev();
    let mut rng = Rng::new(1);
    for &(batch, rows, cols) in &[
        (60, 16, 16),
        (1000, 16, 24),
        (5, 24, 16),
        (7, 5, 3),
        (4, 13, 7),
        (4, 32, 40), // 60 iterations take 3 dispatches under lavapipe's loop budget
        (3, 1, 9),
        (3, 9, 1),
        (1, 1, 1),
    ] {
        let w = gapped(&mut rng, batch, rows, cols);
        let mut pi = PowerIteration::new(&d, batch, rows, cols, 7, 60, 1e-3).unwrap();
        let sigma = pi.sigma(&upload(&d, &w, &[batch, rows, cols])).unwrap();
        let got = read_all(&[&sigma, pi.u(), pi.v()]).unwrap();
        for b in 0..batch {
            let wb = mat(&w, b, rows, cols);
            let s = ref_singular_values(wb, rows, cols);
            if s.len() > 1 {
                assert!(
                    s[1] / s[0] < 0.75,
                    "test matrix {b} has no spectral gap: {s:?}"
                );
            }
            let what = format!("{batch}x{rows}x{cols} sigma[{b}]");
            let tol = Tol {
                rel: 1e-5,
                abs: 1e-6 * s[0],
            };
            assert_close(&what, &got[0][b..b + 1], &s[..1], tol);
            let u = f64s(&got[1][b * rows..(b + 1) * rows]);
            let v = f64s(&got[2][b * cols..(b + 1) * cols]);
            assert!(
                (norm(&u) - 1.0).abs() < 1e-5 && (norm(&v) - 1.0).abs() < 1e-5,
                "{what}: |u|, |v| != 1"
            );
            let wv = matvec(wb, rows, cols, &v);
            let res: Vec<f64> = wv.iter().zip(&u).map(|(x, y)| x - s[0] * y).collect();
            assert!(
                norm(&res) <= 1e-4 * s[0],
                "{what}: |Wv - σu| = {:e}",
                norm(&res)
            );
        }
    }
}

/// The exact update rule, eps floor included, against an f64 replica started from the same u, v.
#[test]
fn power_iteration_follows_reference_iteration() {
    let d = dev();
    let mut rng = Rng::new(2);
    let (batch, rows, cols, iters, eps) = (6, 8, 12, 3, 1e-3);
    // Matrices 3..6 are scaled so far down that |Wᵀu|, |Wv| < eps: the floor is what normalizes.
    let mut w = as_f32(&rng.vec(batch * rows * cols, -1.0, 1.0));
    for x in &mut w[3 * rows * cols..] {
        *x = (*x * 1e-5) as f32 as f64;
    }
    let mut pi = PowerIteration::new(&d, batch, rows, cols, 11, iters, eps).unwrap();
    let init = read_all(&[pi.u(), pi.v()]).unwrap();
    let sigma = pi.sigma(&upload(&d, &w, &[batch, rows, cols])).unwrap();
    let got = read_all(&[&sigma, pi.u(), pi.v()]).unwrap();
    let nrm = |x: Vec<f64>| {
        let n = norm(&x).max(eps as f64);
        x.iter().map(|v| v / n).collect::<Vec<f64>>()
    };
    for b in 0..batch {
        let wb = mat(&w, b, rows, cols);
        let mut u = f64s(&init[0][b * rows..(b + 1) * rows]);
        let mut v = f64s(&init[1][b * cols..(b + 1) * cols]);
        for _ in 0..iters {
            v = nrm(matvec_t(wb, rows, cols, &u));
            u = nrm(matvec(wb, rows, cols, &v));
        }
        let s: f64 = matvec(wb, rows, cols, &v)
            .iter()
            .zip(&u)
            .map(|(x, y)| x * y)
            .sum();
        let tol = |x: &[f64]| Tol {
            rel: 1e-4,
            abs: 1e-5 * x.iter().fold(0.0f64, |m, v| m.max(v.abs())),
        };
        assert_close(&format!("sigma[{b}]"), &got[0][b..b + 1], &[s], tol(&[s]));
        assert_close(
            &format!("u[{b}]"),
            &got[1][b * rows..(b + 1) * rows],
            &u,
            tol(&u),
        );
        assert_close(
            &format!("v[{b}]"),
            &got[2][b * cols..(b + 1) * cols],
            &v,
            tol(&v),
        );
    }
}

/// State persists between calls: k calls of one iteration = one call of k iterations.
#[test]
fn warm_start_equals_more_iterations() {
    let d = dev();
    let mut rng = Rng::new(3);
    let (batch, rows, cols, k) = (10, 16, 16, 6);
    // Plain noise: σ₂/σ₁ is close to 1, so 6 iterations are far from converged.
    let w = upload(
        &d,
        &rng.vec(batch * rows * cols, -1.0, 1.0),
        &[batch, rows, cols],
    );
    let mut stepped = PowerIteration::new(&d, batch, rows, cols, 5, 1, 1e-3).unwrap();
    let first = stepped.sigma(&w).unwrap().to_vec().unwrap();
    let mut s_step = first.clone();
    for _ in 1..k {
        s_step = stepped.sigma(&w).unwrap().to_vec().unwrap();
    }
    let mut once = PowerIteration::new(&d, batch, rows, cols, 5, k, 1e-3).unwrap();
    let s_once = once.sigma(&w).unwrap();
    let want = read_all(&[&s_once, once.u(), once.v()]).unwrap();
    let got = read_all(&[stepped.u(), stepped.v()]).unwrap();
    let tol = Tol {
        rel: 1e-4,
        abs: 1e-5,
    };
    assert_close("sigma", &s_step, &f64s(&want[0]), tol);
    assert_close("u", &got[0], &f64s(&want[1]), tol);
    assert_close("v", &got[1], &f64s(&want[2]), tol);
    let moved = first
        .iter()
        .zip(&s_step)
        .any(|(a, b)| (b - a).abs() > 1e-2 * b.abs());
    assert!(
        moved,
        "sigma did not change over warm-started calls: {first:?} vs {s_step:?}"
    );
}

#[test]
fn zero_iterations_evaluate_stored_vectors() {
    let d = dev();
    let mut rng = Rng::new(4);
    let (batch, rows, cols) = (4, 6, 5);
    let w = rng.vec(batch * rows * cols, -1.0, 1.0);
    let wt = upload(&d, &w, &[batch, rows, cols]);
    let mut pi = PowerIteration::new(&d, batch, rows, cols, 9, 2, 1e-3).unwrap();
    pi.sigma(&wt).unwrap();
    let before = read_all(&[pi.u(), pi.v()]).unwrap();
    let sigma = pi.sigma_iters(&wt, 0).unwrap();
    let after = read_all(&[&sigma, pi.u(), pi.v()]).unwrap();
    assert_eq!(before[0], after[1], "u changed with 0 iterations");
    assert_eq!(before[1], after[2], "v changed with 0 iterations");
    let want: Vec<f64> = (0..batch)
        .map(|b| {
            let wv = matvec(
                mat(&as_f32(&w), b, rows, cols),
                rows,
                cols,
                &f64s(&before[1][b * cols..(b + 1) * cols]),
            );
            wv.iter()
                .zip(f64s(&before[0][b * rows..(b + 1) * rows]))
                .map(|(x, y)| x * y)
                .sum()
        })
        .collect();
    assert_close(
        "uᵀWv",
        &after[0],
        &want,
        Tol {
            rel: 1e-5,
            abs: 1e-6,
        },
    );
}

#[test]
fn zero_matrix_stays_finite() {
    let d = dev();
    let mut pi = PowerIteration::new(&d, 3, 4, 5, 1, 4, 1e-3).unwrap();
    let sigma = pi.sigma(&Tensor::zeros(&d, &[3, 4, 5]).unwrap()).unwrap();
    let got = read_all(&[&sigma, pi.u(), pi.v()]).unwrap();
    assert!(
        got.iter().flatten().all(|&x| x == 0.0),
        "zero matrix: {got:?}"
    );
}

/// With u, v the converged singular pair, uvᵀ is the true gradient of σ_max(W), so central
/// differences of the f64 σ_max check the rule.
#[test]
fn gradient_is_outer_product_of_singular_vectors() {
    let mut rng = Rng::new(5);
    let (batch, rows, cols) = (3, 5, 4);
    let w = gapped(&mut rng, batch, rows, cols);
    gradcheck(
        "power_iteration",
        &[(w, vec![batch, rows, cols])],
        &|x| PowerIteration::new(&dev(), batch, rows, cols, 3, 100, 1e-3)?.sigma(&x[0]),
        &|x| {
            (0..batch)
                .map(|b| ref_singular_values(mat(&x[0], b, rows, cols), rows, cols)[0])
                .collect()
        },
        Tol {
            rel: 1e-4,
            abs: 1e-5,
        },
    );
}

/// A later call must not change the vectors an earlier σ's backward uses.
#[test]
fn backward_uses_its_own_forward_vectors() {
    let d = dev();
    let mut rng = Rng::new(6);
    let (batch, rows, cols) = (2, 4, 3);
    let w = upload(
        &d,
        &rng.vec(batch * rows * cols, -1.0, 1.0),
        &[batch, rows, cols],
    )
    .into_param();
    let mut pi = PowerIteration::new(&d, batch, rows, cols, 8, 1, 1e-3).unwrap();
    let s1 = pi.sigma(&w).unwrap();
    let uv = read_all(&[pi.u(), pi.v()]).unwrap();
    pi.sigma(&w).unwrap();
    let g = [0.5, -2.0];
    s1.backward_with(&Tensor::from_slice(&d, &g, &[batch]).unwrap())
        .unwrap();
    let want: Vec<f64> = (0..batch * rows * cols)
        .map(|t| {
            let (b, r, c) = (t / (rows * cols), t / cols % rows, t % cols);
            g[b] as f64 * uv[0][b * rows + r] as f64 * uv[1][b * cols + c] as f64
        })
        .collect();
    let got = w.grad().unwrap().to_vec().unwrap();
    assert_close(
        "dW",
        &got,
        &want,
        Tol {
            rel: 1e-6,
            abs: 1e-7,
        },
    );
}

#[test]
fn power_iteration_rejects_bad_input() {
    let d = dev();
    let mut pi = PowerIteration::new(&d, 2, 3, 4, 0, 1, 1e-3).unwrap();
    let bad = [
        Tensor::zeros(&d, &[6, 4]).unwrap(),
        Tensor::zeros(&d, &[3, 3, 4]).unwrap(),
        Tensor::zeros(&d, &[2, 4, 3]).unwrap(),
        Tensor::from_u32(&d, &[0; 24], &[2, 3, 4]).unwrap(),
    ];
    for w in &bad {
        assert!(pi.sigma(w).is_err(), "accepted {w:?}");
    }
    // One 200x200 iteration needs ~81k loop trips: more than llvmpipe runs in one invocation.
    let big = Tensor::zeros(&d, &[1, 200, 200]).unwrap();
    let mut pi_big = PowerIteration::new(&d, 1, 200, 200, 0, 1, 1e-3).unwrap();
    let software = d.class() == DeviceClass::Software;
    assert_eq!(
        pi_big.sigma(&big).is_err(),
        software,
        "200x200 on {:?}",
        d.class()
    );
    assert!(matches!(
        PowerIteration::new(&d, 2, 3, 4, 0, 1, 0.0),
        Err(Error::Invalid { .. })
    ));
    assert!(pi
        .set_state(
            Tensor::zeros(&d, &[2, 4]).unwrap(),
            Tensor::zeros(&d, &[2, 4]).unwrap()
        )
        .is_err());
}

// ---- SVD -------------------------------------------------------------------------------------

/// Checks one batched SVD result against the reference: values, order, orthonormality,
/// reconstruction and the sign convention.
fn check_svd(what: &str, w: &[f64], batch: usize, rows: usize, cols: usize) {
    let d = dev();
    let k = rows.min(cols);
    let (s, u, v) = svd(&upload(&d, w, &[batch, rows, cols])).unwrap();
    assert_eq!(
        (s.shape(), u.shape(), v.shape()),
        (
            &[batch, k][..],
            &[batch, rows, k][..],
            &[batch, cols, k][..]
        )
    );
    let got = read_all(&[&s, &u, &v]).unwrap();
    for b in 0..batch {
        let what = format!("{what} {rows}x{cols} [{b}]");
        let wb = mat(w, b, rows, cols);
        let want = ref_singular_values(wb, rows, cols);
        let smax = want[0];
        let sb = f64s(&got[0][b * k..(b + 1) * k]);
        let ub = f64s(&got[1][b * rows * k..(b + 1) * rows * k]);
        let vb = f64s(&got[2][b * cols * k..(b + 1) * cols * k]);
        assert_close(
            &format!("{what} s"),
            &got[0][b * k..(b + 1) * k],
            &want,
            Tol {
                rel: 0.0,
                abs: 1e-5 * smax + 1e-30,
            },
        );
        assert!(
            sb.windows(2).all(|p| p[0] >= p[1]),
            "{what}: not descending {sb:?}"
        );
        for (name, q, n) in [("U", &ub, rows), ("V", &vb, cols)] {
            for i in 0..k {
                for j in 0..k {
                    let dij: f64 = (0..n).map(|r| q[r * k + i] * q[r * k + j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!(
                        (dij - want).abs() <= 2e-5,
                        "{what}: ({name}ᵀ{name})[{i},{j}] = {dij}"
                    );
                }
            }
        }
        for r in 0..rows {
            for c in 0..cols {
                let x: f64 = (0..k).map(|j| ub[r * k + j] * sb[j] * vb[c * k + j]).sum();
                let err = (x - wb[r * cols + c]).abs();
                assert!(
                    err <= 2e-5 * smax,
                    "{what}: (UΣVᵀ)[{r},{c}] = {x}, W = {}",
                    wb[r * cols + c]
                );
            }
        }
        for j in 0..k {
            let col: Vec<f64> = (0..cols).map(|c| vb[c * k + j]).collect();
            let big = col
                .iter()
                .fold(0.0f64, |m, &x| if x.abs() > m.abs() { x } else { m });
            assert!(
                big > 0.0,
                "{what}: V column {j} breaks the sign convention: {col:?}"
            );
        }
    }
}

#[test]
fn svd_random_shapes() {
    let mut rng = Rng::new(10);
    for &(batch, rows, cols) in &[
        (3, 1, 1),
        (3, 2, 2),
        (3, 5, 3),
        (3, 3, 5),
        (60, 16, 16),
        (4, 16, 24),
        (4, 24, 16),
        (2, 13, 7),
        (2, 7, 13),
        (2, 1, 6),
        (2, 6, 1),
        (1, SVD_MAX_DIM, 37),
        (1, 37, SVD_MAX_DIM),
        (1, SVD_MAX_DIM, SVD_MAX_DIM),
    ] {
        let w = as_f32(&rng.vec(batch * rows * cols, -1.0, 1.0));
        check_svd("random", &w, batch, rows, cols);
    }
}

/// Orthogonal Q (all σ = 1) from Gram-Schmidt of a random square matrix.
fn orthogonal(rng: &mut Rng, n: usize) -> Vec<f64> {
    let mut q: Vec<Vec<f64>> = Vec::new();
    while q.len() < n {
        let mut x = rng.vec(n, -1.0, 1.0);
        for _ in 0..2 {
            for e in &q {
                let d: f64 = x.iter().zip(e).map(|(a, b)| a * b).sum();
                x.iter_mut().zip(e).for_each(|(a, b)| *a -= d * b);
            }
        }
        let nx = norm(&x);
        q.push(x.iter().map(|a| a / nx).collect());
    }
    q.concat()
}

#[test]
fn svd_repeated_and_null_singular_values() {
    let mut rng = Rng::new(11);
    check_svd("orthogonal", &as_f32(&orthogonal(&mut rng, 8)), 1, 8, 8);
    check_svd(
        "diag(3,3,1)",
        &[3.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 1.0],
        1,
        3,
        3,
    );
    // Equal columns: the first rotation leaves exact zeros (c = s), so 15 columns need completing.
    check_svd("ones", &[1.0; 16 * 16], 1, 16, 16);
    check_svd("ones", &[1.0; 5 * 9], 1, 5, 9);
    // Rank 3 products: σ₄.. are f32 rounding noise.
    for &(rows, cols) in &[(16, 16), (10, 14), (14, 10)] {
        let b = rng.vec(rows * 3, -1.0, 1.0);
        let c = rng.vec(3 * cols, -1.0, 1.0);
        let w: Vec<f64> = (0..rows * cols)
            .map(|t| {
                (0..3)
                    .map(|i| b[t / cols * 3 + i] * c[i * cols + t % cols])
                    .sum()
            })
            .collect();
        check_svd("rank 3", &as_f32(&w), 1, rows, cols);
    }
    // Exactly null columns / rows exercise the U / V completion, on both orientations.
    check_svd("zero", &[0.0; 12], 1, 4, 3);
    check_svd("zero", &[0.0; 12], 1, 3, 4);
    let mut w = as_f32(&rng.vec(5 * 3, -1.0, 1.0));
    (0..5).for_each(|r| w[r * 3 + 1] = 0.0);
    check_svd("zero column", &w, 1, 5, 3);
    let mut w = as_f32(&rng.vec(3 * 5, -1.0, 1.0));
    w[5..10].fill(0.0);
    check_svd("zero row", &w, 1, 3, 5);
}

/// The kernel rescales by max|W|, so squares neither underflow nor overflow.
#[test]
fn svd_extreme_scales() {
    let mut rng = Rng::new(12);
    for scale in [1e-25, 1e25] {
        let w = as_f32(&rng.vec(2 * 6 * 4, -scale, scale));
        check_svd(&format!("scale {scale:e}"), &w, 2, 6, 4);
    }
}

#[test]
fn svd_agrees_with_power_iteration() {
    let d = dev();
    let mut rng = Rng::new(13);
    let (batch, rows, cols) = (20, 16, 24);
    let w = upload(
        &d,
        &gapped(&mut rng, batch, rows, cols),
        &[batch, rows, cols],
    );
    let sigma = PowerIteration::new(&d, batch, rows, cols, 1, 60, 1e-3)
        .unwrap()
        .sigma(&w)
        .unwrap();
    let (s, _, _) = svd(&w).unwrap();
    let got = read_all(&[&sigma, &s]).unwrap();
    let smax: Vec<f64> = (0..batch).map(|b| got[1][b * rows] as f64).collect();
    assert_close(
        "σ_max",
        &got[0],
        &smax,
        Tol {
            rel: 2e-5,
            abs: 0.0,
        },
    );
}

#[test]
fn svd_rejects_bad_input() {
    let d = dev();
    let bad = [
        Tensor::zeros(&d, &[4, 4]).unwrap(),
        Tensor::zeros(&d, &[1, 2, 2, 2]).unwrap(),
        Tensor::from_u32(&d, &[0; 8], &[2, 2, 2]).unwrap(),
        Tensor::zeros(&d, &[1, SVD_MAX_DIM + 1, 3]).unwrap(),
        Tensor::zeros(&d, &[1, 2, SVD_MAX_DIM + 1]).unwrap(),
    ];
    for w in &bad {
        assert!(
            matches!(svd(w), Err(Error::Invalid { .. })),
            "accepted {w:?}"
        );
    }
}
