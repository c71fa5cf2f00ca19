// Index of the first maximum along the middle axis of a [outer, n, inner] view (u32 output).

struct Params {
    outer: u32,
    n: u32,
    inner: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.outer * p.inner) { return; }
    let i = t % p.inner;
    let o = t / p.inner;
    let base = o * p.n * p.inner + i;
    var best = x[base];
    var arg = 0u;
    for (var r = 1u; r < p.n; r++) {
        let v = x[base + r * p.inner];
        if (v > best) {
            best = v;
            arg = r;
        }
    }
    y[t] = arg;
}
