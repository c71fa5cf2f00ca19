// Weight gradient for software adapters without packing: x and dy are read in place from
// linear copies of their NCHW buffers (texel = 4 consecutive elements of a row), for the common
// case W % 4 = 0, OW % 4 = 0, stride 1 or 2. Packing (conv2d_pack.wgsl) costs a texel store per
// 4 elements, which on llvmpipe is a per-lane scalar loop: for the weight gradient, whose
// reduction is only as long as the pixels, it took as long as the products.
//
// dW[o, c, ky, kx] = Σ_{b, oy, ox} dy[b, o, oy, ox] · x[b, c, oy·s + ky − pad, ox·s + kx − pad].
// A reduction step is a quad of 4 consecutive output pixels ox0..ox0+3 of one row (ox0 % 4 = 0):
// dy of one output channel there is one texel, and x of one (c, ky, kx) column is a window of
// 4 elements at stride s starting at ix0 = ox0·s + kx − pad (2 texels shifted for s = 1, 3
// texels picked for s = 2; the shift depends on the column only). A lane owns a fixed run of
// quads (one split of K = B·OH·OW, partial dW written at split · wsize, summed in order by the
// host: deterministic, no atomics) and computes 16 output channels x 16 columns: per quad 16 dy
// and 32-48 x texel loads feed 1024 multiply-adds, each accumulator written once.
// Grid: (split groups of 8 lanes, column tiles of 16, output-channel tiles of 16).

