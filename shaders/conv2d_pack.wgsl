// Input packing for the texture conv2d kernels (conv2d_tex.wgsl), software adapters only.
//
// A tensor [B, C, H, W] (x, or dy for the gradients) becomes padded NHWC4: texel
// ((b·hp + yp)·wp + xp)·c4n + c4 holds channels 4c4..4c4+3 of pixel (yp − pt, xp − pl), zero in
// the padding and past C. The implicit GEMM then reads one texel per (pixel, tap, 4 channels)
// with no bounds checks and no per-tap index maths. The source arrives as L, a copy of its
// buffer in a linear texture (texel i = elements 4i..4i+3, rows of 2^lw_log2 texels): on llvmpipe
// a storage-texture load is one vector gather while a storage-buffer load is a per-lane loop.
// One invocation writes one padded row (b, c4, yp), 4 pixels per trip: 4 source row loads (one
// texel each when W % 4 = 0: trips start at source columns that are multiples of 4, so the
// first one may begin left of the padded row), a 4x4 transpose, up to 4 texel stores.
// Consecutive invocations take consecutive rows yp, so the 8 lanes read neighbouring rows.

struct Params {
    rows: u32,     // b · c4n · hp
    quads: u32,    // trips per row: ceil((wp + pl4 − pl) / 4)
    c4n: u32,
    hp: u32,
    wp: u32,
    cin: u32,
    hin: u32,
    win: u32,
    pt: u32,
    pl: u32,
    pl4: u32,      // pl rounded up to a multiple of 4
    lw_log2: u32,  // log2 of L's width in texels
    l_last: u32,   // last texel of L
    aligned: u32,  // 1: W % 4 = 0, each row load is one texel
    inv_hp: f32,   // f32 reciprocals for `div`
    inv_c4n: f32,
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

// Texel of padded column xp (skipped outside the padded row) of the row starting at texel t0.
fn put(t0: u32, xp: i32, v: vec4<f32>) {
    if (xp >= 0 && xp < i32(p.wp)) {
        let t = t0 + u32(xp) * p.c4n;
        textureStore(T, vec2<u32>(t & 4095u, t >> 12u), v);
    }
}

@compute @workgroup_size(64)
fn pack_input(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.x + gid.y * nwg.x * 64u;
    if (row >= p.rows) {
        return;
    }
    let r = div(row, p.hp, p.inv_hp);
    let yp = row - r * p.hp;
    let b = div(r, p.c4n, p.inv_c4n);
    let c4 = r - b * p.c4n;
    // Source rows of the 4 channels (clamped; `keep` zeroes the rows outside the tensor).
    let y = i32(yp) - i32(p.pt);
    let c = vec4<u32>(4u * c4) + vec4<u32>(0u, 1u, 2u, 3u);
    let keep = c < vec4<u32>(p.cin) & vec4<bool>(y >= 0 && y < i32(p.hin));
    let yc = u32(clamp(y, 0, i32(p.hin) - 1));
    let src = ((b * p.cin + min(c, vec4<u32>(p.cin - 1u))) * p.hin + yc) * p.win;
    let t0 = (b * p.hp + yp) * p.wp * p.c4n + c4;
    for (var q = 0u; q < p.quads; q++) {
        // Columns xs..xs+3; xs is a multiple of 4, so a negative xs has no column inside.
        let xs = i32(4u * q) - i32(p.pl4);
        let cols = vec4<i32>(xs) + vec4<i32>(0, 1, 2, 3);
        let inside = cols >= vec4<i32>(0) & cols < vec4<i32>(i32(p.win));
        let x = u32(max(xs, 0));
        // Column j of m: the 4 channels of source column xs + j.
        let m = transpose(mat4x4<f32>(
            select(vec4<f32>(0.0), four(src.x + x), inside & vec4<bool>(keep.x)),
            select(vec4<f32>(0.0), four(src.y + x), inside & vec4<bool>(keep.y)),
            select(vec4<f32>(0.0), four(src.z + x), inside & vec4<bool>(keep.z)),
            select(vec4<f32>(0.0), four(src.w + x), inside & vec4<bool>(keep.w))));
        let xp = xs + i32(p.pl);
        put(t0, xp, m[0]);
        put(t0, xp + 1, m[1]);
        put(t0, xp + 2, m[2]);
        put(t0, xp + 3, m[3]);
    }
}
