// Strided copy: the one kernel behind permute, transpose, slice, broadcast_to and concat.
// y[out_off + Σ idx_d·so_d] = x[in_off + Σ idx_d·si_d] over the index space `shape`.
// u32 words so f32 and u32 tensors both copy bit-exactly.

struct Params {
    n: u32,
    rank: u32,
    in_off: u32,
    out_off: u32,
    shape: array<vec4<u32>, 2>,
    si: array<vec4<u32>, 2>,
    so: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<u32>;

fn at(arr: array<vec4<u32>, 2>, d: u32) -> u32 {
    return arr[d / 4u][d % 4u];
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.n) { return; }
    var rem = t;
    var ii = p.in_off;
    var io = p.out_off;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
        let s = at(p.shape, u32(d));
        let idx = rem % s;
        rem = rem / s;
        ii += idx * at(p.si, u32(d));
        io += idx * at(p.so, u32(d));
    }
    y[io] = x[ii];
}
