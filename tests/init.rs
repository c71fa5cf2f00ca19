//! Initialisation schemes: orthogonality and PyTorch's QR recipe for `Orthogonal`, exact fills,
//! sample statistics of the random schemes, the errors, and the layer constructors (`new`
//! bit-identical to the draws it made before schemes existed; `with_init`).

mod common;
use common::dev;
use tailgrad::nn::{self, Conv2d, Init, LayerInit, Linear, Mode, Module};
use tailgrad::{Device, Error, Generator, Tensor};

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_vec().unwrap().into_iter().map(f64::from).collect()
}

fn draw(d: &Device, init: Init, shape: &[usize], fan_in: usize) -> Vec<f64> {
    let t = init
        .tensor(d, &mut Generator::new(11, 2), shape, fan_in)
        .unwrap();
    assert_eq!(t.shape(), shape);
    f64s(&t)
}

/// `p[i][j]` = inner product of row i of `x` and row j of `y` (`by_rows`), or of their columns;
/// both row-major r×c. With x = y this is the Gram matrix.
fn products(x: &[f64], y: &[f64], r: usize, c: usize, by_rows: bool) -> Vec<Vec<f64>> {
    let (n, len) = if by_rows { (r, c) } else { (c, r) };
    let at = |m: &[f64], v: usize, k: usize| if by_rows { m[v * c + k] } else { m[k * c + v] };
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (0..len).map(|k| at(x, i, k) * at(y, j, k)).sum())
                .collect()
        })
        .collect()
}

/// Orthogonal weights: W·Wᵀ = g²·I when wide (rows = shape[0] < numel/rows), Wᵀ·W = g²·I when
/// tall. Tolerance 1e-5·g²: each f32 entry is rounded by ≤ 2⁻²⁴ relative and a Gram entry sums
/// products whose magnitudes add to at most g² (Cauchy–Schwarz), so the error is ~1e-7·g².
#[test]
fn orthogonal_rows_or_columns_are_orthonormal() {
    let d = dev();
    let cases: [(&[usize], f32); 6] = [
        (&[3, 10], 1.0),
        (&[16, 16, 3, 3], 1.0), // conv weight, flattened as PyTorch to [16, 144]
        (&[10, 3], 1.0),
        (&[64, 7], 1.0),
        (&[12, 12], 1.0),
        (&[5, 2, 2, 2], 1.7), // gain: [5, 8] with W·Wᵀ = 2.89·I
    ];
    for (shape, gain) in cases {
        let w = draw(&d, Init::Orthogonal { gain }, shape, 0);
        let rows = shape[0];
        let cols = w.len() / rows;
        let g2 = f64::from(gain).powi(2);
        for (i, row) in products(&w, &w, rows, cols, rows <= cols)
            .iter()
            .enumerate()
        {
            for (j, &v) in row.iter().enumerate() {
                let want = if i == j { g2 } else { 0.0 };
                assert!((v - want).abs() < 1e-5 * g2, "{shape:?}: G[{i}][{j}] = {v}");
            }
        }
    }
}

/// Beyond orthogonality, Q must be *the* Q of the QR of the draws with R's diagonal positive,
/// as PyTorch computes it: for the same standard normal matrix A ([rows, cols], the generator's
/// next draw), R = Qᵀ·A (tall, Q = W) or R = W·Aᵀ (wide, Q = Wᵀ) is upper triangular with a
/// positive diagonal. Tolerance 1e-4 either side of 0: R's entries are at most the norm of a
/// row or column of A (≈ √18 here), so the f32 rounding of W and A moves them by ~1e-6.
#[test]
fn orthogonal_is_the_sign_fixed_q_of_the_draws() {
    let d = dev();
    for shape in [&[9, 4][..], &[4, 2, 3, 3], &[6, 6]] {
        let mut gen = Generator::new(5, 1);
        let mut same = gen.clone();
        let w = f64s(
            &Init::Orthogonal { gain: 1.0 }
                .tensor(&d, &mut gen, shape, 0)
                .unwrap(),
        );
        let (rows, cols) = (shape[0], w.len() / shape[0]);
        let a = f64s(&same.randn(&d, &[rows, cols]).unwrap());
        assert_eq!(gen.counter(), same.counter(), "one draw of the shape");
        // Tall: R = Wᵀ·A, products of columns; wide: R = W·Aᵀ, products of rows.
        let r = products(&w, &a, rows, cols, rows < cols);
        for (i, row) in r.iter().enumerate() {
            for (j, &v) in row.iter().enumerate().take(i + 1) {
                match i == j {
                    true => assert!(v > 1e-4, "{shape:?}: R[{i}][{i}] = {v} not positive"),
                    false => assert!(v.abs() < 1e-4, "{shape:?}: R[{i}][{j}] = {v} not 0"),
                }
            }
        }
    }
}

#[test]
fn zeros_and_ones_are_exact_and_draw_nothing() {
    let d = dev();
    let mut gen = Generator::new(1, 0);
    for (init, v) in [(Init::Zeros, 0.0), (Init::Ones, 1.0)] {
        let t = init.tensor(&d, &mut gen, &[3, 5, 2], 7).unwrap();
        assert_eq!(t.to_vec().unwrap(), vec![v; 30], "{init:?}");
    }
    assert_eq!(gen.counter(), 0);
}

