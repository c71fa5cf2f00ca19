//! A kernel is a WGSL file plus the shape of its bind group. Binding 0 is always the op's uniform
//! parameters; bindings 1.. are the resources in the order the `Bind` slice lists them.

/// How a kernel binds one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bind {
    /// `var<storage, read>`.
    Read,
    /// `var<storage, read_write>`.
    ReadWrite,
    /// `texture_2d<f32>` read with `textureLoad` (the fast load path on lavapipe).
    Texture,
    /// `texture_storage_2d<rgba32float, write>`.
    StorageTexture,
    /// `texture_storage_2d<rgba32float, read>`: on lavapipe its `textureLoad` is inline code,
    /// about 2x cheaper than a sampled texture's (an out-of-line mip-aware fetch function).
    ReadStorageTexture,
}

/// A compute kernel: one entry point of one WGSL source.
#[derive(Debug)]
pub struct Kernel {
    /// Family name, the same as the shader file and the `src/ops` module.
    pub name: &'static str,
    pub source: &'static str,
    pub entry: &'static str,
    pub bindings: &'static [Bind],
    /// Skip naga's bounds checks. Only for kernels whose every access is proven in range by the
    /// awkward-shape tests; `TAILGRAD_DEBUG` turns it back off.
    pub trusted: bool,
}

/// Declares a `static` [`Kernel`] for an entry point of a file in `shaders/`, optionally after one
/// or two prelude files (`["prelude", "family"]`); a leading `trusted` builds it without bounds
/// checks (see [`Kernel::trusted`]).
#[macro_export]
macro_rules! kernel {
    ($vis:vis $id:ident = $file:literal :: $entry:literal [$($b:ident),*]) => {
        $crate::kernel!(@ $vis $id = $file :: $entry [$($b),*] false);
    };
    (trusted $vis:vis $id:ident = $file:literal :: $entry:literal [$($b:ident),*]) => {
        $crate::kernel!(@ $vis $id = $file :: $entry [$($b),*] true);
    };
    ($vis:vis $id:ident = [$prelude:literal, $file:literal] :: $entry:literal [$($b:ident),*]) => {
        $vis static $id: $crate::runtime::Kernel = $crate::runtime::Kernel {
            name: $file,
            source: concat!(
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $prelude, ".wgsl")),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file, ".wgsl")),
            ),
            entry: $entry,
            bindings: &[$($crate::runtime::Bind::$b),*],
            trusted: false,
        };
    };
    ($vis:vis $id:ident = [$p1:literal, $p2:literal, $file:literal] :: $entry:literal [$($b:ident),*]) => {
        $vis static $id: $crate::runtime::Kernel = $crate::runtime::Kernel {
            name: $file,
            source: concat!(
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $p1, ".wgsl")),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $p2, ".wgsl")),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file, ".wgsl")),
            ),
            entry: $entry,
            bindings: &[$($crate::runtime::Bind::$b),*],
            trusted: false,
        };
    };
    (@ $vis:vis $id:ident = $file:literal :: $entry:literal [$($b:ident),*] $trusted:literal) => {
        $vis static $id: $crate::runtime::Kernel = $crate::runtime::Kernel {
            name: $file,
            source: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders/", $file, ".wgsl")),
            entry: $entry,
            bindings: &[$($crate::runtime::Bind::$b),*],
            trusted: $trusted,
        };
    };
}

/// Threads per workgroup for the 1-D elementwise kernels.
pub const WG: u32 = 64;
/// WebGPU's per-dimension dispatch limit.
pub const MAX_GROUPS: u32 = 65535;

/// Workgroup grid for `n` independent items at `per_group` items a workgroup, folded into 2-D when
/// it exceeds the per-dimension limit. Kernels rebuild the flat index as
/// `gid.x + gid.y * num_workgroups.x * WG` and must guard against `>= n`.
pub fn grid_1d(n: usize, per_group: u32) -> [u32; 3] {
    let groups = n.div_ceil(per_group as usize).max(1) as u32;
    if groups <= MAX_GROUPS {
        [groups, 1, 1]
    } else {
        [MAX_GROUPS, groups.div_ceil(MAX_GROUPS), 1]
    }
}

/// Loop iterations one invocation may run in one dispatch on a software device. llvmpipe (Mesa
/// 22, both lavapipe and GL) silently ends every loop of an invocation once all of them together
/// have run 65535 times (`LP_MAX_TGSI_LOOP_ITERATIONS`), a loop costing its trips + 1; results are
/// then quietly wrong. Kernels whose loops grow with the input split their work to stay under
/// this (checked on Mesa 22.3: outputs are bitwise identical up to a budget of 65400); the rest
/// is margin.
pub const SOFTWARE_LOOP_BUDGET: u64 = 60_000;
