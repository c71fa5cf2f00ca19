//! The recorder bounds itself. Its own binary: the submit counter is per device and no other
//! test may submit while this one counts.
mod common;
use tailgrad::Tensor;

#[test]
fn long_recordings_submit_on_their_own() {
    // A loop that never reads back must not hold every intermediate forever: past a bound the
    // recorder submits by itself.
    let d = common::dev();
    let x = Tensor::ones(&d, &[4]).unwrap();
    let before = d.counters().1;
    let mut y = x.clone();
    for _ in 0..10_000 {
        y = y.add(&x).unwrap();
    }
    assert!(
        d.counters().1 > before,
        "no submit during 10 000 recorded dispatches"
    );
    assert_eq!(y.to_vec().unwrap(), vec![10_001.0; 4]);
}

#[test]
fn large_recordings_submit_before_memory_runs_away() {
    // Each add hands out a 16 MiB output (plus 16 MiB staging textures per operand on software
    // adapters), all held by the recorded commands until a submit. Past the recording limit the
    // recorder submits, so the pool recycles instead of growing with the loop.
    let d = common::dev();
    d.set_recording_limit(256 << 20);
    let n = 4 << 20;
    let x = Tensor::ones(&d, &[n]).unwrap();
    d.sync().unwrap();
    let (bytes, submits) = (d.bytes_created(), d.counters().1);
    let mut y = x.clone();
    for _ in 0..64 {
        y = y.add(&x).unwrap();
    }
    let mib = (d.bytes_created() - bytes) >> 20;
    let submitted = d.counters().1 - submits;
    d.set_recording_limit(4 << 30);
    assert!(submitted >= 4, "{submitted} submits over 64 large outputs");
    // Without the limit this is 64 × 16 MiB of outputs alone.
    assert!(mib <= 640, "{mib} MiB created for 64 outputs of 16 MiB");
    assert_eq!(y.slice(0, n - 1, n).unwrap().item().unwrap(), 65.0);
}
