//! The long-tail losses (methods.md §1.2, §4.4, §5.1, §5.6, B.2–B.3). Each is one launch of the
//! fused `adjusted_ce` kernel; the per-class tensors it reads (margins, cloud amplitudes, log
//! priors, class weights) are computed once from the training counts.

pub use crate::data::long_tail::effective_weights;
use crate::ops::adjusted_ce::{AdjustedCe, Cloud, Focal};
use crate::{Device, Error, Generator, Result, Tensor};
use serde::{Deserialize, Serialize};

/// The training objective of a classifier run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Softmax cross-entropy.
    Ce,
    /// Focal loss (1 − p)^γ·CE, gradient through p (Lin et al. 2017).
    Focal,
    /// CE weighted per class by the inverse effective number (Cui et al. 2019).
    CbCe,
    /// Focal loss with the same class weights.
    CbFocal,
    /// Logit Adjustment, loss form: CE(z + τ ln π) (Menon et al. 2021).
    La,
    /// Logit Adjustment, post-hoc form: CE in training, argmax(z − τ ln π) at prediction.
    LaPosthoc,
    /// Balanced Softmax: CE(z + ln π) (Ren et al. 2020).
    Balce,
    /// LDAM margins on a cosine head with deferred re-weighting (Cao et al. 2019).
    LdamDrw,
    /// Gaussian clouded logit adjustment on a cosine head (Li et al. 2022), stage 1 by default.
    Gcl,
}

impl Method {
    pub const ALL: [Method; 9] = [
        Method::Ce,
        Method::Focal,
        Method::CbCe,
        Method::CbFocal,
        Method::La,
        Method::LaPosthoc,
        Method::Balce,
        Method::LdamDrw,
        Method::Gcl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Ce => "ce",
            Method::Focal => "focal",
            Method::CbCe => "cb-ce",
            Method::CbFocal => "cb-focal",
            Method::La => "la",
            Method::LaPosthoc => "la-posthoc",
            Method::Balce => "balce",
            Method::LdamDrw => "ldam-drw",
            Method::Gcl => "gcl",
        }
    }

    /// LDAM and GCL put their margins on cosine logits (both official codes use NormedLinear).
    pub fn wants_cosine_head(self) -> bool {
        matches!(self, Method::LdamDrw | Method::Gcl)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Method> {
        crate::error::parse_name("method", s, &Method::ALL, Method::name)
    }
}

/// Every hyper-parameter of the losses; the defaults are the papers' CIFAR settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossKnobs {
    /// γ of `focal` and `cb-focal`.
    pub focal_gamma: f32,
    /// β of the effective number in `cb-*` and in the DRW weights of `ldam-drw`.
    pub cb_beta: f64,
    /// τ of `la` and `la-posthoc`.
    pub la_tau: f32,
    /// The largest LDAM margin (m_j ∝ n_j^(−1/4)).
    pub ldam_max_m: f32,
    /// Logit scale of LDAM.
    pub ldam_s: f32,
    /// DRW re-weights from the epoch after this one (1-indexed).
    pub drw_epoch: usize,
    /// GCL scale s, target margin m, cloud size ε and focal γ (0 = none); stage 1 values.
    pub gcl_s: f32,
    pub gcl_m: f32,
    pub gcl_eps: f32,
    pub gcl_gamma: f32,
}

impl Default for LossKnobs {
    fn default() -> Self {
        LossKnobs {
            focal_gamma: 1.0,
            cb_beta: 0.9999,
            la_tau: 1.0,
            ldam_max_m: 0.5,
            ldam_s: 30.0,
            drw_epoch: 160,
            gcl_s: 30.0,
            gcl_m: 0.0,
            gcl_eps: 0.5,
            gcl_gamma: 0.0,
        }
    }
}

/// The Philox stream of the GCL cloud noise (a loss owns `Generator::new(seed, NOISE_STREAM)`).
pub const NOISE_STREAM: u32 = 7;

/// What a silenced (class, label) pair adds to the logit: the official code's hard mask.
const SILENCED: f32 = -99999.0;

