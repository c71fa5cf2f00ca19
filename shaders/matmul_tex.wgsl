// Texture matmul for software adapters (lavapipe / llvmpipe): C = A·B from operands in
// `rgba32float` textures read as linear texel arrays (rows of 2^w_log2 texels). An operand is
// either packed into panels by matmul_pack.wgsl, or, when its outer dim is contiguous and
// 4-aligned, read in place from a plain copy of its buffer (texel = 4 consecutive rows of A /
// columns of B at one k). Why it looks like this (measured, see docs/kernels.md):
//  - llvmpipe runs 8 invocations as the 8 lanes of AVX2 registers. Storage-buffer loads with
//    per-lane addresses are scalar loops there; read-only storage-texture loads are inline
//    vector gathers (sampled-texture loads are 2x dearer: an out-of-line, mip-aware call).
//  - Each lane computes 16 rows x 16 columns (8 for `narrow`; 64 vec4 accumulators, spilled to
//    the stack anyway), so one texel fetch feeds 16-64 multiply-adds.
//  - Loop-carried values get a masked blend per write, so the k loop is unrolled by 4 and each
//    accumulator is written once per iteration with the sum of 4 products.
//  - Panels keep each lane group's operands contiguous along k (A's 16-row panel: 4 texels per k;
//    B's 128-column panel: 32 texels per k, lane l owns texels l, l+8, l+16, l+24). In-place
//    operands stride a whole row per k, which thrashes the TLB and the L1 sets once rows reach
//    a few KiB, so the host reads in place only operands with rows up to 4 KiB.
// Texel (k, quad q) of an operand is at x_bs * batch + x_ps * panel + x_ks * k + q within panel.
// One workgroup = one 8-lane group = 16 rows x 128 (or 64, `narrow`) columns of C. Grid:
// (B panels, A panels, batch * splits). A split covers k in [s * k_len, min((s+1) * k_len, kp)).

