// Weight gradient for software adapters: dW[o, c, ky, kx] = Σ_{b, oy, ox} dy[b, o, oy, ox] ·
// x[b, c, oy·s + ky − pad, ox·s + kx − pad], from x and dy packed as padded NHWC4 textures
// (conv2d_pack.wgsl). M × N = O × C·KH·KW is tiny and K = B·OH·OW huge, so K is split: each
// lane is one split, a fixed run of consecutive pixels, and writes its own partial dW; the host
// sums the partials in order (deterministic, no atomics) and keeps each run within llvmpipe's
// loop budget. A lane computes 16 output channels (4 dy texels) x 4 texel columns of the
// (tap, channel quad) axis (16 values): per pixel 8 texel loads feed 256 multiply-adds.
// Grid: (split groups of 8 lanes, column tiles, channel tiles).

struct Params {
    pixels: u32,   // B · OH · OW
    len: u32,      // pixels per split
    ow: u32,
    oh: u32,
    // x (padded as for the forward pass): texel of output pixel (b, oy, ox) at tap (0, 0) is
    // ((b·x_hp + oy·s + x_y0)·x_wp + ox·s + x_x0)·x_c4n
    x_hp: u32,
    x_wp: u32,
    x_c4n: u32,
    s: u32,
    x_y0: u32,
    x_x0: u32,
    x_row: u32,    // texel step when ox wraps (mod 2^32), and when oy wraps
    x_img: u32,
    // dy: texel of (b, oy, ox) is ((b·d_hp + oy + d_y0)·d_wp + ox + d_x0)·d_c4n
    d_hp: u32,
    d_wp: u32,
    d_c4n: u32,
    d_y0: u32,
    d_x0: u32,
    d_row: u32,
    d_img: u32,
    cols: u32,     // texel columns: KH · KW · x_c4n, tap-major
    kw: u32,
    o: u32,
    c: u32,
    taps: u32,
    wsize: u32,    // O · C · KH · KW: elements between split partials
    x_wl: u32,
    d_wl: u32,
    _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var X: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var D: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> P: array<f32>;

fn lx(i: u32) -> vec4<f32> {
    return textureLoad(X, vec2<u32>(i & ((1u << p.x_wl) - 1u), i >> p.x_wl));
}

fn ld(i: u32) -> vec4<f32> {
    return textureLoad(D, vec2<u32>(i & ((1u << p.d_wl) - 1u), i >> p.d_wl));
}

// acc column u (channel u of the x texel) += dy texel (4 output channels) · x[u].
fn outer(acc: ptr<function, mat4x4<f32>>, d: vec4<f32>, x: vec4<f32>) {
    (*acc)[0] += d * x.x;
    (*acc)[1] += d * x.y;
    (*acc)[2] += d * x.z;
    (*acc)[3] += d * x.w;
}

// Texel column j of the tile: its x offset from the pixel's tap-(0, 0) texel, its tap and its
// first channel (col ≥ cols are clamped for the loads and never stored).
struct Col {
    off: u32,
    tap: u32,
    c: u32,
    ok: bool,
}

fn column(col: u32) -> Col {
    let cc = min(col, p.cols - 1u);
    let tap = cc / p.x_c4n;
    let c4 = cc - tap * p.x_c4n;
    let ky = tap / p.kw;
    let kx = tap - ky * p.kw;
    return Col((ky * p.x_wp + kx) * p.x_c4n + c4, tap, 4u * c4, col < p.cols);
}

// Row v of the tile: output o at channels col.c..col.c+3 of tap col.tap, into partial `base`.
fn store_row(base: u32, o: u32, col: Col, v: vec4<f32>) {
    if (!col.ok || o >= p.o) {
        return;
    }
    let i = base + (o * p.c + col.c) * p.taps + col.tap;
    if (col.c < p.c) {
        P[i] = v.x;
    }
    if (col.c + 1u < p.c) {
        P[i + p.taps] = v.y;
    }
    if (col.c + 2u < p.c) {
        P[i + 2u * p.taps] = v.z;
    }
    if (col.c + 3u < p.c) {
        P[i + 3u * p.taps] = v.w;
    }
}

// acc column u: outputs o..o+3 at channel col.c + u.
fn store(base: u32, o: u32, col: Col, acc: mat4x4<f32>) {
    let t = transpose(acc);
    store_row(base, o, col, t[0]);
    store_row(base, o + 1u, col, t[1]);
    store_row(base, o + 2u, col, t[2]);
    store_row(base, o + 3u, col, t[3]);
}

@compute @workgroup_size(8, 1, 1)
fn wgrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let split = wg.x * 8u + lid.x;
    let f0 = min(split * p.len, p.pixels);
    let f1 = min(f0 + p.len, p.pixels);
    // The run's first pixel (divisions once per lane).
    let ohw = p.oh * p.ow;
    let b = f0 / ohw;
    var oy = (f0 - b * ohw) / p.ow;
    var ox = f0 - b * ohw - oy * p.ow;
    var xa = ((b * p.x_hp + oy * p.s + p.x_y0) * p.x_wp + ox * p.s + p.x_x0) * p.x_c4n;
    var da = ((b * p.d_hp + oy + p.d_y0) * p.d_wp + ox + p.d_x0) * p.d_c4n;
    let c0 = column(4u * wg.y);
    let c1 = column(4u * wg.y + 1u);
    let c2 = column(4u * wg.y + 2u);
    let c3 = column(4u * wg.y + 3u);
    let o4 = min(vec4<u32>(4u * wg.z) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.d_c4n - 1u));
    // aij: output channels of dy texel i x x texel column j.
    var a00 = mat4x4<f32>(); var a01 = mat4x4<f32>(); var a02 = mat4x4<f32>(); var a03 = mat4x4<f32>();
    var a10 = mat4x4<f32>(); var a11 = mat4x4<f32>(); var a12 = mat4x4<f32>(); var a13 = mat4x4<f32>();
    var a20 = mat4x4<f32>(); var a21 = mat4x4<f32>(); var a22 = mat4x4<f32>(); var a23 = mat4x4<f32>();
    var a30 = mat4x4<f32>(); var a31 = mat4x4<f32>(); var a32 = mat4x4<f32>(); var a33 = mat4x4<f32>();
    for (var f = f0; f < f1; f++) {
        let d0 = ld(da + o4.x);
        let d1 = ld(da + o4.y);
        let d2 = ld(da + o4.z);
        let d3 = ld(da + o4.w);
        let x0 = lx(xa + c0.off);
        let x1 = lx(xa + c1.off);
        let x2 = lx(xa + c2.off);
        let x3 = lx(xa + c3.off);
        outer(&a00, d0, x0); outer(&a01, d0, x1); outer(&a02, d0, x2); outer(&a03, d0, x3);
        outer(&a10, d1, x0); outer(&a11, d1, x1); outer(&a12, d1, x2); outer(&a13, d1, x3);
        outer(&a20, d2, x0); outer(&a21, d2, x1); outer(&a22, d2, x2); outer(&a23, d2, x3);
        outer(&a30, d3, x0); outer(&a31, d3, x1); outer(&a32, d3, x2); outer(&a33, d3, x3);
        // Next pixel: ox, then oy, then the image.
        ox += 1u;
        xa += p.s * p.x_c4n;
        da += p.d_c4n;
        let rw = ox == p.ow;
        ox = select(ox, 0u, rw);
        oy = select(oy, oy + 1u, rw);
        xa += select(0u, p.x_row, rw);
        da += select(0u, p.d_row, rw);
        let iw = oy == p.oh;
        oy = select(oy, 0u, iw);
        xa += select(0u, p.x_img, iw);
        da += select(0u, p.d_img, iw);
    }
    let base = split * p.wsize;
    let o = 16u * wg.z;
    store(base, o, c0, a00); store(base, o, c1, a01); store(base, o, c2, a02); store(base, o, c3, a03);
    store(base, o + 4u, c0, a10); store(base, o + 4u, c1, a11); store(base, o + 4u, c2, a12); store(base, o + 4u, c3, a13);
    store(base, o + 8u, c0, a20); store(base, o + 8u, c1, a21); store(base, o + 8u, c2, a22); store(base, o + 8u, c3, a23);
    store(base, o + 12u, c0, a30); store(base, o + 12u, c1, a31); store(base, o + 12u, c2, a32); store(base, o + 12u, c3, a33);
}
