//! Bad input returns the documented errors, never a panic or a wgpu validation abort.
mod common;
use common::*;
use tailgrad::{Error, Tensor};

#[test]
fn zero_sized_dims_are_refused() {
    let d = dev();
    for shape in [&[0usize][..], &[3, 0], &[0, 1, 2]] {
        match Tensor::zeros(&d, shape) {
            Err(Error::ZeroSized { shape: s, .. }) => assert_eq!(s, shape),
            other => panic!("{shape:?}: {other:?}"),
        }
    }
    assert!(matches!(
        Tensor::from_slice(&d, &[], &[0]),
        Err(Error::ZeroSized { .. })
    ));
}

#[test]
fn tensors_over_the_binding_limit_are_refused() {
    let d = dev();
    let limit = d.max_binding();
    let n = (limit / 4 + 1) as usize;
    match Tensor::zeros(&d, &[n]) {
        Err(e @ Error::TooLarge { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("zeros") && msg.contains(&limit.to_string()),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    // An op whose output would be too large fails the same way, before any GPU work.
    let a = Tensor::zeros(&d, &[n / 2 + 1, 1]).unwrap();
    let b = Tensor::zeros(&d, &[1, 2]).unwrap();
    assert!(matches!(a.add(&b), Err(Error::TooLarge { .. })));
}

#[test]
fn dtype_mismatch_is_an_error() {
    let d = dev();
    let labels = Tensor::from_u32(&d, &[1, 2], &[2]).unwrap();
    let e = labels.exp().unwrap_err().to_string();
    assert!(e.contains("exp") && e.contains("U32"), "{e}");
}

#[test]
fn ranks_beyond_eight_are_refused() {
    let d = dev();
    let a = Tensor::zeros(&d, &[2, 1, 2, 1, 2, 1, 2, 1, 2]).unwrap();
    let b = Tensor::zeros(&d, &[1, 2, 1, 2, 1, 2, 1, 2, 1]).unwrap();
    let e = a.add(&b).unwrap_err().to_string();
    assert!(e.contains("rank"), "{e}");
}
