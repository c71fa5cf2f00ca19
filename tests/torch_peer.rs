//! The PyTorch peer of `scripts/gpu-check.sh` (`benches/peers/torch_peer.py`) builds the model
//! tailgrad benchmarks: its `params` listing (plain Python, no torch needed; with torch, the peer
//! checks its own model against that listing before timing it) has the same state tensors, in the
//! same order, with the same names and shapes as tailgrad's ResNet with a linear head.

mod common;
use common::dev;
use std::process::Command;
use tailgrad::nn::{self, Arch, Classifier, HeadKind};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/torch_peer.py");

/// (name, shape) of each state tensor the peer lists, or `None` when python3 is missing
/// (skipped, except under CI).
fn peer_state(depth: usize) -> Option<Vec<(String, Vec<usize>)>> {
    let out = match Command::new("python3")
        .args([PEER, "params", "--depth", &depth.to_string()])
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
    assert!(out.status.success(), "{PEER} params failed: {stderr}");
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        list.iter()
            .map(|t| {
                let shape = t["shape"].as_array().unwrap();
                let shape = shape.iter().map(|d| d.as_u64().unwrap() as usize);
                (t["name"].as_str().unwrap().to_string(), shape.collect())
            })
            .collect(),
    )
}

#[test]
fn torch_peer_resnet_has_tailgrads_state_names_and_shapes() {
    let d = dev();
    for depth in [8, 32] {
        let Some(peer) = peer_state(depth) else {
            return;
        };
        let model = Classifier::new(&d, 0, Arch::ResNet(depth), HeadKind::Linear, 3, 10).unwrap();
        let ours: Vec<(String, Vec<usize>)> = nn::state_of(&model)
            .into_iter()
            .map(|s| (s.name, s.tensor.shape().to_vec()))
            .collect();
        assert_eq!(peer, ours, "ResNet-{depth}: the peer's state differs");
        if depth == 32 {
            // The count published for the CIFAR ResNet-32 (0.46 M).
            let trainable: usize = nn::parameters(&model).iter().map(|p| p.numel()).sum();
            assert_eq!(trainable, 464_154);
        }
    }
}
