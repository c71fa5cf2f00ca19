// y = cond != 0 ? a : b, with numpy broadcasting of all three operands (see binary.wgsl).

struct Params {
    n: u32,
    rank: u32,
    _pad: vec2<u32>,
    shape: array<vec4<u32>, 2>,
    sc: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
    sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> c: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn at(arr: array<vec4<u32>, 2>, d: u32) -> u32 {
    return arr[d / 4u][d % 4u];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.n) { return; }
    var rem = t;
    var ic = 0u;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
        let s = at(p.shape, u32(d));
        let idx = rem % s;
        rem = rem / s;
        ic += idx * at(p.sc, u32(d));
        ia += idx * at(p.sa, u32(d));
        ib += idx * at(p.sb, u32(d));
    }
    y[t] = select(b[ib], a[ia], c[ic] != 0.0);
}
