//! Adam and AdamW (PyTorch's `torch.optim.Adam` / `AdamW`): bias-corrected first and second
//! moments, eps added outside the square root, weight decay either folded into the gradient
//! (Adam) or applied to the parameter as `x·(1 − lr·wd)` (AdamW).

use super::flat::{pick, Flat, Params};
use super::sgd::{check_lr, check_nonneg};
use super::Optimizer;
use crate::{kernel, Error, Result, Tensor};

kernel!(ADAM = "optim"::"adam" [ReadWrite, Read, ReadWrite, ReadWrite]);

/// Hyper-parameters of [`Adam`].
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    pub lr: f32,
    /// (β1, β2), each in [0, 1).
    pub betas: (f32, f32),
    pub eps: f32,
    pub weight_decay: f32,
    /// AdamW: decay the parameter directly instead of adding `wd·x` to the gradient.
    pub decoupled_weight_decay: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
        }
    }
}

impl AdamConfig {
    /// PyTorch's AdamW defaults: lr 1e-3, weight decay 1e-2, decoupled.
    pub fn adamw() -> Self {
        AdamConfig {
            weight_decay: 1e-2,
            decoupled_weight_decay: true,
            ..Self::default()
        }
    }
}

/// Adam / AdamW over a fixed list of parameters; see the [module docs](super).
pub struct Adam {
    cfg: AdamConfig,
    flat: Flat,
    m: Tensor,
    v: Tensor,
    /// Steps taken by each parameter (skipped steps do not count, as in PyTorch).
    steps: Vec<u32>,
}

impl Adam {
    pub fn new(params: Vec<Tensor>, cfg: AdamConfig) -> Result<Adam> {
        check_lr("adam", cfg.lr)?;
        // eps > 0: the zero padding between parameters in the flat buffers computes 0/(0 + eps).
        if !(cfg.eps.is_finite() && cfg.eps > 0.0) {
            return Err(Error::Invalid {
                op: "adam",
                msg: format!("eps must be finite and > 0, got {}", cfg.eps),
            });
        }
        check_nonneg("adam", "weight_decay", cfg.weight_decay)?;
        let (b1, b2) = cfg.betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return Err(Error::Invalid {
                op: "adam",
                msg: format!("betas must lie in [0, 1), got ({b1}, {b2})"),
            });
        }
        let flat = Flat::new("adam", params)?;
        let (m, v) = (flat.zeros()?, flat.zeros()?);
        let steps = vec![0; flat.params.len()];
        Ok(Adam {
            cfg,
            flat,
            m,
            v,
            steps,
        })
    }

    pub fn config(&self) -> &AdamConfig {
        &self.cfg
    }

    pub fn params(&self) -> &[Tensor] {
        &self.flat.params
    }

    /// The uniform block for parameters at step `t` (already counted).
    fn uniform(&self, offset: u32, count: u32, t: u32) -> Params {
        let c = &self.cfg;
        let (b1, b2) = (c.betas.0 as f64, c.betas.1 as f64);
        let bc1 = 1.0 - b1.powf(t as f64);
        let bc2 = 1.0 - b2.powf(t as f64);
        let (l2, decay) = if c.decoupled_weight_decay {
            (0.0, 1.0 - c.lr * c.weight_decay)
        } else {
            (c.weight_decay, 1.0)
        };
        Params {
            offset,
            count,
            lr: c.lr,
            l2,
            decay,
            mu: c.betas.0,
            beta2: c.betas.1,
            eps: c.eps,
            step_size: (c.lr as f64 / bc1) as f32,
            inv_bc2_sqrt: (1.0 / bc2.sqrt()) as f32,
            ..bytemuck::Zeroable::zeroed()
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self) -> Result<()> {
        check_lr("adam", self.cfg.lr)?;
        let grads = self.flat.grads("adam")?;
        for (s, g) in self.steps.iter_mut().zip(&grads) {
            *s = s.saturating_add(g.is_some() as u32);
        }
        self.flat.gather(&grads);
        let steps = &self.steps;
        for run in self.flat.runs(|i| grads[i].as_ref().map(|_| steps[i])) {
            let p = self.uniform(run.offset, run.count, run.key);
            let res = [&self.flat.g, &self.m, &self.v];
            self.flat
                .dispatch("adam", &ADAM, bytemuck::bytes_of(&p), run.count, &res)?;
        }
        self.flat.scatter(&grads);
        Ok(())
    }

    fn zero_grad(&self) {
        self.flat.params.iter().for_each(Tensor::zero_grad);
    }

    fn set_lr(&mut self, lr: f32) {
        self.cfg.lr = lr;
    }

    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    /// `"m"` and `"v"` (f32, parameters concatenated) and `"step"` (u32, one per parameter).
    fn state(&self) -> Result<Vec<(String, Tensor)>> {
        let dev = self.flat.device();
        let n = self.steps.len();
        Ok(vec![
            ("m".into(), self.flat.export(&self.m)?),
            ("v".into(), self.flat.export(&self.v)?),
            ("step".into(), Tensor::from_u32(dev, &self.steps, &[n])?),
        ])
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let op = "adam_load_state";
        let [m, v, step] = pick(op, state, ["m", "v", "step"])?;
        if step.dtype() != crate::DType::U32 || step.shape() != [self.steps.len()] {
            return Err(Error::Invalid {
                op,
                msg: format!(
                    "state \"step\" must be u32 of shape [{}], got {:?} {:?}",
                    self.steps.len(),
                    step.dtype(),
                    step.shape()
                ),
            });
        }
        self.flat.check_state(op, "m", m)?;
        self.flat.check_state(op, "v", v)?;
        self.steps = step.to_vec_u32()?;
        self.flat.import(m, &self.m);
        self.flat.import(v, &self.v);
        Ok(())
    }
}
