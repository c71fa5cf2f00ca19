// y[i] = start + step·i: zeros, ones, full and arange.

struct Params {
    n: u32,
    _pad: u32,
    start: f32,
    step: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t < p.n) {
        y[t] = p.start + p.step * f32(t);
    }
}
