// Fused adjusted softmax cross-entropy (GCL's Gaussian-clouded logits, LDAM margins, logit-adjusted
// biases or per-label masks, class weights, focal modulation) over logits [rows, cols] with u32
// labels [rows]. Per row r with label y:
//
//   z_j = s·(x_j − ε·(δ_j·amp_j) − [j = y]·m_y) + bias[y·bias_stride + j]
//   δ_j = |clamp(sigma·N_j, −1, 1)|, N the standard normal Philox/Box–Muller draw that rng.wgsl
//         makes for element r·cols + j of a call at the same (seed, stream, counter)
//   ℓ = logsumexp(z) − z_y,  p = exp(−ℓ),  f = (1 − p)^γ (1 without focal)
//   stats[2r] = w·f·ℓ,  stats[2r + 1] = w   (w = weights[y], or 1)
//   grad[r, j] = s·w·g·(softmax(z)_j − [j = y]),  g = f (p detached) or d(f·ℓ)/dℓ
//
// The mean and the backward scale are cross_entropy.wgsl's `mean` and `backward` (same stats and
// grad layout). Each thread walks whole Philox blocks (4 consecutive elements) so the noise is
// drawn once per element: pass 1 computes z, keeps the online (max, sum) and, when a gradient is
// wanted, parks z in `grad`; pass 2 walks the same blocks (so a thread only rereads its own
// writes: no barrier) and turns z into the gradient. Entries as in cross_entropy.wgsl: *_row one
// invocation per row (lavapipe), *_wg one workgroup per row (GPUs, long rows). Prepended:
// philox.wgsl (philox, box_muller) and online_softmax.wgsl (push, merge, tree_stats).
// A label ≥ cols makes its row's loss, weight and gradient NaN.

