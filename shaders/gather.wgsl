// index_select along the middle axis of [outer, n, inner]: y[o, j, i] = x[o, idx[j], i],
// and its adjoint index_add: dx[o, r, i] = Σ_{j: idx[j] = r} g[o, j, i], looped in j order so the
// sum is deterministic without atomics. Out-of-range indices read as p.oob (0, or NaN for
// embedding lookups) and get no gradient.

struct Params {
    outer: u32,
    n: u32,       // length of the indexed axis of x
    inner: u32,
    m: u32,       // number of indices
    oob: f32,     // what an out-of-range index reads
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn select_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.outer * p.m * p.inner) { return; }
    let i = t % p.inner;
    let j = (t / p.inner) % p.m;
    let o = t / (p.inner * p.m);
    let r = idx[j];
    dst[t] = select(p.oob, src[(o * p.n + min(r, p.n - 1u)) * p.inner + i], r < p.n);
}

@compute @workgroup_size(64)
fn add_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.outer * p.n * p.inner) { return; }
    let i = t % p.inner;
    let r = (t / p.inner) % p.n;
    let o = t / (p.inner * p.n);
    var acc = 0.0;
    for (var j = 0u; j < p.m; j++) {
        if (idx[j] == r) {
            acc += src[(o * p.m + j) * p.inner + i];
        }
    }
    dst[t] = acc;
}
