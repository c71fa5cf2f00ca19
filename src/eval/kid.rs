//! Kernel Inception Distance (gan.md §5): the unbiased MMD² between two feature sets with the
//! cubic polynomial kernel k(x, y) = (xᵀy/d + 1)³, d the feature dimension, averaged over random
//! subsets.
//!
//! The Gram products XXᵀ, YYᵀ, XYᵀ of a subset run on the GPU in f32; the cube, the exclusion
//! of the diagonals and the sums are f64 on the CPU. MMD² is a difference of nearly equal kernel
//! averages, so its error is absolute on the kernel's scale: each f32 inner product is off by at
//! most d·ε·‖x‖‖y‖, which moves k by 3(xᵀy/d + 1)² times that over d. Features far from the
//! origin (large ‖x‖, not just large spread) make KID itself ill-conditioned, in any precision.

use super::rows_of;
use crate::data::shuffle::SplitMix64;
use crate::ops::matmul::{matmul_ex, Variant};
use crate::{read_all, Device, Error, Result, Tensor};

/// KID over `subsets` subsets of `subset_size` rows from each set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kid {
    /// Mean of the subsets' unbiased MMD² (can be negative).
    pub mean: f64,
    /// Population standard deviation (divisor `subsets`) of the subsets' MMD², as torch-fidelity
    /// reports it (`np.std`); clean-fid reports the mean only.
    pub std: f64,
    /// The number of subsets averaged.
    pub subsets: usize,
    /// The rows drawn from each set per subset: min(requested, n_x, n_y).
    pub subset_size: usize,
}

/// KID between feature sets `x` (n_x × `dim`) and `y` (n_y × `dim`), row-major f32. Subset s
/// draws min(`subset_size`, n_x, n_y) rows of each set without replacement
/// ([`kid_indices`]`(seed, s, ..)`), so a seed reproduces the result and the first k subsets do
/// not depend on `subsets`. Like clean-fid, fewer rows than `subset_size` shrink the subsets
/// (torch-fidelity refuses instead); gan.md asks for 100 subsets of 1000.
pub fn kid(
    dev: &Device,
    x: &[f32],
    y: &[f32],
    dim: usize,
    subsets: usize,
    subset_size: usize,
    seed: u64,
) -> Result<Kid> {
    let nx = rows_of("kid", x.len(), dim)?;
    let ny = rows_of("kid", y.len(), dim)?;
    let m = subset_size.min(nx).min(ny);
    if subsets == 0 || m < 2 {
        return Err(Error::Invalid {
            op: "kid",
            msg: format!(
                "{subsets} subsets of min({subset_size}, {nx}, {ny}) = {m} rows: need at least \
                 one subset of 2 rows"
            ),
        });
    }
    let mmds = (0..subsets)
        .map(|s| {
            let (ix, iy) = kid_indices(seed, s as u64, nx, ny, m);
            mmd2_unbiased(dev, x, y, dim, &ix, &iy)
        })
        .collect::<Result<Vec<f64>>>()?;
    let k = subsets as f64;
    let mean = mmds.iter().sum::<f64>() / k;
    let var = mmds.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / k;
    Ok(Kid {
        mean,
        std: var.sqrt(),
        subsets,
        subset_size: m,
    })
}

/// The row indices [`kid`] uses for subset `subset`: `m` distinct rows of n_x and `m` of n_y,
/// drawn by a partial Fisher–Yates shuffle from `SplitMix64::keyed(seed, subset)`.
pub fn kid_indices(
    seed: u64,
    subset: u64,
    nx: usize,
    ny: usize,
    m: usize,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix64::keyed(seed, subset);
    let ix = draw(&mut rng, nx, m);
    let iy = draw(&mut rng, ny, m);
    (ix, iy)
}

/// `m` ≤ `n` distinct indices of 0..n in random order.
fn draw(rng: &mut SplitMix64, n: usize, m: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..m.min(n) {
        let j = i + rng.below((n - i) as u64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx
}

/// The unbiased MMD² between rows `ix` of `x` and rows `iy` of `y` (n × `dim` row-major f32):
/// Σ_{i≠j} k(xᵢ, xⱼ)/(m_x(m_x − 1)) + Σ_{i≠j} k(yᵢ, yⱼ)/(m_y(m_y − 1)) − 2 Σ k(xᵢ, yⱼ)/(m_x m_y).
/// With m_x = m_y this is torch-fidelity's `mmd2(.., mmd_est="unbiased")`. Needs ≥ 2 indices per
/// side, each in range; indices are not checked for repeats.
pub fn mmd2_unbiased(
    dev: &Device,
    x: &[f32],
    y: &[f32],
    dim: usize,
    ix: &[usize],
    iy: &[usize],
) -> Result<f64> {
    let xs = gather(x, dim, ix)?;
    let ys = gather(y, dim, iy)?;
    let (mx, my) = (ix.len(), iy.len());
    let xt = Tensor::from_slice(dev, &xs, &[mx, dim])?;
    let yt = Tensor::from_slice(dev, &ys, &[my, dim])?;
    let gxx = matmul_ex(&xt, &xt, false, true, Variant::Auto)?;
    let gyy = matmul_ex(&yt, &yt, false, true, Variant::Auto)?;
    let gxy = matmul_ex(&xt, &yt, false, true, Variant::Auto)?;
    let g = read_all(&[&gxx, &gyy, &gxy])?;
    let d = dim as f64;
    let (sxx, syy) = (
        kernel_sum(&g[0], mx, d, true),
        kernel_sum(&g[1], my, d, true),
    );
    let sxy = kernel_sum(&g[2], my, d, false);
    let (fx, fy) = (mx as f64, my as f64);
    Ok(sxx / (fx * (fx - 1.0)) + syy / (fy * (fy - 1.0)) - 2.0 * sxy / (fx * fy))
}

/// The rows `idx` of `data` (n × dim), after checking sizes and ranges.
fn gather(data: &[f32], dim: usize, idx: &[usize]) -> Result<Vec<f32>> {
    let n = rows_of("mmd2_unbiased", data.len(), dim)?;
    if idx.len() < 2 {
        return Err(Error::Invalid {
            op: "mmd2_unbiased",
            msg: format!(
                "{} row(s) in a subset: the unbiased estimate needs >= 2",
                idx.len()
            ),
        });
    }
    if let Some(&i) = idx.iter().find(|&&i| i >= n) {
        return Err(Error::Invalid {
            op: "mmd2_unbiased",
            msg: format!("row index {i} out of range for {n} rows"),
        });
    }
    Ok(idx
        .iter()
        .flat_map(|&i| &data[i * dim..(i + 1) * dim])
        .copied()
        .collect())
}

/// Σ (g/d + 1)³ over a Gram matrix with rows of length `cols`, in f64, the diagonal left out when
/// `skip_diag`.
fn kernel_sum(gram: &[f32], cols: usize, d: f64, skip_diag: bool) -> f64 {
    gram.iter()
        .enumerate()
        .filter(|(k, _)| !(skip_diag && k / cols == k % cols))
        .map(|(_, &g)| (g as f64 / d + 1.0).powi(3))
        .sum()
}
