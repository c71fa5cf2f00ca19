// Implicit-GEMM convolution for real GPUs: workgroup-memory tiles of the virtual im2col matrix
// and of the weights, gathered straight from the NCHW storage buffers (no unfold in memory).
// One kernel runs every direct convolution of the family (forward: source x; input gradient:
// one dispatch per stride phase with source dy and flipped weights, see src/ops/conv2d/geom.rs):
//   out[b, n, ty, tx] = Σ_{ci, jy, jx} src[b, ci, ty·sy + jy + y0, tx·sx + jx + x0] · w[...]
// as C[m, n] = Σ_k A[m, k] B[k, n] with m = (b, ty, tx), k = (ci, jy, jx).
// Tile: (4·WG_Y pixels) x (4·WG_X channels) x BK, 4x4 outputs per thread (override constants,
// chosen by the host from the channel count). Each thread's A slots always hold the same 4
// pixels, so their coordinates are decoded once. Grid z = channel tiles · splits; a split
// covers k in [s·k_len, (s+1)·k_len) and writes its partial at offset s·os (the host sums them).

struct Params {
    pixels: u32,
    tyx: u32,
    tx: u32,
    n: u32,
    cin: u32,
    hin: u32,
    win: u32,
    sy: u32,
    sx: u32,
    y0: i32,
    x0: i32,
    tw: u32,
    thw: u32,     // th · tw
    ktot: u32,    // cin · th · tw
    wn: i32,
    wc: i32,
    wy: i32,
    wx: i32,
    w0: i32,
    wlen: u32,
    ob: u32,
    on: u32,
    oy: u32,
    ox: u32,
    o0: u32,
    os: u32,
    k_len: u32,
    splits: u32,
    bias: u32,
    _p0: u32,
    _p1: u32,
    _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> S: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<f32>;

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
const BK: u32 = 16u;

// As[kk·WG_Y + q]: pixels 4q..4q+3 of the tile at k = kk; Bs[kk·WG_X + q]: channels 4q..4q+3.
var<workgroup> As: array<vec4<f32>, BK * WG_Y>;
var<workgroup> Bs: array<vec4<f32>, BK * WG_X>;

// Four pixels of the tile: source image offset, top-left source coordinates, output index.
struct Pix {
    base: vec4<u32>,
    y: vec4<i32>,
    x: vec4<i32>,
    dst: vec4<u32>,
    ok: vec4<bool>,
}

fn pixels(first: u32) -> Pix {
    let m = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    let f = min(m, vec4<u32>(p.pixels - 1u));
    let b = f / p.tyx;
    let r = f - b * p.tyx;
    let ty = r / p.tx;
    let tx = r - ty * p.tx;
    return Pix(
        b * p.cin * p.hin * p.win,
        vec4<i32>(ty * p.sy) + p.y0,
        vec4<i32>(tx * p.sx) + p.x0,
        b * p.ob + ty * p.oy + tx * p.ox + p.o0,
        m < vec4<u32>(p.pixels));
}

// Source values of the 4 pixels at reduction index k (zero outside the source or past k1).
fn load_a(px: Pix, k: u32, k1: u32) -> vec4<f32> {
    let kc = min(k, p.ktot - 1u);
    let ci = kc / p.thw;
    let r = kc - ci * p.thw;
    let jy = r / p.tw;
    let jx = r - jy * p.tw;
    let iy = px.y + i32(jy);
    let ix = px.x + i32(jx);
    let inside = px.ok & (iy >= vec4<i32>(0)) & (iy < vec4<i32>(i32(p.hin))) & (ix >= vec4<i32>(0))
        & (ix < vec4<i32>(i32(p.win))) & vec4<bool>(k < k1);
    let cy = vec4<u32>(clamp(iy, vec4<i32>(0), vec4<i32>(i32(p.hin) - 1)));
    let cx = vec4<u32>(clamp(ix, vec4<i32>(0), vec4<i32>(i32(p.win) - 1)));
    let i = px.base + (ci * p.hin + cy) * p.win + cx;
    return select(vec4<f32>(0.0), vec4<f32>(S[i.x], S[i.y], S[i.z], S[i.w]), inside);
}

// Weights of channels n..n+3 at reduction index k.
fn load_b(n: u32, k: u32, k1: u32) -> vec4<f32> {
    let kc = min(k, p.ktot - 1u);
    let ci = kc / p.thw;
    let r = kc - ci * p.thw;
    let jy = r / p.tw;
    let jx = r - jy * p.tw;
    let nn = vec4<u32>(n) + vec4<u32>(0u, 1u, 2u, 3u);
    let i = vec4<i32>(nn) * p.wn + i32(ci) * p.wc + i32(jy) * p.wy + i32(jx) * p.wx + p.w0;
    let ic = vec4<u32>(clamp(i, vec4<i32>(0), vec4<i32>(i32(p.wlen) - 1)));
    let ok = nn < vec4<u32>(p.n) & vec4<bool>(k < k1);
    return select(vec4<f32>(0.0), vec4<f32>(W[ic.x], W[ic.y], W[ic.z], W[ic.w]), ok);
}

// Row v (channels n..n+3) of pixel `dst` when `ok`.
fn store4(ok: bool, dst: u32, n: u32, v: vec4<f32>, split: u32) {
    if (!ok) {
        return;
    }
    var b = vec4<f32>(0.0);
    if (p.bias == 1u && split == 0u) {
        let i = min(vec4<u32>(n) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n - 1u));
        b = vec4<f32>(bias[i.x], bias[i.y], bias[i.z], bias[i.w]);
    }
    let o = dst + split * p.os + n * p.on;
    if (n < p.n) {
        C[o] = v.x + b.x;
    }
    if (n + 1u < p.n) {
        C[o + p.on] = v.y + b.y;
    }
    if (n + 2u < p.n) {
        C[o + 2u * p.on] = v.z + b.z;
    }
    if (n + 3u < p.n) {
        C[o + 3u * p.on] = v.w + b.w;
    }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn conv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
    let split = wg.z % p.splits;
    let n0 = (wg.z / p.splits) * 4u * WG_X;
    let m0 = (wg.x + wg.y * nwg.x) * 4u * WG_Y;
    let threads = WG_X * WG_Y;
    let tid = lid.y * WG_X + lid.x;
    // A slots of this thread: consecutive threads take consecutive pixel quads (coalesced).
    let aq = tid % WG_Y;
    let apx = pixels(m0 + 4u * aq);
    let k0 = min(split * p.k_len, p.ktot);
    let k1 = min(k0 + p.k_len, p.ktot);
    var acc = mat4x4<f32>();
    for (var kt = k0; kt < k1; kt += BK) {
        for (var kk = tid / WG_Y; kk < BK; kk += threads / WG_Y) {
            As[kk * WG_Y + aq] = load_a(apx, kt + kk, k1);
        }
        for (var u = tid; u < BK * WG_X; u += threads) {
            let kk = u / WG_X;
            Bs[u] = load_b(n0 + 4u * (u % WG_X), kt + kk, k1);
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
    let px = pixels(m0 + 4u * lid.y);
    let n = n0 + 4u * lid.x;
    store4(px.ok.x, px.dst.x, n, acc[0], split);
    store4(px.ok.y, px.dst.y, n, acc[1], split);
    store4(px.ok.z, px.dst.z, n, acc[2], split);
    store4(px.ok.w, px.dst.w, n, acc[3], split);
}
