// Index of the first maximum along the middle axis of a [outer, n, inner] view, in chunks so no
// invocation loops past llvmpipe's loop budget. Each pass turns n candidates into ceil(n / chunk)
// (value, index) pairs; later passes read the indices of the previous one. Chunks are scanned in
// order with a strict `>`, so the first maximum wins across chunks as within one.

struct Params {
    outer: u32,
    n: u32,
    inner: u32,
    chunk: u32,
    first: u32,   // 1: candidate r is its own index; 0: read it from `cand`
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cand: array<u32>;
@group(0) @binding(3) var<storage, read_write> best: array<f32>;
@group(0) @binding(4) var<storage, read_write> arg: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let chunks = (p.n + p.chunk - 1u) / p.chunk;
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.outer * chunks * p.inner) { return; }
    let i = t % p.inner;
    let c = (t / p.inner) % chunks;
    let o = t / (p.inner * chunks);
    let base = o * p.n * p.inner + i;
    let start = c * p.chunk;
    let end = min(p.n, start + p.chunk);
    var v = x[base + start * p.inner];
    var at = start;
    for (var r = start + 1u; r < end; r++) {
        let w = x[base + r * p.inner];
        if (w > v) {
            v = w;
            at = r;
        }
    }
    best[t] = v;
    arg[t] = select(cand[base + at * p.inner], at, p.first == 1u);
}
