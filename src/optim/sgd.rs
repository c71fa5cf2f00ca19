//! Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (PyTorch's
//! `torch.optim.SGD` with dampening 0).

use super::flat::{pick, Flat, Params};
use super::Optimizer;
use crate::{kernel, Error, Result, Tensor};

kernel!(SGD = "optim"::"sgd" [ReadWrite, Read, ReadWrite]);

/// Hyper-parameters of [`Sgd`].
#[derive(Clone, Copy, Debug)]
pub struct SgdConfig {
    pub lr: f32,
    /// μ in `buf = μ·buf + g`; 0 keeps no momentum buffer.
    pub momentum: f32,
    /// Step along `g + μ·buf` instead of `buf` (needs momentum > 0).
    pub nesterov: bool,
    /// L2 penalty added to the gradient: `g + wd·x`.
    pub weight_decay: f32,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

/// SGD over a fixed list of parameters; see the [module docs](super).
pub struct Sgd {
    cfg: SgdConfig,
    flat: Flat,
    /// The momentum buffer, or a 4-element placeholder bound (never touched) when momentum is 0.
    buf: Tensor,
}

pub(super) fn check_lr(op: &'static str, lr: f32) -> Result<()> {
    if lr.is_finite() && lr >= 0.0 {
        return Ok(());
    }
    Err(Error::Invalid {
        op,
        msg: format!("learning rate must be finite and >= 0, got {lr}"),
    })
}

pub(super) fn check_nonneg(op: &'static str, what: &str, v: f32) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        return Ok(());
    }
    Err(Error::Invalid {
        op,
        msg: format!("{what} must be finite and >= 0, got {v}"),
    })
}

impl Sgd {
    pub fn new(params: Vec<Tensor>, cfg: SgdConfig) -> Result<Sgd> {
        check_lr("sgd", cfg.lr)?;
        check_nonneg("sgd", "momentum", cfg.momentum)?;
        check_nonneg("sgd", "weight_decay", cfg.weight_decay)?;
        if cfg.nesterov && cfg.momentum == 0.0 {
            return Err(Error::Invalid {
                op: "sgd",
                msg: "Nesterov momentum needs momentum > 0".into(),
            });
        }
        let flat = Flat::new("sgd", params)?;
        let buf = if cfg.momentum > 0.0 {
            flat.zeros()?
        } else {
            Tensor::zeros(flat.device(), &[4])?
        };
        Ok(Sgd { cfg, flat, buf })
    }

    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }

    pub fn params(&self) -> &[Tensor] {
        &self.flat.params
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        check_lr("sgd", self.cfg.lr)?;
        let grads = self.flat.grads("sgd")?;
        self.flat.gather(&grads);
        for run in self.flat.runs(|i| grads[i].as_ref().map(|_| ())) {
            let p = Params {
                offset: run.offset,
                count: run.count,
                momentum_on: (self.cfg.momentum > 0.0) as u32,
                nesterov: self.cfg.nesterov as u32,
                lr: self.cfg.lr,
                l2: self.cfg.weight_decay,
                decay: 1.0,
                mu: self.cfg.momentum,
                ..bytemuck::Zeroable::zeroed()
            };
            let res = [&self.flat.g, &self.buf];
            self.flat
                .dispatch("sgd", &SGD, bytemuck::bytes_of(&p), run.count, &res)?;
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

    /// `"momentum"` when momentum > 0; nothing otherwise.
    fn state(&self) -> Result<Vec<(String, Tensor)>> {
        if self.cfg.momentum == 0.0 {
            return Ok(vec![]);
        }
        Ok(vec![("momentum".into(), self.flat.export(&self.buf)?)])
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        if self.cfg.momentum == 0.0 {
            pick("sgd_load_state", state, [])?;
            return Ok(());
        }
        let [m] = pick("sgd_load_state", state, ["momentum"])?;
        self.flat.check_state("sgd_load_state", "momentum", m)?;
        self.flat.import(m, &self.buf);
        Ok(())
    }
}
