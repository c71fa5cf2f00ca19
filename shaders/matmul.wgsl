// Storage-buffer matmul kernels: C[s, b] = A[b]·B[b] over the k range of split s.
// Operands are read through element strides, so transposed and batch-broadcast operands
// (stride 0) need no copies. Grid z = batch * splits; a split covers
// k in [s * k_len, min((s + 1) * k_len, K)) and writes its partial at offset s * c_ss.
//  - `tiled`: real GPUs. Workgroup-memory tiles of (8 * WG_Y) x TILE_K of A and TILE_K x (8 * WG_X)
//    of B, 8x8 outputs per thread as vec4 pairs. Tile sizes are override constants.
//  - `blocked`: portable fallback without workgroup memory (software adapters without storage
//    textures, shapes over the texture limits): 4x4 outputs per invocation.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    k_len: u32,
    splits: u32,
    a_bs: u32,
    a_sm: u32,
    a_sk: u32,
    b_bs: u32,
    b_sk: u32,
    b_sn: u32,
    c_ss: u32,
    c_bs: u32,
    c_sm: u32,
    c_sn: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

// Row m, columns n0..n0+3 of C (guarded). Constant vector indices only: a dynamic index would
// move the vector to per-lane scratch memory on llvmpipe.
fn store4(base: u32, m: u32, n0: u32, v: vec4<f32>) {
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

// Rows m0..m0+3 (column e of `blk` is row m0 + e).
fn store_block(base: u32, m0: u32, n0: u32, blk: mat4x4<f32>) {
    store4(base, m0, n0, blk[0]);
    store4(base, m0 + 1u, n0, blk[1]);
    store4(base, m0 + 2u, n0, blk[2]);
    store4(base, m0 + 3u, n0, blk[3]);
}

// ---- tiled ----

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TILE_K: u32 = 16u;

// As[kk * 2 * WG_Y + q]: rows 4q..4q+3 of the tile at k = kk; Bs likewise for columns.
var<workgroup> As: array<vec4<f32>, TILE_K * 2u * WG_Y>;
var<workgroup> Bs: array<vec4<f32>, TILE_K * 2u * WG_X>;

// Four elements of A at rows i0.., k = kk, zero outside rows < M and kk < kn. Indices are
// clamped first so that every load is in range.
fn load_a(base: u32, i0: u32, kk: u32, kn: u32) -> vec4<f32> {
    let k = min(kk, kn - 1u) * p.a_sk;
    let i = min(vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.m - 1u)) * p.a_sm;
    let v = vec4<f32>(A[base + i.x + k], A[base + i.y + k], A[base + i.z + k], A[base + i.w + k]);
    return select(vec4<f32>(0.0), v, vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.m) & vec4<bool>(kk < kn));
}

fn load_b(base: u32, i0: u32, kk: u32, kn: u32) -> vec4<f32> {
    let k = min(kk, kn - 1u) * p.b_sk;
    let i = min(vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u)) * p.b_sn;
    let v = vec4<f32>(B[base + i.x + k], B[base + i.y + k], B[base + i.z + k], B[base + i.w + k]);
    return select(vec4<f32>(0.0), v, vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.n) & vec4<bool>(kk < kn));
}

// acc column e (a row of C) += a[e] · b.
fn outer(acc: ptr<function, mat4x4<f32>>, a: vec4<f32>, b: vec4<f32>) {
    (*acc)[0] += a.x * b;
    (*acc)[1] += a.y * b;
    (*acc)[2] += a.z * b;
    (*acc)[3] += a.w * b;
}

// Thread (x, y) owns rows 4y.. and 4(y + WG_Y).. and columns 4x.. and 4(x + WG_X).. of the
// tile, so that a warp reads consecutive vec4s of As and Bs (no bank conflicts).
@compute @workgroup_size(WG_X, WG_Y, 1)
fn tiled(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let s = wg.z % p.splits;
    let b = wg.z / p.splits;
    let k0 = s * p.k_len;
    let k1 = min(k0 + p.k_len, p.k);
    let m0 = wg.y * 8u * WG_Y;
    let n0 = wg.x * 8u * WG_X;
    let a_base = b * p.a_bs;
    let b_base = b * p.b_bs;
    let threads = WG_X * WG_Y;
    let tid = lid.y * WG_X + lid.x;
    let am = 2u * WG_Y; // vec4 slots per k of the A tile
    let bn = 2u * WG_X;
    var c00 = mat4x4<f32>();
    var c01 = mat4x4<f32>();
    var c10 = mat4x4<f32>();
    var c11 = mat4x4<f32>();
    for (var kt = k0; kt < k1; kt += TILE_K) {
        // Consecutive threads walk the operand's contiguous dimension (coalesced loads).
        for (var v = tid; v < TILE_K * am; v += threads) {
            var q = v / TILE_K;
            var kk = v % TILE_K;
            if (p.a_sk != 1u) {
                q = v % am;
                kk = v / am;
            }
            As[kk * am + q] = load_a(a_base, m0 + 4u * q, kt + kk, k1);
        }
        for (var v = tid; v < TILE_K * bn; v += threads) {
            var q = v % bn;
            var kk = v / bn;
            if (p.b_sn != 1u) {
                q = v / TILE_K;
                kk = v % TILE_K;
            }
            Bs[kk * bn + q] = load_b(b_base, n0 + 4u * q, kt + kk, k1);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE_K; kk++) {
            let a0 = As[kk * am + lid.y];
            let a1 = As[kk * am + lid.y + WG_Y];
            let b0 = Bs[kk * bn + lid.x];
            let b1 = Bs[kk * bn + lid.x + WG_X];
            outer(&c00, a0, b0);
            outer(&c01, a0, b1);
            outer(&c10, a1, b0);
            outer(&c11, a1, b1);
        }
        workgroupBarrier();
    }
    let base = s * p.c_ss + b * p.c_bs;
    let r0 = m0 + 4u * lid.y;
    let r1 = m0 + 4u * (lid.y + WG_Y);
    let q0 = n0 + 4u * lid.x;
    let q1 = n0 + 4u * (lid.x + WG_X);
    store_block(base, r0, q0, c00);
    store_block(base, r0, q1, c01);
    store_block(base, r1, q0, c10);
    store_block(base, r1, q1, c11);
}

// ---- blocked ----

@compute @workgroup_size(8, 8, 1)
fn blocked(@builtin(global_invocation_id) g: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let s = wg.z % p.splits;
    let b = wg.z / p.splits;
    let k0 = s * p.k_len;
    let k1 = min(k0 + p.k_len, p.k);
    let m0 = 4u * g.y;
    let n0 = 4u * g.x;
    // Clamped rows and columns keep every load in range; their results are never stored.
    let ra = b * p.a_bs + min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.m - 1u)) * p.a_sm;
    let cb = b * p.b_bs + min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u)) * p.b_sn;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k = k0; k < k1; k++) {
        let ka = k * p.a_sk;
        let kb = k * p.b_sk;
        let a = vec4<f32>(A[ra.x + ka], A[ra.y + ka], A[ra.z + ka], A[ra.w + ka]);
        let bv = vec4<f32>(B[cb.x + kb], B[cb.y + kb], B[cb.z + kb], B[cb.w + kb]);
        acc0 += a.x * bv;
        acc1 += a.y * bv;
        acc2 += a.z * bv;
        acc3 += a.w * bv;
    }
    store_block(s * p.c_ss + b * p.c_bs, m0, n0, mat4x4<f32>(acc0, acc1, acc2, acc3));
}
