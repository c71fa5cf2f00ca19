// Weight packing for the texture conv2d kernels (conv2d_tex.wgsl), software adapters only.
//
// Weights are read through the generic index of a direct convolution (forward, or one flipped,
// transposed stride phase of the input gradient) and written to texel (k·4 + e)·o4p + o4 =
// outputs 4o4..4o4+3 of input channel 4c4 + e at step k = (jy·tw + jx)·c4n + c4.

struct Params {
    texels: u32,  // steps · 4 · o4p
    o4p: u32,     // output-channel quads, a multiple of 4 (one kernel tile = 4 quads)
    c4n: u32,
    row_steps: u32, // tw · c4n
    n: u32,
    cin: u32,
    wn: i32,
    wc: i32,
    wy: i32,
    wx: i32,
    w0: i32,
    wlen: u32,    // elements of w (clamps the masked loads)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Wsrc: array<f32>;
@group(0) @binding(2) var Wt: texture_storage_2d<rgba32float, write>;

fn weight(n: u32, ci: u32, jy: u32, jx: u32) -> f32 {
    let i = i32(n) * p.wn + i32(ci) * p.wc + i32(jy) * p.wy + i32(jx) * p.wx + p.w0;
    let v = Wsrc[u32(clamp(i, 0, i32(p.wlen) - 1))];
    return select(0.0, v, n < p.n && ci < p.cin);
}

@compute @workgroup_size(64)
fn pack_weight(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.texels) {
        return;
    }
    let o4 = t % p.o4p;
    let r = t / p.o4p;
    let e = r % 4u;
    let k = r / 4u;
    let jy = k / p.row_steps;
    let rem = k % p.row_steps;
    let jx = rem / p.c4n;
    let ci = 4u * (rem % p.c4n) + e;
    let n = 4u * o4;
    let v = vec4<f32>(weight(n, ci, jy, jx), weight(n + 1u, ci, jy, jx), weight(n + 2u, ci, jy, jx),
        weight(n + 3u, ci, jy, jx));
    textureStore(Wt, vec2<u32>(t & 4095u, t >> 12u), v);
}
