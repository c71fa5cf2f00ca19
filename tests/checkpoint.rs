//! Checkpoints: round trips, the on-disk layout of the safetensors format, atomic saves and
//! malformed files (every one an `Error::Format` naming the path, never a panic).

mod common;

use common::{scratch, Rng};
use std::fs;
use std::path::Path;
use tailgrad::report::{Checkpoint, Entry};
use tailgrad::{Error, Tensor};

/// A checkpoint with every dtype, a scalar, a zero-element tensor and awkward values.
fn sample() -> Checkpoint {
    let mut rng = Rng::new(7);
    let mut ck = Checkpoint::new();
    let mut w: Vec<f32> = rng
        .vec(3 * 5, -2.0, 2.0)
        .iter()
        .map(|&v| v as f32)
        .collect();
    w[0] = -0.0;
    w[1] = f32::NAN;
    w[2] = f32::INFINITY;
    w[3] = f32::MIN_POSITIVE / 2.0; // subnormal
    ck.insert_f32("layer1.weight", &[3, 5], w).unwrap();
    ck.insert_f32("scalar", &[], vec![1.5]).unwrap();
    ck.insert_f32("empty", &[0, 4], vec![]).unwrap();
    ck.insert_u32("labels", &[7], vec![0, 1, 2, 3, 99, u32::MAX, 5])
        .unwrap();
    ck.insert_u64("step", &[1], vec![u64::MAX - 1]).unwrap();
    ck.metadata.insert("epoch".into(), "12".into());
    ck.metadata.insert(
        "config".into(),
        "{\"lr\": 0.1, \"name\": \"résumé ✓\"}".into(),
    );
    ck
}

/// Bitwise equality, so NaN and -0.0 count as preserved.
fn assert_same(a: &Checkpoint, b: &Checkpoint) {
    assert_eq!(a.metadata, b.metadata);
    assert_eq!(
        a.tensors.keys().collect::<Vec<_>>(),
        b.tensors.keys().collect::<Vec<_>>()
    );
    for (name, ea) in &a.tensors {
        match (ea, &b.tensors[name]) {
            (Entry::F32 { shape: s, data: d }, Entry::F32 { shape: t, data: e }) => {
                assert_eq!(s, t, "{name}");
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(d), bits(e), "{name}");
            }
            (x, y) => assert_eq!(x, y, "{name}"),
        }
    }
}

/// Asserts `Error::Format` for `path` with an offset inside the file; returns (offset, msg).
fn expect_format(r: tailgrad::Result<Checkpoint>, path: &Path, len: usize) -> (u64, String) {
    match r {
        Err(Error::Format {
            path: p,
            offset,
            msg,
        }) => {
            assert_eq!(p, path.display().to_string());
            assert!(
                offset <= len as u64,
                "offset {offset} past the {len}-byte file"
            );
            assert!(!msg.is_empty());
            (offset, msg)
        }
        other => panic!("expected Error::Format for {len}-byte file, got {other:?}"),
    }
}