struct Params {
    quads: u32,    // B · OH · OW / 4
    q_row: u32,    // OW / 4
    len: u32,      // quads per split
    oh: u32,
    ow: u32,
    s: u32,        // 1 or 2
    pad: u32,
    h: u32,
    w: u32,
    c: u32,
    o: u32,
    kw: u32,
    taps: u32,     // KH · KW
    cols: u32,     // C · KH · KW (columns are c-major, as in dW)
    wsize: u32,    // O · cols
    x_img: u32,    // C · H · W
    d_img: u32,    // O · OH · OW
    x_last: u32,   // last texel of each texture
    d_last: u32,
    x_wl: u32,     // log2 of the texture widths
    d_wl: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var X: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var D: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> P: array<f32>;

fn lx(t: i32) -> vec4<f32> {
    let c = u32(clamp(t, 0, i32(p.x_last)));
    return textureLoad(X, vec2<u32>(c & ((1u << p.x_wl) - 1u), c >> p.x_wl));
}

fn ld(t: u32) -> vec4<f32> {
    let c = min(t, p.d_last);
    return textureLoad(D, vec2<u32>(c & ((1u << p.d_wl) - 1u), c >> p.d_wl));
}

// x elements e, e + s, e + 2s, e + 3s (e may be negative at the left edge: those are masked).
// Constant-index swizzles only: a dynamic vector index would spill the vector on llvmpipe.
fn window(e: i32) -> vec4<f32> {
    let t = e >> 2u;
    let r = e & 3;
    let a = lx(t);
    let b = lx(t + 1);
    if (p.s == 1u) {
        let v = select(a, vec4<f32>(a.yzw, b.x), r == 1);
        return select(select(v, vec4<f32>(a.zw, b.xy), r == 2), vec4<f32>(a.w, b.xyz), r == 3);
    }
    let c = lx(t + 2);
    let v = select(vec4<f32>(a.x, a.z, b.x, b.z), vec4<f32>(a.y, a.w, b.y, b.w), r == 1);
    return select(select(v, vec4<f32>(a.z, b.x, b.z, c.x), r == 2), vec4<f32>(a.w, b.y, b.w, c.y), r == 3);
}

// Column `col` (c, ky, kx) of the tile: x plane offset, ky, kx − pad (col ≥ cols clamped).
struct Col {
    plane: u32,
    ky: u32,
    dx: i32,
}

fn column(col: u32) -> Col {
    let cc = min(col, p.cols - 1u);
    let c = cc / p.taps;
    let t = cc - c * p.taps;
    let ky = t / p.kw;
    return Col(c * p.h * p.w, ky, i32(t - ky * p.kw) - i32(p.pad));
}

// The 4 pixels' x under column k at output row oy, quad ox0 of an image at element `img`;
// zero outside x.
fn xcol(k: Col, img: u32, oy: u32, ox0: u32) -> vec4<f32> {
    let iy = i32(oy * p.s + k.ky) - i32(p.pad);
    let ix0 = i32(ox0 * p.s) + k.dx;
    let ix = vec4<i32>(ix0) + vec4<i32>(0, 1, 2, 3) * i32(p.s);
    let inside = ix >= vec4<i32>(0) & ix < vec4<i32>(i32(p.w)) & vec4<bool>(iy >= 0 && iy < i32(p.h));
    let row = i32(img + k.plane) + clamp(iy, 0, i32(p.h) - 1) * i32(p.w);
    return select(vec4<f32>(0.0), window(row + ix0), inside);
}

// Column u: columns u of the quad (4 pixels each).
fn xblock(a: Col, b: Col, c: Col, d: Col, img: u32, oy: u32, ox0: u32) -> mat4x4<f32> {
    return mat4x4<f32>(xcol(a, img, oy, ox0), xcol(b, img, oy, ox0), xcol(c, img, oy, ox0),
        xcol(d, img, oy, ox0));
}

// Column e: output channels of quad `ch` (dy element offsets) at pixel e.
fn dblock(e0: u32, ch: vec4<u32>) -> mat4x4<f32> {
    return transpose(mat4x4<f32>(ld((e0 + ch.x) >> 2u), ld((e0 + ch.y) >> 2u), ld((e0 + ch.z) >> 2u),
        ld((e0 + ch.w) >> 2u)));
}

// acc column u (4 output channels at column u) += Σ_e d[e] · x[u][e].
fn madd(acc: ptr<function, mat4x4<f32>>, d: mat4x4<f32>, x: mat4x4<f32>) {
    (*acc)[0] += d[0] * x[0].x + d[1] * x[0].y + d[2] * x[0].z + d[3] * x[0].w;
    (*acc)[1] += d[0] * x[1].x + d[1] * x[1].y + d[2] * x[1].z + d[3] * x[1].w;
    (*acc)[2] += d[0] * x[2].x + d[1] * x[2].y + d[2] * x[2].z + d[3] * x[2].w;
    (*acc)[3] += d[0] * x[3].x + d[1] * x[3].y + d[2] * x[3].z + d[3] * x[3].w;
}

// Output o, columns col..col+3, into partial `base` (guarded).
fn store_row(base: u32, o: u32, col: u32, v: vec4<f32>) {
    if (o >= p.o) {
        return;
    }
    let i = base + o * p.cols + col;
    if (col < p.cols) {
        P[i] = v.x;
    }
    if (col + 1u < p.cols) {
        P[i + 1u] = v.y;
    }
    if (col + 2u < p.cols) {
        P[i + 2u] = v.z;
    }
    if (col + 3u < p.cols) {
        P[i + 3u] = v.w;
    }
}

// acc column u: outputs o..o+3 at column col + u.
fn store(base: u32, o: u32, col: u32, acc: mat4x4<f32>) {
    let t = transpose(acc);
    store_row(base, o, col, t[0]);
    store_row(base, o + 1u, col, t[1]);
    store_row(base, o + 2u, col, t[2]);
    store_row(base, o + 3u, col, t[3]);
}

@compute @workgroup_size(8, 1, 1)
fn wgrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let split = wg.x * 8u + lid.x;
    let first = min(split * p.len, p.quads);
    let last = min(first + p.len, p.quads);
    // The run's first quad (divisions once per lane).
    let per_img = p.oh * p.q_row;
    let b = first / per_img;
    var oy = (first - b * per_img) / p.q_row;
    var qx = first - b * per_img - oy * p.q_row;
    var ximg = b * p.x_img;
    var dimg = b * p.d_img;
    let col = 16u * wg.y;
    let k0 = column(col); let k1 = column(col + 1u); let k2 = column(col + 2u); let k3 = column(col + 3u);
    let k4 = column(col + 4u); let k5 = column(col + 5u); let k6 = column(col + 6u); let k7 = column(col + 7u);
    let k8 = column(col + 8u); let k9 = column(col + 9u); let k10 = column(col + 10u); let k11 = column(col + 11u);
    let k12 = column(col + 12u); let k13 = column(col + 13u); let k14 = column(col + 14u); let k15 = column(col + 15u);
    // dy element offsets within an image of the tile's 16 output channels (clamped).
    let o = 16u * wg.z;
    let lanes = vec4<u32>(0u, 1u, 2u, 3u);
    let ohw = p.oh * p.ow;
    let ch0 = min(vec4<u32>(o) + lanes, vec4<u32>(p.o - 1u)) * ohw;
    let ch1 = min(vec4<u32>(o + 4u) + lanes, vec4<u32>(p.o - 1u)) * ohw;
    let ch2 = min(vec4<u32>(o + 8u) + lanes, vec4<u32>(p.o - 1u)) * ohw;
    let ch3 = min(vec4<u32>(o + 12u) + lanes, vec4<u32>(p.o - 1u)) * ohw;
    // aij: output channels 4i.. x columns 4j...
    var a00 = mat4x4<f32>(); var a01 = mat4x4<f32>(); var a02 = mat4x4<f32>(); var a03 = mat4x4<f32>();
    var a10 = mat4x4<f32>(); var a11 = mat4x4<f32>(); var a12 = mat4x4<f32>(); var a13 = mat4x4<f32>();
    var a20 = mat4x4<f32>(); var a21 = mat4x4<f32>(); var a22 = mat4x4<f32>(); var a23 = mat4x4<f32>();
    var a30 = mat4x4<f32>(); var a31 = mat4x4<f32>(); var a32 = mat4x4<f32>(); var a33 = mat4x4<f32>();
    for (var t = first; t < last; t++) {
        let ox0 = 4u * qx;
        let e0 = dimg + oy * p.ow + ox0;
        let d0 = dblock(e0, ch0);
        let d1 = dblock(e0, ch1);
        let d2 = dblock(e0, ch2);
        let d3 = dblock(e0, ch3);
        let x0 = xblock(k0, k1, k2, k3, ximg, oy, ox0);
        let x1 = xblock(k4, k5, k6, k7, ximg, oy, ox0);
        let x2 = xblock(k8, k9, k10, k11, ximg, oy, ox0);
        let x3 = xblock(k12, k13, k14, k15, ximg, oy, ox0);
        madd(&a00, d0, x0); madd(&a01, d0, x1); madd(&a02, d0, x2); madd(&a03, d0, x3);
        madd(&a10, d1, x0); madd(&a11, d1, x1); madd(&a12, d1, x2); madd(&a13, d1, x3);
        madd(&a20, d2, x0); madd(&a21, d2, x1); madd(&a22, d2, x2); madd(&a23, d2, x3);
        madd(&a30, d3, x0); madd(&a31, d3, x1); madd(&a32, d3, x2); madd(&a33, d3, x3);
        // Next quad: along the row, then the next row, then the next image.
        qx += 1u;
        let rw = qx == p.q_row;
        qx = select(qx, 0u, rw);
        oy = select(oy, oy + 1u, rw);
        let iw = oy == p.oh;
        oy = select(oy, 0u, iw);
        ximg = select(ximg, ximg + p.x_img, iw);
        dimg = select(dimg, dimg + p.d_img, iw);
    }
    let base = split * p.wsize;
    store(base, o, col, a00); store(base, o, col + 4u, a01); store(base, o, col + 8u, a02); store(base, o, col + 12u, a03);
    store(base, o + 4u, col, a10); store(base, o + 4u, col + 4u, a11); store(base, o + 4u, col + 8u, a12); store(base, o + 4u, col + 12u, a13);
    store(base, o + 8u, col, a20); store(base, o + 8u, col + 4u, a21); store(base, o + 8u, col + 8u, a22); store(base, o + 8u, col + 12u, a23);
    store(base, o + 12u, col, a30); store(base, o + 12u, col + 4u, a31); store(base, o + 12u, col + 8u, a32); store(base, o + 12u, col + 12u, a33);
}
