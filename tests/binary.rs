//! Elementwise binary ops with broadcasting vs f64 references, and their backward rules.
mod common;
use common::*;
use tailgrad::{Result, Tensor};

type GpuFn = fn(&Tensor, &Tensor) -> Result<Tensor>;
type Case = (&'static str, GpuFn, fn(f64, f64) -> f64);

fn table() -> Vec<Case> {
    vec![
        ("add", |a, b| a.add(b), |a, b| a + b),
        ("sub", |a, b| a.sub(b), |a, b| a - b),
        ("mul", |a, b| a.mul(b), |a, b| a * b),
        ("div", |a, b| a.div(b), |a, b| a / b),
        ("maximum", |a, b| a.maximum(b), f64::max),
        ("minimum", |a, b| a.minimum(b), f64::min),
        ("pow", |a, b| a.pow(b), f64::powf),
    ]
}

/// f64 reference of numpy broadcasting: index of `shape` element for output flat index `i`.
fn bcast_index(i: usize, out: &[usize], shape: &[usize]) -> usize {
    let lead = out.len() - shape.len();
    let (mut rem, mut idx, mut stride) = (i, 0, 1);
    for d in (0..out.len()).rev() {
        let coord = rem % out[d];
        rem /= out[d];
        if d >= lead {
            let s = shape[d - lead];
            if s != 1 {
                idx += coord * stride;
            }
            stride *= s;
        }
    }
    idx
}

fn reference(
    f: fn(f64, f64) -> f64,
    a: &[f64],
    sa: &[usize],
    b: &[f64],
    sb: &[usize],
    out: &[usize],
) -> Vec<f64> {
    let n: usize = out.iter().product();
    (0..n)
        .map(|i| f(a[bcast_index(i, out, sa)], b[bcast_index(i, out, sb)]))
        .collect()
}

const SHAPES: &[(&[usize], &[usize], &[usize])] = &[
    (&[1], &[1], &[1]),
    (&[7], &[7], &[7]),
    (&[1000], &[1], &[1000]),
    (&[3, 1, 5], &[4, 1], &[3, 4, 5]),
    (&[2, 3, 17], &[17], &[2, 3, 17]),
    (&[13, 1], &[1, 11], &[13, 11]),
    (
        &[2, 1, 3, 1, 2, 1, 2, 3],
        &[1, 2, 1, 3, 1, 2, 1, 1],
        &[2, 2, 3, 3, 2, 2, 2, 3],
    ),
    // Large same-shape operands take the texture path on software adapters (66 560 elements:
    // 16.25 texture rows); the broadcast one beside it stays on buffers.
    (&[256, 260], &[256, 260], &[256, 260]),
    (&[256, 260], &[260], &[256, 260]),
];

#[test]
fn forward_broadcasts_like_numpy() {
    let d = dev();
    let mut rng = Rng::new(3);
    for (sa, sb, out) in SHAPES {
        for (name, gpu, cpu) in table() {
            let (lo, hi) = if name == "pow" {
                (0.1, 3.0)
            } else {
                (-3.0, 3.0)
            };
            let a = as_f32(&rng.vec(sa.iter().product(), lo, hi));
            let mut b = as_f32(&rng.vec(sb.iter().product(), lo, hi));
            if name == "div" {
                b.iter_mut()
                    .for_each(|v| *v = if v.abs() < 0.1 { 0.5 } else { *v });
            }
            let y = gpu(&upload(&d, &a, sa), &upload(&d, &b, sb)).unwrap();
            assert_eq!(y.shape(), *out, "{name} shape");
            // div and pow are not exact in WGSL (2.5 ulp and exp2·log2 respectively).
            let tol = match name {
                "pow" => Tol {
                    rel: 1e-5,
                    abs: 1e-6,
                },
                "div" => Tol {
                    rel: 1e-6,
                    abs: 0.0,
                },
                // Correctly rounded: within half an ulp (2^-24 relative) of the f64 value.
                _ => Tol {
                    rel: 5.97e-8,
                    abs: 0.0,
                },
            };
            assert_close(
                &format!("{name} {sa:?}x{sb:?}"),
                &y.to_vec().unwrap(),
                &reference(cpu, &a, sa, &b, sb, out),
                tol,
            );
        }
    }
}

#[test]
fn comparisons() {
    let d = dev();
    let a = upload(&d, &[1.0, 2.0, 3.0], &[3]);
    let b = upload(&d, &[2.0], &[1]);
    assert_eq!(a.gt(&b).unwrap().to_vec().unwrap(), vec![0.0, 0.0, 1.0]);
    assert_eq!(a.lt(&b).unwrap().to_vec().unwrap(), vec![1.0, 0.0, 0.0]);
    assert_eq!(a.eq(&b).unwrap().to_vec().unwrap(), vec![0.0, 1.0, 0.0]);
}

#[test]
fn backward_reduces_broadcast_dims() {
    let mut rng = Rng::new(4);
    let tol = Tol {
        rel: 1e-3,
        abs: 1e-4,
    };
    for (sa, sb, out) in &SHAPES[..6] {
        // (the large shapes are too big for finite differences; their backward reuses these ops)
        for (name, gpu, cpu) in table() {
            let (lo, hi) = if name == "pow" {
                (0.5, 2.0)
            } else {
                (-2.0, 2.0)
            };
            let a = rng.vec(sa.iter().product(), lo, hi);
            let mut b = rng.vec(sb.iter().product(), lo, hi);
            if name == "div" {
                b.iter_mut()
                    .for_each(|v| *v = if v.abs() < 0.3 { 0.7 } else { *v });
            }
            let (sa2, sb2, out2) = (sa.to_vec(), sb.to_vec(), out.to_vec());
            gradcheck(
                &format!("{name} {sa:?}x{sb:?}"),
                &[(a, sa.to_vec()), (b, sb.to_vec())],
                &|t| gpu(&t[0], &t[1]),
                &move |v| reference(cpu, &v[0], &sa2, &v[1], &sb2, &out2),
                tol,
            );
        }
    }
}

#[test]
fn mismatched_shapes_name_op_and_shapes() {
    let d = dev();
    let a = upload(&d, &[0.0; 6], &[2, 3]);
    let b = upload(&d, &[0.0; 8], &[4, 2]);
    let err = a.add(&b).unwrap_err().to_string();
    assert!(
        err.contains("add") && err.contains("[2, 3]") && err.contains("[4, 2]"),
        "{err}"
    );
}
