//! Mean and unbiased covariance of a feature set, streamed over chunks of rows.
//!
//! Covariance by E[xxᵀ] − μμᵀ cancels catastrophically when the mean is large next to the spread
//! (features near 1e4 with unit spread lose every digit of an f32 product). So every row is first
//! shifted by a fixed reference, the f64 mean of the first chunk, which puts the data near 0; the
//! shifted chunk's (X − r)ᵀ(X − r) runs on the GPU in f32 and is accumulated in f64 with the f64
//! column sums s of the same shifted values, and at the end
//! μ = r + s/n,  Σ = (Σₖ cₖcₖᵀ − s sᵀ/n) / (n − 1),  cₖ = xₖ − r.
//! The identity is exact for any r; r near μ keeps the s sᵀ/n correction small, so the f32
//! products only carry relative error of the spread. A later chunk whose mean drifts from the
//! first one's (unshuffled data) costs accuracy in proportion to that drift over the spread, not
//! to the mean's size.

use super::rows_of;
use crate::ops::matmul::{matmul_ex, Variant};
use crate::{Device, Error, Result, Tensor};

/// Rows per GPU product: a (CHUNK × dim) upload and a dim × dim readback per chunk.
pub const CHUNK: usize = 1024;

const OP: &str = "FeatureStats::of";

/// Sample mean and unbiased covariance (like `np.cov`, divisor n − 1) of n feature rows, in f64.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureStats {
    n: usize,
    dim: usize,
    mean: Vec<f64>,
    cov: Vec<f64>,
}

impl FeatureStats {
    /// The statistics of `rows`, n × `dim` row-major f32 features, with the (X − r)ᵀ(X − r)
    /// products on `dev` (see the module docs). Errors if `rows` does not split into rows of
    /// `dim`, if n < 2 (the unbiased covariance is undefined) or if a value is not finite.
    pub fn of(dev: &Device, rows: &[f32], dim: usize) -> Result<FeatureStats> {
        let n = rows_of(OP, rows.len(), dim)?;
        if n < 2 {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("{n} row(s) of dim {dim}: the unbiased covariance needs n >= 2"),
            });
        }
        if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("feature {} of row {} is {}", i % dim, i / dim, rows[i]),
            });
        }
        let shift = column_mean(&rows[..CHUNK.min(n) * dim], dim);
        let mut acc = Sums::new(dim);
        for chunk in rows.chunks(CHUNK * dim) {
            acc.add(dev, chunk, &shift)?;
        }
        Ok(acc.finish(n, &shift))
    }

    /// Statistics given directly (tests, or stats saved elsewhere). `mean` has `dim` values and
    /// `cov` dim × dim row-major; n ≥ 2 is only recorded.
    pub fn from_parts(n: usize, dim: usize, mean: Vec<f64>, cov: Vec<f64>) -> Result<FeatureStats> {
        if dim == 0 || mean.len() != dim || cov.len() != dim * dim {
            return Err(Error::Shape {
                op: "FeatureStats::from_parts",
                lhs: vec![mean.len(), cov.len()],
                rhs: vec![dim, dim * dim],
            });
        }
        Ok(FeatureStats { n, dim, mean, cov })
    }

    /// The number of feature rows.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The feature dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The sample mean, `dim` values.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The unbiased covariance, dim × dim row-major, symmetric.
    pub fn cov(&self) -> &[f64] {
        &self.cov
    }
}

/// The f64 mean of each column of `rows`.
fn column_mean(rows: &[f32], dim: usize) -> Vec<f64> {
    let mut sum = vec![0.0f64; dim];
    for row in rows.chunks(dim) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    let n = (rows.len() / dim) as f64;
    sum.into_iter().map(|s| s / n).collect()
}

/// Running f64 sums of the shifted rows cₖ and of their outer products cₖcₖᵀ.
struct Sums {
    dim: usize,
    sum: Vec<f64>,
    prod: Vec<f64>,
}

impl Sums {
    fn new(dim: usize) -> Sums {
        Sums {
            dim,
            sum: vec![0.0; dim],
            prod: vec![0.0; dim * dim],
        }
    }

    /// Adds one chunk: c = x − shift rounded to f32 once, and both sums see that same c, so the
    /// identity in the module docs holds for the rounded values.
    fn add(&mut self, dev: &Device, chunk: &[f32], shift: &[f64]) -> Result<()> {
        let rows = chunk.len() / self.dim;
        let c: Vec<f32> = chunk
            .iter()
            .zip(shift.iter().cycle())
            .map(|(&v, &r)| (v as f64 - r) as f32)
            .collect();
        for row in c.chunks(self.dim) {
            for (s, &v) in self.sum.iter_mut().zip(row) {
                *s += v as f64;
            }
        }
        let t = Tensor::from_slice(dev, &c, &[rows, self.dim])?;
        let ctc = matmul_ex(&t, &t, true, false, Variant::Auto)?.to_vec()?;
        for (p, &v) in self.prod.iter_mut().zip(&ctc) {
            *p += v as f64;
        }
        Ok(())
    }

    /// μ and Σ from the sums; Σ is symmetrised (the GPU need not round (i, j) and (j, i) alike).
    fn finish(self, n: usize, shift: &[f64]) -> FeatureStats {
        let d = self.dim;
        let nf = n as f64;
        let mean = shift
            .iter()
            .zip(&self.sum)
            .map(|(r, s)| r + s / nf)
            .collect();
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                let p = 0.5 * (self.prod[i * d + j] + self.prod[j * d + i]);
                cov[i * d + j] = (p - self.sum[i] * self.sum[j] / nf) / (nf - 1.0);
            }
        }
        FeatureStats {
            n,
            dim: d,
            mean,
            cov,
        }
    }
}
