// Reductions over the middle axis of a [outer, n, inner] view, deterministic and atomic-free.
// Each invocation owns one (outer, chunk, inner) output and loops over its chunk of n in order, so
// neighbouring invocations read neighbouring memory when inner > 1. A long axis with few outputs
// is split into chunks and reduced again by a second dispatch of the same kernel.

struct Params {
    outer: u32,
    n: u32,
    inner: u32,
    chunk: u32,   // elements of n per output; chunks = ceil(n / chunk)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn flat_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

@compute @workgroup_size(64)
fn sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let chunks = (p.n + p.chunk - 1u) / p.chunk;
    let t = flat_id(gid, nwg);
    if (t >= p.outer * chunks * p.inner) { return; }
    let i = t % p.inner;
    let c = (t / p.inner) % chunks;
    let o = t / (p.inner * chunks);
    let base = o * p.n * p.inner + i;
    let end = min(p.n, (c + 1u) * p.chunk);
    var acc = 0.0;
    for (var r = c * p.chunk; r < end; r++) {
        acc += x[base + r * p.inner];
    }
    y[t] = acc;
}

@compute @workgroup_size(64)
fn max_(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let chunks = (p.n + p.chunk - 1u) / p.chunk;
    let t = flat_id(gid, nwg);
    if (t >= p.outer * chunks * p.inner) { return; }
    let i = t % p.inner;
    let c = (t / p.inner) % chunks;
    let o = t / (p.inner * chunks);
    let base = o * p.n * p.inner + i;
    let end = min(p.n, (c + 1u) * p.chunk);
    var acc = x[base + c * p.chunk * p.inner];
    for (var r = c * p.chunk + 1u; r < end; r++) {
        acc = max(acc, x[base + r * p.inner]);
    }
    y[t] = acc;
}
