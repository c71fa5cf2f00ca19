// Weight gradient for real GPUs: dW[o, col] = Σ_k dy[b, o, oy, ox] · x[b, c, oy·s + ky − pad,
// ox·s + kx − pad] with col = (c, ky, kx) and k = (b, oy, ox), as a GEMM with workgroup-memory
// tiles gathered straight from the NCHW buffers. M × N = O × C·KH·KW is small and K = B·OH·OW
// large, so K is split: grid z = split s, covering k in [s·k_len, (s+1)·k_len), writing its
// partial dW at s·wsize; the host sums the partials in order (deterministic, no atomics).
// Tile: (4·WG_Y output channels) x (4·WG_X columns) x BK pixels, 4x4 outputs per thread.
// Consecutive threads load consecutive pixels (coalesced rows of dy and x).

struct Params {
    pixels: u32,
    ohw: u32,
    ow: u32,
    o: u32,
    c: u32,
    h: u32,
    w: u32,
    kw: u32,
    khw: u32,
    s: u32,
    pad: u32,
    cols: u32,    // C · KH · KW
    k_len: u32,
    wsize: u32,   // O · cols
    _p0: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> D: array<f32>;
@group(0) @binding(3) var<storage, read_write> P: array<f32>;

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
const BK: u32 = 16u;

// As[kk·WG_Y + q]: output channels 4q.. at pixel kk; Bs[kk·WG_X + q]: columns 4q.. at pixel kk.
var<workgroup> As: array<vec4<f32>, BK * WG_Y>;
var<workgroup> Bs: array<vec4<f32>, BK * WG_X>;

// dy of output channels o..o+3 at pixel k (zero past k1 or O).
fn load_a(o: u32, k: u32, k1: u32) -> vec4<f32> {
    let kc = min(k, p.pixels - 1u);
    let b = kc / p.ohw;
    let r = kc - b * p.ohw;
    let oo = vec4<u32>(o) + vec4<u32>(0u, 1u, 2u, 3u);
    let i = (b * p.o + min(oo, vec4<u32>(p.o - 1u))) * p.ohw + r;
    let ok = oo < vec4<u32>(p.o) & vec4<bool>(k < k1);
    return select(vec4<f32>(0.0), vec4<f32>(D[i.x], D[i.y], D[i.z], D[i.w]), ok);
}

// x under columns col..col+3 at pixel k (zero in the padding, past k1 or past the columns).
fn load_b(col: u32, k: u32, k1: u32) -> vec4<f32> {
    let kc = min(k, p.pixels - 1u);
    let b = kc / p.ohw;
    let r = kc - b * p.ohw;
    let oy = r / p.ow;
    let ox = r - oy * p.ow;
    let cc = vec4<u32>(col) + vec4<u32>(0u, 1u, 2u, 3u);
    let cl = min(cc, vec4<u32>(p.cols - 1u));
    let c = cl / p.khw;
    let t = cl - c * p.khw;
    let ky = t / p.kw;
    let kx = t - ky * p.kw;
    let iy = vec4<i32>(oy * p.s + ky) - i32(p.pad);
    let ix = vec4<i32>(ox * p.s + kx) - i32(p.pad);
    let ok = cc < vec4<u32>(p.cols) & vec4<bool>(k < k1) & (iy >= vec4<i32>(0))
        & (iy < vec4<i32>(i32(p.h))) & (ix >= vec4<i32>(0)) & (ix < vec4<i32>(i32(p.w)));
    let cy = vec4<u32>(clamp(iy, vec4<i32>(0), vec4<i32>(i32(p.h) - 1)));
    let cx = vec4<u32>(clamp(ix, vec4<i32>(0), vec4<i32>(i32(p.w) - 1)));
    let i = ((b * p.c + c) * p.h + cy) * p.w + cx;
    return select(vec4<f32>(0.0), vec4<f32>(X[i.x], X[i.y], X[i.z], X[i.w]), ok);
}

fn store4(base: u32, o: u32, col: u32, v: vec4<f32>) {
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

@compute @workgroup_size(WG_X, WG_Y, 1)
fn wgrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let split = wg.z;
    let n0 = wg.x * 4u * WG_X;
    let m0 = wg.y * 4u * WG_Y;
    let threads = WG_X * WG_Y;
    let tid = lid.y * WG_X + lid.x;
    let k0 = min(split * p.k_len, p.pixels);
    let k1 = min(k0 + p.k_len, p.pixels);
    var acc = mat4x4<f32>();
    for (var kt = k0; kt < k1; kt += BK) {
        for (var v = tid; v < BK * WG_Y; v += threads) {
            let kk = v % BK;
            let q = v / BK;
            As[kk * WG_Y + q] = load_a(m0 + 4u * q, kt + kk, k1);
        }
        for (var v = tid; v < BK * WG_X; v += threads) {
            let kk = v % BK;
            let q = v / BK;
            Bs[kk * WG_X + q] = load_b(n0 + 4u * q, kt + kk, k1);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let a = As[kk * WG_Y + lid.y];
            let b = Bs[kk * WG_X + lid.x];
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
        workgroupBarrier();
    }
    let base = split * p.wsize;
    let o = m0 + 4u * lid.y;
    let col = n0 + 4u * lid.x;
    store4(base, o, col, acc[0]);
    store4(base, o + 1u, col, acc[1]);
    store4(base, o + 2u, col, acc[2]);
    store4(base, o + 3u, col, acc[3]);
}
