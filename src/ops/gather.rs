//! `index_select` along an axis with u32 indices (`shaders/gather.wgsl`); its backward is the
//! deterministic `index_add` in the same shader.

use crate::runtime::{grid_1d, Res, WG};
use crate::tensor::DType;
use crate::{kernel, Error, Result, Tensor};

kernel!(SELECT = "gather"::"select_rows" [Read, Read, ReadWrite]);
kernel!(ADD = "gather"::"add_rows" [Read, Read, ReadWrite]);

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    outer: u32,
    n: u32,
    inner: u32,
    m: u32,
    /// What an out-of-range index reads.
    oob: f32,
    _pad: [u32; 3],
}

impl Tensor {
    /// Picks entries `idx` (a 1-D u32 tensor) along `axis`. Indices past the axis read as 0.
    pub fn index_select(&self, axis: usize, idx: &Tensor) -> Result<Tensor> {
        select(self, axis, idx, 0.0, "index_select")
    }

    /// Rows `idx` of a table (axis 0), where an index past the table reads as NaN: a bad label
    /// cannot be reported without a readback, so it poisons what it touches instead (and
    /// `TAILGRAD_DEBUG=sync` names the op). Its gradient skips such indices.
    pub(crate) fn lookup_rows(&self, idx: &Tensor, op: &'static str) -> Result<Tensor> {
        select(self, 0, idx, f32::NAN, op)
    }
}

fn select(x: &Tensor, axis: usize, idx: &Tensor, oob: f32, op: &'static str) -> Result<Tensor> {
    x.expect_f32(op)?;
    if idx.dtype() != DType::U32 || idx.rank() != 1 {
        return Err(Error::Invalid {
            op,
            msg: format!("indices must be a 1-D u32 tensor, got {idx:?}"),
        });
    }
    if axis >= x.rank() {
        return Err(Error::Invalid {
            op,
            msg: format!("axis {axis} out of range for {:?}", x.shape()),
        });
    }
    let s = x.shape();
    let p = Params {
        outer: s[..axis].iter().product::<usize>() as u32,
        n: s[axis] as u32,
        inner: s[axis + 1..].iter().product::<usize>() as u32,
        m: idx.numel() as u32,
        oob,
        _pad: [0; 3],
    };
    let mut out_shape = s.to_vec();
    out_shape[axis] = idx.numel();
    let y = Tensor::empty(x.device(), op, &out_shape, DType::F32)?;
    launch(&SELECT, op, &p, x, idx, &y)?;
    let (idx, in_shape) = (idx.clone(), s.to_vec());
    Ok(y.with_grad1(op, x, move |g| index_add(g, &idx, axis, &p, &in_shape)))
}

/// dx = Σ_j g[.., j, ..] into row idx[j] of zeros(in_shape). Each invocation loops over the
/// indices, so a long index list is split into runs that fit the loop budget and the partial
/// sums are added in order (still deterministic).
fn index_add(
    g: &Tensor,
    idx: &Tensor,
    axis: usize,
    p: &Params,
    in_shape: &[usize],
) -> Result<Tensor> {
    let m = p.m as usize;
    let run = (g.device().loop_budget().saturating_sub(8) as usize).clamp(1, m);
    let mut total: Option<Tensor> = None;
    for start in (0..m).step_by(run) {
        let end = (start + run).min(m);
        let (gs, is) = if (start, end) == (0, m) {
            (g.clone(), idx.clone())
        } else {
            (g.slice(axis, start, end)?, idx.slice(0, start, end)?)
        };
        let dx = Tensor::empty(g.device(), "index_add", in_shape, DType::F32)?;
        launch(
            &ADD,
            "index_add",
            &Params {
                m: (end - start) as u32,
                ..*p
            },
            &gs,
            &is,
            &dx,
        )?;
        total = Some(match total {
            Some(t) => t.add(&dx)?,
            None => dx,
        });
    }
    Ok(total.expect("m >= 1"))
}

fn launch(
    k: &'static crate::runtime::Kernel,
    op: &'static str,
    p: &Params,
    src: &Tensor,
    idx: &Tensor,
    dst: &Tensor,
) -> Result<()> {
    let n = dst.numel();
    src.device().dispatch(
        op,
        k,
        &[],
        bytemuck::bytes_of(p),
        vec![
            Res::Buf(src.buf().clone()),
            Res::Buf(idx.buf().clone()),
            Res::Buf(dst.buf().clone()),
        ],
        grid_1d(n, WG),
        &[(dst.buf(), n)],
    )
}
