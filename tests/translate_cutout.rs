//! DiffAugment's translation + cutout gather and its adjoint (`ops::translate_cutout`) against an
//! f64 CPU reference written from the reference code's semantics (gan.md §4).
//!
//! Tolerances: the forward and the adjoint move values without arithmetic (each output is one
//! input or 0), so both must match the reference exactly (tolerance 0). The dot-product test
//! sums the same f32 products in f64 on both sides: |⟨Ax, y⟩ − ⟨x, Aᵀy⟩| ≤ 1e-12·Σ|x||y| (f64
//! summation in different orders, n ≤ 2·10⁴ terms: ≤ n·ε₆₄ ≈ 4e-12 of the sum). The gradient
//! check's backward multiplies the upstream gradient by 2.5 and by c once each (f32, ≤ 2ε
//! relative) and the f64 central differences of a linear loss err by ≤ 1e-9: rel 1e-6, abs 1e-8.
//!
//! The adjoint reference is the transpose of the forward reference (a scatter over every
//! output), not the kernel's gather, so the two formulations check each other. Mutations seen to
//! fail: the sign of tx flipped in the forward kernel (forward mismatches on every shape with a
//! shift); the offset range H + 1 − k mod 2 replaced by H (mismatch at the bottom/right border
//! row of draws u → 1); the adjoint's mask tested at the input position instead of the output
//! one (adjoint mismatch, and the gradient check fails).

mod common;
use common::*;
use tailgrad::ops::translate_cutout::TranslateCutout;
use tailgrad::{Error, Generator, Tensor};

/// The largest f32 below 1: the top of every draw range.
const U_MAX: f32 = 1.0 - 1.0 / 16_777_216.0;

/// floor(u·n) clamped to [0, n − 1], the product rounded to f32 as the kernel does.
fn pick(u: f32, n: usize) -> i64 {
    ((u * n as f32).floor() as i64).clamp(0, n as i64 - 1)
}

/// Sample geometry: shifts (tx, ty) and the cut rectangle's first row and column.
#[derive(Debug)]
struct Geo {
    tx: i64,
    ty: i64,
    cx: i64,
    cy: i64,
}

fn geometry(row: &[f32], h: usize, w: usize, tc: &TranslateCutout) -> Geo {
    let u = &row[row.len() - 4..];
    let [sx, sy] = tc.shifts(h, w);
    let [kx, ky] = tc.cut(h, w);
    Geo {
        tx: pick(u[0], 2 * sx + 1) - sx as i64,
        ty: pick(u[1], 2 * sy + 1) - sy as i64,
        cx: pick(u[2], h + 1 - kx % 2) - (kx / 2) as i64,
        cy: pick(u[3], w + 1 - ky % 2) - (ky / 2) as i64,
    }
}

/// For each output element, the flat input index it reads (None: zero).
fn sources(
    shape: [usize; 4],
    draws: &[f32],
    cols: usize,
    tc: &TranslateCutout,
) -> Vec<Option<usize>> {
    let [b, c, h, w] = shape;
    let [kx, ky] = tc.cut(h, w);
    let mut out = Vec::with_capacity(b * c * h * w);
    for n in 0..b {
        let g = geometry(&draws[n * cols..(n + 1) * cols], h, w, tc);
        for ch in 0..c {
            for i in 0..h as i64 {
                for j in 0..w as i64 {
                    let (si, sj) = (i + g.tx, j + g.ty);
                    let cut = (g.cx..g.cx + kx as i64).contains(&i)
                        && (g.cy..g.cy + ky as i64).contains(&j);
                    let ok = (0..h as i64).contains(&si) && (0..w as i64).contains(&sj) && !cut;
                    out.push(ok.then(|| ((n * c + ch) * h + si as usize) * w + sj as usize));
                }
            }
        }
    }
    out
}

fn forward_ref(x: &[f64], src: &[Option<usize>]) -> Vec<f64> {
    src.iter().map(|s| s.map_or(0.0, |k| x[k])).collect()
}

/// Aᵀg by scattering every output's gradient to the input it read.
fn adjoint_ref(g: &[f64], src: &[Option<usize>]) -> Vec<f64> {
    let mut dx = vec![0.0; g.len()];
    for (o, s) in src.iter().enumerate() {
        if let Some(k) = s {
            dx[*k] += g[o];
        }
    }
    dx
}

