// Weight gradient for software adapters: dW[o, c, ky, kx] = Σ_{b, oy, ox} dy[b, o, oy, ox] ·
// x[b, c, oy·s + ky − pad, ox·s + kx − pad], from x and dy packed as padded NHWC4 textures
// (conv2d_pack.wgsl). M × N = O × C·KH·KW is tiny and K = B·OH·OW huge, so K is split: each
// lane is one split, a fixed run of consecutive pixels, and writes its own partial dW; the host
// sums the partials in order (deterministic, no atomics) and keeps each run within llvmpipe's
// loop budget. A lane computes 16 output channels (4 dy texels) x 4 texel columns of the
// (tap, channel quad) axis (16 values): per pixel 8 texel loads feed 256 multiply-adds, and the
// loop takes 4 pixels per trip so each accumulator is written once per 4 products (llvmpipe
// spills the 256 accumulators, so every write is a load and a store).
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

// acc column u (channel u of the x texels) += Σ_e d[e] · x[e][u] over the trip's 4 pixels e
// (d[e]: 4 output channels, x[e]: 4 input channels).
fn madd(acc: ptr<function, mat4x4<f32>>, d: mat4x4<f32>, x: mat4x4<f32>) {
    (*acc)[0] += d[0] * x[0].x + d[1] * x[1].x + d[2] * x[2].x + d[3] * x[3].x;
    (*acc)[1] += d[0] * x[0].y + d[1] * x[1].y + d[2] * x[2].y + d[3] * x[3].y;
    (*acc)[2] += d[0] * x[0].z + d[1] * x[1].z + d[2] * x[2].z + d[3] * x[3].z;
    (*acc)[3] += d[0] * x[0].w + d[1] * x[1].w + d[2] * x[2].w + d[3] * x[3].w;
}

// A pixel of the run: its position and the texels of its tap (0, 0) in x and dy.
struct Cursor {
    ox: u32,
    oy: u32,
    xa: u32,
    da: u32,
}

// The next pixel: ox, then oy, then the image.
fn next(c: Cursor) -> Cursor {
    var n = Cursor(c.ox + 1u, c.oy, c.xa + p.s * p.x_c4n, c.da + p.d_c4n);
    let rw = n.ox == p.ow;
    n.ox = select(n.ox, 0u, rw);
    n.oy = select(n.oy, n.oy + 1u, rw);
    n.xa += select(0u, p.x_row, rw);
    n.da += select(0u, p.d_row, rw);
    let iw = n.oy == p.oh;
    n.oy = select(n.oy, 0u, iw);
    n.xa += select(0u, p.x_img, iw);
    n.da += select(0u, p.d_img, iw);
    return n;
}

// The next pixel while it is still in the run (`more`), else the same one.
fn next_if(c: Cursor, more: bool) -> Cursor {
    let n = next(c);
    return Cursor(select(c.ox, n.ox, more), select(c.oy, n.oy, more), select(c.xa, n.xa, more),
        select(c.da, n.da, more));
}

// Column e: dy texel `o4` of the trip's pixel e (dy texels `da`), zero for pixels past the run.
fn dblock(da: vec4<u32>, o4: u32, valid: vec4<bool>) -> mat4x4<f32> {
    let z = vec4<f32>(0.0);
    return mat4x4<f32>(select(z, ld(da.x + o4), valid.x), select(z, ld(da.y + o4), valid.y),
        select(z, ld(da.z + o4), valid.z), select(z, ld(da.w + o4), valid.w));
}

// Column e: x texel column `off` of the trip's pixel e (x texels `xa`).
fn xblock(xa: vec4<u32>, off: u32) -> mat4x4<f32> {
    return mat4x4<f32>(lx(xa.x + off), lx(xa.y + off), lx(xa.z + off), lx(xa.w + off));
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
    let oy = (f0 - b * ohw) / p.ow;
    let ox = f0 - b * ohw - oy * p.ow;
    var cur = Cursor(ox, oy, ((b * p.x_hp + oy * p.s + p.x_y0) * p.x_wp + ox * p.s + p.x_x0) * p.x_c4n,
        ((b * p.d_hp + oy + p.d_y0) * p.d_wp + ox + p.d_x0) * p.d_c4n);
    let k0 = column(4u * wg.y);
    let k1 = column(4u * wg.y + 1u);
    let k2 = column(4u * wg.y + 2u);
    let k3 = column(4u * wg.y + 3u);
    let o4 = min(vec4<u32>(4u * wg.z) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.d_c4n - 1u));
    // aij: output channels of dy texel i x x texel column j.
    var a00 = mat4x4<f32>(); var a01 = mat4x4<f32>(); var a02 = mat4x4<f32>(); var a03 = mat4x4<f32>();
    var a10 = mat4x4<f32>(); var a11 = mat4x4<f32>(); var a12 = mat4x4<f32>(); var a13 = mat4x4<f32>();
    var a20 = mat4x4<f32>(); var a21 = mat4x4<f32>(); var a22 = mat4x4<f32>(); var a23 = mat4x4<f32>();
    var a30 = mat4x4<f32>(); var a31 = mat4x4<f32>(); var a32 = mat4x4<f32>(); var a33 = mat4x4<f32>();
    for (var f = f0; f < f1; f += 4u) {
        // The trip's pixels f..f+3; past the run they repeat the last one, with dy zeroed.
        let valid = vec4<u32>(f) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(f1);
        let c1 = next_if(cur, valid.y);
        let c2 = next_if(c1, valid.z);
        let c3 = next_if(c2, valid.w);
        let xa = vec4<u32>(cur.xa, c1.xa, c2.xa, c3.xa);
        let da = vec4<u32>(cur.da, c1.da, c2.da, c3.da);
        cur = next(c3);
        let d0 = dblock(da, o4.x, valid);
        let d1 = dblock(da, o4.y, valid);
        let d2 = dblock(da, o4.z, valid);
        let d3 = dblock(da, o4.w, valid);
        let x0 = xblock(xa, k0.off);
        let x1 = xblock(xa, k1.off);
        let x2 = xblock(xa, k2.off);
        let x3 = xblock(xa, k3.off);
        madd(&a00, d0, x0); madd(&a01, d0, x1); madd(&a02, d0, x2); madd(&a03, d0, x3);
        madd(&a10, d1, x0); madd(&a11, d1, x1); madd(&a12, d1, x2); madd(&a13, d1, x3);
        madd(&a20, d2, x0); madd(&a21, d2, x1); madd(&a22, d2, x2); madd(&a23, d2, x3);
        madd(&a30, d3, x0); madd(&a31, d3, x1); madd(&a32, d3, x2); madd(&a33, d3, x3);
    }
    let base = split * p.wsize;
    let o = 16u * wg.z;
    store(base, o, k0, a00); store(base, o, k1, a01); store(base, o, k2, a02); store(base, o, k3, a03);
    store(base, o + 4u, k0, a10); store(base, o + 4u, k1, a11); store(base, o + 4u, k2, a12); store(base, o + 4u, k3, a13);
    store(base, o + 8u, k0, a20); store(base, o + 8u, k1, a21); store(base, o + 8u, k2, a22); store(base, o + 8u, k3, a23);
    store(base, o + 12u, k0, a30); store(base, o + 12u, k1, a31); store(base, o + 12u, k2, a32); store(base, o + 12u, k3, a33);
}
