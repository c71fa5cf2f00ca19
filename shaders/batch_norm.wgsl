// Batch normalisation over NCHW (or [B, C], one pixel per plane). Forward: `reduce` (per-channel
// partial sums) → `finalize` (one invocation per channel: statistics, running-stat update, the
// per-channel affine) → `normalize`. Backward: `reduce` with GRAD → `grad_finalize` → `grad_x`.
// All sums run in a fixed order (no atomics): results are bit-identical run to run.
//
// Conditional BN (SAMPLE): a per-sample gain and bias [B, C], one value per plane, replace gamma
// and beta (batch statistics only). The backward reduction then also writes per-plane partials
// (flag bit 3) that `grad_sample` turns into the gain and bias gradients, and its per-channel
// sums are those of dx̂ = g'·gain, which is all `grad_finalize` needs for dx.
//
// Data is addressed in "units": single elements, or texels of 4 elements on the texture path
// (planes a multiple of 4 long, read through `TEX_W`-wide read-only storage textures).

struct Params {
    b: u32,
    c: u32,
    s: u32,          // units per plane
    hw: u32,         // elements per plane
    groups: u32,     // plane groups per channel (reduce)
    hs: u32,         // segments per plane (reduce)
    bseg: u32,       // planes per group
    sseg: u32,       // units per segment
    li_log2: u32,    // log2 of the lanes that stride along a plane; the other lanes stride planes
    parts: u32,      // partial sums per channel
    items: u32,      // units per invocation in normalize / grad_x
    mode: u32,       // 0 train, 1 eval, 2 batch statistics
    flags: u32,      // bit 0 relu, bit 1 gamma given, bit 2 beta given, bit 3 per-plane partials
    count: f32,      // B·H·W, the elements per channel
    eps: f32,
    momentum: f32,
}

const EVAL: u32 = 1u;
const TRAIN: u32 = 0u;
const TEX_W: u32 = 1024u;

// Reduce variants (pipeline constants): TREE sums the 64 lanes of a workgroup in workgroup
// memory and writes one partial (GPUs); otherwise every lane writes its own partial, as barriers
// are expensive on CPU adapters. GRAD accumulates (Σg', Σg'·(x − mean)) instead of the shifted
// (Σd, Σd²), d = x − x[b=0, c, 0].
override TREE: bool = false;
override GRAD: bool = false;
// Per-sample gain and bias (conditional BN); a pipeline constant so plain BN's code is unchanged.
override SAMPLE: bool = false;

@group(0) @binding(0) var<uniform> p: Params;

// Per-channel statistics from `finalize`: (mean, 1/sqrt(var + eps), gamma/sqrt(var + eps), beta).
// y = relu?((x − mean)·scale + beta); the backward recomputes this to mask the ReLU by the output.
fn affine(x: f32, st: vec4<f32>) -> f32 {
    return (x - st.x) * st.z + st.w;
}

fn affine4(x: vec4<f32>, st: vec4<f32>) -> vec4<f32> {
    return (x - st.x) * st.z + st.w;
}

fn relu_on() -> bool {
    return (p.flags & 1u) != 0u;
}

// A plane's statistics under a per-sample gain and bias: scale invstd·gain (gamma is absent, so
// st.z is invstd), shift bias. The forward and both backward passes build them the same way, so
// the ReLU mask the backward recomputes is exactly the forward's.
fn sample_stats(st: vec4<f32>, gain: f32, bias: f32) -> vec4<f32> {
    return vec4<f32>(st.x, st.y, st.z * gain, bias);
}

// g masked by the fused ReLU's output.
fn masked(g: f32, x: f32, st: vec4<f32>) -> f32 {
    return select(g, select(0.0, g, affine(x, st) > 0.0), relu_on());
}

fn masked4(g: vec4<f32>, x: vec4<f32>, st: vec4<f32>) -> vec4<f32> {
    return select(g, select(vec4<f32>(0.0), g, affine4(x, st) > vec4<f32>(0.0)), relu_on());
}

fn tex_coord(u: u32) -> vec2<u32> {
    return vec2<u32>(u & (TEX_W - 1u), u / TEX_W);
}

// ---- reduce: workgroup w = (channel, plane group, plane segment) -------------------------------

