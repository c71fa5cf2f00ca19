//! The FID Inception-v3 (`eval::inception`) against golden pool3 features from an independent
//! float64 numpy implementation (`tests/golden/inception.py` → `inception.json`) on the same
//! deterministic random weights, two 32×32 images upsampled to 299×299 inside; plus the
//! preprocessing, the loader round trip and the loader's errors.
//!
//! Tolerance of the features: |got − want| ≤ 2e-5·max|want|. Each of the ≤ 50 convolutions on
//! the longest path sums K ≤ 4032 f32 products (BN folded in f64, one f32 rounding); the pools
//! and the final mean only average. Added linearly, per-layer errors of √K·2⁻²⁴ ≈ 4e-6 of the
//! activation scale would reach 2e-4, but rounding errors of random sign add like a random
//! walk: √50·4e-6 ≈ 3e-5 at worst, ~1e-6 typically. Measured on lavapipe: 3.2e-7. The golden
//! values carry 10 significant digits.
//! Mutations seen to fail: the FID average pools counting the padding (count_include_pad=True),
//! and Mixed_7c's pool branch average- instead of max-pooling.

mod common;
use common::*;
use serde::Deserialize;
use tailgrad::eval::inception::InceptionV3;
use tailgrad::report::checkpoint::Checkpoint;
use tailgrad::{nn, EntryProblem, Error, Tensor};

#[derive(Deserialize)]
struct Golden {
    seed: u64,
    tensors: usize,
    parameters: usize,
    shape: Vec<usize>,
    images: Vec<f64>,
    features: Vec<f64>,
}

fn golden() -> Golden {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/inception.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn features_match_the_numpy_golden() {
    let d = dev();
    let g = golden();
    let net = InceptionV3::random(&d, g.seed).unwrap();
    let t = std::time::Instant::now();
    let f = net.features(&upload(&d, &g.images, &g.shape)).unwrap();
    assert_eq!(f.shape(), [2, InceptionV3::FEATURES]);
    let got = f.to_vec().unwrap();
    eprintln!("features of 2 images: {:.1} s", t.elapsed().as_secs_f64());
    let scale = g.features.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = max_abs_diff(&got, &g.features);
    eprintln!(
        "max |err| {err:.3e} = {:.3e} of max|want| {scale}",
        err / scale
    );
    let tol = Tol {
        rel: 0.0,
        abs: 2e-5 * scale,
    };
    assert_close("pool3 features", &got, &g.features, tol);
}

#[test]
fn random_state_has_every_pytorch_fid_tensor() {
    // Counts from the numpy implementation, which names and shapes its tensors on its own.
    let g = golden();
    let ck = InceptionV3::random_state(g.seed).unwrap();
    assert_eq!(ck.tensors.len(), g.tensors);
    let numel: usize = ck.tensors.keys().map(|k| ck.f32(k).unwrap().1.len()).sum();
    assert_eq!(numel, g.parameters);
    let (shape, _) = ck.f32("Mixed_6b.branch7x7_2.conv.weight").unwrap();
    assert_eq!(shape, [128, 128, 1, 7]);
    assert!(ck.f32("Mixed_7c.branch3x3dbl_3b.bn.running_var").is_ok());
}

#[test]
fn grayscale_repeats_the_channel_and_input_is_resized_to_299() {
    let d = dev();
    let mut rng = Rng::new(4);
    let gray = as_f32(&rng.vec(2 * 17 * 23, -1.0, 1.0));
    let rgb: Vec<f64> = gray.chunks(17 * 23).flat_map(|p| p.repeat(3)).collect();
    let a = InceptionV3::preprocess(&upload(&d, &gray, &[2, 1, 17, 23])).unwrap();
    let b = InceptionV3::preprocess(&upload(&d, &rgb, &[2, 3, 17, 23])).unwrap();
    assert_eq!(a.shape(), [2, 3, 299, 299]);
    assert_eq!(a.to_vec().unwrap(), b.to_vec().unwrap());
    // 299×299 passes unchanged.
    let x = as_f32(&rng.vec(3 * 299 * 299, -1.0, 1.0));
    let y = InceptionV3::preprocess(&upload(&d, &x, &[1, 3, 299, 299])).unwrap();
    assert_close(
        "299 input",
        &y.to_vec().unwrap(),
        &x,
        Tol { rel: 0.0, abs: 0.0 },
    );
}

#[test]
fn bad_images_are_typed_errors() {
    let d = dev();
    let two = Tensor::zeros(&d, &[1, 2, 8, 8]).unwrap();
    match InceptionV3::preprocess(&two).unwrap_err() {
        Error::Shape { op, lhs, rhs } => {
            assert_eq!(
                (op, lhs, rhs),
                ("inception", vec![1, 3, 8, 8], vec![1, 2, 8, 8])
            )
        }
        e => panic!("{e}"),
    }
    let flat = Tensor::zeros(&d, &[3, 8, 8]).unwrap();
    let e = InceptionV3::preprocess(&flat).unwrap_err().to_string();
    assert!(e.contains("inception") && e.contains("[3, 8, 8]"), "{e}");
}

#[test]
fn load_reads_what_random_state_saves() {
    let d = dev();
    let dir = scratch("inception_load");
    let path = dir.join("random.safetensors");
    InceptionV3::random_state(7).unwrap().save(&path).unwrap();
    let loaded = nn::state_of(&InceptionV3::load(&d, &path).unwrap());
    let made = nn::state_of(&InceptionV3::random(&d, 7).unwrap());
    assert_eq!(loaded.len(), 2 * 94);
    let names = |s: &[nn::State]| s.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&loaded), names(&made));
    let all = |s: &[nn::State]| s.iter().map(|e| e.tensor.clone()).collect::<Vec<_>>();
    let (a, b) = (all(&loaded), all(&made));
    let a = tailgrad::read_all(&a.iter().collect::<Vec<_>>()).unwrap();
    let b = tailgrad::read_all(&b.iter().collect::<Vec<_>>()).unwrap();
    assert!(a == b, "loaded weights differ from random(7)'s");
}

