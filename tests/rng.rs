//! Philox4x32-10: a CPU reference checked against the Random123 known-answer vectors, the GPU
//! checked bit-for-bit against it, and the float transforms checked statistically.

mod common;
use common::{assert_close, dev, Tol};
use std::f64::consts::PI;
use tailgrad::{DType, Generator, Tensor};

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds, written from the paper with native u64 products.
fn philox(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (ctr, key);
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = M0 as u64 * c[0] as u64;
        let p1 = M1 as u64 * c[2] as u64;
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// The words `Generator::new(seed, stream)` at `counter` must produce.
fn cpu_raw(seed: u64, stream: u32, counter: u64, n: usize) -> Vec<u32> {
    let key = [seed as u32, (seed >> 32) as u32];
    (0..n.div_ceil(4) as u64)
        .flat_map(|b| {
            let c = counter.wrapping_add(b);
            philox([c as u32, (c >> 32) as u32, stream, 0], key)
        })
        .take(n)
        .collect()
}

fn unit(x: u32) -> f64 {
    (x >> 8) as f64 / 16_777_216.0
}

/// Box–Muller as the shader does it, in f64, on whole blocks (word pairs never straddle blocks).
fn cpu_normal(seed: u64, stream: u32, counter: u64, n: usize) -> Vec<f64> {
    let words = cpu_raw(seed, stream, counter, n.next_multiple_of(4));
    let mut out: Vec<f64> = words
        .chunks(2)
        .flat_map(|pair| {
            let u1 = ((pair[0] >> 8) + 1) as f64 / 16_777_216.0;
            let th = 2.0 * PI * unit(pair[1]) - PI;
            let r = (-2.0 * u1.ln()).sqrt();
            [r * th.cos(), r * th.sin()]
        })
        .collect();
    out.truncate(n);
    out
}

#[test]
fn cpu_reference_matches_random123_known_answers() {
    let kat: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0; 4],
            [0; 2],
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
        ),
        (
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
        ),
        (
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
        ),
    ];
    for (ctr, key, want) in kat {
        assert_eq!(philox(ctr, key), want, "ctr {ctr:08x?} key {key:08x?}");
    }
}

#[test]
fn gpu_raw_words_match_cpu_bit_for_bit() {
    let d = dev();
    // Awkward lengths; a seed using both key words; a counter whose low word carries mid-call.
    let cases = [
        (0u64, 0u32, 0u64, 1usize),
        (1, 0, 0, 7),
        (0xDEAD_BEEF_0123_4567, 3, 5, 1001),
        (42, 7, 0xFFFF_FFFE, 4099),
        (u64::MAX, u32::MAX, u64::MAX - 2, 64 * 4 * 3 + 5),
    ];
    for (seed, stream, counter, n) in cases {
        let mut g = Generator::new(seed, stream);
        g.set_counter(counter);
        let t = g.raw_u32(&d, n).unwrap();
        assert_eq!(t.dtype(), DType::U32);
        assert_eq!(t.shape(), &[n]);
        let want = cpu_raw(seed, stream, counter, n);
        assert_eq!(
            t.to_vec_u32().unwrap(),
            want,
            "seed {seed:#x} stream {stream} counter {counter:#x} n {n}"
        );
        assert_eq!(g.counter(), counter.wrapping_add(n.div_ceil(4) as u64));
    }
}

#[test]
fn grid_folded_into_2d_keeps_block_numbering() {
    let d = dev();
    // More than 65535 workgroups of 64 blocks: the grid folds into two dimensions.
    let n = 4 * 64 * 65_535 + 4 * 64 * 3 + 1;
    let got = Generator::new(3, 9)
        .raw_u32(&d, n)
        .unwrap()
        .to_vec_u32()
        .unwrap();
    let want = cpu_raw(3, 9, 0, n);
    assert!(
        got == want,
        "first mismatch at {:?}",
        got.iter().zip(&want).position(|(a, b)| a != b)
    );
}

#[test]
fn rand_is_the_top_24_bits_exactly() {
    let d = dev();
    let n = 1003;
    let got = Generator::new(9, 2).rand(&d, &[17, 59]).unwrap();
    assert_eq!(got.shape(), &[17, 59]);
    let want: Vec<f32> = cpu_raw(9, 2, 0, n)
        .iter()
        .map(|&x| unit(x) as f32)
        .collect();
    assert_eq!(got.to_vec().unwrap(), want);
}

#[test]
fn uniform_and_normal_match_the_cpu_transform() {
    let d = dev();
    let n = 513;
    let mut g = Generator::new(77, 1);
    let u = g.uniform(&d, &[n], -3.0, 5.0).unwrap();
    let z = g.normal(&d, &[n], 0.5, 2.0).unwrap();
    let words = cpu_raw(77, 1, 0, n);
    let want_u: Vec<f64> = words.iter().map(|&x| -3.0 + 8.0 * unit(x)).collect();
    // One f32 multiply-add of values in [-3, 5].
    let tol_u = Tol {
        rel: 1e-6,
        abs: 1e-6,
    };
    assert_close("uniform", &u.to_vec().unwrap(), &want_u, tol_u);
    let want_z: Vec<f64> = cpu_normal(77, 1, n.div_ceil(4) as u64, n)
        .iter()
        .map(|z| 0.5 + 2.0 * z)
        .collect();
    // f32 log/sqrt/cos/sin in the shader: lavapipe is within 2e-6 absolute of f64 here.
    let tol_z = Tol {
        rel: 2e-5,
        abs: 2e-5,
    };
    assert_close("normal", &z.to_vec().unwrap(), &want_z, tol_z);
}