struct Slice {
    c: u32,
    gh: u32,         // group · hs + segment: the partial's index within the channel
    b0: u32,         // first plane of this lane
    b_end: u32,
    b_step: u32,
    i0: u32,         // first unit of this lane within a plane
    i_end: u32,
    i_step: u32,
    pl: u32,         // this lane's partial within a plane's per-plane partials (segment, lane)
}

fn slice_of(w: u32, lane: u32) -> Slice {
    let per_c = p.groups * p.hs;
    let c = w / per_c;
    let gh = w - c * per_c;
    let g = gh / p.hs;
    let h = gh - g * p.hs;
    let li_n = 1u << p.li_log2;
    let li = lane & (li_n - 1u);
    let lb = lane >> p.li_log2;
    let s0 = h * p.sseg;
    return Slice(c, gh, g * p.bseg + lb, min(p.b, (g + 1u) * p.bseg), 64u >> p.li_log2,
                 s0 + li, min(p.s, s0 + p.sseg), li_n, (h << p.li_log2) + li);
}

var<workgroup> tree: array<vec2<f32>, 64>;

@group(0) @binding(4) var<storage, read_write> part: array<vec2<f32>>;

// Writes the lane sums `a` as partials (see TREE). Called in uniform control flow.
fn store_partial(a: vec2<f32>, sl: Slice, lane: u32) {
    if (TREE) {
        tree[lane] = a;
        workgroupBarrier();
        for (var st = 32u; st > 0u; st >>= 1u) {
            if (lane < st) {
                tree[lane] += tree[lane + st];
            }
            workgroupBarrier();
        }
        if (lane == 0u) {
            part[sl.c * p.parts + sl.gh] = tree[0];
        }
    } else {
        part[sl.c * p.parts + sl.gh * 64u + lane] = a;
    }
}

// Per-plane partials follow the C·parts per-channel ones: hs·2^li_log2 per plane, one per
// (segment, lane along the plane), each written by exactly one lane.
fn plane_partials() -> u32 {
    return p.hs << p.li_log2;
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> fstats: array<vec4<f32>>;
// Per-sample gain and bias [B, C] of the reductions and grad_x (stand-ins without SAMPLE).
@group(0) @binding(5) var<storage, read> sgain: array<f32>;
@group(0) @binding(6) var<storage, read> sbias: array<f32>;

// A plane's statistics: the channel's, or with SAMPLE the plane's own gain and bias.
fn plane_stats(st: vec4<f32>, plane: u32) -> vec4<f32> {
    if (SAMPLE) {
        return sample_stats(st, sgain[plane], sbias[plane]);
    }
    return st;
}

// Ends a plane of a SAMPLE backward reduction: stores its sums (Σg', Σg'·(x − mean)) as a
// per-plane partial when the gain/bias gradients are wanted, and returns them times the gain,
// the plane's share of the channel sums of dx̂ = g'·gain.
fn plane_done(s: vec2<f32>, plane: u32, sl: Slice) -> vec2<f32> {
    if ((p.flags & 8u) != 0u) {
        part[p.c * p.parts + plane * plane_partials() + sl.pl] = s;
    }
    return s * sgain[plane];
}

@compute @workgroup_size(64)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lane: u32) {
    let w = wid.x + wid.y * nwg.x;
    if (w >= p.c * p.groups * p.hs) { return; }
    let sl = slice_of(w, lane);
    var st = vec4<f32>(0.0);
    if (GRAD) {
        st = fstats[sl.c];
    }
    let shift = x[sl.c * p.s];
    var a = vec2<f32>(0.0);
    for (var b = sl.b0; b < sl.b_end; b += sl.b_step) {
        let plane = b * p.c + sl.c;
        let base = plane * p.s;
        let sp = plane_stats(st, plane);
        var ap = vec2<f32>(0.0);
        for (var i = sl.i0; i < sl.i_end; i += sl.i_step) {
            let xv = x[base + i];
            if (GRAD) {
                let gv = masked(g[base + i], xv, sp);
                let t = vec2<f32>(gv, gv * (xv - st.x));
                if (SAMPLE) {
                    ap += t;
                } else {
                    a += t;
                }
            } else {
                let d = xv - shift;
                a += vec2<f32>(d, d * d);
            }
        }
        if (SAMPLE) {
            a += plane_done(ap, plane, sl);
        }
    }
    store_partial(a, sl, lane);
}

