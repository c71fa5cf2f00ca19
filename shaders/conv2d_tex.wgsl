// Implicit-GEMM convolution for software adapters (lavapipe / llvmpipe), reading the source and
// the weights through read-only storage textures packed by conv2d_pack.wgsl and
// conv2d_wpack.wgsl. One kernel runs every direct convolution of the family: the forward pass
// (source x) and each stride phase of the input gradient (source dy, flipped weights).
//
// One workgroup = one 8-lane group = 128 consecutive output pixels x 16 output channels; lane l
// owns the pixel quads 4l + 32q (q = 0..3) of the group, all 16 channels: 16 x 16 outputs, as
// in the texture matmul. Step k of the reduction is one (tap, 4 input channels) pair:
//  - each of the lane's 16 pixels loads one texel (4 channels) at base(pixel) + off(k): the
//    source is padded, so there are no bounds checks, and off(k) is the same for every pixel;
//  - 16 weight texels hold the 4 x 16 weights of the step (the same for every lane);
//  - 32 texel loads feed 1024 multiply-adds, each accumulator written once per step (llvmpipe
//    blends every write of a loop-carried value under the lane mask).
// Output quads of 4 consecutive pixels are stored as one vec4 when the output is dense.
// The host splits the steps into ranges within llvmpipe's loop budget (65535 iterations per
// invocation); range s writes its partial at offset s·os, summed in order afterwards.

struct Params {
    pixels: u32,   // batch · ty · tx
    tyx: u32,      // ty · tx
    tx: u32,
    inv_tyx: f32,  // f32 reciprocals for `div4`
    inv_tx: f32,
    n: u32,        // output channels
    hp: u32,       // packed source: rows, columns, channel quads
    wp: u32,
    c4n: u32,
    sy: u32,
    sx: u32,
    y0: u32,       // padded source position of tap (0, 0) of output position (0, 0)
    x0: u32,
    row_steps: u32, // steps per row of taps: tw · c4n
    row_jump: u32,  // texels skipped between two rows of taps: (wp − tw) · c4n
    steps: u32,     // th · tw · c4n
    k_len: u32,
    splits: u32,
    o4p: u32,       // weight texels per (step, input channel)
    ob: u32,        // output strides: image, channel, row, column, first element, split
    on: u32,
    oy: u32,
    ox: u32,
    o0: u32,
    os: u32,
    vec_out: u32,   // 1: quads of 4 consecutive positions are aligned vec4s of the output
    bias: u32,      // 1: add bias[n]
    x_wl: u32,      // log2 of the texture widths
    w_wl: u32,
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var X: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var Wt: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;
// The same buffer as C, for whole-vec4 stores.
@group(0) @binding(5) var<storage, read_write> Cv: array<vec4<f32>>;

fn lx(i: u32) -> vec4<f32> {
    return textureLoad(X, vec2<u32>(i & ((1u << p.x_wl) - 1u), i >> p.x_wl));
}

fn lw(i: u32) -> vec4<f32> {
    return textureLoad(Wt, vec2<u32>(i & ((1u << p.w_wl) - 1u), i >> p.w_wl));
}

// n / d for n < 2^24: the f32 quotient is off by at most one (exact for d = 1), then corrected.
// llvmpipe has no vector integer division: `/` runs lane by lane.
fn div4(n: vec4<u32>, d: u32, inv: f32) -> vec4<u32> {
    let q = vec4<u32>(vec4<f32>(n) * inv);
    let r = vec4<i32>(n) - vec4<i32>(q * d);
    return select(select(q, q + 1u, r >= vec4<i32>(i32(d))), q - 1u, r < vec4<i32>(0));
}

// Four consecutive output pixels: their source base texels and output indices (clamped to the
// last pixel; stores are guarded).
struct Quad {
    src: vec4<u32>,
    dst: vec4<u32>,
}

fn quad(first: u32, split_off: u32) -> Quad {
    let f = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.pixels - 1u));
    let b = div4(f, p.tyx, p.inv_tyx);
    let r = f - b * p.tyx;
    let ty = div4(r, p.tx, p.inv_tx);
    let tx = r - ty * p.tx;
    let src = ((b * p.hp + ty * p.sy + p.y0) * p.wp + tx * p.sx + p.x0) * p.c4n;
    return Quad(src, b * p.ob + ty * p.oy + tx * p.ox + p.o0 + split_off);
}

// Column e: the texel (4 input channels) of pixel e at offset `off`.
fn xblock(src: vec4<u32>, off: u32) -> mat4x4<f32> {
    return mat4x4<f32>(lx(src.x + off), lx(src.y + off), lx(src.z + off), lx(src.w + off));
}

// Column e: the 4 outputs of quad j for input channel e of the step whose weights start at wb.
fn wblock(wb: u32, j: u32) -> mat4x4<f32> {
    return mat4x4<f32>(lw(wb + j), lw(wb + p.o4p + j), lw(wb + 2u * p.o4p + j), lw(wb + 3u * p.o4p + j));
}

// acc column e (the 4 outputs of pixel e) += Σ_c x[e][c] · w[c].
fn madd(acc: ptr<function, mat4x4<f32>>, x: mat4x4<f32>, w: mat4x4<f32>) {
    (*acc)[0] += x[0].x * w[0] + x[0].y * w[1] + x[0].z * w[2] + x[0].w * w[3];
    (*acc)[1] += x[1].x * w[0] + x[1].y * w[1] + x[1].z * w[2] + x[1].w * w[3];
    (*acc)[2] += x[2].x * w[0] + x[2].y * w[1] + x[2].z * w[2] + x[2].w * w[3];
    (*acc)[3] += x[3].x * w[0] + x[3].y * w[1] + x[3].z * w[2] + x[3].w * w[3];
}

