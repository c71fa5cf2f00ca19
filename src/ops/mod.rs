//! One module per kernel family: shape checks, the launch, and the backward rule. Each has a
//! shader of the same name in `shaders/` and a test file of the same name in `tests/`.

pub mod adjusted_ce;
pub mod augment;
pub mod batch_norm;
pub mod binary;
pub mod broadcast;
pub mod conv2d;
pub mod cross_entropy;
pub mod fill;
pub mod gather;
pub mod layout;
pub mod matmul;
pub mod mix_mask;
pub mod pad;
pub mod pool;
pub mod pool_pad;
pub mod reduce;
pub mod resize;
pub mod rng;
pub mod softmax;
pub mod spectral;
pub mod spectral_norm;
pub mod translate_cutout;
pub mod unary;
pub mod where_cond;

use crate::runtime::{size_class, Device, DeviceClass, GpuTexture};
use crate::{Result, Tensor};
use std::sync::Arc;

/// Elements each invocation of an elementwise kernel handles. On CPU adapters every workgroup
/// costs ~0.8 µs of scheduling, so each lane walks a long contiguous run; on GPUs one element per
/// invocation keeps warp accesses coalesced.
pub(crate) fn items_per_invocation(dev: &Device) -> u32 {
    match dev.class() {
        DeviceClass::Software => 64,
        DeviceClass::Gpu => 1,
    }
}

/// vec4s each invocation of the GPU vec4 path handles, grid-strided (`VEC4_ITEMS` in
/// `shaders/unary.wgsl` and `shaders/binary.wgsl`).
pub(crate) const VEC4_ITEMS: u32 = 4;

/// Whether a GPU reads `n` contiguous elements as vec4 (whole vec4s only). Software adapters gain
/// nothing from vec4 storage loads, which run lane by lane either way.
pub(crate) fn vec4_path(dev: &Device, n: usize) -> bool {
    dev.class() == DeviceClass::Gpu && n.is_multiple_of(4)
}

/// Texels per row of the textures that elementwise kernels read on software adapters: 4096
/// floats, so every row copy is 16 KiB (a multiple of the 256-byte copy alignment). Must match
/// `TEX_W` in `shaders/unary.wgsl` and `shaders/binary.wgsl`.
pub(crate) const TEX_W: u32 = 1024;
/// Below this many elements the buffer-to-texture copies cost more than the faster loads save.
const TEX_MIN: usize = 1 << 16;

/// Texture rows for `n` contiguous f32 elements read through textures, or `None` where storage
/// buffers are the better path. On lavapipe a storage-buffer load runs lane by lane while a
/// storage-texture load is vectorised: `add` of 16 M elements runs at 5.8 GB/s through textures,
/// copies included, against 1.6 GB/s through buffers.
pub(crate) fn texture_rows(dev: &Device, n: usize) -> Option<u32> {
    let rows = n.div_ceil(4 * TEX_W as usize);
    // The row copies read whole rows: the pooled buffer (a power-of-two class unless capped at the
    // binding limit) must hold them.
    let whole_rows = size_class(4 * n as u64) <= dev.max_binding();
    let fits = whole_rows && rows <= dev.limits().max_texture_dimension_2d as usize;
    let wanted = dev.class() == DeviceClass::Software
        && dev.storage_textures()
        && n >= TEX_MIN
        && n.is_multiple_of(4);
    (wanted && fits).then_some(rows as u32)
}

/// Copies `t` into a pooled `TEX_W`-wide texture of `rows` rows. The copy reads whole rows: the
/// tail past `numel` lies inside the pooled buffer (its size class is a power of two ≥ 16 KiB,
/// hence a whole number of rows) and is never written out by the kernels.
pub(crate) fn stage_texture(t: &Tensor, op: &'static str, rows: u32) -> Result<Arc<GpuTexture>> {
    let dev = t.device();
    let tex = dev.texture(op, TEX_W, rows)?;
    dev.copy_to_texture(t.buf(), &tex, TEX_W * 16, [TEX_W, rows]);
    Ok(tex)
}
