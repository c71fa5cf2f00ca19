//! index_select and its deterministic index_add adjoint.
mod common;
use common::*;
use tailgrad::Tensor;

fn select_ref(x: &[f64], shape: &[usize], axis: usize, idx: &[u32]) -> Vec<f64> {
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::new();
    for o in 0..outer {
        for &j in idx {
            for i in 0..inner {
                out.push(x[(o * n + j as usize) * inner + i]);
            }
        }
    }
    out
}

#[test]
fn index_select_forward_and_backward() {
    let d = dev();
    let mut rng = Rng::new(12);
    // Repeated indices make the backward an accumulation.
    for (shape, axis, idx) in [
        (vec![5usize], 0usize, vec![4u32, 0, 4]),
        (vec![7, 3], 0, vec![6, 1, 1, 2]),
        (vec![2, 5, 3], 1, vec![0, 4, 2, 4, 4]),
    ] {
        let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
        let it = Tensor::from_u32(&d, &idx, &[idx.len()]).unwrap();
        let y = upload(&d, &x, &shape).index_select(axis, &it).unwrap();
        assert_close(
            "index_select",
            &y.to_vec().unwrap(),
            &select_ref(&x, &shape, axis, &idx),
            Tol { rel: 0.0, abs: 0.0 },
        );
        let (s, i2) = (shape.clone(), idx.clone());
        gradcheck(
            "index_select",
            &[(x, shape.clone())],
            &|t| t[0].index_select(axis, &it),
            &move |v| select_ref(&v[0], &s, axis, &i2),
            Tol {
                rel: 1e-4,
                abs: 1e-5,
            },
        );
    }
}

#[test]
fn out_of_range_indices_read_zero_and_bad_indices_are_errors() {
    let d = dev();
    let x = upload(&d, &[1.0, 2.0], &[2]);
    let idx = Tensor::from_u32(&d, &[1, 9], &[2]).unwrap();
    assert_eq!(
        x.index_select(0, &idx).unwrap().to_vec().unwrap(),
        vec![2.0, 0.0]
    );
    let e = x.index_select(0, &x).unwrap_err().to_string();
    assert!(e.contains("index_select") && e.contains("u32"), "{e}");
}

#[test]
fn backward_with_more_indices_than_the_software_loop_budget() {
    // index_add loops over the indices; 70 001 of them must be split into runs on llvmpipe.
    let d = dev();
    let m = 70_001;
    let idx: Vec<u32> = (0..m as u32).map(|j| (j * 7 + j / 3) % 5).collect();
    let x = upload(&d, &[0.5; 5], &[5]).into_param();
    let it = Tensor::from_u32(&d, &idx, &[m]).unwrap();
    let w: Vec<f64> = (0..m).map(|j| (j % 11) as f64).collect();
    let y = x
        .index_select(0, &it)
        .unwrap()
        .mul(&upload(&d, &w, &[m]))
        .unwrap()
        .sum_all()
        .unwrap();
    y.backward().unwrap();
    let mut want = vec![0.0; 5];
    for (j, &r) in idx.iter().enumerate() {
        want[r as usize] += w[j];
    }
    assert_close(
        "index_add",
        &x.grad().unwrap().to_vec().unwrap(),
        &want,
        Tol {
            rel: 1e-6,
            abs: 0.0,
        },
    );
}
