// Elementwise binary ops with numpy broadcasting. The host collapses dimensions that are
// contiguous for both operands, so same-shape operands arrive as rank 1 and skip the index maths.

struct Params {
    n: u32,
    _pad0: u32,
    rank: u32,
    _pad: u32,
    alpha: f32,
    beta: f32,
    _pad2: vec2<f32>,
    shape: array<vec4<u32>, 2>,   // output shape, up to rank 8
    sa: array<vec4<u32>, 2>,      // element strides of a (0 on broadcast dims)
    sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// The op is a pipeline constant, not a uniform: llvmpipe runs every case of a switch on a
// uniform value under lane masks, which made `add` 2.5x slower than with the op folded in.
override OP: u32 = 0u;
// Consecutive elements per invocation (see ops::items_per_invocation).
override ITEMS: u32 = 1u;
// vec4s per invocation of the GPU vec4 path (grid-stride).
const VEC4_ITEMS: u32 = 4u;

fn apply(op: u32, u: f32, v: f32) -> f32 {
    switch op {
        case 0u: { return u + v; }
        case 1u: { return u - v; }
        case 2u: { return u * v; }
        case 3u: { return u / v; }
        case 4u: { return max(u, v); }
        case 5u: { return min(u, v); }
        case 6u: { return select(0.0, 1.0, u > v); }
        case 7u: { return select(0.0, v, u > 0.0); }                       // relu backward: u = x, v = g
        case 8u: { return select(p.alpha * v, v, u > 0.0); }               // leaky_relu backward
        case 9u: { return select(0.0, v, u > p.alpha && u < p.beta); }     // clamp backward
        case 10u: { return pow(u, v); }
        case 11u: { return select(0.0, 1.0, u == v); }
        case 12u: { return select(0.0, 1.0, u < v); }
        case 13u: { return v - v * u; }                                      // g - g·mask: u = mask, v = g
        default: { return u; }
    }
}

// Offsets of output element i in a and b. Rank 1 (same-shape or scalar operands after collapsing)
// needs no division: lavapipe has no vector integer divide, so `%` and `/` run lane by lane.
fn offsets(i: u32) -> vec2<u32> {
    if (p.rank == 1u) {
        return i * vec2<u32>(p.sa[0].x, p.sb[0].x);
    }
    var rem = i;
    var o = vec2<u32>(0u);
    for (var d = p.rank; d > 0u; d--) {
        let k = d - 1u;
        let s = p.shape[k / 4u][k % 4u];
        let idx = rem % s;
        rem = rem / s;
        o += idx * vec2<u32>(p.sa[k / 4u][k % 4u], p.sb[k / 4u][k % 4u]);
    }
    return o;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    let first = t * ITEMS;
    let last = min(first + ITEMS, p.n);
    // Same-shape operands: no index maths at all.
    if (p.rank == 1u && p.sa[0].x == 1u && p.sb[0].x == 1u) {
        for (var i = first; i < last; i++) {
            y[i] = apply(OP, a[i], b[i]);
        }
        return;
    }
    for (var i = first; i < last; i++) {
        let o = offsets(i);
        y[i] = apply(OP, a[o.x], b[o.y]);
    }
}

// Same-shape operands on software adapters, read through textures (see ops::texture_rows): one
// texel (4 elements) per step, written as one vec4.
@group(0) @binding(1) var ta: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var tb: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;

const TEX_W: u32 = 1024u;

@compute @workgroup_size(64)
fn tex(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let first = (gid.x + gid.y * nwg.x * 64u) * ITEMS;
    let last = min(first + ITEMS, p.n / 4u);
    for (var i = first; i < last; i++) {
        let c = vec2<u32>(i % TEX_W, i / TEX_W);
        let u = textureLoad(ta, c);
        let v = textureLoad(tb, c);
        y4[i] = vec4<f32>(apply(OP, u.x, v.x), apply(OP, u.y, v.y), apply(OP, u.z, v.z), apply(OP, u.w, v.w));
    }
}

// Same-shape operands on GPUs: vec4 loads and stores, four elements per invocation (a scalar
// per invocation reached 39% of the copy bandwidth on an H100).
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn flat4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // Grid-stride over vec4s, VEC4_ITEMS per invocation: neighbouring lanes stay on neighbouring
    // addresses at every step (coalesced), with fewer, fuller workgroups.
    let threads = nwg.x * nwg.y * 64u;
    let t = gid.x + gid.y * nwg.x * 64u;
    for (var k = 0u; k < VEC4_ITEMS; k++) {
        let i = t + k * threads;
        if (i >= p.n / 4u) { return; }
        let u = a4[i];
        let v = b4[i];
        y4[i] = vec4<f32>(apply(OP, u.x, v.x), apply(OP, u.y, v.y), apply(OP, u.z, v.z), apply(OP, u.w, v.w));
    }
}
