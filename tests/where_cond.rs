//! where_cond with broadcasting, and gradients routed to the picked branch.
mod common;
use common::*;
use tailgrad::Tensor;

#[test]
fn selects_and_routes_gradients() {
    let d = dev();
    let c = upload(&d, &[1.0, 0.0, 1.0], &[3, 1]);
    let a = upload(&d, &[1.0, 2.0], &[1, 2]);
    let b = upload(&d, &[-1.0], &[1]);
    let y = Tensor::where_cond(&c, &a, &b).unwrap();
    assert_eq!(y.shape(), &[3, 2]);
    assert_eq!(y.to_vec().unwrap(), vec![1.0, 2.0, -1.0, -1.0, 1.0, 2.0]);
    let cond = [1.0, 0.0, 1.0];
    let pick = move |v: &[Vec<f64>]| -> Vec<f64> {
        (0..6)
            .map(|i| {
                if cond[i / 2] != 0.0 {
                    v[0][i % 2]
                } else {
                    v[1][0]
                }
            })
            .collect()
    };
    gradcheck(
        "where_cond",
        &[(vec![0.3, -0.7], vec![1, 2]), (vec![0.9], vec![1])],
        &|t| Tensor::where_cond(&c, &t[0], &t[1]),
        &pick,
        Tol {
            rel: 1e-4,
            abs: 1e-5,
        },
    );
}
