//! CIFAR-10 and CIFAR-100 "binary version" batches. A record is the label byte(s) then 3072
//! pixel bytes (1024 R, 1024 G, 1024 B, each 32×32 row-major), so the pixels are already C×H×W.
//! CIFAR-10 has one label byte; CIFAR-100 has a coarse (0..20) then a fine (0..100) label byte,
//! and the fine label is the class.

use super::Dataset;
use crate::{Error, Result};
use std::path::PathBuf;

const SIDE: usize = 32;
const PIXELS: usize = 3 * SIDE * SIDE;
const COARSE_CLASSES: u8 = 20;

pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The fine label names in label order (`fine_label_names.txt` of the binary version).
#[rustfmt::skip]
pub const CIFAR100_CLASSES: [&str; 100] = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar",
    "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile",
    "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster",
    "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster",
    "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange",
    "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy",
    "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal",
    "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman",
    "worm",
];

/// The file names of a split, in reading order.
pub fn split_files(cifar100: bool, train: bool) -> Vec<String> {
    match (cifar100, train) {
        (false, true) => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        (false, false) => vec!["test_batch.bin".into()],
        (true, true) => vec!["train.bin".into()],
        (true, false) => vec!["test.bin".into()],
    }
}

/// Reads and concatenates the batch files at `paths`.
pub fn load(paths: &[PathBuf], cifar100: bool) -> Result<Dataset> {
    let mut ds = empty(cifar100);
    for path in paths {
        let bytes = std::fs::read(path).map_err(Error::io(path))?;
        append(&mut ds, &path.display().to_string(), &bytes)?;
    }
    Ok(ds)
}

/// Decodes one batch file's bytes; `name` labels errors.
pub fn decode(name: &str, bytes: &[u8], cifar100: bool) -> Result<Dataset> {
    let mut ds = empty(cifar100);
    append(&mut ds, name, bytes)?;
    Ok(ds)
}

fn empty(cifar100: bool) -> Dataset {
    let names: &[&str] = if cifar100 {
        &CIFAR100_CLASSES
    } else {
        &CIFAR10_CLASSES
    };
    Dataset {
        images: Vec::new(),
        labels: Vec::new(),
        channels: 3,
        height: SIDE,
        width: SIDE,
        classes: names.len(),
        class_names: names.iter().map(|s| s.to_string()).collect(),
    }
}

fn append(ds: &mut Dataset, name: &str, bytes: &[u8]) -> Result<()> {
    let cifar100 = ds.classes == CIFAR100_CLASSES.len();
    let label_bytes = if cifar100 { 2 } else { 1 };
    let rec = label_bytes + PIXELS;
    let err = |offset: usize, msg: String| Error::Format {
        path: name.to_string(),
        offset: offset as u64,
        msg,
    };
    if bytes.is_empty() {
        return Err(err(
            0,
            format!("empty file: expected records of {rec} bytes"),
        ));
    }
    if !bytes.len().is_multiple_of(rec) {
        let k = bytes.len() / rec;
        return Err(err(
            k * rec,
            format!(
                "truncated record {k}: {} of its {rec} bytes present (file size must be a multiple of {rec})",
                bytes.len() % rec
            ),
        ));
    }
    ds.images.reserve(bytes.len() / rec * PIXELS);
    for (k, r) in bytes.chunks_exact(rec).enumerate() {
        if cifar100 && r[0] >= COARSE_CLASSES {
            return Err(err(
                k * rec,
                format!(
                    "coarse label {} of record {k} is not below {COARSE_CLASSES}",
                    r[0]
                ),
            ));
        }
        let y = r[label_bytes - 1];
        if y as usize >= ds.classes {
            return Err(err(
                k * rec + label_bytes - 1,
                format!("label {y} of record {k} is not below {}", ds.classes),
            ));
        }
        ds.labels.push(y as u32);
        ds.images.extend_from_slice(&r[label_bytes..]);
    }
    Ok(())
}
