//! The GAN trainer (`train::gan`) at a tiny size on the bundled long-tailed set: exact resume
//! (a run killed between checkpoints and resumed ends bit for bit where the uninterrupted run
//! ends), D's gradients untouched by a G step, the run directory, sampling, and config errors.
//! `tests/gan_step.rs` has the steady state.

mod common;
use common::gan::tiny;
use common::run_dir::{assert_same_run, entries, metrics};
use common::scratch;
use std::path::Path;
use tailgrad::gan::{GsrConfig, MixConfig, MixFormalism, MixKind};
use tailgrad::nn::{self, Mode};
use tailgrad::train::gan::{
    generate, load_generator, train_gan, GanConfig, GanRunOptions, GanTrainer,
};
use tailgrad::{Error, Tensor};

fn quiet() -> GanRunOptions {
    GanRunOptions {
        quiet: true,
        ..GanRunOptions::default()
    }
}

#[test]
fn a_killed_run_resumes_bit_for_bit() {
    assert_resumes("gan-resume", &|out| tiny(out));
}

#[test]
fn a_mixing_run_resumes_bit_for_bit() {
    // SRMix with the consistency formalism: D sees real, fake, paired fake and mixed blocks.
    assert_resumes("gan-resume-mix", &|out| GanConfig {
        mixing: Some(MixConfig {
            kind: MixKind::SrMix,
            formalism: MixFormalism::Consistency,
            p_mix: 0.5,
            ..MixConfig::default()
        }),
        ..tiny(out)
    });
}

fn assert_resumes(name: &str, config: &dyn Fn(&Path) -> GanConfig) {
    let s = scratch(name);
    let full = config(&s.0.join("full"));
    train_gan(&full, &quiet()).unwrap();
    // Killed after G step 5: the last checkpoint is step 3, so steps 4 and 5 run twice.
    let cut = config(&s.0.join("cut"));
    let stop = GanRunOptions {
        stop_at: Some(5),
        ..quiet()
    };
    assert!(matches!(train_gan(&cut, &stop), Err(Error::Stopped(_))));
    let resume = GanRunOptions {
        resume: true,
        ..quiet()
    };
    let summary = train_gan(&cut, &resume).unwrap();
    assert_eq!(summary.steps, 6);
    assert_same_run(&full.out, &cut.out);
    assert_eq!(metrics(&full.out).len(), 3);
    let a = entries(&full.out);
    // The regularizers' state is in it.
    for name in [
        "tensor.lecam.ema_real",
        "tensor.gsr.u",
        "module.d.linear1.weight_u",
    ] {
        assert!(a.iter().any(|(n, _)| n == name), "{name} missing");
    }
}

#[test]
fn the_run_directory_has_everything() {
    let s = scratch("gan-dir");
    let cfg = GanConfig {
        lecam: None,
        gsr: None,
        diffaug: None,
        ..tiny(&s.0)
    };
    let summary = train_gan(&cfg, &quiet()).unwrap();
    for f in [
        "config.toml",
        "metrics.jsonl",
        "summary.json",
        "checkpoint.safetensors",
        "samples.png",
        "samples/step_0000003.png",
        "samples/step_0000006.png",
        "loss.png",
        "d_outputs.png",
        "sigma.png",
        "sigma_splits.png",
    ] {
        assert!(s.0.join(f).exists(), "{f} missing");
    }
    let last = summary.last.unwrap();
    assert_eq!(last.step, 6);
    // Without gSR the monitor still reports σ for every layer, table and class.
    assert_eq!(last.sigma.len(), 6);
    assert!(last.sigma.iter().all(|l| l.len() == 2 && l[0].len() == 10));
    assert!(last
        .sigma
        .iter()
        .flatten()
        .flatten()
        .all(|v| v.is_finite() && *v > 0.0));
    assert_eq!((last.gsr, last.lecam, last.lecam_ema), (0.0, 0.0, None));
    assert!(last.d_loss.is_finite() && last.g_loss.is_finite());
    // The written config reads back to the same run.
    let back = GanConfig::from_file(&s.0.join("config.toml")).unwrap();
    assert_eq!(back, cfg);
    // Sampling from the checkpoint: G's weights and the class names come back.
    let (g, read, names) = load_generator(&s.0.join("checkpoint.safetensors")).unwrap();
    assert_eq!((read, names.len()), (cfg, 10));
    let x = generate(&g, &[0, 9, 3], 5, 2).unwrap();
    assert_eq!(x.len(), 3 * 32 * 32);
    assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));
}

