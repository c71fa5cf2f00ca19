//! A GAN iteration after warm-up: no allocation, no compile, one submit per optimizer step (each
//! of the n_dis D steps and the G step). Its own binary: the device counters are process-wide and
//! no other test may allocate or submit meanwhile.

mod common;
use common::{assert_steady, scratch};
use tailgrad::gan::{DiffAugConfig, GsrConfig, LeCamConfig};
use tailgrad::train::gan::{GanConfig, GanTrainer};

#[test]
fn a_gan_step_reaches_a_steady_state() {
    let s = scratch("gan-steady");
    let cfg = GanConfig {
        dataset: "bundled".into(),
        g_width: 8,
        d_width: 8,
        z_dim: 16,
        batch: 8,
        n_dis: 2,
        lecam: Some(LeCamConfig {
            start_step: 0,
            ..LeCamConfig::default()
        }),
        gsr: Some(GsrConfig::default()),
        diffaug: Some(DiffAugConfig::default()),
        out: s.0.clone(),
        ..GanConfig::default()
    };
    let mut t = GanTrainer::new(&cfg).unwrap();
    let d = t.device().clone();
    // Warm-up: LeCam's penalty starts at step 1, gSR's 40-iteration first call is at step 0.
    for _ in 0..2 {
        t.iteration().unwrap();
    }
    let mut marks = Vec::new();
    for _ in 0..4 {
        for j in 0..2 {
            t.d_step(j).unwrap();
            marks.push((d.buffers_created(), d.pipelines_compiled(), d.counters().1));
        }
        t.g_step().unwrap();
        marks.push((d.buffers_created(), d.pipelines_compiled(), d.counters().1));
    }
    assert_steady(&marks);
}
