//! Matmul: every variant x transposes x awkward shapes against an f64 reference, the backward
//! rule through gradcheck, split-K determinism, pool steady state and the error paths.
mod common;
use common::{as_f32, assert_close, dev, gradcheck, upload, Rng, Tol};
use tailgrad::ops::matmul::{matmul_ex, variants, Variant};
use tailgrad::{Error, Tensor};

/// A product to check: `a` is [ba.., M, K] (or [ba.., K, M] when transposed), `b` likewise.
#[derive(Clone, Copy, Debug)]
struct Case {
    m: usize,
    k: usize,
    n: usize,
    /// Batch dims of a and b (empty = rank 2).
    ba: &'static [usize],
    bb: &'static [usize],
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { m: 1, k: 1, n: 1, ba: &[], bb: &[] },
    Case { m: 7, k: 13, n: 29, ba: &[], bb: &[] },
    // Past one tile of every kernel in M and N (texture 16x128 / 16x64, tiled 128x128, blocked
    // 32x32), K not a multiple of any k step (4, 16).
    Case { m: 131, k: 37, n: 133, ba: &[], bb: &[] },
    Case { m: 5, k: 19, n: 17, ba: &[3], bb: &[3] },
    Case { m: 9, k: 6, n: 11, ba: &[2], bb: &[] },
    Case { m: 4, k: 7, n: 3, ba: &[1], bb: &[2, 3] },
    // 4-aligned: operands read in place and whole-vec4 stores (texture).
    Case { m: 6, k: 8, n: 12, ba: &[2, 2], bb: &[2, 2] },
    // M >> N: the texture kernel computes Cᵀ = Bᵀ·Aᵀ (and reads Aᵀ in place when A is
    // stored transposed).
    Case { m: 132, k: 12, n: 5, ba: &[2], bb: &[] },
    // K >> M·N: split-K territory.
    Case { m: 3, k: 20000, n: 5, ba: &[], bb: &[] },
];

/// f64 reference of op(a)·op(b) over the broadcast batch, plus S = max Σ|a_ik·b_kj|.
fn reference(c: &Case, a: &[f64], b: &[f64], ta: bool, tb: bool) -> (Vec<f64>, f64) {
    let (na, nb): (usize, usize) = (c.ba.iter().product(), c.bb.iter().product());
    let batch = na.max(nb);
    let (m, k, n) = (c.m, c.k, c.n);
    let mut out = vec![0.0; batch * m * n];
    let mut s_max = 0.0f64;
    for bi in 0..batch {
        let ao = if na > 1 { bi * m * k } else { 0 };
        let bo = if nb > 1 { bi * k * n } else { 0 };
        for i in 0..m {
            for j in 0..n {
                let (mut acc, mut s) = (0.0, 0.0);
                for kk in 0..k {
                    let x = a[ao + if ta { kk * m + i } else { i * k + kk }];
                    let y = b[bo + if tb { j * k + kk } else { kk * n + j }];
                    acc += x * y;
                    s += (x * y).abs();
                }
                out[(bi * m + i) * n + j] = acc;
                s_max = s_max.max(s);
            }
        }
    }
    (out, s_max)
}

/// A length-K f32 dot product accumulates about K roundings of partial sums bounded by
/// S = Σ|a_k·b_k|; with independent rounding errors the total is ~sqrt(K)·u·S (u = 2^-24).
/// We allow 4x that, which still fails for any wrong product or dropped term.
fn tol_for(k: usize, s_max: f64) -> Tol {
    Tol {
        rel: 0.0,
        abs: 4.0 * (k as f64).sqrt() * 2f64.powi(-24) * s_max.max(1e-30),
    }
}

fn shape(batch: &[usize], r: usize, c: usize) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend([r, c]);
    s
}

