//! Run configuration: the `[optim]` table, the flat keys of older configs, unknown keys, and two
//! optimizer tables side by side (as a GAN run holds them).

mod common;
use common::dev;
use serde::Deserialize;
use tailgrad::train::{OptimConfig, Schedule, TrainConfig};
use tailgrad::{Error, Tensor};

#[test]
fn optim_table_and_legacy_flat_keys_give_the_same_config() {
    let nested =
        "[optim]\nname = \"adam\"\nlr = 0.003\nweight_decay = 0.0\nschedule = \"cosine\"\n\
                  warmup_epochs = 0\nlr_steps = [3]\nlr_decay = 0.5\nmomentum = 0.8\n";
    let flat = "optimizer = \"adam\"\nlr = 0.003\nweight_decay = 0.0\nschedule = \"cosine\"\n\
                warmup_epochs = 0\nlr_steps = [3]\nlr_decay = 0.5\nmomentum = 0.8\n";
    let (a, b) = (
        TrainConfig::from_toml(nested).unwrap(),
        TrainConfig::from_toml(flat).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(a.optim.name, "adam");
    assert_eq!(a.optim.schedule, Schedule::Cosine);
    assert_eq!(
        a.optim.betas,
        (0.9, 0.999),
        "unset keys keep their defaults"
    );
    // The written form is the nested one, and it reads back.
    assert!(a.to_toml().contains("[optim]"));
    assert_eq!(TrainConfig::from_toml(&a.to_toml()).unwrap(), a);
}

#[test]
fn bad_optim_keys_are_errors_naming_them() {
    for (text, names) in [
        ("[optim]\nlrr = 0.1\n", "lrr"),
        ("lr = 0.1\n[optim]\nlr = 0.2\n", "lr"),
        ("[optim]\nbetas = [0.9]\n", "betas"),
    ] {
        let err = TrainConfig::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(names), "{text:?}: {err}");
    }
}

/// A GAN-shaped config: two optimizer tables with their own settings, unknown keys refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TwoNets {
    optim_g: OptimConfig,
    optim_d: OptimConfig,
}

#[test]
fn a_run_can_hold_two_optimizers() {
    let text = "[optim_g]\nname = \"adam\"\nlr = 2e-4\nbetas = [0.5, 0.9]\n\
                [optim_d]\nname = \"adam\"\nlr = 4e-4\nbetas = [0.0, 0.999]\n";
    let c: TwoNets = toml::from_str(text).unwrap();
    assert_eq!((c.optim_g.lr, c.optim_d.lr), (2e-4, 4e-4));
    assert_eq!(
        (c.optim_g.betas, c.optim_d.betas),
        ((0.5, 0.9), (0.0, 0.999))
    );
    let p = || vec![Tensor::zeros(&dev(), &[3]).unwrap().into_param()];
    let g = c.optim_g.build("optim_g", p()).unwrap();
    let d = c.optim_d.build("optim_d", p()).unwrap();
    assert_eq!((g.lr(), d.lr()), (2e-4, 4e-4));
    // A bad value names its table.
    let bad = OptimConfig {
        betas: (1.5, 0.9),
        ..c.optim_d
    };
    match bad.build("optim_d", p()) {
        Err(Error::Config(msg)) => assert!(msg.starts_with("optim_d:"), "{msg}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    let err = toml::from_str::<TwoNets>("[optim_x]\nlr = 1.0\n").unwrap_err();
    assert!(err.to_string().contains("optim_x"), "{err}");
}
