//! Embedding table `weight [K, D]`: `forward(labels [B])` picks rows, `[B, D]`. Its gradient
//! scatter-adds into the picked rows (`index_add`: deterministic, duplicates accumulate).
//!
//! A label ≥ K cannot be reported from the GPU without a readback, so its row reads as NaN
//! (it poisons the loss, and `TAILGRAD_DEBUG=sync` names the op) and gets no gradient. Labels
//! drawn on the host should go through [`Embedding::labels`], which checks them before upload.

use super::{param, Init, Mode, Module, State, Stateful};
use crate::{Device, Error, Generator, Result, Tensor};

pub struct Embedding {
    pub weight: Tensor,
}

impl Embedding {
    /// `k` rows of `dim`, orthogonally initialised as the GAN repositories do (gSR, StudioGAN:
    /// rows orthonormal for k ≤ dim). PyTorch's own default is `Init::Normal { std: 1.0 }`.
    pub fn new(dev: &Device, gen: &mut Generator, k: usize, dim: usize) -> Result<Embedding> {
        Self::with_init(dev, gen, k, dim, Init::Orthogonal { gain: 1.0 })
    }

    /// `k` rows of `dim` drawn with `init` (fan-in `dim`).
    pub fn with_init(
        dev: &Device,
        gen: &mut Generator,
        k: usize,
        dim: usize,
        init: Init,
    ) -> Result<Embedding> {
        let weight = init.tensor(dev, gen, &[k, dim], dim)?.into_param();
        Ok(Embedding { weight })
    }

    /// Number of rows (classes); 0 for a scalar table, which every label then misses.
    pub fn rows(&self) -> usize {
        self.weight.shape().first().copied().unwrap_or(0)
    }

    /// Uploads host labels as a u32 `[B]` tensor after checking each is below [`Self::rows`].
    pub fn labels(&self, dev: &Device, labels: &[u32]) -> Result<Tensor> {
        upload_labels(dev, labels, self.rows())
    }
}

/// `labels` as a u32 `[B]` tensor, or `Error::Invalid` naming the first label ≥ `k`.
pub(crate) fn upload_labels(dev: &Device, labels: &[u32], k: usize) -> Result<Tensor> {
    if let Some(i) = labels.iter().position(|&y| y as usize >= k) {
        return Err(Error::Invalid {
            op: "embedding",
            msg: format!(
                "label {} at position {i} is out of range for {k} rows",
                labels[i]
            ),
        });
    }
    Tensor::from_u32(dev, labels, &[labels.len()])
}

/// Rows `labels` of `table`, NaN for a label past the table (see the module docs).
pub(crate) fn lookup(table: &Tensor, labels: &Tensor) -> Result<Tensor> {
    table.lookup_rows(labels, "embedding")
}

impl Stateful for Embedding {
    fn state(&self, prefix: &str, out: &mut Vec<State>) {
        param(out, prefix, "weight", &self.weight);
    }
}

impl Module for Embedding {
    /// `labels`: u32 `[B]`; returns `[B, D]`. The mode makes no difference.
    fn forward(&self, labels: &Tensor, _: Mode) -> Result<Tensor> {
        lookup(&self.weight, labels)
    }
}
