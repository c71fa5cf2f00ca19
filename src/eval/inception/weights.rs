//! Where the FID Inception's weights come from, and BatchNorm folded into them: a safetensors
//! file with pytorch-fid's parameter names, or a deterministic formula for tests.

use super::graph::ConvSpec;
use crate::{EntryProblem, Error, Result};
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

/// The TF graph's BatchNorm epsilon (torchvision's `BasicConv2d` sets `eps=0.001`).
pub const BN_EPS: f64 = 1e-3;

/// The five tensors of one `BasicConv2d`, with their shapes.
pub fn tensors(spec: &ConvSpec) -> [(String, Vec<usize>); 5] {
    let n = &spec.name;
    let c = vec![spec.cout];
    [
        (format!("{n}.conv.weight"), spec.weight_shape().to_vec()),
        (format!("{n}.bn.weight"), c.clone()),
        (format!("{n}.bn.bias"), c.clone()),
        (format!("{n}.bn.running_mean"), c.clone()),
        (format!("{n}.bn.running_var"), c),
    ]
}

/// Fetches tensor `name`, which must have `shape`, as f32 values.
pub type Fetch<'a> = dyn FnMut(&str, &[usize]) -> Result<Vec<f32>> + 'a;

/// The convolution with eval-mode BatchNorm folded in, computed in f64:
/// s = γ/√(var + eps), w' = w·s (per output channel), b' = β − mean·s.
pub fn fold(spec: &ConvSpec, get: &mut Fetch) -> Result<(Vec<f32>, Vec<f32>)> {
    let [w, gamma, beta, mean, var] = tensors(spec).map(|(name, shape)| get(&name, &shape));
    let (w, gamma, beta, mean, var) = (w?, gamma?, beta?, mean?, var?);
    let per_out = w.len() / spec.cout;
    let scale: Vec<f64> = (0..spec.cout)
        .map(|o| gamma[o] as f64 / (var[o] as f64 + BN_EPS).sqrt())
        .collect();
    let wf = w
        .iter()
        .enumerate()
        .map(|(i, &v)| (v as f64 * scale[i / per_out]) as f32)
        .collect();
    let bf = (0..spec.cout)
        .map(|o| (beta[o] as f64 - mean[o] as f64 * scale[o]) as f32)
        .collect();
    Ok((wf, bf))
}

/// An opened safetensors file; [`SafeFile::get`] fetches one f32 tensor of a given shape.
pub struct SafeFile<'a> {
    path: &'a Path,
    st: SafeTensors<'a>,
}

impl<'a> SafeFile<'a> {
    /// Parses the header of `bytes`, read from `path` (named in every error).
    pub fn parse(path: &'a Path, bytes: &'a [u8]) -> Result<SafeFile<'a>> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Format {
            path: path.display().to_string(),
            offset: 0,
            msg: format!("not a safetensors file: {e}"),
        })?;
        Ok(SafeFile { path, st })
    }

    /// Tensor `name` as f32 values; a missing one or another dtype or shape is
    /// `Error::Checkpoint` naming the file, the tensor and both dtypes and shapes.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let problem = |problem| Error::Checkpoint {
            path: self.path.display().to_string(),
            entry: name.to_string(),
            problem,
        };
        let t = self
            .st
            .tensor(name)
            .map_err(|_| problem(EntryProblem::Missing))?;
        if t.dtype() != Dtype::F32 || t.shape() != shape {
            return Err(problem(EntryProblem::Mistyped {
                want: format!("F32 {shape:?}"),
                got: format!("{:?} {:?}", t.dtype(), t.shape()),
            }));
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

/// splitmix64's finaliser of `x + γ` (Steele, Lea and Flood 2014).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a, 64 bits.
fn fnv1a64(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// Uniforms u_i = (splitmix64(base + i) >> 40)·2⁻²⁴ in [0, 1) with
/// base = splitmix64(fnv1a64(name) ^ seed): each exact in f32 and f64.
fn uniforms(seed: u64, name: &str, n: usize) -> impl Iterator<Item = f64> {
    let base = splitmix64(fnv1a64(name) ^ seed);
    (0..n as u64)
        .map(move |i| (splitmix64(base.wrapping_add(i)) >> 40) as f64 / (1u64 << 24) as f64)
}

/// The random stand-in for tensor `name` of `shape` (see `InceptionV3::random`), each value
/// computed in f64 and rounded once to f32.
pub fn random_tensor(seed: u64, name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let value: Box<dyn Fn(f64) -> f64> = if name.ends_with(".conv.weight") {
        let a = (6.0 / (n / shape[0]) as f64).sqrt();
        Box::new(move |u| (2.0 * u - 1.0) * a)
    } else if name.ends_with(".bn.weight") || name.ends_with(".bn.running_var") {
        Box::new(|u| 0.5 + u)
    } else {
        Box::new(|u| (2.0 * u - 1.0) * 0.2)
    };
    uniforms(seed, name, n).map(|u| value(u) as f32).collect()
}
