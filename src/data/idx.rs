//! IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed (told apart by the gzip magic
//! bytes 1f 8b). Big-endian: magic `00 00 08 <ndim>` (0x08 = u8), one u32 per dimension, then
//! the data row-major; the file size must be exactly header + product of the dimensions.
//! Offsets in errors about a gzip file's contents count bytes of the decompressed data.

use super::Dataset;
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// A u8 IDX array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Where bytes came from, for error messages.
struct Source<'a> {
    name: &'a str,
    gz: bool,
}

impl Source<'_> {
    fn err(&self, offset: usize, msg: String) -> Error {
        let msg = if self.gz {
            format!("{msg} (offset into the decompressed data)")
        } else {
            msg
        };
        Error::Format {
            path: self.name.to_string(),
            offset: offset as u64,
            msg,
        }
    }
}

/// Reads an IDX file of `ndim` dimensions.
pub fn read(path: &Path, ndim: usize) -> Result<Idx> {
    Ok(read_gz(path, ndim)?.0)
}

/// Decodes IDX bytes of `ndim` dimensions (gzip or raw); `name` labels errors.
pub fn decode(name: &str, bytes: Vec<u8>, ndim: usize) -> Result<Idx> {
    Ok(decode_gz(name, bytes, ndim)?.0)
}

/// The array and whether it was gzip-compressed.
fn read_gz(path: &Path, ndim: usize) -> Result<(Idx, bool)> {
    let bytes = std::fs::read(path).map_err(Error::io(path))?;
    decode_gz(&path.display().to_string(), bytes, ndim)
}

fn decode_gz(name: &str, bytes: Vec<u8>, ndim: usize) -> Result<(Idx, bool)> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let src = Source { name, gz: true };
        Ok((parse(&src, gunzip(name, &bytes)?, ndim)?, true))
    } else {
        Ok((parse(&Source { name, gz: false }, bytes, ndim)?, false))
    }
}

/// Inflates every gzip member; a corrupt stream is reported at the compressed offset where
/// inflating stopped.
fn gunzip(name: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut dec = flate2::bufread::MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    dec.read_to_end(&mut out).map_err(|e| Error::Format {
        path: name.to_string(),
        offset: (bytes.len() - dec.get_ref().len()) as u64,
        msg: format!(
            "corrupt or truncated gzip data after {} decompressed bytes: {e}",
            out.len()
        ),
    })?;
    Ok(out)
}

fn parse(src: &Source, mut b: Vec<u8>, ndim: usize) -> Result<Idx> {
    let magic = format!("00 00 08 {ndim:02x}");
    if b.len() < 4 {
        return Err(src.err(b.len(), format!("file ends inside the magic {magic}")));
    }
    if b[..2] != [0, 0] {
        return Err(src.err(
            0,
            format!("bad magic {:02x?}: expected {magic} (IDX)", &b[..4]),
        ));
    }
    if b[2] != 0x08 {
        return Err(src.err(
            2,
            format!("element type 0x{:02x}: only 0x08 (u8) is supported", b[2]),
        ));
    }
    if b[3] as usize != ndim {
        return Err(src.err(3, format!("{} dimensions, expected {ndim}", b[3])));
    }
    let header = 4 + 4 * ndim;
    if b.len() < header {
        return Err(src.err(
            b.len(),
            format!("file ends inside the {header}-byte header"),
        ));
    }
    let mut dims = Vec::with_capacity(ndim);
    for k in 0..ndim {
        let at = 4 + 4 * k;
        let d = u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        if d == 0 {
            return Err(src.err(at, format!("dimension {k} is 0")));
        }
        dims.push(d);
    }
    let body = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| src.err(4, format!("dimensions {dims:?} overflow")))?;
    let want = header.checked_add(body).filter(|&w| w <= b.len());
    match want {
        None => Err(src.err(
            b.len(),
            format!(
                "truncated: dimensions {dims:?} need {body} data bytes after the {header}-byte header, the file has {}",
                b.len() - header
            ),
        )),
        Some(w) if w < b.len() => Err(src.err(
            w,
            format!("{} bytes past the end of the {dims:?} data", b.len() - w),
        )),
        Some(_) => {
            b.drain(..header);
            Ok(Idx { dims, data: b })
        }
    }
}

/// An image file (N×H×W) and its label file (N) as a one-channel dataset; the classes are
/// `class_names` and every label must be below their count.
pub fn load_pair(images: &Path, labels: &Path, class_names: Vec<String>) -> Result<Dataset> {
    let (ni, nl) = (images.display().to_string(), labels.display().to_string());
    let img = read_gz(images, 3)?.0;
    assemble(&ni, img, &nl, read_gz(labels, 1)?, class_names)
}

/// [`load_pair`] from bytes in memory (the bundled data); the names label errors.
pub fn decode_pair(
    images: (&str, Vec<u8>),
    labels: (&str, Vec<u8>),
    class_names: Vec<String>,
) -> Result<Dataset> {
    let img = decode_gz(images.0, images.1, 3)?.0;
    let lab = decode_gz(labels.0, labels.1, 1)?;
    assemble(images.0, img, labels.0, lab, class_names)
}

fn assemble(
    img_name: &str,
    img: Idx,
    lab_name: &str,
    (lab, gz): (Idx, bool),
    class_names: Vec<String>,
) -> Result<Dataset> {
    let lsrc = Source { name: lab_name, gz };
    let (n, h, w) = (img.dims[0], img.dims[1], img.dims[2]);
    if lab.dims[0] != n {
        return Err(lsrc.err(
            4,
            format!("{} labels but {n} images in {img_name}", lab.dims[0]),
        ));
    }
    let classes = class_names.len();
    if let Some(i) = lab.data.iter().position(|&y| y as usize >= classes) {
        return Err(lsrc.err(
            8 + i,
            format!(
                "label {} of image {i} is not a class (expected 0..={})",
                lab.data[i],
                classes.saturating_sub(1)
            ),
        ));
    }
    Ok(Dataset {
        images: img.data,
        labels: lab.data.iter().map(|&y| y as u32).collect(),
        channels: 1,
        height: h,
        width: w,
        classes,
        class_names,
    })
}