fn check(c: &Case, v: Variant, ta: bool, tb: bool, rng: &mut Rng) {
    let d = dev();
    let sa = if ta {
        shape(c.ba, c.k, c.m)
    } else {
        shape(c.ba, c.m, c.k)
    };
    let sb = if tb {
        shape(c.bb, c.n, c.k)
    } else {
        shape(c.bb, c.k, c.n)
    };
    let a = as_f32(&rng.vec(sa.iter().product(), -1.0, 1.0));
    let b = as_f32(&rng.vec(sb.iter().product(), -1.0, 1.0));
    let y = matmul_ex(&upload(&d, &a, &sa), &upload(&d, &b, &sb), ta, tb, v).unwrap();
    let (want, s_max) = reference(c, &a, &b, ta, tb);
    let batch = if c.ba.iter().product::<usize>() > 1 || c.ba.len() >= c.bb.len() {
        c.ba
    } else {
        c.bb
    };
    assert_eq!(y.shape(), shape(batch, c.m, c.n), "{v:?} {c:?}");
    let what = format!("{} ta={ta} tb={tb} {c:?}", v.name());
    assert_close(&what, &y.to_vec().unwrap(), &want, tol_for(c.k, s_max));
}

fn all_variants() -> Vec<Variant> {
    let mut v = variants(&dev());
    v.push(Variant::Auto);
    v
}

#[test]
fn every_variant_transpose_and_shape_matches_f64() {
    let mut rng = Rng::new(1);
    for v in all_variants() {
        for c in CASES {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                check(c, v, ta, tb, &mut rng);
            }
        }
    }
}

#[test]
fn larger_square_and_skinny_shapes() {
    // A few sizes that cross many tiles; kept to the fast variants on this device.
    let mut rng = Rng::new(2);
    let d = dev();
    let fast: Vec<Variant> = variants(&d)
        .into_iter()
        .filter(|v| *v != Variant::Tiled || d.class() == tailgrad::runtime::DeviceClass::Gpu)
        .collect();
    for v in fast {
        check(
            &Case {
                m: 257,
                k: 300,
                n: 255,
                ba: &[],
                bb: &[],
            },
            v,
            false,
            false,
            &mut rng,
        );
        check(
            &Case {
                m: 16,
                k: 4100,
                n: 144,
                ba: &[],
                bb: &[],
            },
            v,
            true,
            false,
            &mut rng,
        );
    }
}

#[test]
fn split_k_is_deterministic() {
    let d = dev();
    let mut rng = Rng::new(3);
    let a = upload(&d, &rng.vec(3 * 20000, -1.0, 1.0), &[3, 20000]);
    let b = upload(&d, &rng.vec(20000 * 5, -1.0, 1.0), &[20000, 5]);
    let y1 = matmul_ex(&a, &b, false, false, Variant::SplitK)
        .unwrap()
        .to_vec()
        .unwrap();
    let y2 = matmul_ex(&a, &b, false, false, Variant::SplitK)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(y1, y2);
}

#[test]
fn steady_state_allocates_nothing() {
    // A private device: the shared one's pool is used by the other tests running in parallel.
    let d = tailgrad::Device::open().unwrap();
    let mut rng = Rng::new(4);
    let a = upload(&d, &rng.vec(40 * 50, -1.0, 1.0), &[40, 50]);
    let b = upload(&d, &rng.vec(50 * 60, -1.0, 1.0), &[50, 60]);
    for v in variants(&d) {
        matmul_ex(&a, &b, false, false, v)
            .unwrap()
            .to_vec()
            .unwrap();
        let before = d.buffers_created();
        matmul_ex(&a, &b, false, false, v)
            .unwrap()
            .to_vec()
            .unwrap();
        assert_eq!(
            d.buffers_created(),
            before,
            "{v:?} allocated in steady state"
        );
    }
}

fn grad_case(v: Variant, ta: bool, tb: bool) {
    // a: [2, 3, 4] (batched), b: [4, 5] broadcast over the batch, possibly stored transposed.
    let (m, k, n) = (3, 4, 5);
    let mut rng = Rng::new(5);
    let sa = if ta { vec![2, k, m] } else { vec![2, m, k] };
    let sb = if tb { vec![n, k] } else { vec![k, n] };
    let a = rng.vec(2 * m * k, -1.0, 1.0);
    let b = rng.vec(k * n, -1.0, 1.0);
    let c = Case {
        m,
        k,
        n,
        ba: &[2],
        bb: &[],
    };
    gradcheck(
        &format!("matmul {} ta={ta} tb={tb}", v.name()),
        &[(a, sa), (b, sb)],
        &|x| matmul_ex(&x[0], &x[1], ta, tb, v),
        &|x| reference(&c, &x[0], &x[1], ta, tb).0,
        Tol {
            rel: 1e-4,
            abs: 1e-5,
        },
    );
}