// Bias of outputs o..o+3: zero without bias, and in every split but the first.
fn bias4(o: u32, split: u32) -> vec4<f32> {
    if (p.bias == 0u || split != 0u) {
        return vec4<f32>(0.0);
    }
    let i = min(vec4<u32>(o) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
    return vec4<f32>(bias[i.x], bias[i.y], bias[i.z], bias[i.w]);
}

// v: output channel o at the 4 pixels first.. of quad q. Constant vector indices only.
fn store_o(q: Quad, first: u32, o: u32, v: vec4<f32>) {
    if (o >= p.n) {
        return;
    }
    let off = o * p.on;
    if (p.vec_out == 1u && first + 3u < p.pixels) {
        Cv[(q.dst.x + off) / 4u] = v;
        return;
    }
    if (first < p.pixels) {
        C[q.dst.x + off] = v.x;
    }
    if (first + 1u < p.pixels) {
        C[q.dst.y + off] = v.y;
    }
    if (first + 2u < p.pixels) {
        C[q.dst.z + off] = v.z;
    }
    if (first + 3u < p.pixels) {
        C[q.dst.w + off] = v.w;
    }
}

// acc column e: outputs o..o+3 of pixel first + e.
fn store(q: Quad, first: u32, o: u32, split: u32, acc: mat4x4<f32>) {
    let b = bias4(o, split);
    let t = transpose(mat4x4<f32>(acc[0] + b, acc[1] + b, acc[2] + b, acc[3] + b));
    store_o(q, first, o, t[0]);
    store_o(q, first, o + 1u, t[1]);
    store_o(q, first, o + 2u, t[2]);
    store_o(q, first, o + 3u, t[3]);
}

// Grid: (pixel groups of 128, folded into x and y) x (16-channel tiles · splits).
@compute @workgroup_size(8, 1, 1)
fn conv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let split = wg.z % p.splits;
    let ot = wg.z / p.splits;
    let first = (wg.x + wg.y * nwg.x) * 128u + 4u * lid.x;
    let q0 = quad(first, split * p.os);
    let q1 = quad(first + 32u, split * p.os);
    let q2 = quad(first + 64u, split * p.os);
    let q3 = quad(first + 96u, split * p.os);
    let k0 = min(split * p.k_len, p.steps);
    let k1 = min(k0 + p.k_len, p.steps);
    // off(k) = (jy·wp + jx)·c4n + c4 for k = (jy·tw + jx)·c4n + c4: +1 per step, plus row_jump
    // when a row of taps ends.
    let jy = k0 / p.row_steps;
    var cnt = k0 - jy * p.row_steps;
    var off = jy * p.wp * p.c4n + cnt;
    // aqj: pixels of quad q x output channels 4j..4j+3 of the tile.
    var a00 = mat4x4<f32>(); var a01 = mat4x4<f32>(); var a02 = mat4x4<f32>(); var a03 = mat4x4<f32>();
    var a10 = mat4x4<f32>(); var a11 = mat4x4<f32>(); var a12 = mat4x4<f32>(); var a13 = mat4x4<f32>();
    var a20 = mat4x4<f32>(); var a21 = mat4x4<f32>(); var a22 = mat4x4<f32>(); var a23 = mat4x4<f32>();
    var a30 = mat4x4<f32>(); var a31 = mat4x4<f32>(); var a32 = mat4x4<f32>(); var a33 = mat4x4<f32>();
    for (var k = k0; k < k1; k++) {
        let wb = 4u * (k * p.o4p + ot);
        let w0 = wblock(wb, 0u);
        let w1 = wblock(wb, 1u);
        let w2 = wblock(wb, 2u);
        let w3 = wblock(wb, 3u);
        let x0 = xblock(q0.src, off);
        let x1 = xblock(q1.src, off);
        let x2 = xblock(q2.src, off);
        let x3 = xblock(q3.src, off);
        madd(&a00, x0, w0); madd(&a01, x0, w1); madd(&a02, x0, w2); madd(&a03, x0, w3);
        madd(&a10, x1, w0); madd(&a11, x1, w1); madd(&a12, x1, w2); madd(&a13, x1, w3);
        madd(&a20, x2, w0); madd(&a21, x2, w1); madd(&a22, x2, w2); madd(&a23, x2, w3);
        madd(&a30, x3, w0); madd(&a31, x3, w1); madd(&a32, x3, w2); madd(&a33, x3, w3);
        cnt += 1u;
        off += 1u;
        let wrap = cnt == p.row_steps;
        cnt = select(cnt, 0u, wrap);
        off += select(0u, p.row_jump, wrap);
    }
    let o = 16u * ot;
    store(q0, first, o, split, a00); store(q0, first, o + 4u, split, a01); store(q0, first, o + 8u, split, a02); store(q0, first, o + 12u, split, a03);
    store(q1, first + 32u, o, split, a10); store(q1, first + 32u, o + 4u, split, a11); store(q1, first + 32u, o + 8u, split, a12); store(q1, first + 32u, o + 12u, split, a13);
    store(q2, first + 64u, o, split, a20); store(q2, first + 64u, o + 4u, split, a21); store(q2, first + 64u, o + 8u, split, a22); store(q2, first + 64u, o + 12u, split, a23);
    store(q3, first + 96u, o, split, a30); store(q3, first + 96u, o + 4u, split, a31); store(q3, first + 96u, o + 8u, split, a32); store(q3, first + 96u, o + 12u, split, a33);
}