/// Draws for `b` samples with `cols` columns: row 0 all 0 (shifts −s, cutout at the top-left
/// border), row 1 all U_MAX (+s, bottom-right border), the rest random.
fn draws(rng: &mut Rng, b: usize, cols: usize) -> Vec<f32> {
    (0..b)
        .flat_map(|n| match n {
            0 => vec![0.0; cols],
            1 => vec![U_MAX; cols],
            _ => f32s(&rng.vec(cols, 0.0, 1.0)),
        })
        .collect()
}

/// W = 131 > 64 splits rows into several runs of the software path's 64 outputs.
const SHAPES: [[usize; 4]; 10] = [
    [1, 1, 1, 1],
    [3, 3, 1, 1],
    [1, 3, 1, 9],
    [2, 1, 9, 1],
    [2, 1, 7, 13],
    [3, 3, 13, 7],
    [1, 3, 32, 32],
    [5, 3, 32, 32],
    [7, 1, 32, 32],
    [2, 3, 5, 131],
];

#[test]
fn forward_and_adjoint_match_the_reference_on_awkward_shapes() {
    let d = dev();
    let mut rng = Rng::new(31);
    let tc = TranslateCutout::default();
    for (k, shape) in SHAPES.into_iter().enumerate() {
        // Every other shape reads the last four of seven columns, as DiffAugment passes them.
        let cols = if k % 2 == 0 { 4 } else { 7 };
        let [b, ..] = shape;
        let n: usize = shape.iter().product();
        let u = draws(&mut rng, b, cols);
        let src = sources(shape, &u, cols, &tc);
        let x = as_f32(&rng.vec(n, -1.0, 1.0));
        let g = as_f32(&rng.vec(n, -1.0, 1.0));
        let ut = Tensor::from_slice(&d, &u, &[b, cols]).unwrap();
        let xt = upload(&d, &x, &shape).into_param();
        let y = xt.translate_cutout(&ut, &tc).unwrap();
        y.backward_with(&upload(&d, &g, &shape)).unwrap();
        let (yv, dx) = (y.to_vec().unwrap(), xt.grad().unwrap().to_vec().unwrap());
        let exact = Tol { rel: 0.0, abs: 0.0 };
        assert_close(
            &format!("forward {shape:?}"),
            &yv,
            &forward_ref(&x, &src),
            exact,
        );
        assert_close(
            &format!("adjoint {shape:?}"),
            &dx,
            &adjoint_ref(&g, &src),
            exact,
        );
        // ⟨A x, g⟩ = ⟨x, Aᵀ g⟩ on the GPU's own outputs.
        let lhs: f64 = yv.iter().zip(&g).map(|(&a, b)| a as f64 * b).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, &b)| a * b as f64).sum();
        let scale: f64 = x.iter().zip(&g).map(|(a, b)| (a * b).abs()).sum();
        assert!(
            (lhs - rhs).abs() <= 1e-12 * scale,
            "dot-product test {shape:?}: {lhs} vs {rhs}"
        );
    }
}

#[test]
fn reference_geometry_at_32() {
    // The reference itself: shifts ±4 at the extremes, a whole 16×16 cutout when centred, a
    // clipped 8×8 corner at offset 0 (rows −8..8 of which 0..8 lie inside).
    let tc = TranslateCutout::default();
    assert_eq!((tc.shifts(32, 32), tc.cut(32, 32)), ([4, 4], [16, 16]));
    let g0 = geometry(&[0.0; 4], 32, 32, &tc);
    let g1 = geometry(&[U_MAX; 4], 32, 32, &tc);
    assert_eq!((g0.tx, g0.ty, g0.cx, g0.cy), (-4, -4, -8, -8));
    assert_eq!((g1.tx, g1.ty, g1.cx, g1.cy), (4, 4, 24, 24));
    let zeros = |u: [f32; 4]| {
        let src = sources([1, 1, 32, 32], &u, 4, &tc);
        src.iter().filter(|s| s.is_none()).count()
    };
    // tx = ty = 0 is k = 4 of 9 choices; offset 16 of 33 centres the square.
    let mid = (4.5 / 9.0) as f32;
    let centre = (16.5 / 33.0) as f32;
    assert_eq!(zeros([mid, mid, centre, centre]), 256);
    assert_eq!(zeros([mid, mid, 0.0, 0.0]), 64);
    assert_eq!(zeros([mid, mid, U_MAX, U_MAX]), 64);
    // An odd side has H offsets, not H + 1: at 5×5 the side is int(3.0) = 3, the top offset 4.
    let g = geometry(&[0.0, 0.0, U_MAX, U_MAX], 5, 5, &tc);
    assert_eq!((tc.cut(5, 5), g.cx), ([3, 3], 4 - 1));
}