/// A loss bound to one training set's class counts.
pub struct Loss {
    dev: Device,
    method: Method,
    counts: Vec<usize>,
    knobs: LossKnobs,
    margin: Option<Tensor>,
    amp: Option<Tensor>,
    /// Added after scaling: [C] (τ ln π) or [K, K] (prior plus the silencing mask of the label).
    bias: Option<Tensor>,
    /// Class weights of `cb-*`, or of `ldam-drw` after `drw_epoch`.
    weights: Option<Tensor>,
    /// −τ ln π, added to the logits before prediction (`la-posthoc`).
    posthoc: Option<Tensor>,
    gen: Generator,
}

impl Loss {
    /// `counts[j]` = training images of class j; `seed` keys the GCL cloud noise.
    pub fn new(
        dev: &Device,
        method: Method,
        knobs: &LossKnobs,
        counts: &[usize],
        seed: u64,
    ) -> Result<Loss> {
        check_knobs(knobs)?;
        if counts.is_empty() || counts.contains(&0) {
            return Err(Error::Config(format!(
                "{method}: every class needs training images, got counts {counts:?}"
            )));
        }
        let c = counts.len();
        let upload = |v: Vec<f32>| Tensor::from_slice(dev, &v, &[c]);
        let mut loss = Loss {
            dev: dev.clone(),
            method,
            counts: counts.to_vec(),
            knobs: knobs.clone(),
            margin: None,
            amp: None,
            bias: None,
            weights: None,
            posthoc: None,
            gen: Generator::new(seed, NOISE_STREAM),
        };
        match method {
            Method::Ce | Method::Focal => {}
            Method::CbCe | Method::CbFocal => {
                loss.weights = Some(upload(effective_weights(counts, knobs.cb_beta))?)
            }
            Method::La => loss.bias = Some(upload(log_prior(counts, knobs.la_tau))?),
            Method::LaPosthoc => loss.posthoc = Some(upload(log_prior(counts, -knobs.la_tau))?),
            Method::Balce => loss.bias = Some(upload(log_prior(counts, 1.0))?),
            Method::LdamDrw => {
                loss.margin = Some(upload(ldam_margins(counts, knobs.ldam_max_m))?);
                loss.weights = Some(upload(effective_weights(counts, knobs.cb_beta))?);
            }
            Method::Gcl => {
                loss.amp = Some(upload(cloud_amplitudes(counts))?);
                if knobs.gcl_m != 0.0 {
                    loss.margin = Some(upload(vec![knobs.gcl_m; c])?);
                }
            }
        }
        Ok(loss)
    }

