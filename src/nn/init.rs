//! Initialisation schemes, chosen per layer rather than hard-coded in its constructor.

use super::qr::q_positive_r;
use crate::tensor::check_shape;
use crate::{Device, Error, Generator, Result, Tensor};

/// How to fill a new tensor. The fan-in schemes take the layer's fan-in, PyTorch's
/// `numel / shape[0]` of the weight ([out, in] → in, [O, C, kh, kw] → C·kh·kw).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// N(0, 2/fan_in): Kaiming normal with the ReLU gain, the CIFAR ResNets' weight init.
    KaimingNormal,
    /// U(±1/√fan_in): PyTorch's default Linear and Conv bias.
    FanInUniform,
    /// PyTorch's `orthogonal_`: the weight viewed as [shape[0], numel/shape[0]] has orthonormal
    /// rows (wide) or columns (tall), times `gain`. Reads the draws back for a host QR (a sync).
    Orthogonal {
        gain: f32,
    },
    /// N(0, std²).
    Normal {
        std: f32,
    },
    Zeros,
    Ones,
}

impl Init {
    /// A new tensor of `shape`, not yet a parameter. `fan_in` scales the fan-in schemes and is
    /// ignored by the others. Zeros and Ones draw nothing from `gen`; every other scheme advances
    /// it exactly as one draw of `shape` does.
    pub fn tensor(
        self,
        dev: &Device,
        gen: &mut Generator,
        shape: &[usize],
        fan_in: usize,
    ) -> Result<Tensor> {
        match self {
            Init::KaimingNormal => {
                let std = (2.0 / positive("kaiming_normal", fan_in)?).sqrt();
                gen.normal(dev, shape, 0.0, std)
            }
            Init::FanInUniform => {
                let bound = 1.0 / positive("fan_in_uniform", fan_in)?.sqrt();
                gen.uniform(dev, shape, -bound, bound)
            }
            Init::Orthogonal { gain } => orthogonal(dev, gen, shape, gain),
            Init::Normal { std } => gen.normal(dev, shape, 0.0, std),
            Init::Zeros => Tensor::zeros(dev, shape),
            Init::Ones => Tensor::ones(dev, shape),
        }
    }
}

/// `fan_in` as f32, refusing 0 (it would make the scale infinite).
fn positive(op: &'static str, fan_in: usize) -> Result<f32> {
    match fan_in {
        0 => Err(Error::Invalid {
            op,
            msg: "fan_in must be at least 1".to_string(),
        }),
        n => Ok(n as f32),
    }
}

/// PyTorch's recipe: a standard normal [rows, cols] matrix, transposed when wide so the QR sees
/// a tall one, Q signed by R's diagonal, transposed back, times `gain`.
fn orthogonal(dev: &Device, gen: &mut Generator, shape: &[usize], gain: f32) -> Result<Tensor> {
    let numel = check_shape("orthogonal", shape)?;
    if shape.len() < 2 {
        return Err(Error::Invalid {
            op: "orthogonal",
            msg: format!("needs a shape of rank >= 2, got {shape:?}"),
        });
    }
    if !gain.is_finite() {
        return Err(Error::Invalid {
            op: "orthogonal",
            msg: format!("needs a finite gain, got {gain}"),
        });
    }
    let (rows, cols) = (shape[0], numel / shape[0]);
    let a: Vec<f64> = gen
        .randn(dev, &[rows, cols])?
        .to_vec()?
        .into_iter()
        .map(f64::from)
        .collect();
    let q = if rows < cols {
        let q_t = q_positive_r(&transpose(&a, rows, cols), cols, rows);
        transpose(&q_t, cols, rows)
    } else {
        q_positive_r(&a, rows, cols)
    };
    let w: Vec<f32> = q.iter().map(|&v| (v * f64::from(gain)) as f32).collect();
    Tensor::from_slice(dev, &w, shape)
}

/// The transpose of a row-major m×n matrix.
fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    (0..n * m).map(|t| a[(t % m) * n + t / m]).collect()
}

/// A layer's weight and bias schemes; `bias: None` builds the layer without a bias.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerInit {
    pub weight: Init,
    pub bias: Option<Init>,
}

impl LayerInit {
    /// What `Conv2d::new` and `Linear::new` use: Kaiming-normal weight, U(±1/√fan_in) bias.
    pub fn kaiming(bias: bool) -> LayerInit {
        LayerInit {
            weight: Init::KaimingNormal,
            bias: bias.then_some(Init::FanInUniform),
        }
    }

    /// The weight of `shape`, then the bias of [shape[0]], as parameters, drawn in that order;
    /// both use the weight's fan-in, as PyTorch does.
    pub(crate) fn params(
        self,
        dev: &Device,
        gen: &mut Generator,
        shape: &[usize],
    ) -> Result<(Tensor, Option<Tensor>)> {
        let numel = check_shape("layer_init", shape)?;
        let out = shape.first().copied().unwrap_or(1);
        let fan_in = numel / out;
        let weight = self.weight.tensor(dev, gen, shape, fan_in)?.into_param();
        let bias = match self.bias {
            Some(b) => Some(b.tensor(dev, gen, &[out], fan_in)?.into_param()),
            None => None,
        };
        Ok((weight, bias))
    }
}
