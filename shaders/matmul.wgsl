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

fn store4(base: u32, m: u32, n0: u32, v: vec4<f32>) {
    if (m >= p.m) {
        return;
    }
    for (var e = 0u; e < 4u; e++) {
        if (n0 + e < p.n) {
            C[base + m * p.c_sm + (n0 + e) * p.c_sn] = v[e];
        }
    }
}

// ---- tiled ----

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override TILE_K: u32 = 16u;

// As[kk * 2 * WG_Y + q]: rows 4q..4q+3 of the tile at k = kk; Bs likewise for columns.
var<workgroup> As: array<vec4<f32>, TILE_K * 2u * WG_Y>;
var<workgroup> Bs: array<vec4<f32>, TILE_K * 2u * WG_X>;

// Four elements of X at (i0 + e) * s_i + kk * s_k, zero outside i < ni, kk < kn. Indices are
// clamped first so that every load is in range.
fn load_a(base: u32, i0: u32, kk: u32, kn: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        let i = min(i0 + e, p.m - 1u);
        let x = A[base + i * p.a_sm + min(kk, kn - 1u) * p.a_sk];
        v[e] = select(0.0, x, i0 + e < p.m && kk < kn);
    }
    return v;
}

fn load_b(base: u32, i0: u32, kk: u32, kn: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    for (var e = 0u; e < 4u; e++) {
        let i = min(i0 + e, p.n - 1u);
        let x = B[base + i * p.b_sn + min(kk, kn - 1u) * p.b_sk];
        v[e] = select(0.0, x, i0 + e < p.n && kk < kn);
    }
    return v;
}

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
    var acc: array<vec4<f32>, 16>; // acc[2i + h]: row i, columns 4h..4h+3 of this thread's 8
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
            let a0 = As[kk * am + 2u * lid.y];
            let a1 = As[kk * am + 2u * lid.y + 1u];
            let b0 = Bs[kk * bn + 2u * lid.x];
            let b1 = Bs[kk * bn + 2u * lid.x + 1u];
            for (var i = 0u; i < 4u; i++) {
                acc[2u * i] += a0[i] * b0;
                acc[2u * i + 1u] += a0[i] * b1;
                acc[2u * i + 8u] += a1[i] * b0;
                acc[2u * i + 9u] += a1[i] * b1;
            }
        }
        workgroupBarrier();
    }
    let base = s * p.c_ss + b * p.c_bs;
    for (var i = 0u; i < 8u; i++) {
        let m = m0 + 8u * lid.y + i;
        store4(base, m, n0 + 8u * lid.x, acc[2u * i]);
        store4(base, m, n0 + 8u * lid.x + 4u, acc[2u * i + 1u]);
    }
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
    let base = s * p.c_ss + b * p.c_bs;
    store4(base, m0, n0, acc0);
    store4(base, m0 + 1u, n0, acc1);
    store4(base, m0 + 2u, n0, acc2);
    store4(base, m0 + 3u, n0, acc3);
}