#[test]
fn zero_ratios_are_the_identity_and_gpu_draws_work() {
    let d = dev();
    let mut rng = Rng::new(5);
    let shape = [3, 3, 8, 8];
    let x = as_f32(&rng.vec(shape.iter().product(), -1.0, 1.0));
    let off = TranslateCutout {
        translation_ratio: 0.0,
        cutout_ratio: 0.0,
    };
    let u = Generator::new(9, 1).rand(&d, &[3, 4]).unwrap();
    let y = upload(&d, &x, &shape).translate_cutout(&u, &off).unwrap();
    assert_close(
        "identity",
        &y.to_vec().unwrap(),
        &x,
        Tol { rel: 0.0, abs: 0.0 },
    );
    // Draws straight from the generator, read back only to build the reference.
    let tc = TranslateCutout::default();
    let y = upload(&d, &x, &shape).translate_cutout(&u, &tc).unwrap();
    let src = sources(shape, &u.to_vec().unwrap(), 4, &tc);
    assert_close(
        "generator draws",
        &y.to_vec().unwrap(),
        &forward_ref(&x, &src),
        Tol { rel: 0.0, abs: 0.0 },
    );
}

#[test]
fn gradcheck_through_translate_cutout() {
    let d = dev();
    let mut rng = Rng::new(77);
    let shape = [3, 2, 5, 6];
    let u = draws(&mut rng, 3, 4);
    let ut = Tensor::from_slice(&d, &u, &[3, 4]).unwrap();
    let tc = TranslateCutout {
        translation_ratio: 0.25,
        cutout_ratio: 0.5,
    };
    let src = sources(shape, &u, 4, &tc);
    gradcheck(
        "translate_cutout",
        &[(rng.vec(180, -1.0, 1.0), shape.to_vec())],
        &|t| t[0].translate_cutout(&ut, &tc),
        &move |v| forward_ref(&v[0], &src),
        Tol {
            rel: 1e-6,
            abs: 1e-8,
        },
    );
}

#[test]
fn bad_inputs_are_typed_errors() {
    let d = dev();
    let tc = TranslateCutout::default();
    let x = Tensor::zeros(&d, &[2, 3, 4, 4]).unwrap();
    let u = Tensor::zeros(&d, &[2, 4]).unwrap();
    for bad in [vec![3, 4], vec![2, 3], vec![8]] {
        let ub = Tensor::zeros(&d, &bad).unwrap();
        match x.translate_cutout(&ub, &tc).unwrap_err() {
            Error::Shape { op, lhs, rhs } => {
                assert_eq!((op, lhs, rhs), ("translate_cutout", vec![2, 3, 4, 4], bad))
            }
            e => panic!("{e}"),
        }
    }
    let invalid = |r: tailgrad::Result<Tensor>, needle: &str| match r.unwrap_err() {
        e @ Error::Invalid {
            op: "translate_cutout",
            ..
        } => {
            assert!(e.to_string().contains(needle), "{e}")
        }
        e => panic!("{e}"),
    };
    let x3 = Tensor::zeros(&d, &[3, 4, 4]).unwrap();
    invalid(x3.translate_cutout(&u, &tc), "[B, C, H, W]");
    let uu = Tensor::from_u32(&d, &[0; 8], &[2, 4]).unwrap();
    invalid(x.translate_cutout(&uu, &tc), "f32");
    let xu = Tensor::from_u32(&d, &[0; 96], &[2, 3, 4, 4]).unwrap();
    invalid(xu.translate_cutout(&u, &tc), "f32");
    for (t, c) in [(1.5, 0.5), (0.125, -0.1), (f64::NAN, 0.5)] {
        let bad = TranslateCutout {
            translation_ratio: t,
            cutout_ratio: c,
        };
        invalid(x.translate_cutout(&u, &bad), "ratio");
    }
}
