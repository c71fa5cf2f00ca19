//! The tiny GAN run the trainer tests share.

use std::path::Path;
use tailgrad::gan::{DiffAugConfig, GsrConfig, LeCamConfig};
use tailgrad::train::gan::GanConfig;

/// The bundled set, widths 8, z 16, batch 8, two D steps per G step, six G steps (a line every
/// 2, a grid and a checkpoint every 3), LeCam active from the start, gSR and DiffAugment on.
pub fn tiny(out: &Path) -> GanConfig {
    GanConfig {
        dataset: "bundled".into(),
        g_width: 8,
        d_width: 8,
        z_dim: 16,
        batch: 8,
        n_dis: 2,
        steps: 6,
        log_every: 2,
        sample_every: 3,
        checkpoint_every: 3,
        grid_columns: 2,
        lecam: Some(LeCamConfig {
            start_step: 0,
            ..LeCamConfig::default()
        }),
        gsr: Some(GsrConfig::default()),
        diffaug: Some(DiffAugConfig::default()),
        out: out.to_path_buf(),
        ..GanConfig::default()
    }
}
