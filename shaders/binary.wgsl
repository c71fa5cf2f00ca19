// Elementwise binary ops with numpy broadcasting. The host collapses dimensions that are
// contiguous for both operands, so same-shape operands arrive as rank 1 and skip the index maths.

struct Params {
    n: u32,
    op: u32,
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

const ITEMS: u32 = 4u;

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
        default: { return u; }
    }
}

fn at(arr: array<vec4<u32>, 2>, d: u32) -> u32 {
    return arr[d / 4u][d % 4u];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let threads = nwg.x * 64u;
    let t = gid.x + gid.y * threads;
    let stride = threads * nwg.y;
    for (var k = 0u; k < ITEMS; k++) {
        let i = t + k * stride;
        if (i >= p.n) { return; }
        var rem = i;
        var ia = 0u;
        var ib = 0u;
        for (var d = i32(p.rank) - 1; d >= 0; d--) {
            let s = at(p.shape, u32(d));
            let idx = rem % s;
            rem = rem / s;
            ia += idx * at(p.sa, u32(d));
            ib += idx * at(p.sb, u32(d));
        }
        y[i] = apply(p.op, a[ia], b[ib]);
    }
}
