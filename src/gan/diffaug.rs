//! DiffAugment (Zhao et al. 2020), policy `color,translation,cutout`, with the semantics of the
//! reference code (mit-han-lab/data-efficient-gans, `DiffAugment_pytorch.py`; gan.md §4,
//! methods.md §2.7): per-sample random brightness, saturation and contrast, a translation by up
//! to 1/8 of the side with zero fill and a half-size cutout, on images in [−1, 1]. It is
//! differentiable, so G gets its gradient through the augmented fakes.
//!
//! All random numbers of a call are one `[B, 7]` uniform tensor drawn on the GPU by Philox
//! (columns: brightness, saturation, contrast, tx, ty, ox, oy), a pure function of
//! (seed, step, slot): nothing is read back and nothing needs checkpointing.

use crate::ops::translate_cutout::TranslateCutout;
use crate::{DType, Error, Generator, Result, Tensor};
use serde::{Deserialize, Serialize};

/// Columns of the draws tensor: brightness, saturation, contrast, tx, ty, ox, oy.
pub const DRAW_COLUMNS: usize = 7;

/// The Philox stream of slot s is `STREAM_BASE | s`: apart from the streams other consumers of
/// the run seed use (0, 7, 0x1417), so the augmentation never repeats their numbers.
pub const STREAM_BASE: u32 = 0xD1FA_0000;

/// Slots per step (the low 16 bits of the stream).
pub const MAX_SLOTS: u32 = 1 << 16;

const OP: &str = "diffaug";

/// One entry of the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffAugOp {
    /// Brightness, saturation, then contrast.
    Color,
    Translation,
    Cutout,
}

impl DiffAugOp {
    /// Also the only order a policy may list them in (see [`DiffAugment::new`]).
    pub const ALL: [DiffAugOp; 3] = [DiffAugOp::Color, DiffAugOp::Translation, DiffAugOp::Cutout];

    pub fn name(self) -> &'static str {
        match self {
            DiffAugOp::Color => "color",
            DiffAugOp::Translation => "translation",
            DiffAugOp::Cutout => "cutout",
        }
    }
}

impl std::fmt::Display for DiffAugOp {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DiffAugOp {
    type Err = Error;
    fn from_str(s: &str) -> Result<DiffAugOp> {
        crate::error::parse_name("DiffAugment policy", s, &DiffAugOp::ALL, DiffAugOp::name)
    }
}

/// DiffAugment's knobs (a TOML table); the defaults are the reference's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiffAugConfig {
    /// Which augmentations, in the order color, translation, cutout (any subset; empty: none).
    pub policy: Vec<DiffAugOp>,
    /// Largest shift as a fraction of the side: int(H·r + 0.5) rows (4 at 32).
    pub translation_ratio: f64,
    /// Cutout side as a fraction of the side: int(H·r + 0.5) (16 at 32).
    pub cutout_ratio: f64,
}

impl Default for DiffAugConfig {
    fn default() -> Self {
        DiffAugConfig {
            policy: DiffAugOp::ALL.to_vec(),
            translation_ratio: 0.125,
            cutout_ratio: 0.5,
        }
    }
}

/// DiffAugment with a checked config. Stateless: every call's draws come from its arguments.
#[derive(Clone, Debug)]
pub struct DiffAugment {
    config: DiffAugConfig,
    color: bool,
    geometry: Option<TranslateCutout>,
}