struct Params {
    rows: u32,
    cols: u32,
    flags: u32,
    bias_stride: u32,  // 0: bias [cols] for every row; cols: bias [cols, cols], row y
    key0: u32,
    key1: u32,
    base_lo: u32,      // Philox block counter of element 0
    base_hi: u32,
    stream: u32,
    scale: f32,
    eps: f32,
    sigma: f32,
    gamma: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const WEIGHTED: u32 = 1u;
const WRITE_GRAD: u32 = 2u;
const CLOUD: u32 = 4u;
const MARGIN: u32 = 8u;
const BIAS: u32 = 16u;
const FOCAL: u32 = 32u;
const DETACH: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> amp: array<f32>;
@group(0) @binding(4) var<storage, read> margin: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read> weights: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;
@group(0) @binding(8) var<storage, read_write> grad: array<f32>;

// Threads per workgroup of the *_row entry, as in cross_entropy.wgsl.
override ROW_WG: u32 = 64u;

fn has(f: u32) -> bool {
    return (p.flags & f) != 0u;
}

fn nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

// What a row needs besides its logits.
struct Row {
    r: u32,
    base: u32,   // r·cols: first element of the row
    y: u32,      // label clamped into range (the NaN weight carries an out-of-range one)
    w: f32,
    m: f32,      // margin of the label, 0 without
    brow: u32,   // first bias element of the row
}

fn row_of(r: u32) -> Row {
    let label = labels[r];
    let y = min(label, p.cols - 1u);
    var w = 1.0;
    if (has(WEIGHTED)) {
        w = weights[y];
    }
    var m = 0.0;
    if (has(MARGIN)) {
        m = margin[y];
    }
    return Row(r, r * p.cols, y, select(nan(), w, label < p.cols), m, y * p.bias_stride);
}

// δ of the 4 elements of Philox block `blk` of this call (0 without a cloud), exactly as
// rng.wgsl's normal mode with a = 0, b = sigma would draw them, then clamped and folded.
fn noise(blk: u32) -> vec4<f32> {
    if (!has(CLOUD)) {
        return vec4<f32>(0.0);
    }
    let lo = p.base_lo + blk;
    let hi = p.base_hi + select(0u, 1u, lo < blk);
    let w = philox(vec4<u32>(lo, hi, p.stream, 0u), vec2<u32>(p.key0, p.key1));
    let n = p.sigma * vec4<f32>(box_muller(w.x, w.y), box_muller(w.z, w.w));
    return abs(clamp(n, vec4<f32>(-1.0), vec4<f32>(1.0)));
}

fn logit(row: Row, j: u32, d: f32) -> f32 {
    var v = x[row.base + j];
    if (has(CLOUD)) {
        v -= p.eps * (d * amp[j]);
    }
    v = p.scale * (v - select(0.0, row.m, j == row.y));
    if (has(BIAS)) {
        v += bias[row.brow + j];
    }
    return v;
}

// z of the label's column (one Philox block; picked by selects: a dynamic vector index spills).
fn target_logit(row: Row) -> f32 {
    let e = row.base + row.y;
    let d = noise(e >> 2u);
    let q = e & 3u;
    let dq = select(select(d.x, d.y, q == 1u), select(d.z, d.w, q == 3u), q >= 2u);
    return logit(row, row.y, dq);
}

// Pass 1 for one element of the row (e is its flat index): fold z into (max, sum), park it.
fn visit(ms: vec2<f32>, row: Row, e: u32, d: f32) -> vec2<f32> {
    let j = e - row.base;   // wraps past the row's ends: j ≥ cols
    if (j >= p.cols) {
        return ms;
    }
    let z = logit(row, j, d);
    if (has(WRITE_GRAD)) {
        grad[e] = z;
    }
    return push(ms, z);
}

// Blocks of the row: first and one past the last.
fn blocks(row: Row) -> vec2<u32> {
    return vec2<u32>(row.base >> 2u, (row.base + p.cols + 3u) >> 2u);
}

// (max, sum) over the blocks start, start + step, ... of the row, seeded with zy (a genuine
// element, so a valid lower bound of the max) at weight 0.
fn pass1(row: Row, start: u32, step: u32, zy: f32) -> vec2<f32> {
    var ms = vec2<f32>(zy, 0.0);
    let bl = blocks(row);
    for (var k = bl.x + start; k < bl.y; k += step) {
        let d = noise(k);
        let e = 4u * k;
        ms = visit(ms, row, e, d.x);
        ms = visit(ms, row, e + 1u, d.y);
        ms = visit(ms, row, e + 2u, d.z);
        ms = visit(ms, row, e + 3u, d.w);
    }
    return ms;
}

// Focal modulation of a row's loss ℓ: (f, g) with f = (1 − p)^γ and g the factor of the
// gradient. With q = 1 − p, d(f·ℓ)/dℓ = f + γ·p·ℓ·q^(γ−1) = f·(1 + γ·p·ℓ/q), where ℓ/q → 1 as
// ℓ → 0: no 0·∞ at a perfectly classified row.
fn focal(l: f32) -> vec2<f32> {
    if (!has(FOCAL)) {
        return vec2<f32>(1.0, 1.0);
    }
    let lc = max(l, 0.0);
    let pr = exp(-lc);
    // 1 − e^(−ℓ) cancels for small ℓ: its series there (error < ℓ⁴/24).
    let small = lc < 0.01;
    let q = select(1.0 - pr, lc * (1.0 - lc * (0.5 - lc / 6.0)), small);
    var f = 1.0;
    if (p.gamma != 0.0) {
        f = select(exp2(p.gamma * log2(q)), 0.0, q <= 0.0);
    }
    if (has(DETACH)) {
        return vec2<f32>(f, f);
    }
    let ratio = select(lc / q, 1.0 + lc * (0.5 + lc / 12.0), small);   // ℓ/q
    // p·ℓ/q → 0 as ℓ → ∞; the select keeps an infinite ℓ from making it 0·∞.
    return vec2<f32>(f, f * (1.0 + p.gamma * select(pr * ratio, 0.0, pr == 0.0)));
}

// Writes the row's stats (if `writer`) and returns the gradient's row factor s·w·g.
fn finish(row: Row, ms: vec2<f32>, zy: f32, writer: bool) -> f32 {
    // (max − z_y) + log s keeps full precision when |max| is large.
    let l = (ms.x - zy) + log(ms.y);
    let fg = focal(l);
    if (writer) {
        stats[2u * row.r] = row.w * fg.x * l;
        stats[2u * row.r + 1u] = row.w;
    }
    return p.scale * row.w * fg.y;
}

fn grad_at(row: Row, e: u32, ms: vec2<f32>, c: f32) {
    let j = e - row.base;
    if (j < p.cols) {
        grad[e] = exp(grad[e] - ms.x) * (c / ms.y) - select(0.0, c, j == row.y);
    }
}

// Pass 2 over the same blocks as pass 1: z (parked in grad) → c·(softmax − onehot).
fn pass2(row: Row, start: u32, step: u32, ms: vec2<f32>, c: f32) {
    if (!has(WRITE_GRAD)) { return; }
    let bl = blocks(row);
    for (var k = bl.x + start; k < bl.y; k += step) {
        let e = 4u * k;
        grad_at(row, e, ms, c);
        grad_at(row, e + 1u, ms, c);
        grad_at(row, e + 2u, ms, c);
        grad_at(row, e + 3u, ms, c);
    }
}

@compute @workgroup_size(ROW_WG)
fn rows_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * ROW_WG;
    if (r >= p.rows) { return; }
    let row = row_of(r);
    let zy = target_logit(row);
    let ms = pass1(row, 0u, 1u, zy);
    pass2(row, 0u, 1u, ms, finish(row, ms, zy, true));
}

// `r` is workgroup-uniform, so the early return keeps the barriers in uniform control flow.
@compute @workgroup_size(WG)
fn rows_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let r = wid.x + wid.y * nwg.x;
    if (r >= p.rows) { return; }
    let row = row_of(r);
    let zy = target_logit(row);
    let ms = tree_stats(lid, pass1(row, lid, WG, zy));
    pass2(row, lid, WG, ms, finish(row, ms, zy, lid == 0u));
}
