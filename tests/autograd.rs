//! Tape semantics: accumulation across uses and across backward calls, no_grad, detach, shared
//! subgraphs, and errors for misuse.
mod common;
use common::*;
use tailgrad::no_grad;

#[test]
fn a_tensor_used_twice_accumulates() {
    let d = dev();
    let x = upload(&d, &[3.0], &[1]).into_param();
    // y = x·x + x  →  dy/dx = 2x + 1 = 7
    let y = x.mul(&x).unwrap().add(&x).unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![7.0]);
    // A second backward adds on top until zero_grad.
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![14.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn diamond_graph() {
    let d = dev();
    let x = upload(&d, &[0.5, -1.0], &[2]).into_param();
    let h = x.exp().unwrap();
    let y = h
        .mul(&h)
        .unwrap()
        .add(&h.scale(3.0).unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    y.backward().unwrap();
    let want: Vec<f64> = [0.5f64, -1.0]
        .iter()
        .map(|v| 2.0 * (2.0 * v).exp() + 3.0 * v.exp())
        .collect();
    assert_close(
        "diamond",
        &x.grad().unwrap().to_vec().unwrap(),
        &want,
        Tol {
            rel: 1e-6,
            abs: 1e-6,
        },
    );
}

#[test]
fn no_grad_and_detach_stop_the_graph() {
    let d = dev();
    let x = upload(&d, &[2.0], &[1]).into_param();
    {
        let _g = no_grad();
        assert!(!x.mul(&x).unwrap().requires_grad());
    }
    assert!(x.mul(&x).unwrap().requires_grad());
    // d/dx [x · detach(x)] = detach(x) = 2
    let y = x.mul(&x.detach()).unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![2.0]);
    // Only parameters collect gradients: plain tensors never do.
    let c = upload(&d, &[1.0], &[1]);
    let z = c.mul(&x).unwrap();
    z.backward().unwrap();
    assert!(c.grad().is_none());
}

#[test]
fn backward_with_an_upstream_gradient() {
    let d = dev();
    let x = upload(&d, &[1.0, 2.0], &[2]).into_param();
    let y = x.scale(3.0).unwrap();
    y.backward_with(&upload(&d, &[10.0, -1.0], &[2])).unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![30.0, -3.0]);
}

#[test]
fn misuse_is_an_error() {
    let d = dev();
    let x = upload(&d, &[1.0, 2.0], &[2]).into_param();
    assert!(x
        .backward()
        .unwrap_err()
        .to_string()
        .contains("one-element"));
    let e = x
        .backward_with(&upload(&d, &[1.0], &[1]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("backward_with"), "{e}");
    assert!(x.item().is_err());
}

#[test]
fn deep_chains_do_not_overflow_the_stack() {
    let d = dev();
    let x = upload(&d, &[1.0], &[1]).into_param();
    let mut y = x.clone();
    for _ in 0..2000 {
        y = y.scale(1.0).unwrap();
    }
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().item().unwrap(), 1.0);
}

#[test]
fn reshape_is_free_and_differentiable() {
    let d = dev();
    let x = upload(&d, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).into_param();
    let before = d.buffers_created();
    let r = x.reshape(&[3, 2]).unwrap();
    assert_eq!(d.buffers_created(), before);
    let w = upload(&d, &[1.0, 2.0], &[1, 2]);
    r.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec().unwrap(),
        vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    );
}