#[test]
fn a_g_step_leaves_d_gradients_alone() {
    let s = scratch("gan-freeze");
    let mut t = GanTrainer::new(&tiny(&s.0)).unwrap();
    t.iteration().unwrap();
    // Give D's parameters gradients, then take a G step.
    let dev = t.device().clone();
    let x = Tensor::zeros(&dev, &[4, 1, 32, 32])
        .unwrap()
        .add_scalar(0.3)
        .unwrap();
    let y = Tensor::from_u32(&dev, &[0, 1, 2, 3], &[4]).unwrap();
    t.d.forward(&x, &y, Mode::Eval)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let before: Vec<Vec<f32>> = nn::parameters(&t.d)
        .iter()
        .map(|p| p.grad().unwrap().to_vec().unwrap())
        .collect();
    let g_before: Vec<Vec<f32>> = nn::parameters(&t.g)
        .iter()
        .map(|p| p.to_vec().unwrap())
        .collect();
    t.g_step().unwrap();
    for (p, b) in nn::parameters(&t.d).iter().zip(&before) {
        assert_eq!(
            &p.grad().unwrap().to_vec().unwrap(),
            b,
            "a G step changed D's gradient"
        );
        assert!(p.requires_grad(), "D stays trainable after the G step");
    }
    let g_after: Vec<Vec<f32>> = nn::parameters(&t.g)
        .iter()
        .map(|p| p.to_vec().unwrap())
        .collect();
    assert_ne!(g_before, g_after, "the G step trained G");
}

#[test]
fn cutmix_can_replace_the_fake_half() {
    let s = scratch("gan-replace");
    let cfg = GanConfig {
        steps: 2,
        lecam: None,
        mixing: Some(MixConfig {
            kind: MixKind::CutMix,
            replace_fake: true,
            ..MixConfig::default()
        }),
        ..tiny(&s.0)
    };
    let last = train_gan(&cfg, &quiet()).unwrap().last.unwrap();
    assert!(last.d_loss.is_finite() && last.d_fake.is_finite());
}

#[test]
fn configs_are_checked() {
    let s = scratch("gan-config");
    let bad = |cfg: GanConfig, want: &str| match GanTrainer::new(&cfg) {
        Err(Error::Config(msg)) => assert!(msg.contains(want), "{msg:?} lacks {want:?}"),
        Err(e) => panic!("{e:?} for {want:?}"),
        Ok(_) => panic!("accepted a config with {want:?}"),
    };
    let base = tiny(&s.0);
    bad(
        GanConfig {
            batch: 1,
            ..base.clone()
        },
        "batch must be >= 2",
    );
    bad(
        GanConfig {
            n_dis: 0,
            ..base.clone()
        },
        "n_dis",
    );
    bad(
        GanConfig {
            rho: Some(1e4),
            ..base.clone()
        },
        "leave rho unset",
    );
    bad(
        GanConfig {
            batch: 100_000,
            ..base.clone()
        },
        "fewer than one batch",
    );
    let mut cosine = base.clone();
    cosine.optim_d.schedule = tailgrad::train::Schedule::Cosine;
    bad(cosine, "constant rate");
    assert!(matches!(GanConfig::preset("big"), Err(Error::Config(m)) if m.contains("sngan32")));
    let paper = GanConfig::preset("sngan32").unwrap();
    assert_eq!(
        (paper.g_width, paper.d_width, paper.batch, paper.n_dis),
        (256, 128, 64, 5)
    );
    assert_eq!((paper.optim_g.lr, paper.optim_g.betas), (2e-4, (0.5, 0.9)));
    // Nested tables; an absent table is off, an empty one on with its defaults.
    let c = GanConfig::from_toml("steps = 9\n[optim_g]\nlr = 1e-3\n[gsr]\n").unwrap();
    assert_eq!((c.steps, c.optim_g.lr, c.optim_d.lr), (9, 1e-3, 5e-4));
    assert_eq!((c.gsr, c.lecam), (Some(GsrConfig::default()), None));
    let mix = |m: MixConfig| GanConfig {
        mixing: Some(MixConfig {
            kind: MixKind::Mixup,
            ..m
        }),
        ..base.clone()
    };
    bad(
        mix(MixConfig {
            g_through_mix: true,
            ..MixConfig::default()
        }),
        "g_through_mix",
    );
    bad(
        mix(MixConfig {
            replace_fake: true,
            ..MixConfig::default()
        }),
        "LeCam",
    );
    bad(
        mix(MixConfig {
            alpha: 0.0,
            ..MixConfig::default()
        }),
        "alpha",
    );
    let typo = GanConfig::from_toml("[lecam]\nlamda = 0.1\n");
    assert!(matches!(typo, Err(Error::Config(m)) if m.contains("lamda")));
}
