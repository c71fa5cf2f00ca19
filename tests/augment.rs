//! The gather + augment kernel against a step-by-step f64 CPU reference written the torchvision
//! way (paste on a canvas, pad, crop, flip, normalise).
mod common;
use common::*;
use tailgrad::data::gpu::{Augment, GpuDataset};
use tailgrad::data::{load, Dataset, DatasetKind};
use tailgrad::{read_all, Error};

/// f32 evaluation of v·(1/(255·std)) + (−mean/std) against the f64 formula: three roundings
/// (the two constants, the product, the sum) of values below 4 in magnitude, ≤ 1.5e-7 each.
const NORM: Tol = Tol {
    rel: 0.0,
    abs: 1e-6,
};

/// (images, channels, height, width, output size, batch indices)
type Case = (usize, usize, usize, usize, usize, &'static [u32]);

/// A placement: crop offset (dx, dy) and flip.
type Placement = (isize, isize, bool);

/// torchvision's pipeline for one image: centre on a size×size zero canvas, pad by `pad`, take
/// the size×size window whose top-left is (pad + dy, pad + dx), flip, normalise.
fn reference(ds: &Dataset, i: usize, aug: &Augment, (dx, dy, flip): Placement) -> Vec<f64> {
    let (c, h, w, s, pad) = (ds.channels, ds.height, ds.width, aug.size, aug.pad);
    let (top, left) = ((s - h) / 2, (s - w) / 2);
    let ps = s + 2 * pad;
    let mut out = Vec::with_capacity(c * s * s);
    for ch in 0..c {
        let mut padded = vec![0u8; ps * ps];
        for y in 0..h {
            for x in 0..w {
                padded[(pad + top + y) * ps + pad + left + x] = ds.image(i)[(ch * h + y) * w + x];
            }
        }
        let (oy0, ox0) = ((pad as isize + dy) as usize, (pad as isize + dx) as usize);
        for y in 0..s {
            for x in 0..s {
                let sx = if flip { s - 1 - x } else { x };
                let v = padded[(oy0 + y) * ps + ox0 + sx] as f64;
                let (m, sd) = (aug.mean[ch] as f64, aug.std[ch] as f64);
                out.push((v / 255.0 - m) / sd);
            }
        }
    }
    out
}

/// `n` images of c×h×w with pixels in 1..=255 (so every placement of an image differs) and
/// labels below 10.
fn random_dataset(rng: &mut Rng, n: usize, c: usize, h: usize, w: usize) -> Dataset {
    Dataset {
        images: (0..n * c * h * w)
            .map(|_| 1 + rng.below(255) as u8)
            .collect(),
        labels: (0..n).map(|_| rng.below(10) as u32).collect(),
        channels: c,
        height: h,
        width: w,
        classes: 10,
        class_names: (0..10).map(|i| i.to_string()).collect(),
    }
}

fn norm_consts(rng: &mut Rng, c: usize) -> (Vec<f32>, Vec<f32>) {
    (
        (0..c).map(|_| rng.uniform(0.1, 0.6) as f32).collect(),
        (0..c).map(|_| rng.uniform(0.2, 0.4) as f32).collect(),
    )
}

fn close(got: &[f32], want: &[f64]) -> bool {
    got.iter()
        .zip(want)
        .all(|(&g, &w)| (g as f64 - w).abs() <= NORM.abs)
}

/// Runs a batch and reads back (pixels per slot, labels).
fn run(
    g: &GpuDataset,
    idx: &[u32],
    aug: &Augment,
    seed: u64,
    step: u64,
) -> (Vec<Vec<f32>>, Vec<u32>) {
    let (x, y) = g.batch(idx, aug, seed, step).unwrap();
    let s = aug.size;
    assert_eq!(x.shape(), [idx.len(), g.shape()[1], s, s]);
    assert_eq!(y.shape(), [idx.len()]);
    let per = g.shape()[1] * s * s;
    let x = read_all(&[&x]).unwrap().remove(0);
    (
        x.chunks(per).map(|c| c.to_vec()).collect(),
        y.to_vec_u32().unwrap(),
    )
}

#[test]
fn eval_path_matches_the_reference_on_awkward_shapes() {
    let d = dev();
    let mut rng = Rng::new(1);
    let cases: &[Case] = &[
        (5, 1, 28, 28, 32, &[4, 0, 2, 2, 1, 3, 0]), // Fashion-MNIST geometry, repeats
        (3, 3, 5, 7, 9, &[2, 0, 1, 1]),             // odd, non-square, 3 channels
        (1, 1, 1, 1, 1, &[0]),                      // everything 1
        (4, 3, 32, 32, 32, &[3, 1, 2]),             // CIFAR geometry, no border
        (6, 2, 3, 5, 8, &[5; 13]),                  // even canvas around odd sides
        (2, 4, 6, 6, 11, &[1, 0]),                  // 4 channels, odd canvas
    ];
    for &(n, c, h, w, s, idx) in cases {
        let ds = random_dataset(&mut rng, n, c, h, w);
        let (mean, std) = norm_consts(&mut rng, c);
        let aug = Augment::eval(s, &mean, &std);
        let g = GpuDataset::new(&d, &ds).unwrap();
        let (x, y) = run(&g, idx, &aug, 0, 0);
        for (k, &i) in idx.iter().enumerate() {
            let want = reference(&ds, i as usize, &aug, (0, 0, false));
            assert_close(
                &format!("{n}x{c}x{h}x{w} -> {s}, slot {k}"),
                &x[k],
                &want,
                NORM,
            );
            assert_eq!(y[k], ds.labels[i as usize], "label of slot {k}");
        }
    }
}

/// For each slot, the placements (dx, dy, flip) whose reference equals the output.
fn matching_placements(
    ds: &Dataset,
    idx: &[u32],
    x: &[Vec<f32>],
    aug: &Augment,
) -> Vec<Vec<Placement>> {
    let p = aug.pad as isize;
    idx.iter()
        .zip(x)
        .map(|(&i, out)| {
            let mut hits = Vec::new();
            for dy in -p..=p {
                for dx in -p..=p {
                    for flip in [false, true] {
                        if close(out, &reference(ds, i as usize, aug, (dx, dy, flip))) {
                            hits.push((dx, dy, flip));
                        }
                    }
                }
            }
            hits
        })
        .collect()
}

#[test]
fn random_crops_and_flips_are_valid_placements_drawn_uniformly() {
    let d = dev();
    let mut rng = Rng::new(2);
    let ds = random_dataset(&mut rng, 9, 2, 5, 6);
    let (mean, std) = norm_consts(&mut rng, 2);
    let aug = Augment::crop_flip(8, 3, &mean, &std);
    let g = GpuDataset::new(&d, &ds).unwrap();
    let idx: Vec<u32> = (0..200).map(|_| rng.below(9) as u32).collect();
    let (mut flips, mut dxs, mut dys) = (0, vec![0usize; 7], vec![0usize; 7]);
    let mut joint = [[0usize; 7]; 7];
    let steps = 5;
    for step in 0..steps {
        let (x, y) = run(&g, &idx, &aug, 11, step);
        for (k, hits) in matching_placements(&ds, &idx, &x, &aug)
            .into_iter()
            .enumerate()
        {
            // Pixels are never 0 inside an image, so one placement explains an output.
            assert_eq!(hits.len(), 1, "step {step} slot {k}: placements {hits:?}");
            let (dx, dy, flip) = hits[0];
            flips += flip as usize;
            dxs[(dx + 3) as usize] += 1;
            dys[(dy + 3) as usize] += 1;
            joint[(dy + 3) as usize][(dx + 3) as usize] += 1;
            assert_eq!(y[k], ds.labels[idx[k] as usize]);
        }
    }
    let n = (steps as usize * idx.len()) as f64;
    // 5σ bounds: flips ~ Binomial(n, 1/2); each offset ~ Binomial(n, 1/7).
    let sd = (n * 0.25).sqrt();
    assert!(
        (flips as f64 - n / 2.0).abs() < 5.0 * sd,
        "{flips} flips of {n}"
    );
    let sd = (n / 7.0 * 6.0 / 7.0).sqrt();
    for h in [&dxs, &dys] {
        for &c in h.iter() {
            assert!(
                (c as f64 - n / 7.0).abs() < 5.0 * sd,
                "offset histogram {h:?}"
            );
        }
    }
    // dx and dy are independent: every pair occurs (~20 each; all 49 seen but with p ~ 1e-7).
    assert!(
        joint.iter().flatten().all(|&c| c > 0),
        "joint (dy, dx) histogram {joint:?}"
    );
}

#[test]
fn draws_depend_only_on_seed_step_and_slot() {
    let d = dev();
    let mut rng = Rng::new(3);
    let ds = random_dataset(&mut rng, 4, 1, 28, 28);
    let (mean, std) = DatasetKind::FashionMnist.mean_std();
    let aug = Augment::crop_flip(32, 4, mean, std);
    let g = GpuDataset::new(&d, &ds).unwrap();
    let idx = [3, 1, 0, 2, 2, 1, 0, 3];
    let a = run(&g, &idx, &aug, 5, 9).0;
    assert_eq!(a, run(&g, &idx, &aug, 5, 9).0, "same (seed, step)");
    assert_ne!(a, run(&g, &idx, &aug, 5, 10).0, "next step");
    assert_ne!(a, run(&g, &idx, &aug, 6, 9).0, "other seed");
    // High words of seed and step count too.
    assert_ne!(a, run(&g, &idx, &aug, 5 + (1 << 32), 9).0, "seed high word");
    assert_ne!(a, run(&g, &idx, &aug, 5, 9 + (1 << 32)).0, "step high word");
    // A slot's placement does not depend on which image fills it.
    let other = [0, 0, 0, 0, 0, 0, 0, 0];
    let b = run(&g, &other, &aug, 5, 9).0;
    let pa = matching_placements(&ds, &idx, &a, &aug);
    let pb = matching_placements(&ds, &other, &b, &aug);
    assert_eq!(pa, pb);
}

#[test]
fn bundled_images_batch_like_the_reference() {
    let d = dev();
    let ds = load(DatasetKind::Bundled, None, true).unwrap();
    let (mean, std) = DatasetKind::Bundled.mean_std();
    let g = GpuDataset::new(&d, &ds).unwrap();
    let idx: Vec<u32> = (0..64).map(|k| (k * 37 % ds.len()) as u32).collect();
    let eval = Augment::eval(32, mean, std);
    let (x, y) = run(&g, &idx, &eval, 0, 0);
    for (k, &i) in idx.iter().enumerate() {
        assert_close(
            &format!("slot {k}"),
            &x[k],
            &reference(&ds, i as usize, &eval, (0, 0, false)),
            NORM,
        );
        assert_eq!(y[k], ds.labels[i as usize]);
    }
    // Real images may have several matching placements (blank borders); one must match.
    let train = Augment::crop_flip(32, 4, mean, std);
    let (x, _) = run(&g, &idx, &train, 1, 2);
    for (k, hits) in matching_placements(&ds, &idx, &x, &train)
        .iter()
        .enumerate()
    {
        assert!(
            !hits.is_empty(),
            "slot {k} is no crop/flip of image {}",
            idx[k]
        );
    }
}

#[test]
fn bad_batches_are_errors() {
    let d = dev();
    let mut rng = Rng::new(4);
    let ds = random_dataset(&mut rng, 3, 3, 4, 4);
    let g = GpuDataset::new(&d, &ds).unwrap();
    let m = [0.5f32; 3];
    let ok = Augment::eval(4, &m, &m);
    let invalid = |r: tailgrad::Result<_>, what: &str| match r {
        Err(Error::Invalid { op: "augment", .. }) => {}
        Err(e) => panic!("{what}: wrong error {e}"),
        Ok(_) => panic!("{what}: accepted"),
    };
    invalid(g.batch(&[0, 3], &ok, 0, 0), "index past the end");
    invalid(
        g.batch(&[0], &Augment::eval(4, &m[..1], &m), 0, 0),
        "one mean for 3 channels",
    );
    invalid(
        g.batch(&[0], &Augment::eval(4, &m, &[0.5, 0.0, 0.5]), 0, 0),
        "zero std",
    );
    invalid(
        g.batch(&[0], &Augment::eval(4, &m, &[0.5, f32::NAN, 0.5]), 0, 0),
        "NaN std",
    );
    invalid(
        g.batch(&[0], &Augment::eval(4, &[f32::INFINITY; 3], &m), 0, 0),
        "infinite mean",
    );
    invalid(
        g.batch(&[0], &Augment::eval(3, &m, &m), 0, 0),
        "canvas smaller than the image",
    );
    invalid(
        g.batch(&[0], &Augment::crop_flip(4, 1 << 20, &m, &m), 0, 0),
        "huge pad",
    );
    assert!(g.batch(&[], &ok, 0, 0).is_err(), "empty batch");
    let five = random_dataset(&mut rng, 2, 5, 2, 2);
    let g5 = GpuDataset::new(&d, &five).unwrap();
    invalid(
        g5.batch(&[0], &Augment::eval(2, &[0.5; 5], &[0.5; 5]), 0, 0),
        "5 channels",
    );
}
