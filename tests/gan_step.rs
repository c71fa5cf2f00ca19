//! A GAN iteration after warm-up: no allocation, no compile, one submit per optimizer step (each
//! of the n_dis D steps and the G step). Its own binary: the device counters are process-wide and
//! no other test may allocate or submit meanwhile.

mod common;
use common::gan::tiny;
use common::{assert_steady, scratch};
use tailgrad::train::gan::GanTrainer;

#[test]
fn a_gan_step_reaches_a_steady_state() {
    let s = scratch("gan-steady");
    let mut t = GanTrainer::new(&tiny(&s.0)).unwrap();
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