@group(0) @binding(1) var tx: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var tg: texture_storage_2d<rgba32float, read>;

@compute @workgroup_size(64)
fn reduce_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lane: u32) {
    let w = wid.x + wid.y * nwg.x;
    if (w >= p.c * p.groups * p.hs) { return; }
    let sl = slice_of(w, lane);
    var st = vec4<f32>(0.0);
    if (GRAD) {
        st = fstats[sl.c];
    }
    let shift = textureLoad(tx, tex_coord(sl.c * p.s)).x;
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var ac = vec2<f32>(0.0); // SAMPLE: the channel sums, gathered plane by plane
    for (var b = sl.b0; b < sl.b_end; b += sl.b_step) {
        let plane = b * p.c + sl.c;
        let base = plane * p.s;
        let sp = plane_stats(st, plane);
        for (var i = sl.i0; i < sl.i_end; i += sl.i_step) {
            let xv = textureLoad(tx, tex_coord(base + i));
            if (GRAD) {
                let gv = masked4(textureLoad(tg, tex_coord(base + i)), xv, sp);
                a1 += gv;
                a2 += gv * (xv - st.x);
            } else {
                let d = xv - shift;
                a1 += d;
                a2 += d * d;
            }
        }
        if (SAMPLE) {
            ac += plane_done(vec2<f32>(dot(a1, vec4<f32>(1.0)), dot(a2, vec4<f32>(1.0))), plane, sl);
            a1 = vec4<f32>(0.0);
            a2 = vec4<f32>(0.0);
        }
    }
    var s = vec2<f32>(dot(a1, vec4<f32>(1.0)), dot(a2, vec4<f32>(1.0)));
    if (SAMPLE) {
        s = ac;
    }
    store_partial(s, sl, lane);
}

// ---- finalize: one invocation per channel -------------------------------------------------------

@group(0) @binding(2) var<storage, read> part_in: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(6) var<storage, read_write> run_var: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<vec4<f32>>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

fn channel_sum(c: u32) -> vec2<f32> {
    var s = vec2<f32>(0.0);
    for (var j = 0u; j < p.parts; j++) {
        s += part_in[c * p.parts + j];
    }
    return s;
}

@compute @workgroup_size(64)
fn finalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat(gid, nwg);
    if (c >= p.c) { return; }
    var mean: f32;
    var v: f32;
    if (p.mode == EVAL) {
        mean = run_mean[c];
        v = run_var[c];
    } else {
        // Shifted sums: d = x − x[b=0, c, 0] keeps Σd² free of the cancellation Σx² − n·mean²
        // suffers when |mean| is large against the spread.
        let s = channel_sum(c);
        let dm = s.x / p.count;
        mean = x[c * p.hw] + dm;
        v = max(s.y / p.count - dm * dm, 0.0);
        if (p.mode == TRAIN) {
            let m = p.momentum;
            run_mean[c] = (1.0 - m) * run_mean[c] + m * mean;
            run_var[c] = (1.0 - m) * run_var[c] + m * v * (p.count / (p.count - 1.0));
        }
    }
    let invstd = 1.0 / sqrt(v + p.eps);
    let ga = select(1.0, gamma[c], (p.flags & 2u) != 0u);
    let be = select(0.0, beta[c], (p.flags & 4u) != 0u);
    stats[c] = vec4<f32>(mean, invstd, ga * invstd, be);
}

// From (Σg', Σg'·(x − mean)): dbeta = Σg', dgamma = Σg'·x̂, and the per-channel coefficients of
// dx = k·g' + (x − mean)·bc + dc. Through batch statistics (train, batch-stats modes)
// dx = k·(g' − dbeta/N − x̂·dgamma/N) with k = gamma·invstd; in eval the statistics are constants.
@group(0) @binding(1) var<storage, read> gpart: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> fstats_in: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> coef: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(64)
fn grad_finalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let c = flat(gid, nwg);
    if (c >= p.c) { return; }
    var s = vec2<f32>(0.0);
    for (var j = 0u; j < p.parts; j++) {
        s += gpart[c * p.parts + j];
    }
    let st = fstats_in[c];
    let db = s.x;
    let dg = s.y * st.y;
    dgamma[c] = dg;
    dbeta[c] = db;
    let k = st.z;
    var bc = 0.0;
    var dc = 0.0;
    if (p.mode != EVAL) {
        bc = -k * st.y * dg / p.count;
        dc = -k * db / p.count;
    }
    coef[c] = vec4<f32>(k, bc, dc, 0.0);
}