/// Writes a safetensors file by hand from the spec: u64 LE header length, JSON, data.
fn handmade(header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

#[test]
fn round_trip_all_dtypes_and_metadata() {
    let dir = scratch("roundtrip");
    let path = dir.join("a.safetensors");
    let ck = sample();
    ck.save(&path).unwrap();
    assert_same(&ck, &Checkpoint::load(&path).unwrap());
    // No metadata at all is also a valid file.
    let mut bare = Checkpoint::new();
    bare.insert_u32("x", &[2], vec![4, 5]).unwrap();
    bare.save(&path).unwrap();
    assert_same(&bare, &Checkpoint::load(&path).unwrap());
    Checkpoint::new().save(&path).unwrap();
    assert_same(&Checkpoint::new(), &Checkpoint::load(&path).unwrap());
}

#[test]
fn header_layout_follows_the_format() {
    let dir = scratch("layout");
    let path = dir.join("a.safetensors");
    let ck = sample();
    ck.save(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let obj = header.as_object().unwrap();
    assert_eq!(obj["__metadata__"]["epoch"], "12");
    assert_eq!(obj.len(), ck.tensors.len() + 1);
    let mut covered = 0;
    for (name, entry) in &ck.tensors {
        let info = &obj[name];
        let (dtype, shape, raw): (&str, &[usize], Vec<u8>) = match entry {
            Entry::F32 { shape, data } => (
                "F32",
                shape,
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            Entry::U32 { shape, data } => (
                "U32",
                shape,
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            Entry::U64 { shape, data } => (
                "U64",
                shape,
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        };
        assert_eq!(info["dtype"], dtype, "{name}");
        assert_eq!(info["shape"], serde_json::json!(shape), "{name}");
        let off = info["data_offsets"].as_array().unwrap();
        let (s, e) = (
            off[0].as_u64().unwrap() as usize,
            off[1].as_u64().unwrap() as usize,
        );
        assert_eq!(
            &data[s..e],
            &raw[..],
            "{name}: little-endian values at its offsets"
        );
        covered += e - s;
    }
    assert_eq!(
        covered,
        data.len(),
        "tensors cover the data section exactly"
    );
}

#[test]
fn reads_a_file_written_by_hand_from_the_spec() {
    let dir = scratch("handmade");
    let path = dir.join("h.safetensors");
    let mut data: Vec<u8> = [1.0f32, -2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    data.extend(7u64.to_le_bytes());
    let header = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"U64","shape":[],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}}"#;
    fs::write(&path, handmade(header, &data)).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    assert_eq!(
        ck.f32("a").unwrap(),
        (&[2usize, 1][..], &[1.0f32, -2.5][..])
    );
    assert_eq!(ck.u64("b").unwrap(), (&[][..], &[7u64][..]));
    assert_eq!(ck.metadata["format"], "pt");
}

#[test]
fn accessors_name_missing_and_mistyped_keys() {
    let ck = sample();
    for (r, needles) in [
        (ck.f32("nope").err(), ["nope", "F32"]),
        (ck.f32("labels").err(), ["labels", "U32"]),
        (ck.u32("step").err(), ["step", "U64"]),
        (ck.u64("scalar").err(), ["scalar", "F32"]),
    ] {
        match r {
            Some(e @ Error::Invalid { .. }) => {
                let s = e.to_string();
                assert!(needles.iter().all(|n| s.contains(n)), "{s}");
            }
            other => panic!("expected Error::Invalid, got {other:?}"),
        }
    }
}

#[test]
fn wrong_lengths_are_refused_on_insert_and_save() {
    let mut ck = Checkpoint::new();
    let e = ck.insert_f32("w", &[2, 3], vec![0.0; 5]).unwrap_err();
    assert!(
        matches!(e, Error::Invalid { .. }) && e.to_string().contains("`w`"),
        "{e}"
    );
    assert!(ck.insert_u64("big", &[usize::MAX, 2], vec![]).is_err());
    ck.tensors.insert(
        "bad".into(),
        Entry::U32 {
            shape: vec![4],
            data: vec![1, 2],
        },
    );
    let dir = scratch("wronglen");
    let e = ck.save(&dir.join("x.safetensors")).unwrap_err();
    assert!(
        matches!(e, Error::Invalid { .. }) && e.to_string().contains("`bad`"),
        "{e}"
    );
    assert!(
        fs::read_dir(&dir).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn save_is_atomic() {
    let dir = scratch("atomic");
    let path = dir.join("ck.safetensors");
    let tmp = dir.join("ck.safetensors.tmp");
    let first = sample();
    first.save(&path).unwrap();
    assert!(!tmp.exists(), "the temporary file is renamed away");

    // A crash mid-save leaves a partial .tmp: loading still reads the good file.
    fs::write(&tmp, b"partial garbage").unwrap();
    assert_same(&first, &Checkpoint::load(&path).unwrap());

    // Saving over an existing file (and a stale .tmp) replaces both cleanly.
    let mut second = Checkpoint::new();
    second.insert_f32("w", &[2], vec![3.0, 4.0]).unwrap();
    second.save(&path).unwrap();
    assert_same(&second, &Checkpoint::load(&path).unwrap());
    assert!(!tmp.exists());

    // A save that fails before the rename (the .tmp cannot be created) keeps the old file.
    fs::create_dir(&tmp).unwrap();
    match first.save(&path) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, tmp.display().to_string()),
        other => panic!("expected Error::Io naming the .tmp, got {other:?}"),
    }
    assert_same(&second, &Checkpoint::load(&path).unwrap());
}

#[test]
fn missing_file_and_directory_are_io_errors_naming_the_path() {
    let dir = scratch("io");
    let path = dir.join("absent.safetensors");
    match Checkpoint::load(&path) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, path.display().to_string()),
        other => panic!("expected Error::Io, got {other:?}"),
    }
    let nested = dir.join("no_such_dir").join("x.safetensors");
    let e = sample().save(&nested).unwrap_err();
    assert!(e.to_string().contains("no_such_dir"), "{e}");
}

#[test]
fn every_truncation_is_a_format_error() {
    let dir = scratch("truncate");
    let good = dir.join("good.safetensors");
    let mut ck = Checkpoint::new();
    ck.insert_f32("w", &[3], vec![1.0, 2.0, 3.0]).unwrap();
    ck.insert_u32("y", &[2], vec![1, 2]).unwrap();
    ck.metadata.insert("k".into(), "v".into());
    ck.save(&good).unwrap();
    let bytes = fs::read(&good).unwrap();
    let path = dir.join("cut.safetensors");
    for len in 0..bytes.len() {
        fs::write(&path, &bytes[..len]).unwrap();
        expect_format(Checkpoint::load(&path), &path, len);
    }
    // One byte too many is malformed too.
    let mut long = bytes.clone();
    long.push(0);
    fs::write(&path, &long).unwrap();
    expect_format(Checkpoint::load(&path), &path, long.len());
}

#[test]
fn malformed_headers_are_format_errors_at_the_right_offset() {
    let dir = scratch("malformed");
    let path = dir.join("bad.safetensors");
    let f32x2: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let entry = |dtype: &str, shape: &str, s: usize, e: usize| {
        format!(r#"{{"t":{{"dtype":"{dtype}","shape":{shape},"data_offsets":[{s},{e}]}}}}"#)
    };
    let claims = |n: u64| {
        let mut b = handmade("{}", &[]);
        b[..8].copy_from_slice(&n.to_le_bytes());
        b
    };
    let mut cases: Vec<(&str, Vec<u8>, Option<u64>)> = vec![
        // Header lengths larger than the file.
        ("length past end", claims(1000), Some(0)),
        ("length u64::MAX", claims(u64::MAX), Some(0)),
        ("not JSON", handmade("{\"t\": ?}", &[]), Some(8 + 6)),
        (
            "control characters in a JSON string",
            handmade("{\"\u{0}\u{0}\"}", &[]),
            None,
        ),
        ("JSON array", handmade("[1, 2]", &[]), None),
        (
            "tensor info missing fields",
            handmade(r#"{"t":{"dtype":"F32"}}"#, &f32x2),
            None,
        ),
        (
            "unknown dtype",
            handmade(&entry("F31", "[2]", 0, 8), &f32x2),
            None,
        ),
        (
            "dtype size mismatch",
            handmade(&entry("F32", "[3]", 0, 8), &f32x2),
            None,
        ),
        (
            "u64 size mismatch",
            handmade(&entry("U64", "[2]", 0, 8), &f32x2),
            None,
        ),
        (
            "data section shorter than the offsets",
            handmade(&entry("F32", "[250]", 0, 1000), &f32x2),
            None,
        ),
        (
            "offsets past the data",
            handmade(&entry("F32", "[2]", 0, 1000), &f32x2),
            None,
        ),
        (
            "reversed offsets",
            handmade(&entry("F32", "[2]", 8, 0), &f32x2),
            None,
        ),
        (
            "offset gap",
            handmade(&entry("F32", "[2]", 4, 12), &f32x2),
            None,
        ),
        (
            "shape overflow",
            handmade(&entry("F32", "[4294967296, 4294967296, 16]", 0, 8), &f32x2),
            None,
        ),
        (
            "unsupported dtype BF16",
            handmade(&entry("BF16", "[4]", 0, 8), &f32x2),
            Some(9),
        ),
        (
            "metadata not strings",
            handmade(r#"{"__metadata__":{"a":1}}"#, &[]),
            None,
        ),
    ];
    // A header that is not valid UTF-8.
    let mut b = handmade("{\"ab\":1}", &[]);
    b[10] = 0xff;
    cases.push(("invalid UTF-8 byte", b, Some(10)));
    for (what, bytes, want_offset) in cases {
        fs::write(&path, &bytes).unwrap();
        let (offset, msg) = expect_format(Checkpoint::load(&path), &path, bytes.len());
        if let Some(want) = want_offset {
            assert_eq!(offset, want, "{what}: {msg}");
        }
    }
}

#[test]
fn gpu_tensors_round_trip_by_name() {
    let dev = common::dev();
    let dir = scratch("gpu");
    let path = dir.join("gpu.safetensors");
    let w = Tensor::from_slice(&dev, &[0.5, -1.0, 2.0, 3.25, 1e-7, 7.0], &[2, 3]).unwrap();
    let b = Tensor::from_slice(&dev, &[9.0], &[1]).unwrap();
    let y = Tensor::from_u32(&dev, &[3, 1, u32::MAX], &[3]).unwrap();
    let mut ck = Checkpoint::new();
    ck.insert_tensors(&[("w", &w), ("b", &b), ("y", &y)])
        .unwrap();
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    let w2 = back.tensor(&dev, "w").unwrap();
    assert_eq!(w2.shape(), &[2, 3]);
    assert_eq!(w2.to_vec().unwrap(), w.to_vec().unwrap());
    assert_eq!(back.tensor(&dev, "b").unwrap().to_vec().unwrap(), vec![9.0]);
    let y2 = back.tensor(&dev, "y").unwrap();
    assert_eq!(
        y2.to_vec_u32().unwrap(),
        vec![3, 1, u32::MAX],
        "u32 kept exact"
    );
    let mut ints = Checkpoint::new();
    ints.insert_u64("step", &[1], vec![5]).unwrap();
    assert!(matches!(
        ints.tensor(&dev, "step"),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        ints.tensor(&dev, "missing"),
        Err(Error::Invalid { .. })
    ));
}