#[test]
fn backward_matches_finite_differences() {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        grad_case(Variant::Auto, ta, tb);
    }
    for v in variants(&dev()) {
        grad_case(v, true, false);
    }
}

#[test]
fn errors_are_reported_not_panicked() {
    let d = dev();
    let a = Tensor::zeros(&d, &[2, 3]).unwrap();
    let b = Tensor::zeros(&d, &[4, 5]).unwrap();
    let e = a.matmul(&b).unwrap_err();
    assert!(matches!(e, Error::Shape { op: "matmul", .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("[2, 3]") && msg.contains("[4, 5]"), "{msg}");
    let v = Tensor::zeros(&d, &[3]).unwrap();
    assert!(matches!(
        v.matmul(&b),
        Err(Error::Invalid { op: "matmul", .. })
    ));
    let u = Tensor::from_u32(&d, &[1, 2, 3, 4, 5, 6], &[2, 3]).unwrap();
    let c = Tensor::zeros(&d, &[3, 2]).unwrap();
    assert!(matches!(
        u.matmul(&c),
        Err(Error::Invalid { op: "matmul", .. })
    ));
    let x = Tensor::zeros(&d, &[2, 2, 3]).unwrap();
    let y = Tensor::zeros(&d, &[3, 3, 2]).unwrap();
    assert!(matches!(
        x.matmul(&y),
        Err(Error::Shape { op: "matmul", .. })
    ));
}

#[test]
fn texture_limit_is_an_error_and_auto_falls_back() {
    // A 1 x K · K x 1 product pads its narrowest (64-column) panel to K·16 texels: past the
    // device's texture height in rows of 4096 texels.
    let d = dev();
    let k = (d.limits().max_texture_dimension_2d as usize * 4096 / 16) + 4;
    let a = Tensor::full(&d, &[1, k], 0.5).unwrap();
    let b = Tensor::full(&d, &[k, 1], 0.25).unwrap();
    if d.storage_textures() {
        let e = matmul_ex(&a, &b, false, false, Variant::Texture).unwrap_err();
        assert!(e.to_string().contains("texture variant"), "{e}");
    }
    let y = a.matmul(&b).unwrap().item().unwrap() as f64;
    assert!(
        (y - 0.125 * k as f64).abs() < 1e-3 * 0.125 * k as f64,
        "{y}"
    );
}

#[test]
fn batch_dims_broadcast_like_numpy_across_ranks() {
    // [3, 2, 4] x [1, 1, 4, 5] -> [1, 3, 2, 5]: the output keeps the longer batch rank, and the
    // backward sums the gradient back to each operand's own shape.
    let mut rng = Rng::new(91);
    let a = rng.vec(24, -1.0, 1.0);
    let b = rng.vec(20, -1.0, 1.0);
    let d = dev();
    let y = upload(&d, &as_f32(&a), &[3, 2, 4])
        .matmul(&upload(&d, &as_f32(&b), &[1, 1, 4, 5]))
        .unwrap();
    assert_eq!(y.shape(), &[1, 3, 2, 5]);
    let reference = |v: &[Vec<f64>]| -> Vec<f64> {
        let mut out = Vec::new();
        for bi in 0..3 {
            for i in 0..2 {
                for j in 0..5 {
                    out.push(
                        (0..4)
                            .map(|k| v[0][bi * 8 + i * 4 + k] * v[1][k * 5 + j])
                            .sum(),
                    );
                }
            }
        }
        out
    };
    gradcheck(
        "matmul batch broadcast",
        &[(a, vec![3, 2, 4]), (b, vec![1, 1, 4, 5])],
        &|t| t[0].matmul(&t[1]),
        &reference,
        Tol {
            rel: 1e-3,
            abs: 1e-4,
        },
    );
    // Batches neither equal nor one are refused with both shapes named.
    let e = Tensor::zeros(&d, &[2, 3, 4])
        .unwrap()
        .matmul(&Tensor::zeros(&d, &[3, 4, 5]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("matmul") && e.contains("[2, 3, 4]") && e.contains("[3, 4, 5]"),
        "{e}"
    );
}
