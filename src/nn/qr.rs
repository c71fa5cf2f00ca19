//! Householder QR in f64 on the host, for orthogonal initialisation (small matrices, run once).

/// The thin-QR factor Q (m×n, orthonormal columns) of `a` (m×n, row-major, m ≥ n), each column
/// multiplied by the sign of its R diagonal entry: the QR with R's diagonal positive, which is
/// what PyTorch's `orthogonal_` makes of `torch.linalg.qr`. A zero diagonal entry (rank-deficient
/// `a`) keeps its column as is, so Q stays orthonormal where PyTorch would zero it.
pub(crate) fn q_positive_r(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut r = a.to_vec();
    let reflectors: Vec<Vec<f64>> = (0..n).map(|k| reduce_column(&mut r, n, k)).collect();
    let mut q = vec![0.0; m * n];
    for j in 0..n {
        q[j * n + j] = 1.0;
    }
    // Q = H₀·H₁·…·Hₙ₋₁ applied to the first n columns of the identity.
    for (k, v) in reflectors.iter().enumerate().rev() {
        reflect(v, &mut q, n, k, 0);
    }
    for j in (0..n).filter(|&j| r[j * n + j] < 0.0) {
        for i in 0..m {
            q[i * n + j] = -q[i * n + j];
        }
    }
    q
}

/// Zeroes column `k` of `r` below the diagonal with one reflector, applied to columns k..; returns
/// its vector (over rows k..).
fn reduce_column(r: &mut [f64], n: usize, k: usize) -> Vec<f64> {
    let mut v: Vec<f64> = r[k * n + k..].iter().step_by(n).copied().collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    // The diagonal becomes ∓norm with the sign opposite to v[0], so v[0] − alpha never cancels.
    let alpha = if v[0] >= 0.0 { -norm } else { norm };
    v[0] -= alpha;
    reflect(&v, r, n, k, k);
    v
}

/// Rows k.. of columns `from`.. of `a` (row-major, n columns) ← (I − 2vvᵀ/vᵀv)·them, as
/// w = vᵀA then A −= (2/vᵀv)·v·wᵀ so both passes walk rows. A zero `v` is the identity.
fn reflect(v: &[f64], a: &mut [f64], n: usize, k: usize, from: usize) {
    let vv: f64 = v.iter().map(|x| x * x).sum();
    if vv == 0.0 {
        return;
    }
    let mut w = vec![0.0; n - from];
    for (i, vi) in v.iter().enumerate() {
        let row = &a[(k + i) * n + from..(k + i + 1) * n];
        for (wj, aij) in w.iter_mut().zip(row) {
            *wj += vi * aij;
        }
    }
    for (i, vi) in v.iter().enumerate() {
        let s = 2.0 * vi / vv;
        let row = &mut a[(k + i) * n + from..(k + i + 1) * n];
        for (aij, wj) in row.iter_mut().zip(&w) {
            *aij -= s * wj;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::q_positive_r;

    /// Exact for these inputs: every reflector is a sign flip or the identity.
    #[test]
    fn triangular_input_gives_signed_identity_columns() {
        let a = [2.0, 1.0, 0.0, 3.0, 0.0, 0.0];
        assert_eq!(q_positive_r(&a, 3, 2), [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        // A negative diagonal moves into Q so that R's stays positive.
        let a = [-2.0, 1.0, 0.0, 3.0, 0.0, 0.0];
        assert_eq!(q_positive_r(&a, 3, 2), [-1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    }

    /// Qᵀ·A = R: upper triangular with a positive diagonal, and QᵀQ = I (1e-12: a few f64
    /// roundings per entry on a 4×3 matrix).
    #[test]
    fn q_transpose_a_is_upper_triangular_with_positive_diagonal() {
        let (m, n) = (4, 3);
        let a = [
            1.0, -2.0, 0.5, 3.0, 1.0, -1.0, -0.5, 2.0, 4.0, 2.0, 0.0, 1.0,
        ];
        let q = q_positive_r(&a, m, n);
        let dot = |x: &[f64], i: usize, y: &[f64], j: usize| -> f64 {
            (0..m).map(|k| x[k * n + i] * y[k * n + j]).sum()
        };
        for i in 0..n {
            for j in 0..n {
                let r = dot(&q, i, &a, j);
                match i.cmp(&j) {
                    std::cmp::Ordering::Greater => assert!(r.abs() < 1e-12, "R[{i}][{j}] = {r}"),
                    std::cmp::Ordering::Equal => assert!(r > 0.1, "R[{i}][{i}] = {r}"),
                    std::cmp::Ordering::Less => {}
                }
                let eye = if i == j { 1.0 } else { 0.0 };
                assert!((dot(&q, i, &q, j) - eye).abs() < 1e-12, "QᵀQ[{i}][{j}]");
            }
        }
    }
}