struct Params {
    m: u32,
    n: u32,
    kp: u32,      // K padded to a multiple of 4 (the panels hold zeros beyond K)
    k_len: u32,   // k range of one split, a multiple of 4
    splits: u32,
    a_bs: u32,    // texels between batches of the A panels (0 = broadcast)
    b_bs: u32,
    c_ss: u32,    // elements between split partials of C
    c_bs: u32,
    c_sm: u32,
    c_sn: u32,
    vec_out: u32, // 1: c_sn = 1 and every row of C starts 16-byte aligned, N % 4 = 0
    a_ps: u32,    // texels between A panels (16 rows)
    a_ks: u32,    // texels between consecutive k of A
    b_ps: u32,    // texels between B panels (128 columns)
    b_ks: u32,
    a_wl: u32,    // log2 of the texture widths
    b_wl: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var A: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var B: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
// The same buffer as C, for whole-vec4 stores when rows are 4-aligned (see store_row).
@group(0) @binding(4) var<storage, read_write> Cv: array<vec4<f32>>;

fn at(i: u32, w_log2: u32) -> vec2<u32> {
    return vec2<u32>(i & ((1u << w_log2) - 1u), i >> w_log2);
}

fn ta(i: u32) -> vec4<f32> {
    return textureLoad(A, at(i, p.a_wl));
}

fn tb(i: u32) -> vec4<f32> {
    return textureLoad(B, at(i, p.b_wl));
}

// Column u: rows 4i..4i+3 at k + u of the A panel starting at texel `pa`.
fn a_block(pa: u32, k: u32, i: u32) -> mat4x4<f32> {
    let t = pa + p.a_ks * k + i;
    return mat4x4<f32>(ta(t), ta(t + p.a_ks), ta(t + 2u * p.a_ks), ta(t + 3u * p.a_ks));
}

// Column u: this lane's texel j (4 columns of C) at k + u of the B panel starting at `pb`.
fn b_block(pb: u32, k: u32, j: u32) -> mat4x4<f32> {
    let t = pb + p.b_ks * k + 8u * j;
    return mat4x4<f32>(tb(t), tb(t + p.b_ks), tb(t + 2u * p.b_ks), tb(t + 3u * p.b_ks));
}

// acc column e (row 4i+e) += Σ_u a[u][e] · b[u]. Written out as sums: the same arithmetic as
// `b * transpose(a)` but 13% faster on llvmpipe (fewer spills).
fn madd(acc: ptr<function, mat4x4<f32>>, a: mat4x4<f32>, b: mat4x4<f32>) {
    (*acc)[0] += a[0].x * b[0] + a[1].x * b[1] + a[2].x * b[2] + a[3].x * b[3];
    (*acc)[1] += a[0].y * b[0] + a[1].y * b[1] + a[2].y * b[2] + a[3].y * b[3];
    (*acc)[2] += a[0].z * b[0] + a[1].z * b[1] + a[2].z * b[2] + a[3].z * b[3];
    (*acc)[3] += a[0].w * b[0] + a[1].w * b[1] + a[2].w * b[2] + a[3].w * b[3];
}

// Writes the 4 columns n0.. of row m (guarded). Every vector index is a constant: a dynamic
// index into a vector or matrix moves it, and anything copied from it, to per-lane scratch
// memory on llvmpipe, which made the whole kernel 2x slower.
fn store_row(base: u32, m: u32, n0: u32, v: vec4<f32>) {
    if (m >= p.m) {
        return;
    }
    let i = base + m * p.c_sm + n0 * p.c_sn;
    if (p.vec_out == 1u) {
        if (n0 < p.n) {
            Cv[i / 4u] = v;
        }
        return;
    }
    if (n0 < p.n) {
        C[i] = v.x;
    }
    if (n0 + 1u < p.n) {
        C[i + p.c_sn] = v.y;
    }
    if (n0 + 2u < p.n) {
        C[i + 2u * p.c_sn] = v.z;
    }
    if (n0 + 3u < p.n) {
        C[i + 3u * p.c_sn] = v.w;
    }
}

// Column e of a 4x4 output block is row m0 + e, columns n0..n0+3.
fn store_block(base: u32, blk: mat4x4<f32>, m0: u32, n0: u32) {
    store_row(base, m0, n0, blk[0]);
    store_row(base, m0 + 1u, n0, blk[1]);
    store_row(base, m0 + 2u, n0, blk[2]);
    store_row(base, m0 + 3u, n0, blk[3]);
}

// Where one invocation works: split s of batch b covers k in [k0, k1); the lane's A panel starts
// at texel pa, its first B texel at pb; its block of C starts at row m0, column n0.
struct Tile {
    k0: u32,
    k1: u32,
    pa: u32,
    pb: u32,
    base: u32,
    m0: u32,
    n0: u32,
}

// `quads`: column quads of one B panel (32 wide, 16 narrow).
fn tile(wg: vec3<u32>, lane: u32, quads: u32) -> Tile {
    let s = wg.z % p.splits;
    let b = wg.z / p.splits;
    let k0 = s * p.k_len;
    return Tile(
        k0,
        min(k0 + p.k_len, p.kp),
        b * p.a_bs + wg.y * p.a_ps,
        b * p.b_bs + wg.x * p.b_ps + lane,
        s * p.c_ss + b * p.c_bs,
        wg.y * 16u,
        (wg.x * quads + lane) * 4u);
}

// llvmpipe caps the loop iterations of one invocation at 65535 (all loops together), so the
// k loop must stay short: the host splits K into ranges below that.

// Wide tile: 16 rows x 128 columns per 8 lanes (lane texels j = 0..3 at columns n0 + 32j).
@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = tile(wg, lid.x, 32u);
    // cij: the 4x4 block of rows 4i..4i+3 and this lane's texel j.
    var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c02 = mat4x4<f32>(); var c03 = mat4x4<f32>();
    var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>(); var c12 = mat4x4<f32>(); var c13 = mat4x4<f32>();
    var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>(); var c22 = mat4x4<f32>(); var c23 = mat4x4<f32>();
    var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>(); var c32 = mat4x4<f32>(); var c33 = mat4x4<f32>();
    for (var k = t.k0; k < t.k1; k += 4u) {
        let a0 = a_block(t.pa, k, 0u);
        let a1 = a_block(t.pa, k, 1u);
        let a2 = a_block(t.pa, k, 2u);
        let a3 = a_block(t.pa, k, 3u);
        let b0 = b_block(t.pb, k, 0u);
        let b1 = b_block(t.pb, k, 1u);
        let b2 = b_block(t.pb, k, 2u);
        let b3 = b_block(t.pb, k, 3u);
        madd(&c00, a0, b0); madd(&c01, a0, b1); madd(&c02, a0, b2); madd(&c03, a0, b3);
        madd(&c10, a1, b0); madd(&c11, a1, b1); madd(&c12, a1, b2); madd(&c13, a1, b3);
        madd(&c20, a2, b0); madd(&c21, a2, b1); madd(&c22, a2, b2); madd(&c23, a2, b3);
        madd(&c30, a3, b0); madd(&c31, a3, b1); madd(&c32, a3, b2); madd(&c33, a3, b3);
    }
    store_block(t.base, c00, t.m0, t.n0);
    store_block(t.base, c01, t.m0, t.n0 + 32u);
    store_block(t.base, c02, t.m0, t.n0 + 64u);
    store_block(t.base, c03, t.m0, t.n0 + 96u);
    store_block(t.base, c10, t.m0 + 4u, t.n0);
    store_block(t.base, c11, t.m0 + 4u, t.n0 + 32u);
    store_block(t.base, c12, t.m0 + 4u, t.n0 + 64u);
    store_block(t.base, c13, t.m0 + 4u, t.n0 + 96u);
    store_block(t.base, c20, t.m0 + 8u, t.n0);
    store_block(t.base, c21, t.m0 + 8u, t.n0 + 32u);
    store_block(t.base, c22, t.m0 + 8u, t.n0 + 64u);
    store_block(t.base, c23, t.m0 + 8u, t.n0 + 96u);
    store_block(t.base, c30, t.m0 + 12u, t.n0);
    store_block(t.base, c31, t.m0 + 12u, t.n0 + 32u);
    store_block(t.base, c32, t.m0 + 12u, t.n0 + 64u);
    store_block(t.base, c33, t.m0 + 12u, t.n0 + 96u);
}

