// Texture matmul for software adapters (lavapipe / llvmpipe): C = A·B from operands packed into
// panel textures by matmul_pack.wgsl. Why it looks like this (measured, see docs/kernels.md):
//  - llvmpipe runs 8 invocations as the 8 lanes of AVX2 registers. Storage-buffer loads with
//    per-lane addresses are scalar loops there; read-only storage-texture loads are inline
//    vector gathers (sampled-texture loads are 2x dearer: an out-of-line, mip-aware call).
//  - Each lane computes 16 rows x 16 columns (64 vec4 accumulators, spilled to the stack anyway),
//    so one texel fetch feeds 16-64 multiply-adds.
//  - Loop-carried values get a masked blend per write, so the k loop is unrolled by 4 and each
//    accumulator is written once per iteration: a 4x4 block of C gets one mat4x4 product
//    (texel j of B over 4 k) x (4 rows of A over 4 k) per iteration.
//  - Panels keep each lane group's operands contiguous along k (A's 16-row panel: 4 texels per k;
//    B's 128-column panel: 32 texels per k, lane l owns texels l, l+8, l+16, l+24). Plain
//    row-major textures stride 4 KiB per k and thrash the TLB and the L1 sets.
// One workgroup = one 8-lane group = 16 rows x 128 columns of C. Grid: (B panels, A panels,
// batch * splits). A split covers k in [s * k_len, min((s + 1) * k_len, kp)).

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
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var A: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var B: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

// Panels are linear texel arrays laid out in 4096-texel rows.
fn at(i: u32) -> vec2<u32> {
    return vec2<u32>(i & 4095u, i >> 12u);
}

// Rows 4i..4i+3 at k..k+3 of the A panel starting at texel `pa`, transposed so that column e
// holds row 4i+e's four k values.
fn a_block(pa: u32, k: u32, i: u32) -> mat4x4<f32> {
    let t = pa + 4u * k + i;
    return transpose(mat4x4<f32>(
        textureLoad(A, at(t)), textureLoad(A, at(t + 4u)),
        textureLoad(A, at(t + 8u)), textureLoad(A, at(t + 12u))));
}

// This lane's texel j of the B panel at k..k+3: column u holds 4 columns of C at k+u.
fn b_block(pb: u32, k: u32, j: u32) -> mat4x4<f32> {
    let t = pb + 32u * k + 8u * j;
    return mat4x4<f32>(
        textureLoad(B, at(t)), textureLoad(B, at(t + 32u)),
        textureLoad(B, at(t + 64u)), textureLoad(B, at(t + 96u)));
}

// Writes the 4 columns n0.. of row m (guarded). Every vector index is a constant: a dynamic
// index into a vector or matrix moves it, and anything copied from it, to per-lane scratch
// memory on llvmpipe, which made the whole kernel 2x slower.
fn store_row(base: u32, m: u32, n0: u32, v: vec4<f32>) {
    if (m >= p.m) {
        return;
    }
    let i = base + m * p.c_sm + n0 * p.c_sn;
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

// llvmpipe caps the loop iterations of one invocation at 65535 (all loops together), so the
// k loop must stay short: the host splits K into ranges below that.
@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let s = wg.z % p.splits;
    let b = wg.z / p.splits;
    let k0 = s * p.k_len;
    let k1 = min(k0 + p.k_len, p.kp);
    let pa = b * p.a_bs + wg.y * p.kp * 4u;
    let pb = b * p.b_bs + wg.x * p.kp * 32u + lid.x;
    // cij: the 4x4 block of rows 4i..4i+3 and this lane's texel j.
    var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c02 = mat4x4<f32>(); var c03 = mat4x4<f32>();
    var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>(); var c12 = mat4x4<f32>(); var c13 = mat4x4<f32>();
    var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>(); var c22 = mat4x4<f32>(); var c23 = mat4x4<f32>();
    var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>(); var c32 = mat4x4<f32>(); var c33 = mat4x4<f32>();
    for (var k = k0; k < k1; k += 4u) {
        let b0 = b_block(pb, k, 0u);
        let b1 = b_block(pb, k, 1u);
        let b2 = b_block(pb, k, 2u);
        let b3 = b_block(pb, k, 3u);
        let a0 = a_block(pa, k, 0u);
        c00 += b0 * a0; c01 += b1 * a0; c02 += b2 * a0; c03 += b3 * a0;
        let a1 = a_block(pa, k, 1u);
        c10 += b0 * a1; c11 += b1 * a1; c12 += b2 * a1; c13 += b3 * a1;
        let a2 = a_block(pa, k, 2u);
        c20 += b0 * a2; c21 += b1 * a2; c22 += b2 * a2; c23 += b3 * a2;
        let a3 = a_block(pa, k, 3u);
        c30 += b0 * a3; c31 += b1 * a3; c32 += b2 * a3; c33 += b3 * a3;
    }
    let base = s * p.c_ss + b * p.c_bs;
    let m0 = wg.y * 16u;
    let n0 = (wg.x * 32u + lid.x) * 4u;
    store_block(base, c00, m0, n0);
    store_block(base, c01, m0, n0 + 32u);
    store_block(base, c02, m0, n0 + 64u);
    store_block(base, c03, m0, n0 + 96u);
    store_block(base, c10, m0 + 4u, n0);
    store_block(base, c11, m0 + 4u, n0 + 32u);
    store_block(base, c12, m0 + 4u, n0 + 64u);
    store_block(base, c13, m0 + 4u, n0 + 96u);
    store_block(base, c20, m0 + 8u, n0);
    store_block(base, c21, m0 + 8u, n0 + 32u);
    store_block(base, c22, m0 + 8u, n0 + 64u);
    store_block(base, c23, m0 + 8u, n0 + 96u);
    store_block(base, c30, m0 + 12u, n0);
    store_block(base, c31, m0 + 12u, n0 + 32u);
    store_block(base, c32, m0 + 12u, n0 + 64u);
    store_block(base, c33, m0 + 12u, n0 + 96u);
}
