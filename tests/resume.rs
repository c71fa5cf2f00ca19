//! Exact resume: a run killed (at an epoch end, or mid-epoch after a step checkpoint) and resumed
//! must end where the uninterrupted run ends, bit for bit: every metrics line but its wall time,
//! the final evaluation, and every checkpoint entry (weights, BN buffers, optimizer state,
//! counters) but the wall-time counter. For sgd, adam and adamw, and GCL killed in either stage.

mod common;
use common::run_dir::assert_same_run;
use common::scratch;
use tailgrad::train::{train_classifier, Method, RunOptions, Stop, TrainConfig};
use tailgrad::Error;

fn quiet() -> RunOptions {
    RunOptions {
        quiet: true,
        ..RunOptions::default()
    }
}

/// The demo preset at batch 128 (19 steps an epoch), two epochs.
fn small() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch: 128,
        ..TrainConfig::demo()
    }
}

/// Runs `cfg` uninterrupted, then killed at `stop` and resumed, and compares the two.
fn check_resume(name: &str, cfg: TrainConfig, stop: Stop) {
    let full_tmp = scratch(&format!("{name}-full"));
    let cut_tmp = scratch(&format!("{name}-cut"));
    let (full_dir, cut_dir) = (full_tmp.to_path_buf(), cut_tmp.to_path_buf());
    let full_cfg = TrainConfig {
        out: full_dir.clone(),
        ..cfg.clone()
    };
    let full = train_classifier(&full_cfg, &quiet()).unwrap();
    let cut_cfg = TrainConfig {
        out: cut_dir.clone(),
        ..cfg
    };
    let killed = RunOptions {
        stop: Some(stop),
        ..quiet()
    };
    match train_classifier(&cut_cfg, &killed) {
        Err(Error::Stopped(_)) => {}
        other => panic!("{name}: the kill at {stop:?} did not happen: {other:?}"),
    }
    let resume = RunOptions {
        resume: true,
        ..quiet()
    };
    let resumed = train_classifier(&cut_cfg, &resume).unwrap();
    assert_eq!(resumed.eval, full.eval, "{name}: final evaluation differs");
    assert_same_run(&full_dir, &cut_dir);
    if cut_cfg.method == Method::Gcl {
        assert_same_run(&full_dir.join("stage2"), &cut_dir.join("stage2"));
        let s2 = |s: &tailgrad::train::Summary| s.stage2.as_ref().unwrap().eval.clone();
        assert_eq!(s2(&resumed), s2(&full), "{name}: stage 2 differs");
    }
}

/// Killed in `stage` after `epochs` epochs and `steps` steps of the next.
fn stop(stage: usize, epochs: usize, steps: usize) -> Stop {
    Stop {
        stage,
        epochs,
        steps,
    }
}

fn with_optim(name: &str, lr: f32, weight_decay: f32) -> TrainConfig {
    let mut cfg = small();
    cfg.optim.name = name.into();
    cfg.optim.lr = lr;
    cfg.optim.weight_decay = weight_decay;
    cfg
}

#[test]
fn sgd_killed_after_an_epoch() {
    check_resume("sgd", small(), stop(1, 1, 0));
}

#[test]
fn adam_killed_after_an_epoch() {
    check_resume("adam", with_optim("adam", 1e-3, 0.0), stop(1, 1, 0));
}

/// Killed 7 steps into epoch 2 with a checkpoint every 5 steps (global step 24 = 19 + 5 is the
/// last one): the resumed run repeats two steps and must land on the same bits.
#[test]
fn adamw_killed_mid_epoch() {
    let cfg = TrainConfig {
        checkpoint_every: 5,
        ..with_optim("adamw", 1e-3, 1e-2)
    };
    check_resume("adamw", cfg, stop(1, 1, 7));
}

fn gcl() -> TrainConfig {
    let mut cfg = small();
    cfg.method = Method::Gcl;
    cfg.stage2.epochs = 2;
    cfg.checkpoint_every = 4;
    cfg
}

#[test]
fn gcl_killed_in_stage_1() {
    check_resume("gcl1", gcl(), stop(1, 1, 6));
}

#[test]
fn gcl_killed_in_stage_2() {
    check_resume("gcl2", gcl(), stop(2, 1, 3));
}