// Conditional BN's gain and bias gradients, one invocation per plane (n, c), from its per-plane
// partials in order: dbias = Σg', dgain = Σg'·x̂ = invstd·Σg'·(x − mean). A plane has at most
// 64·hs partials (hs ≤ 65 within a 128 MiB binding), far inside the loop budget.
@group(0) @binding(3) var<storage, read_write> dgain: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbias: array<f32>;

@compute @workgroup_size(64)
fn grad_sample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane = flat(gid, nwg);
    if (plane >= p.b * p.c) { return; }
    let n = plane_partials();
    let first = p.c * p.parts + plane * n;
    var s = vec2<f32>(0.0);
    for (var j = 0u; j < n; j++) {
        s += gpart[first + j];
    }
    dgain[plane] = s.y * fstats_in[plane % p.c].y;
    dbias[plane] = s.x;
}

// ---- normalize and grad_x: one invocation per run of `items` units of a plane ------------------

struct Run {
    plane: u32,
    first: u32,
    end: u32,
    ok: bool,
}

fn run_of(t: u32) -> Run {
    let runs = (p.s + p.items - 1u) / p.items;
    let plane = t / runs;
    let first = (t - plane * runs) * p.items;
    return Run(plane, first, min(first + p.items, p.s), plane < p.b * p.c);
}

@group(0) @binding(2) var<storage, read> nstats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4<f32>>;
// normalize's gain and bias: WGSL binds by number, so they follow its own three bindings.
@group(0) @binding(4) var<storage, read> ngain: array<f32>;
@group(0) @binding(5) var<storage, read> nbias: array<f32>;

fn normalize_stats(plane: u32) -> vec4<f32> {
    let st = nstats[plane % p.c];
    if (SAMPLE) {
        return sample_stats(st, ngain[plane], nbias[plane]);
    }
    return st;
}

@compute @workgroup_size(64)
fn normalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg));
    if (!r.ok) { return; }
    let st = normalize_stats(r.plane);
    for (var i = r.first; i < r.end; i++) {
        let v = affine(x[r.plane * p.s + i], st);
        y[r.plane * p.s + i] = select(v, max(v, 0.0), relu_on());
    }
}

@compute @workgroup_size(64)
fn normalize_tex(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg));
    if (!r.ok) { return; }
    let st = normalize_stats(r.plane);
    for (var i = r.first; i < r.end; i++) {
        let u = r.plane * p.s + i;
        let v = affine4(textureLoad(tx, tex_coord(u)), st);
        y4[u] = select(v, max(v, vec4<f32>(0.0)), relu_on());
    }
}

@group(0) @binding(4) var<storage, read> gcoef: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx4: array<vec4<f32>>;

// The coefficients of dx for a plane: with SAMPLE, g' is scaled by the plane's gain (dx̂ = g'·gain)
// before the channel's k = invstd.
fn plane_coef(plane: u32) -> vec4<f32> {
    let k = gcoef[plane % p.c];
    if (SAMPLE) {
        return vec4<f32>(k.x * sgain[plane], k.yzw);
    }
    return k;
}

@compute @workgroup_size(64)
fn grad_x(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg));
    if (!r.ok) { return; }
    let st = plane_stats(fstats[r.plane % p.c], r.plane);
    let k = plane_coef(r.plane);
    for (var i = r.first; i < r.end; i++) {
        let u = r.plane * p.s + i;
        let xv = x[u];
        dx[u] = k.x * masked(g[u], xv, st) + (xv - st.x) * k.y + k.z;
    }
}

@compute @workgroup_size(64)
fn grad_x_tex(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg));
    if (!r.ok) { return; }
    let st = plane_stats(fstats[r.plane % p.c], r.plane);
    let k = plane_coef(r.plane);
    for (var i = r.first; i < r.end; i++) {
        let u = r.plane * p.s + i;
        let xv = textureLoad(tx, tex_coord(u));
        dx4[u] = k.x * masked4(textureLoad(tg, tex_coord(u)), xv, st) + (xv - st.x) * k.y + k.z;
    }
}
