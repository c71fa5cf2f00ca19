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
