//! Checkpoints in the safetensors format: named f32/u32/u64 tensors plus string metadata.
//! Files are read and written through the `safetensors` crate, so PyTorch and the Python
//! `safetensors` package read them unchanged.

use crate::{DType, Device, Error, Result, Tensor};
use safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One stored tensor: its shape and its values in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    F32 { shape: Vec<usize>, data: Vec<f32> },
    U32 { shape: Vec<usize>, data: Vec<u32> },
    U64 { shape: Vec<usize>, data: Vec<u64> },
}

/// Named tensors and string metadata (epoch, config, ...), saved atomically.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub tensors: BTreeMap<String, Entry>,
    pub metadata: BTreeMap<String, String>,
}

impl Entry {
    fn shape(&self) -> &[usize] {
        match self {
            Entry::F32 { shape, .. } | Entry::U32 { shape, .. } | Entry::U64 { shape, .. } => shape,
        }
    }

    fn len(&self) -> usize {
        match self {
            Entry::F32 { data, .. } => data.len(),
            Entry::U32 { data, .. } => data.len(),
            Entry::U64 { data, .. } => data.len(),
        }
    }

    fn dtype(&self) -> Dtype {
        match self {
            Entry::F32 { .. } => Dtype::F32,
            Entry::U32 { .. } => Dtype::U32,
            Entry::U64 { .. } => Dtype::U64,
        }
    }
}

impl View for &Entry {
    fn dtype(&self) -> Dtype {
        Entry::dtype(self)
    }

    fn shape(&self) -> &[usize] {
        Entry::shape(self)
    }

    fn data(&self) -> Cow<'_, [u8]> {
        match self {
            Entry::F32 { data, .. } => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Entry::U32 { data, .. } => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Entry::U64 { data, .. } => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    fn data_len(&self) -> usize {
        self.shape().iter().product::<usize>() * Entry::dtype(self).bitsize() / 8
    }
}

/// Refuses data whose length is not the shape's element count.
fn check_len(name: &str, shape: &[usize], len: usize) -> Result<()> {
    let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if numel != Some(len) {
        return Err(Error::Invalid {
            op: "checkpoint",
            msg: format!("tensor `{name}`: shape {shape:?} does not hold {len} values"),
        });
    }
    Ok(())
}

impl Checkpoint {
    /// An empty checkpoint.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores an f32 tensor under `name` (replacing any earlier one).
    pub fn insert_f32(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: impl Into<Vec<f32>>,
    ) -> Result<()> {
        let (name, data) = (name.into(), data.into());
        check_len(&name, shape, data.len())?;
        let shape = shape.to_vec();
        self.tensors.insert(name, Entry::F32 { shape, data });
        Ok(())
    }

    /// Stores a u32 tensor (labels, counts) under `name`.
    pub fn insert_u32(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: impl Into<Vec<u32>>,
    ) -> Result<()> {
        let (name, data) = (name.into(), data.into());
        check_len(&name, shape, data.len())?;
        let shape = shape.to_vec();
        self.tensors.insert(name, Entry::U32 { shape, data });
        Ok(())
    }

    /// Stores a u64 tensor (step counters, RNG state) under `name`.
    pub fn insert_u64(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: impl Into<Vec<u64>>,
    ) -> Result<()> {
        let (name, data) = (name.into(), data.into());
        check_len(&name, shape, data.len())?;
        let shape = shape.to_vec();
        self.tensors.insert(name, Entry::U64 { shape, data });
        Ok(())
    }

    fn entry(&self, name: &str, want: &str) -> Result<&Entry> {
        self.tensors.get(name).ok_or_else(|| Error::Invalid {
            op: "checkpoint",
            msg: format!("no tensor `{name}` (wanted {want})"),
        })
    }

    fn mistyped(name: &str, entry: &Entry, want: &str) -> Error {
        Error::Invalid {
            op: "checkpoint",
            msg: format!("tensor `{name}` is {:?}, not {want}", entry.dtype()),
        }
    }

