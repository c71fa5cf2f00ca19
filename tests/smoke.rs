mod common;
use tailgrad::Tensor;

#[test]
fn add_and_backward() {
    let d = common::dev();
    let a = Tensor::from_slice(&d, &[1.0, 2.0, 3.0], &[3])
        .unwrap()
        .into_param();
    let b = Tensor::from_slice(&d, &[10.0], &[1]).unwrap().into_param();
    let y = a.mul(&a).unwrap().add(&b).unwrap().sum_all().unwrap();
    assert_eq!(y.to_vec().unwrap(), vec![44.0]);
    y.backward().unwrap();
    assert_eq!(a.grad().unwrap().to_vec().unwrap(), vec![2.0, 4.0, 6.0]);
    assert_eq!(b.grad().unwrap().to_vec().unwrap(), vec![3.0]);
    println!("{:?}", d.report());
}