    /// Neighbour silencing (methods.md B.3) on top of `balce`: `mask` is K×K row-major, true
    /// where class j stays in the softmax of a sample labelled y. Silenced entries get −99999
    /// (the official hard mask) or ln λ with `soft_lambda = Some(λ)`.
    pub fn with_silencing(mut self, mask: &[bool], soft_lambda: Option<f32>) -> Result<Loss> {
        if self.method != Method::Balce {
            return Err(Error::Config(format!(
                "neighbour silencing goes with balce, not {}",
                self.method
            )));
        }
        let prior = log_prior(&self.counts, 1.0);
        let k = prior.len();
        if mask.len() != k * k || (0..k).any(|y| !mask[y * k + y]) {
            return Err(Error::Config(format!(
                "the silencing mask must be {k}×{k} with every class kept for its own label"
            )));
        }
        let off = match soft_lambda {
            None => SILENCED,
            Some(l) if l > 0.0 && l <= 1.0 => l.ln(),
            Some(l) => {
                return Err(Error::Config(format!(
                    "soft silencing needs 0 < λ <= 1, got {l}"
                )))
            }
        };
        let bias: Vec<f32> = mask
            .iter()
            .enumerate()
            .map(|(i, &keep)| prior[i % k] + if keep { 0.0 } else { off })
            .collect();
        self.bias = Some(Tensor::from_slice(&self.dev, &bias, &[k, k])?);
        Ok(self)
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// Mean loss [1] of `logits` [B, C] against u32 `labels` [B], with a gradient to the logits.
    /// `epoch` is 1-indexed (DRW switches on after `drw_epoch`).
    pub fn forward(&mut self, logits: &Tensor, labels: &Tensor, epoch: usize) -> Result<Tensor> {
        let k = &self.knobs;
        let (scale, weights, focal) = match self.method {
            Method::Focal => (1.0, None, Some(full_focal(k.focal_gamma))),
            Method::CbCe => (1.0, self.weights.as_ref(), None),
            Method::CbFocal => (1.0, self.weights.as_ref(), Some(full_focal(k.focal_gamma))),
            Method::LdamDrw => {
                let drw = epoch > k.drw_epoch;
                (k.ldam_s, self.weights.as_ref().filter(|_| drw), None)
            }
            Method::Gcl => {
                let focal = (k.gcl_gamma > 0.0).then_some(Focal {
                    gamma: k.gcl_gamma,
                    detach: true,
                });
                (k.gcl_s, None, focal)
            }
            Method::Ce | Method::La | Method::LaPosthoc | Method::Balce => (1.0, None, None),
        };
        let cloud = self.amp.as_ref().map(|amp| Cloud {
            amp,
            eps: k.gcl_eps,
            gen: &mut self.gen,
        });
        logits.adjusted_ce(
            labels,
            AdjustedCe {
                scale,
                margin: self.margin.as_ref(),
                cloud,
                bias: self.bias.as_ref(),
                weights,
                focal,
            },
        )
    }

    /// What prediction takes the argmax of: z − τ ln π for `la-posthoc`, the logits otherwise
    /// (GCL predicts from the unperturbed cosines, Balanced Softmax from the raw logits).
    pub fn predict(&self, logits: &Tensor) -> Result<Tensor> {
        match &self.posthoc {
            Some(adj) => logits.add(adj),
            None => Ok(logits.clone()),
        }
    }

    /// The noise generator's position, for checkpoints.
    pub fn noise_counter(&self) -> u64 {
        self.gen.counter()
    }

    pub fn set_noise_counter(&mut self, counter: u64) {
        self.gen.set_counter(counter)
    }
}

fn full_focal(gamma: f32) -> Focal {
    Focal {
        gamma,
        detach: false,
    }
}

fn check_knobs(k: &LossKnobs) -> Result<()> {
    let finite = [
        k.focal_gamma,
        k.gcl_gamma,
        k.la_tau,
        k.ldam_max_m,
        k.ldam_s,
        k.gcl_s,
        k.gcl_m,
        k.gcl_eps,
    ]
    .iter()
    .all(|v| v.is_finite());
    let ok = finite
        && k.focal_gamma >= 0.0
        && k.gcl_gamma >= 0.0
        && (0.0..1.0).contains(&k.cb_beta)
        && k.ldam_s > 0.0
        && k.gcl_s > 0.0
        && k.gcl_eps >= 0.0;
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "loss knobs out of range (need γ >= 0, 0 <= β < 1, s > 0, ε >= 0, all finite): {k:?}"
        )))
    }
}

/// τ·ln π_j with π the class frequencies.
pub fn log_prior(counts: &[usize], tau: f32) -> Vec<f32> {
    let total: f64 = counts.iter().map(|&n| n as f64).sum();
    counts
        .iter()
        .map(|&n| (tau as f64 * (n as f64 / total).ln()) as f32)
        .collect()
}

/// LDAM margins m_j ∝ n_j^(−1/4), the largest equal to `max_m`.
pub fn ldam_margins(counts: &[usize], max_m: f32) -> Vec<f32> {
    let m: Vec<f64> = counts.iter().map(|&n| (n as f64).powf(-0.25)).collect();
    let top = m.iter().cloned().fold(0.0, f64::max);
    m.iter().map(|v| (v * max_m as f64 / top) as f32).collect()
}

/// GCL cloud sizes ã_j = (ln n_max − ln n_j)/(ln n_max − ln n_min) ∈ [0, 1]; all 0 when balanced.
pub fn cloud_amplitudes(counts: &[usize]) -> Vec<f32> {
    let ln: Vec<f64> = counts.iter().map(|&n| (n as f64).ln()).collect();
    let hi = ln.iter().cloned().fold(f64::MIN, f64::max);
    let lo = ln.iter().cloned().fold(f64::MAX, f64::min);
    ln.iter()
        .map(|v| {
            if hi > lo {
                ((hi - v) / (hi - lo)) as f32
            } else {
                0.0
            }
        })
        .collect()
}
