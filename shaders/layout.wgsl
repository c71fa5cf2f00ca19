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

// Consecutive elements per invocation (see ops::items_per_invocation).
override ITEMS: u32 = 1u;

// (input, output) offsets of element t. Rank 1 needs no division, which lavapipe runs lane by lane.
fn offsets(t: u32) -> vec2<u32> {
    if (p.rank == 1u) {
        return vec2<u32>(p.in_off, p.out_off) + t * vec2<u32>(p.si[0].x, p.so[0].x);
    }
    var rem = t;
    var o = vec2<u32>(p.in_off, p.out_off);
    for (var d = p.rank; d > 0u; d--) {
        let k = d - 1u;
        let s = p.shape[k / 4u][k % 4u];
        let idx = rem % s;
        rem = rem / s;
        o += idx * vec2<u32>(p.si[k / 4u][k % 4u], p.so[k / 4u][k % 4u]);
    }
    return o;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let first = (gid.x + gid.y * nwg.x * 64u) * ITEMS;
    let last = min(first + ITEMS, p.n);
    for (var t = first; t < last; t++) {
        let o = offsets(t);
        y[o.y] = x[o.x];
    }
}