// Narrow tile: 16 rows x 64 columns (lane texels j = 0, 1 at columns n0 + 32j), for outputs
// whose width pads badly to 128 (e.g. N = 144: 192 instead of 256 columns computed).
@compute @workgroup_size(8, 1, 1)
fn narrow(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let t = tile(wg, lid.x, 16u);
    var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>();
    var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>();
    var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>();
    var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>();
    for (var k = t.k0; k < t.k1; k += 4u) {
        let a0 = a_block(t.pa, k, 0u);
        let a1 = a_block(t.pa, k, 1u);
        let a2 = a_block(t.pa, k, 2u);
        let a3 = a_block(t.pa, k, 3u);
        let b0 = b_block(t.pb, k, 0u);
        let b1 = b_block(t.pb, k, 1u);
        madd(&c00, a0, b0); madd(&c01, a0, b1);
        madd(&c10, a1, b0); madd(&c11, a1, b1);
        madd(&c20, a2, b0); madd(&c21, a2, b1);
        madd(&c30, a3, b0); madd(&c31, a3, b1);
    }
    store_block(t.base, c00, t.m0, t.n0);
    store_block(t.base, c01, t.m0, t.n0 + 32u);
    store_block(t.base, c10, t.m0 + 4u, t.n0);
    store_block(t.base, c11, t.m0 + 4u, t.n0 + 32u);
    store_block(t.base, c20, t.m0 + 8u, t.n0);
    store_block(t.base, c21, t.m0 + 8u, t.n0 + 32u);
    store_block(t.base, c30, t.m0 + 12u, t.n0);
    store_block(t.base, c31, t.m0 + 12u, t.n0 + 32u);
}