    /// The shape and values of the f32 tensor `name`.
    pub fn f32(&self, name: &str) -> Result<(&[usize], &[f32])> {
        match self.entry(name, "F32")? {
            Entry::F32 { shape, data } => Ok((shape, data)),
            e => Err(Self::mistyped(name, e, "F32")),
        }
    }

    /// The shape and values of the u32 tensor `name`.
    pub fn u32(&self, name: &str) -> Result<(&[usize], &[u32])> {
        match self.entry(name, "U32")? {
            Entry::U32 { shape, data } => Ok((shape, data)),
            e => Err(Self::mistyped(name, e, "U32")),
        }
    }

    /// The shape and values of the u64 tensor `name`.
    pub fn u64(&self, name: &str) -> Result<(&[usize], &[u64])> {
        match self.entry(name, "U64")? {
            Entry::U64 { shape, data } => Ok((shape, data)),
            e => Err(Self::mistyped(name, e, "U64")),
        }
    }

    /// Reads GPU tensors back (all of them in one submit) and stores each under its name with
    /// its own dtype: u32 data (step counts, labels) stays u32.
    pub fn insert_tensors(&mut self, tensors: &[(&str, &Tensor)]) -> Result<()> {
        let Some((_, first)) = tensors.first() else {
            return Ok(());
        };
        let bufs: Vec<_> = tensors
            .iter()
            .map(|(_, t)| (t.buf(), 4 * t.numel() as u64))
            .collect();
        let raw = first.device().read_many(&bufs)?;
        for ((name, t), bytes) in tensors.iter().zip(raw) {
            match t.dtype() {
                DType::F32 => {
                    self.insert_f32(*name, t.shape(), bytemuck::pod_collect_to_vec(&bytes))
                }
                DType::U32 => {
                    self.insert_u32(*name, t.shape(), bytemuck::pod_collect_to_vec(&bytes))
                }
            }?;
        }
        Ok(())
    }

    /// Uploads the f32 or u32 tensor `name` to `device`.
    pub fn tensor(&self, device: &Device, name: &str) -> Result<Tensor> {
        match self.entry(name, "F32 or U32")? {
            Entry::F32 { shape, data } => Tensor::from_slice(device, data, shape),
            Entry::U32 { shape, data } => Tensor::from_u32(device, data, shape),
            e => Err(Self::mistyped(name, e, "F32 or U32 (GPU tensors)")),
        }
    }

    /// Writes the checkpoint atomically: `<path>.tmp` in the same directory, fsync, rename over
    /// `path`, fsync the directory. A crash leaves either the old file or the new one.
    pub fn save(&self, path: &Path) -> Result<()> {
        for (name, e) in &self.tensors {
            check_len(name, e.shape(), e.len())?;
        }
        let meta = (!self.metadata.is_empty()).then(|| self.metadata.clone().into_iter().collect());
        let bytes = safetensors::serialize(&self.tensors, meta).map_err(|e| Error::Invalid {
            op: "checkpoint save",
            msg: format!("{}: {e}", path.display()),
        })?;
        let tmp = tmp_path(path)?;
        let written = write_synced(&tmp, &bytes).map_err(Error::io(&tmp));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        fs::rename(&tmp, path).map_err(Error::io(path))?;
        sync_dir(path).map_err(Error::io(path))
    }

