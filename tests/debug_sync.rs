//! TAILGRAD_DEBUG=sync names the first op that produced a NaN or Inf.
//! (Its own test binary: the variable is read once, when the device opens.)
use tailgrad::nn::{Embedding, Mode, Module};
use tailgrad::{Device, Error, Tensor};

#[test]
fn names_the_first_non_finite_op() {
    std::env::set_var("TAILGRAD_DEBUG", "sync");
    let d = Device::open().unwrap();
    assert!(d.debug_sync());
    let x = Tensor::from_slice(&d, &[1.0, -1.0], &[2]).unwrap();
    let y = x.exp().unwrap(); // fine
    match y.neg().unwrap().log() {
        Err(Error::NonFinite { op, index, .. }) => assert_eq!((op, index), ("log", 0)),
        other => panic!("expected NonFinite from log, got {other:?}"),
    }
    // Ops after a clean one keep working.
    assert_eq!(x.abs().unwrap().to_vec().unwrap(), vec![1.0, 1.0]);
    // An embedding label past the table reads NaN, so sync mode reports it.
    let emb = Embedding {
        weight: Tensor::from_slice(&d, &[1.0, 2.0], &[1, 2]).unwrap(),
    };
    let bad = Tensor::from_u32(&d, &[0, 1], &[2]).unwrap();
    match emb.forward(&bad, Mode::Train) {
        Err(Error::NonFinite { op, index, .. }) => assert_eq!((op, index), ("embedding", 2)),
        other => panic!("expected NonFinite from embedding, got {other:?}"),
    }
}
