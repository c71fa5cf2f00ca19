//! zeros / ones / full / arange.
mod common;
use common::*;
use tailgrad::Tensor;

#[test]
fn constants_and_ranges() {
    let d = dev();
    assert_eq!(
        Tensor::zeros(&d, &[2, 3]).unwrap().to_vec().unwrap(),
        vec![0.0; 6]
    );
    assert_eq!(
        Tensor::ones(&d, &[5]).unwrap().to_vec().unwrap(),
        vec![1.0; 5]
    );
    assert_eq!(
        Tensor::full(&d, &[1], -2.5).unwrap().to_vec().unwrap(),
        vec![-2.5]
    );
    assert_eq!(
        Tensor::arange(&d, 0.0, 5.0, 1.0).unwrap().to_vec().unwrap(),
        vec![0.0, 1.0, 2.0, 3.0, 4.0]
    );
    let r = Tensor::arange(&d, 1.0, 2.0, 0.25)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(r, vec![1.0, 1.25, 1.5, 1.75]);
    let big = Tensor::arange(&d, 0.0, 100_003.0, 1.0)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(big.iter().enumerate().all(|(i, &v)| v == i as f32));
}

#[test]
fn bad_arguments_are_errors() {
    let d = dev();
    assert!(Tensor::arange(&d, 5.0, 0.0, 1.0)
        .unwrap_err()
        .to_string()
        .contains("arange"));
    let e = Tensor::zeros(&d, &[3, 0]).unwrap_err().to_string();
    assert!(e.contains("zero-sized") && e.contains("[3, 0]"), "{e}");
    assert!(Tensor::from_slice(&d, &[1.0, 2.0], &[3])
        .unwrap_err()
        .to_string()
        .contains("do not fill"));
}
