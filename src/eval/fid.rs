//! Fréchet distance between two Gaussians fitted to feature sets (FID), in f64 (gan.md §5):
//! ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 Σ √λᵢ, λ the eigenvalues of S Σ₂ S with S = Σ₁^{1/2}.
//!
//! S Σ₂ S is similar to Σ₁Σ₂ (same eigenvalues) but symmetric positive semi-definite, so two
//! symmetric eigendecompositions replace the general matrix square root (scipy `sqrtm`,
//! Newton–Schulz in f32) behind most reports of NaN, imaginary parts and wrong FIDs. Negative
//! eigenvalues, from rounding of singular covariances, are clipped to 0.
//!
//! Not exactly 0 for a set with itself: tr Σ + tr Σ − 2 Σ √λ(Σ²) cancels to ~1e-13·tr Σ for a
//! full-rank Σ; for a singular Σ (n ≤ dim, or features in a subspace) each of its zero eigenvalues
//! comes out of the eigensolver as ±ε‖Σ‖² and its square root adds up to √ε·‖Σ‖ ≈ 1.5e-8·‖Σ‖,
//! so FID(x, x) can reach ~1e-8·(dim − rank)·‖Σ‖, of either sign. The value is returned as
//! computed, never clamped.

use super::stats::FeatureStats;
use crate::{Error, Result};
use nalgebra::{DMatrix, SymmetricEigen};

/// FID between two feature sets' statistics. Compare FIDs only at equal sample sizes (the
/// estimate is biased by n) and report n.
pub fn fid(a: &FeatureStats, b: &FeatureStats) -> Result<f64> {
    if a.dim() != b.dim() {
        return Err(Error::Shape {
            op: "fid",
            lhs: vec![a.dim()],
            rhs: vec![b.dim()],
        });
    }
    frechet_distance(a.mean(), a.cov(), b.mean(), b.cov(), a.dim())
}

/// The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂): means of `dim` values, covariances
/// dim × dim row-major (symmetrised before use). See the module docs for the method and accuracy.
pub fn frechet_distance(
    mu1: &[f64],
    cov1: &[f64],
    mu2: &[f64],
    cov2: &[f64],
    dim: usize,
) -> Result<f64> {
    check(mu1, cov1, mu2, cov2, dim)?;
    let s1 = symmetric(cov1, dim);
    let s2 = symmetric(cov2, dim);
    let root = psd_sqrt(s1.clone())?;
    let m = &root * &s2 * &root;
    let m = (&m + m.transpose()) * 0.5;
    let tr_sqrt: f64 = eigen(m)?
        .eigenvalues
        .iter()
        .map(|&l| l.max(0.0).sqrt())
        .sum();
    let dmu: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b) * (a - b)).sum();
    Ok(dmu + s1.trace() + s2.trace() - 2.0 * tr_sqrt)
}

fn check(mu1: &[f64], cov1: &[f64], mu2: &[f64], cov2: &[f64], dim: usize) -> Result<()> {
    let lens = [mu1.len(), cov1.len(), mu2.len(), cov2.len()];
    if dim == 0 || lens != [dim, dim * dim, dim, dim * dim] {
        return Err(Error::Shape {
            op: "frechet_distance",
            lhs: lens.to_vec(),
            rhs: vec![dim, dim * dim, dim, dim * dim],
        });
    }
    let all = mu1.iter().chain(cov1).chain(mu2).chain(cov2);
    if let Some(v) = all.copied().find(|v| !v.is_finite()) {
        return Err(Error::Invalid {
            op: "frechet_distance",
            msg: format!("non-finite mean or covariance entry {v}"),
        });
    }
    Ok(())
}

/// (C + Cᵀ)/2 as a matrix.
fn symmetric(cov: &[f64], dim: usize) -> DMatrix<f64> {
    let c = DMatrix::from_row_slice(dim, dim, cov);
    (&c + c.transpose()) * 0.5
}

/// V diag(√max(λ, 0)) Vᵀ of a symmetric matrix.
fn psd_sqrt(m: DMatrix<f64>) -> Result<DMatrix<f64>> {
    let e = eigen(m)?;
    let roots = e.eigenvalues.map(|l| l.max(0.0).sqrt());
    let v = &e.eigenvectors;
    Ok(v * DMatrix::from_diagonal(&roots) * v.transpose())
}

/// Symmetric QR with an iteration cap (LAPACK's 30 per eigenvalue), so a pathological input is an
/// error rather than a hang.
fn eigen(m: DMatrix<f64>) -> Result<SymmetricEigen<f64, nalgebra::Dyn>> {
    let cap = 30 * m.nrows();
    SymmetricEigen::try_new(m, f64::EPSILON, cap).ok_or_else(|| Error::Invalid {
        op: "frechet_distance",
        msg: "symmetric eigendecomposition did not converge".into(),
    })
}