    /// Reads a checkpoint. Any malformed file gives `Error::Format` with the byte offset.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = fs::read(path).map_err(Error::io(path))?;
        let fail = |(offset, msg): (usize, String)| Error::Format {
            path: path.display().to_string(),
            offset: offset as u64,
            msg,
        };
        let (header_len, meta) =
            SafeTensors::read_metadata(&bytes).map_err(|e| fail(locate(&bytes, &e)))?;
        let data_start = 8 + header_len;
        let mut ck = Checkpoint::new();
        if let Some(m) = meta.metadata() {
            ck.metadata = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        for name in meta.offset_keys() {
            let Some(info) = meta.info(&name) else {
                continue;
            };
            let (s, e) = info.data_offsets;
            let entry = decode(
                info.dtype,
                &info.shape,
                &bytes[data_start + s..data_start + e],
            )
            .ok_or_else(|| {
                let msg = format!(
                    "tensor `{name}` has dtype {:?}; checkpoints hold F32, U32 or U64",
                    info.dtype
                );
                fail((name_offset(&bytes, header_len, &name), msg))
            })?;
            ck.tensors.insert(name, entry);
        }
        Ok(ck)
    }
}

/// `<path>.tmp`, next to `path` so the rename stays on one filesystem.
fn tmp_path(path: &Path) -> Result<PathBuf> {
    let mut name = path
        .file_name()
        .ok_or_else(|| Error::Invalid {
            op: "checkpoint save",
            msg: format!("{}: path names no file", path.display()),
        })?
        .to_os_string();
    name.push(".tmp");
    Ok(path.with_file_name(name))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Makes the rename durable (the directory entry), where the platform allows opening directories.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if cfg!(unix) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Values from the little-endian bytes the format stores (validated lengths: whole elements).
fn decode(dtype: Dtype, shape: &[usize], bytes: &[u8]) -> Option<Entry> {
    fn le<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        bytes
            .chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact yields N bytes")))
            .collect()
    }
    let shape = shape.to_vec();
    Some(match dtype {
        Dtype::F32 => Entry::F32 {
            shape,
            data: le(bytes, f32::from_le_bytes),
        },
        Dtype::U32 => Entry::U32 {
            shape,
            data: le(bytes, u32::from_le_bytes),
        },
        Dtype::U64 => Entry::U64 {
            shape,
            data: le(bytes, u64::from_le_bytes),
        },
        _ => return None,
    })
}

/// The byte offset where the quoted `name` appears in the JSON header (header start if escaped).
fn name_offset(bytes: &[u8], header_len: usize, name: &str) -> usize {
    let header = &bytes[8..8 + header_len];
    let quoted = format!("\"{name}\"");
    header
        .windows(quoted.len())
        .position(|w| w == quoted.as_bytes())
        .map_or(8, |p| 8 + p)
}

/// Maps a parse error to the byte offset it concerns and a message saying what was expected.
fn locate(bytes: &[u8], e: &SafeTensorError) -> (usize, String) {
    let declared = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
    let header_end = declared.map_or(0, |n| 8usize.saturating_add(n as usize));
    let header = bytes.get(8..header_end.min(bytes.len())).unwrap_or(&[]);
    match e {
        SafeTensorError::HeaderTooSmall => (
            bytes.len(),
            format!(
                "file is {} bytes; expected an 8-byte header length",
                bytes.len()
            ),
        ),
        SafeTensorError::HeaderTooLarge | SafeTensorError::InvalidHeaderLength => (
            0,
            format!(
                "header length {} does not fit in the {}-byte file (limit 100 MB)",
                declared.unwrap_or(0),
                bytes.len()
            ),
        ),
        SafeTensorError::InvalidHeader(u) => {
            (8 + u.valid_up_to(), "header is not valid UTF-8".into())
        }
        SafeTensorError::InvalidHeaderDeserialization(j) | SafeTensorError::JsonError(j) => (
            8 + json_offset(header, j.line(), j.column()),
            format!("header is not a safetensors JSON object: {j}"),
        ),
        SafeTensorError::TensorInvalidInfo => (
            8,
            "header: a tensor's data_offsets span is not its shape × dtype size".into(),
        ),
        SafeTensorError::InvalidOffset(name) => (
            name_offset(bytes, header.len(), name),
            format!("tensor `{name}`: data_offsets must follow the previous tensor's end"),
        ),
        SafeTensorError::MetadataIncompleteBuffer => (
            bytes.len(),
            "the tensors' data_offsets do not end exactly at the end of the file".into(),
        ),
        _ => (8, format!("header: {e}")),
    }
}

/// Byte offset of serde_json's 1-based (line, column) within `text`.
fn json_offset(text: &[u8], line: usize, column: usize) -> usize {
    let line_start = text
        .split_inclusive(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(<[u8]>::len)
        .sum::<usize>();
    (line_start + column.saturating_sub(1)).min(text.len())
}