impl DiffAugment {
    /// Checks the config: ratios in [0, 1], and the policy in the reference's order without
    /// repeats. The reference applies its entries in list order and the order changes the result
    /// (a cutout before color gets brightened, say); translation and cutout here run fused in
    /// that order, so another order is refused rather than silently reordered.
    pub fn new(config: DiffAugConfig) -> Result<DiffAugment> {
        let bad = |msg: String| Err(Error::Config(format!("diffaug: {msg}")));
        let rank = |op: &DiffAugOp| DiffAugOp::ALL.iter().position(|o| o == op);
        if config.policy.windows(2).any(|w| rank(&w[0]) >= rank(&w[1])) {
            let names: Vec<&str> = config.policy.iter().map(|o| o.name()).collect();
            return bad(format!(
                "policy must list color, translation, cutout in that order, each at most once, \
                 got [{}]",
                names.join(", ")
            ));
        }
        for (what, r) in [
            ("translation_ratio", config.translation_ratio),
            ("cutout_ratio", config.cutout_ratio),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return bad(format!("{what} must be in [0, 1], got {r}"));
            }
        }
        let has = |op| config.policy.contains(&op);
        let geometry = (has(DiffAugOp::Translation) || has(DiffAugOp::Cutout)).then(|| {
            // A ratio of 0 turns that part of the fused kernel off.
            TranslateCutout {
                translation_ratio: if has(DiffAugOp::Translation) {
                    config.translation_ratio
                } else {
                    0.0
                },
                cutout_ratio: if has(DiffAugOp::Cutout) {
                    config.cutout_ratio
                } else {
                    0.0
                },
            }
        });
        Ok(DiffAugment {
            color: has(DiffAugOp::Color),
            geometry,
            config,
        })
    }

    pub fn config(&self) -> &DiffAugConfig {
        &self.config
    }

    /// Augments `x` ([B, C, H, W], any C) with fresh draws that are a pure function of
    /// (`seed`, `step`, `slot`): the same arguments give the same output, so a resumed run
    /// repeats it exactly. Give every batch augmented within one step its own slot (real and
    /// fake of each D sub-step, the G step's fakes), so their draws are independent. `step` is
    /// below 2³² and `slot` below [`MAX_SLOTS`]: slot s uses Philox stream `STREAM_BASE | s`
    /// from block counter `step · 2³²`.
    pub fn apply(&self, x: &Tensor, seed: u64, step: u64, slot: u32) -> Result<Tensor> {
        check_images(x)?;
        if step > u32::MAX as u64 || slot >= MAX_SLOTS {
            return Err(Error::Invalid {
                op: OP,
                msg: format!(
                    "needs step < 2^32 and slot < {MAX_SLOTS}, got step {step}, slot {slot}"
                ),
            });
        }
        if !self.color && self.geometry.is_none() {
            return Ok(x.clone());
        }
        let mut gen = Generator::new(seed, STREAM_BASE | slot);
        gen.set_counter(step << 32);
        let draws = gen.rand(x.device(), &[x.shape()[0], DRAW_COLUMNS])?;
        self.apply_with(x, &draws)
    }

    /// Augments `x` with explicit uniform draws in [0, 1), `[B, 7]` f32 (the columns of
    /// [`DRAW_COLUMNS`]); for tests and golden vectors.
    pub fn apply_with(&self, x: &Tensor, draws: &Tensor) -> Result<Tensor> {
        check_images(x)?;
        if draws.dtype() != DType::F32 {
            return Err(Error::Invalid {
                op: OP,
                msg: format!("draws must be f32 uniforms, got {draws:?}"),
            });
        }
        if draws.shape() != [x.shape()[0], DRAW_COLUMNS] {
            return Err(Error::Shape {
                op: OP,
                lhs: x.shape().to_vec(),
                rhs: draws.shape().to_vec(),
            });
        }
        let mut y = x.clone();
        if self.color {
            y = color(&y, draws)?;
        }
        if let Some(tc) = &self.geometry {
            // Reads the last four columns: tx, ty, ox, oy.
            y = y.translate_cutout(draws, tc)?;
        }
        Ok(y)
    }
}

fn check_images(x: &Tensor) -> Result<()> {
    x.expect_f32(OP)?;
    if x.rank() != 4 {
        return Err(Error::Invalid {
            op: OP,
            msg: format!("needs [B, C, H, W] images, got shape {:?}", x.shape()),
        });
    }
    Ok(())
}

/// Brightness, saturation and contrast in closed form. With b = u₀ − 0.5, s = 2u₁, c = u₂ + 0.5,
/// m the channel mean of x and M its image mean, the reference's three steps
///   x₁ = x + b;  x₂ = (x₁ − mean_c x₁)·s + mean_c x₁;  x₃ = (x₂ − mean x₂)·c + mean x₂
/// equal x₃ = x·sc + m·c(1 − s) + M(1 − c) + b, because mean_c x₁ = m + b and
/// mean x₂ = M + b (the mean of x − m is 0). That is two full-size passes instead of nine; the
/// rest works on [B, 1, H, W] and [B, 1]. Built from differentiable ops, so x gets its gradient
/// (through the means too); the draws are constants.
fn color(x: &Tensor, draws: &Tensor) -> Result<Tensor> {
    let &[b, c, h, w] = x.shape() else {
        unreachable!("checked rank")
    };
    let per_sample = [b, 1, 1, 1];
    let u = |k: usize| draws.slice(1, k, k + 1); // [B, 1]
    let (u0, u1, u2) = (u(0)?, u(1)?, u(2)?);
    let sat = u1.scale(2.0)?;
    let con = u2.add_scalar(0.5)?;
    // s·c, the factor of x.
    let alpha = sat.mul(&con)?;
    // c(1 − s), divided by C to weigh the channel sum instead of the mean.
    let beta = con.sub(&alpha)?.scale(1.0 / c as f32)?;
    // (1 − c) / (C·H·W) = (0.5 − u₂) / (C·H·W), the weight of the image sum.
    let n = (c * h * w) as f32;
    let gamma_w = u2.affine(-1.0 / n, 0.5 / n)?;
    let sum_c = x.sum(1, true)?; // [B, 1, H, W]
    let sum = sum_c.reshape(&[b, h * w])?.sum(1, true)?; // [B, 1]
    let gamma = sum.mul(&gamma_w)?.add(&u0.add_scalar(-0.5)?)?; // M(1 − c) + b
    let per_pixel = sum_c
        .mul(&beta.reshape(&per_sample)?)?
        .add(&gamma.reshape(&per_sample)?)?;
    x.mul(&alpha.reshape(&per_sample)?)?.add(&per_pixel)
}