/// Mean and standard deviation of a large draw against the scheme's. With n samples the sample
/// mean has standard error σ/√n and the sample std ≈ σ·√((κ−1)/4n) (κ = 3 normal, 1.8 uniform),
/// so mean within 5σ/√n and std within 1% (≥ 7 standard errors at n = 2¹⁸) fail only on a bug.
fn assert_moments(what: &str, v: &[f64], sigma: f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 5.0 * sigma / n.sqrt(), "{what}: mean {mean}");
    assert!(
        (std / sigma - 1.0).abs() < 0.01,
        "{what}: std {std}, want {sigma}"
    );
}

#[test]
fn random_schemes_have_the_stated_spread() {
    let d = dev();
    let shape = [256, 1024];
    let w = draw(&d, Init::Normal { std: 0.02 }, &shape, 1);
    assert_moments("normal(0.02)", &w, 0.02);
    let w = draw(&d, Init::KaimingNormal, &shape, 1024);
    assert_moments("kaiming_normal", &w, (2.0f64 / 1024.0).sqrt());
    let w = draw(&d, Init::FanInUniform, &shape, 64);
    let bound = 1.0 / 8.0;
    assert!(w.iter().all(|x| x.abs() <= bound), "fan_in_uniform range");
    assert_moments("fan_in_uniform", &w, bound / 3f64.sqrt());
}

#[test]
fn bad_shapes_and_scales_are_typed_errors() {
    let d = dev();
    let mut gen = Generator::new(1, 0);
    let mut err = |init: Init, shape: &[usize], fan_in: usize| {
        init.tensor(&d, &mut gen, shape, fan_in).unwrap_err()
    };
    let orth = Init::Orthogonal { gain: 1.0 };
    match err(orth, &[7], 0) {
        Error::Invalid { op, msg } => {
            assert_eq!(op, "orthogonal");
            assert!(msg.contains("rank >= 2") && msg.contains("[7]"), "{msg}");
        }
        e => panic!("wrong error {e:?}"),
    }
    assert!(matches!(
        err(orth, &[0, 3], 0),
        Error::ZeroSized {
            op: "orthogonal",
            ..
        }
    ));
    let nan = Init::Orthogonal { gain: f32::NAN };
    assert!(matches!(
        err(nan, &[2, 2], 0),
        Error::Invalid {
            op: "orthogonal",
            ..
        }
    ));
    let e = err(Init::KaimingNormal, &[2, 2], 0);
    assert!(
        matches!(
            e,
            Error::Invalid {
                op: "kaiming_normal",
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(Init::FanInUniform, &[2], 0);
    assert!(
        matches!(
            e,
            Error::Invalid {
                op: "fan_in_uniform",
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(Init::Normal { std: -1.0 }, &[2], 0);
    assert!(matches!(e, Error::Invalid { op: "normal", .. }), "{e:?}");
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().unwrap().into_iter().map(f32::to_bits).collect()
}

/// `new` must reproduce, bit for bit and in the same generator order, the draws the
/// constructors made before schemes existed, so every earlier run and checkpoint stays valid.
#[test]
fn new_keeps_the_kaiming_draws_bit_for_bit() {
    let d = dev();
    let (mut gen, mut old) = (Generator::new(9, 3), Generator::new(9, 3));
    let conv = Conv2d::new(&d, &mut gen, 3, 8, 3, 1, 1, true).unwrap();
    let fan_in = 27f32;
    let w = old
        .normal(&d, &[8, 3, 3, 3], 0.0, (2.0 / fan_in).sqrt())
        .unwrap();
    let bound = 1.0 / fan_in.sqrt();
    let b = old.uniform(&d, &[8], -bound, bound).unwrap();
    assert_eq!(bits(&conv.weight), bits(&w));
    assert_eq!(bits(conv.bias.as_ref().unwrap()), bits(&b));

    let lin = Linear::new(&d, &mut gen, 20, 4).unwrap();
    let w = old.normal(&d, &[4, 20], 0.0, (2.0 / 20f32).sqrt()).unwrap();
    let bound = 1.0 / 20f32.sqrt();
    let b = old.uniform(&d, &[4], -bound, bound).unwrap();
    assert_eq!(bits(&lin.weight), bits(&w));
    assert_eq!(bits(lin.bias.as_ref().unwrap()), bits(&b));
    assert_eq!(gen.counter(), old.counter());
}

#[test]
fn with_init_uses_the_given_schemes() {
    let d = dev();
    let mut gen = Generator::new(2, 0);
    let orth = LayerInit {
        weight: Init::Orthogonal { gain: 1.0 },
        bias: Some(Init::Zeros),
    };
    let conv = Conv2d::with_init(&d, &mut gen, 2, 4, 3, 1, 1, orth).unwrap();
    assert_eq!(conv.bias.as_ref().unwrap().to_vec().unwrap(), [0.0; 4]);
    let w = f64s(&conv.weight);
    let g = products(&w, &w, 4, 18, true);
    assert!(
        (g[1][1] - 1.0).abs() < 1e-5 && g[0][3].abs() < 1e-5,
        "{g:?}"
    );

    // No bias: none listed, and forward is x·Wᵀ alone.
    let ones = LayerInit {
        weight: Init::Ones,
        bias: None,
    };
    let lin = Linear::with_init(&d, &mut gen, 3, 2, ones).unwrap();
    let names: Vec<String> = nn::state_of(&lin).into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["weight"]);
    assert!(nn::parameters(&lin)[0].is_param());
    let x = Tensor::from_slice(&d, &[1.0, 2.0, 3.0, -1.0, 0.5, 0.25], &[2, 3]).unwrap();
    let y = lin.forward(&x, Mode::Eval).unwrap().to_vec().unwrap();
    assert_eq!(y, [6.0, 6.0, -0.25, -0.25]);
}
