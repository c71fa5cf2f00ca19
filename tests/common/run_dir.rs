//! Run directories as the exact-resume tests compare them: every metrics line but its wall time
//! and every checkpoint entry but the wall-time counter, bit for bit.

use std::path::Path;
use tailgrad::report::{Checkpoint, Entry};

/// `metrics.jsonl` without the `train_seconds` of each line.
pub fn metrics(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("train_seconds");
            v
        })
        .collect()
}

/// Every checkpoint entry but the wall clock, as (name, bits): NaN-safe, and -0.0 differs
/// from 0.0.
pub fn entries(dir: &Path) -> Vec<(String, Vec<u64>)> {
    let ck = Checkpoint::load(&dir.join("checkpoint.safetensors")).unwrap();
    ck.tensors
        .into_iter()
        .filter(|(name, _)| name != "counter.train_us")
        .map(|(name, e)| {
            let bits = match e {
                Entry::F32 { data, .. } => data.iter().map(|v| v.to_bits() as u64).collect(),
                Entry::U32 { data, .. } => data.iter().map(|&v| v as u64).collect(),
                Entry::U64 { data, .. } => data,
            };
            (name, bits)
        })
        .collect()
}

/// The resumed run directory equals the uninterrupted one: metrics and checkpoint entries.
pub fn assert_same_run(full: &Path, resumed: &Path) {
    assert_eq!(metrics(resumed), metrics(full), "metrics differ");
    let (a, b) = (entries(full), entries(resumed));
    let names = |v: &[(String, Vec<u64>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&b), names(&a));
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "checkpoint entry {name} differs after the resume");
    }
}