#[test]
fn rand_stays_in_unit_interval_and_is_flat() {
    let d = dev();
    let n = 1 << 20;
    let v = Tensor::rand(&d, &[n], 123).unwrap().to_vec().unwrap();
    assert!(v.iter().all(|&x| (0.0..1.0).contains(&x)), "outside [0, 1)");
    const BINS: usize = 100;
    let mut hist = [0usize; BINS];
    for &x in &v {
        hist[(x as f64 * BINS as f64) as usize] += 1;
    }
    let expect = n as f64 / BINS as f64;
    let chi2: f64 = hist
        .iter()
        .map(|&h| (h as f64 - expect).powi(2) / expect)
        .sum();
    // χ² with 99 degrees of freedom: mean 99, P(χ² > 160) ≈ 5e-5.
    assert!(chi2 < 160.0, "chi² = {chi2:.1} over {BINS} bins");
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    // Standard error 1/sqrt(12 n) = 2.8e-4; allow 5σ.
    assert!((mean - 0.5).abs() < 1.4e-3, "mean {mean}");
}

/// Φ(x) via erfc (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

#[test]
fn randn_has_normal_statistics() {
    let d = dev();
    let n = 1 << 20;
    let mut v: Vec<f64> = Tensor::randn(&d, &[1024, 1024], 2024)
        .unwrap()
        .to_vec()
        .unwrap()
        .into_iter()
        .map(|x| x as f64)
        .collect();
    assert!(v.iter().all(|x| x.is_finite()));
    let nf = n as f64;
    let mean = v.iter().sum::<f64>() / nf;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    // Standard errors: mean 1/sqrt(n) = 9.8e-4, variance sqrt(2/n) = 1.4e-3; allow 5σ.
    assert!(mean.abs() < 4.9e-3, "mean {mean}");
    assert!((var - 1.0).abs() < 6.9e-3, "var {var}");
    // 68-95-99.7: each fraction within 5 binomial standard errors.
    for (k, p) in [(1.0, 0.682_689_5), (2.0, 0.954_499_7), (3.0, 0.997_300_2)] {
        let frac = v.iter().filter(|x| x.abs() < k).count() as f64 / nf;
        let se = (p * (1.0 - p) / nf).sqrt();
        assert!(
            (frac - p).abs() < 5.0 * se,
            "P(|z| < {k}) = {frac}, want {p} ± {}",
            5.0 * se
        );
    }
    // Kolmogorov–Smirnov against Φ: the α = 0.001 critical value is 1.95 / sqrt(n).
    v.sort_by(f64::total_cmp);
    let ks = v
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = normal_cdf(x);
            (f - i as f64 / nf).abs().max((i + 1) as f64 / nf - f)
        })
        .fold(0.0, f64::max);
    assert!(ks < 1.95 / nf.sqrt(), "KS statistic {ks}");
}

#[test]
fn seeds_streams_and_counters_are_reproducible_and_distinct() {
    let d = dev();
    let n = 256;
    let draw = |seed, stream, counter| {
        let mut g = Generator::new(seed, stream);
        g.set_counter(counter);
        g.raw_u32(&d, n).unwrap().to_vec_u32().unwrap()
    };
    let base = draw(5, 0, 0);
    assert_eq!(base, draw(5, 0, 0), "same seed, stream, counter");
    // Another seed, stream or counter shares (almost) no words with the base draw.
    for (what, other) in [
        ("seed", draw(6, 0, 0)),
        ("stream", draw(5, 1, 0)),
        ("counter", draw(5, 0, 1 << 40)),
    ] {
        let same = base.iter().zip(&other).filter(|(a, b)| a == b).count();
        assert!(same <= 1, "{what}: {same} of {n} words equal");
    }
    // Same seed through the float path gives identical bits.
    let a = Tensor::randn(&d, &[33], 8).unwrap().to_vec().unwrap();
    let b = Tensor::randn(&d, &[33], 8).unwrap().to_vec().unwrap();
    assert_eq!(
        a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn consecutive_calls_continue_the_sequence() {
    let d = dev();
    let mut g = Generator::new(11, 4);
    let first = g.raw_u32(&d, 12).unwrap();
    assert_eq!(g.counter(), 3);
    let second = g.raw_u32(&d, 10).unwrap();
    assert_eq!(g.counter(), 6);
    let mut got = first.to_vec_u32().unwrap();
    got.extend(second.to_vec_u32().unwrap());
    // Independent of how the draw was split: one call of 22 words gives the same sequence.
    let whole = Generator::new(11, 4).raw_u32(&d, 22).unwrap();
    assert_eq!(got, whole.to_vec_u32().unwrap());
    // A partial block is consumed whole: the next call starts on a fresh block.
    let mut h = Generator::new(11, 4);
    h.rand(&d, &[5]).unwrap();
    assert_eq!(h.counter(), 2);
    let x = h.rand(&d, &[4]).unwrap().to_vec().unwrap();
    let y = h.rand(&d, &[4]).unwrap().to_vec().unwrap();
    assert_ne!(x, y, "consecutive calls differ");
    let saved = h.counter();
    let z = h.randn(&d, &[9]).unwrap().to_vec().unwrap();
    h.set_counter(saved);
    assert_eq!(z, h.randn(&d, &[9]).unwrap().to_vec().unwrap(), "restored");
}

#[test]
fn bad_arguments_are_errors() {
    let d = dev();
    let mut g = Generator::new(0, 0);
    assert!(g.rand(&d, &[3, 0]).is_err());
    assert!(g.normal(&d, &[3], 0.0, -1.0).is_err());
    assert!(g.normal(&d, &[3], f32::NAN, 1.0).is_err());
    assert!(g.uniform(&d, &[3], 2.0, 1.0).is_err());
    assert!(g.uniform(&d, &[3], 0.0, f32::INFINITY).is_err());
    assert_eq!(g.counter(), 0, "failed calls consume nothing");
}
