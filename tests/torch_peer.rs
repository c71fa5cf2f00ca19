//! The PyTorch peer of `scripts/gpu-check.sh` (`benches/peers/torch_peer.py`) builds the models
//! tailgrad benchmarks: its `params` listings (plain Python, no torch needed; with torch, the peer
//! checks its own models against them before timing) have the same state tensors, in the same
//! order, with the same names and shapes as tailgrad's ResNet with a linear head and as its
//! SNGAN-32 G and D (with which of them are trainable: D's spectral-norm vectors are buffers).

mod common;
use common::dev;
use std::process::Command;
use tailgrad::nn::sngan::{Discriminator, Generator, SnganConfig};
use tailgrad::nn::{self, Arch, Classifier, HeadKind, Stateful};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/torch_peer.py");

/// The peer's `params` JSON for `args`, or `None` when python3 is missing (skipped, except
/// under CI).
fn peer_params(args: &[&str]) -> Option<serde_json::Value> {
    let out = match Command::new("python3")
        .arg(PEER)
        .arg("params")
        .args(args)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            let msg = format!("python3 not runnable: {e}");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: {msg}"
            );
            eprintln!("skipped: {msg}");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{PEER} params {args:?} failed: {stderr}"
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// (name, shape, trainable) of each entry of a listing; `trainable` is `None` where the listing
/// does not say (the ResNet one).
type Listed = Vec<(String, Vec<usize>, Option<bool>)>;

fn listed(list: &serde_json::Value) -> Listed {
    let list = list.as_array().expect("a listing is a JSON array");
    list.iter()
        .map(|t| {
            let shape = t["shape"].as_array().unwrap();
            let shape = shape.iter().map(|d| d.as_u64().unwrap() as usize);
            let trainable = t.get("trainable").map(|b| b.as_bool().unwrap());
            (
                t["name"].as_str().unwrap().to_string(),
                shape.collect(),
                trainable,
            )
        })
        .collect()
}

/// tailgrad's state list in the same form (`with_trainable`: say which are parameters).
fn ours(m: &dyn Stateful, with_trainable: bool) -> Listed {
    nn::state_of(m)
        .into_iter()
        .map(|s| {
            let trainable = with_trainable.then_some(s.trainable);
            (s.name, s.tensor.shape().to_vec(), trainable)
        })
        .collect()
}

fn trainable_count(m: &dyn Stateful) -> usize {
    nn::parameters(m).iter().map(|p| p.numel()).sum()
}

#[test]
fn torch_peer_resnet_has_tailgrads_state_names_and_shapes() {
    let d = dev();
    for depth in [8, 32] {
        let Some(peer) = peer_params(&["--depth", &depth.to_string()]) else {
            return;
        };
        let model = Classifier::new(&d, 0, Arch::ResNet(depth), HeadKind::Linear, 3, 10).unwrap();
        assert_eq!(
            listed(&peer),
            ours(&model, false),
            "ResNet-{depth}: the peer's state differs"
        );
        if depth == 32 {
            // The count published for the CIFAR ResNet-32 (0.46 M).
            assert_eq!(trainable_count(&model), 464_154);
        }
    }
}

#[test]
fn torch_peer_sngan_has_tailgrads_state_names_shapes_and_buffers() {
    let d = dev();
    let small = SnganConfig {
        g_width: 32,
        d_width: 16,
        z_dim: 128,
        channels: 1,
        classes: 7,
    };
    // The paper's widths, and a small pair whose G and D widths, channels and classes all differ
    // from them (and from each other), so no size can be mixed up unnoticed.
    for cfg in [SnganConfig::paper(10), small] {
        let args = [
            ("--g-width", cfg.g_width),
            ("--d-width", cfg.d_width),
            ("--channels", cfg.channels),
            ("--classes", cfg.classes),
        ]
        .map(|(flag, v)| [flag.to_string(), v.to_string()]);
        let args: Vec<&str> = args.iter().flatten().map(String::as_str).collect();
        let Some(peer) = peer_params(&[&["--model", "sngan"], &args[..]].concat()) else {
            return;
        };
        let mut gen = tailgrad::Generator::new(1, 0);
        let g = Generator::new(&d, &mut gen, &cfg).unwrap();
        let dis = Discriminator::new(&d, &mut gen, &cfg).unwrap();
        let (pg, pd) = (listed(&peer["generator"]), listed(&peer["discriminator"]));
        assert_eq!(pg, ours(&g, true), "G {cfg:?}: the peer's state differs");
        assert_eq!(pd, ours(&dis, true), "D {cfg:?}: the peer's state differs");
        if cfg == SnganConfig::paper(10) {
            // The counts of docs/gan.md (SNGAN-32 at the paper's widths, 3 channels, 10 classes).
            assert_eq!(trainable_count(&g), 4_304_387);
            assert_eq!(trainable_count(&dis), 1_055_105);
        }
    }
}
