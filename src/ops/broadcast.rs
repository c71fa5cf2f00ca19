//! Broadcasting: the numpy shape rule, per-operand strides, and dimension collapsing so kernels
//! see the smallest rank that describes the access pattern.

use crate::{Error, Result};

/// Most dimensions a broadcasting kernel accepts.
pub const MAX_RANK: usize = 8;

/// The numpy broadcast of two shapes.
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::Shape {
                    op,
                    lhs: a.to_vec(),
                    rhs: b.to_vec(),
                })
            }
        };
    }
    Ok(out)
}

/// Element strides of `shape` read as `out` (right-aligned; 0 where broadcast).
pub fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let lead = out.len() - shape.len();
    let mut strides = vec![0; out.len()];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        if shape[i] != 1 {
            strides[lead + i] = s;
        }
        s *= shape[i];
    }
    strides
}

/// Merges adjacent dimensions that are contiguous for every operand, dropping size-1 dims.
/// Returns the collapsed shape and each operand's collapsed strides.
pub fn collapse(shape: &[usize], strides: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut cs: Vec<usize> = Vec::new();
    let mut cst: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let mergeable = !cs.is_empty()
            && strides
                .iter()
                .zip(&cst)
                .all(|(s, c)| *c.last().unwrap() == s[d] * shape[d]);
        if mergeable {
            *cs.last_mut().unwrap() *= shape[d];
            for (s, c) in strides.iter().zip(cst.iter_mut()) {
                *c.last_mut().unwrap() = s[d];
            }
        } else {
            cs.push(shape[d]);
            for (s, c) in strides.iter().zip(cst.iter_mut()) {
                c.push(s[d]);
            }
        }
    }
    if cs.is_empty() {
        cs.push(1);
        for c in cst.iter_mut() {
            c.push(0);
        }
    }
    (cs, cst)
}

/// Packs up to 8 values into the `array<vec4<u32>, 2>` layout of the kernels' uniforms.
pub fn pack8(op: &'static str, v: &[usize]) -> Result<[u32; 8]> {
    if v.len() > MAX_RANK {
        return Err(Error::Invalid {
            op,
            msg: format!("rank {} exceeds the maximum of {MAX_RANK}", v.len()),
        });
    }
    let mut out = [0u32; 8];
    for (o, x) in out.iter_mut().zip(v) {
        *o = *x as u32;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(
            broadcast_shape("t", &[3, 1, 5], &[4, 1]).unwrap(),
            vec![3, 4, 5]
        );
        assert!(broadcast_shape("t", &[3, 2], &[4, 2]).is_err());
        assert_eq!(broadcast_strides(&[4, 1], &[3, 4, 5]), vec![0, 1, 0]);
    }

    #[test]
    fn collapse_merges_contiguous_dims() {
        let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![12, 4, 1]]);
        assert_eq!((s, st), (vec![24], vec![vec![1], vec![1]]));
        let (s, st) = collapse(&[2, 3, 4], &[vec![12, 4, 1], vec![0, 0, 1]]);
        assert_eq!((s, st), (vec![6, 4], vec![vec![4, 1], vec![0, 1]]));
    }
}
