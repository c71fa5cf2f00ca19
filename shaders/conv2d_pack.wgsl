// Input packing for the texture conv2d kernels (conv2d_tex.wgsl), software adapters only.
//
// A tensor [B, C, H, W] (x, or dy for the gradients) becomes padded NHWC4: texel
// ((b·hp + yp)·wp + xp)·c4n + c4 holds channels 4c4..4c4+3 of pixel (yp − pt, xp − pl), zero in
// the padding and past C. The implicit GEMM then reads one texel per (pixel, tap, 4 channels)
// with no bounds checks and no per-tap index maths. The source arrives as L, a copy of its
// buffer in a linear texture (texel i = elements 4i..4i+3, rows of 2^lw_log2 texels): on llvmpipe
// a storage-texture load is one vector gather while a storage-buffer load is a per-lane loop.
// One job = 4 consecutive padded pixels of one row × 4 channels: 4 row loads (one texel each
// when W % 4 = 0, since pl is a multiple of 4), a 4×4 transpose, 4 texel stores. Lanes walk
// consecutive jobs along a row, so their loads are contiguous.

struct Params {
    jobs: u32,     // b · hp · c4n · xq
    xq: u32,       // jobs per padded row: ceil(wp / 4)
    c4n: u32,
    hp: u32,
    inv_xq: f32,   // f32 reciprocals for the division helper
    inv_c4n: f32,
    inv_hp: f32,
    cin: u32,
    hin: u32,
    win: u32,
    pt: u32,
    pl: u32,       // a multiple of 4
    wp: u32,
    lw_log2: u32,  // log2 of L's width in texels
    l_last: u32,   // last texel of L
    aligned: u32,  // 1: W % 4 = 0, each row load is one texel
    threads: u32,  // invocations in the grid: each walks jobs t, t + threads, ...
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var L: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var T: texture_storage_2d<rgba32float, write>;

// n / d for n < 2^24: the f32 quotient is off by at most one (exact for d = 1), then corrected.
// llvmpipe has no vector integer division: `/` runs lane by lane.
fn div(n: u32, d: u32, inv: f32) -> u32 {
    let q = u32(f32(n) * inv);
    let r = i32(n) - i32(q * d);
    return select(select(q, q + 1u, r >= i32(d)), q - 1u, r < 0);
}

fn texel(t: u32) -> vec4<f32> {
    let c = min(t, p.l_last);
    return textureLoad(L, vec2<u32>(c & ((1u << p.lw_log2) - 1u), c >> p.lw_log2));
}

// Elements i..i+3 of the source at any alignment (constant-index selects: a dynamic vector index
// would move the vector to per-lane scratch memory on llvmpipe).
fn four(i: u32) -> vec4<f32> {
    if (p.aligned == 1u) {
        return texel(i >> 2u);
    }
    let a = texel(i >> 2u);
    let b = texel((i >> 2u) + 1u);
    let r = i & 3u;
    let v = select(a, vec4<f32>(a.yzw, b.x), r == 1u);
    return select(select(v, vec4<f32>(a.zw, b.xy), r == 2u), vec4<f32>(a.w, b.xyz), r == 3u);
}

// Row y of channel c of image b at columns xs..xs+3, zero outside the tensor. xs is a multiple of
// 4, so a negative xs has no column inside.
fn row(b: u32, c: u32, y: i32, xs: i32) -> vec4<f32> {
    let inside = c < p.cin && y >= 0 && y < i32(p.hin) && xs >= 0;
    let i = ((b * p.cin + min(c, p.cin - 1u)) * p.hin + u32(clamp(y, 0, i32(p.hin) - 1))) * p.win
        + u32(max(xs, 0));
    let cols = vec4<i32>(xs) + vec4<i32>(0, 1, 2, 3) < vec4<i32>(i32(p.win));
    return select(vec4<f32>(0.0), four(i), cols & vec4<bool>(inside));
}

fn put(t: u32, v: vec4<f32>) {
    textureStore(T, vec2<u32>(t & 4095u, t >> 12u), v);
}

@compute @workgroup_size(64)
fn pack_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var j = gid.x + gid.y * nwg.x * 64u; j < p.jobs; j += p.threads) {
        let r1 = div(j, p.xq, p.inv_xq);
        let xi = j - r1 * p.xq;
        let r2 = div(r1, p.c4n, p.inv_c4n);
        let c4 = r1 - r2 * p.c4n;
        let b = div(r2, p.hp, p.inv_hp);
        let yp = r2 - b * p.hp;
        let y = i32(yp) - i32(p.pt);
        let xs = i32(4u * xi) - i32(p.pl);
        // Column j of m: the 4 channels of padded pixel 4·xi + j.
        let m = transpose(mat4x4<f32>(
            row(b, 4u * c4, y, xs),
            row(b, 4u * c4 + 1u, y, xs),
            row(b, 4u * c4 + 2u, y, xs),
            row(b, 4u * c4 + 3u, y, xs)));
        let xp = 4u * xi;
        let t = ((b * p.hp + yp) * p.wp + xp) * p.c4n + c4;
        put(t, m[0]);
        if (xp + 1u < p.wp) {
            put(t + p.c4n, m[1]);
        }
        if (xp + 2u < p.wp) {
            put(t + 2u * p.c4n, m[2]);
        }
        if (xp + 3u < p.wp) {
            put(t + 3u * p.c4n, m[3]);
        }
    }
}