/// The error `load` gives for a file holding `ck`.
fn load_error(ck: &Checkpoint, file: &str) -> (String, Error) {
    let dir = scratch(file);
    let path = dir.join(file);
    ck.save(&path).unwrap();
    let e = InceptionV3::load(&dev(), &path)
        .err()
        .expect("load must fail");
    (path.display().to_string(), e)
}

#[test]
fn load_names_the_file_the_tensor_and_both_shapes() {
    // A file whose first tensor has the wrong shape: it is named with both shapes.
    let mut ck = Checkpoint::new();
    ck.insert_f32("Conv2d_1a_3x3.conv.weight", &[32, 3, 3], vec![0.0; 288])
        .unwrap();
    let (path, e) = load_error(&ck, "shape.safetensors");
    let want = EntryProblem::Mistyped {
        want: "F32 [32, 3, 3, 3]".into(),
        got: "F32 [32, 3, 3]".into(),
    };
    match &e {
        Error::Checkpoint {
            path: p,
            entry,
            problem,
        } => assert_eq!(
            (p, entry.as_str(), problem),
            (&path, "Conv2d_1a_3x3.conv.weight", &want)
        ),
        e => panic!("{e}"),
    }
    assert!(e.to_string().contains("shape.safetensors"), "{e}");
    // The right shape but u32 values.
    let mut ck = Checkpoint::new();
    ck.insert_u32("Conv2d_1a_3x3.conv.weight", &[32, 3, 3, 3], vec![0; 864])
        .unwrap();
    let (_, e) = load_error(&ck, "dtype.safetensors");
    assert!(
        e.to_string()
            .contains("is U32 [32, 3, 3, 3], expected F32 [32, 3, 3, 3]"),
        "{e}"
    );
    // A full file less one tensor deep inside.
    let mut ck = InceptionV3::random_state(1).unwrap();
    ck.tensors.remove("Mixed_7b.branch3x3_2b.bn.bias").unwrap();
    let (path, e) = load_error(&ck, "missing.safetensors");
    match e {
        Error::Checkpoint {
            path: p,
            entry,
            problem: EntryProblem::Missing,
        } => assert_eq!((p, entry.as_str()), (path, "Mixed_7b.branch3x3_2b.bn.bias")),
        e => panic!("{e}"),
    }
}

#[test]
fn unreadable_files_are_io_and_format_errors() {
    let d = dev();
    let dir = scratch("inception_unreadable");
    match InceptionV3::load(&d, &dir.join("absent.safetensors"))
        .err()
        .unwrap()
    {
        Error::Io { path, .. } => assert!(path.ends_with("absent.safetensors")),
        e => panic!("{e}"),
    }
    let junk = dir.join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    match InceptionV3::load(&d, &junk).err().unwrap() {
        Error::Format { path, .. } => assert!(path.ends_with("junk.safetensors")),
        e => panic!("{e}"),
    }
}
