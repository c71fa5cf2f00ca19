// Fused softmax cross-entropy over logits [rows, cols] with u32 labels [rows] (llm.c's
// fused_classifier): one pass per row gives the row's loss AND its gradient, so backward is a
// single scale by the upstream gradient. A second single-workgroup pass takes the mean in a fixed
// order (no float atomics). Row variants as in softmax.wgsl: *_row one invocation per row, no
// barriers (lavapipe); *_wg one workgroup per row with a tree merge (GPUs, long rows). The
// online (max, sum) helpers come from online_softmax.wgsl, prepended by `kernel!`.
//
//   stats[2r]     = w_r · ℓ_r,  ℓ_r = logsumexp(x_r) − x_r[y_r]
//   stats[2r + 1] = w_r          (w_r = weights[y_r], or 1 unweighted)
//   grad[r, j]    = w_r · (softmax(x_r)_j − [j = y_r])
//   loss = Σ w·ℓ / Σ w,  inv_w = 1 / Σ w
//   backward: dx = grad · g · inv_w, one elementwise pass reading g on the GPU
// A label ≥ cols makes its row's loss, weight and gradient NaN (TAILGRAD_DEBUG=sync names the op).

struct Params {
    rows: u32,
    cols: u32,
    flags: u32,   // bit 0: weighted; bit 1: write grad
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

// `mean` and `backward` bind the same numbers to other variables; an entry point sees only its own.
@group(0) @binding(1) var<storage, read> row_stats: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> inv_w: array<f32>;

@group(0) @binding(1) var<storage, read> saved_grad: array<f32>;
@group(0) @binding(2) var<storage, read> upstream: array<f32>;   // g, shape [1]
@group(0) @binding(3) var<storage, read> scale_w: array<f32>;    // inv_w from `mean`
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

// Threads per workgroup of the *_row entries: 64 on GPUs; 8 (one lavapipe SIMD row) on software
// adapters, so that even 16 rows spread over both CPU cores.
override ROW_WG: u32 = 64u;
const MEAN_WG: u32 = 64u;

fn nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

struct Label {
    y: u32,
    w: f32,   // NaN for an out-of-range label
}

fn label_of(r: u32) -> Label {
    let y = labels[r];
    var w = 1.0;
    if ((p.flags & 1u) != 0u) {
        w = weights[min(y, p.cols - 1u)];
    }
    return Label(y, select(nan(), w, y < p.cols));
}

fn write_grad(base: u32, start: u32, step: u32, ms: vec2<f32>, l: Label) {
    if ((p.flags & 2u) == 0u) { return; }
    let scale = l.w / ms.y;
    for (var j = start; j < p.cols; j += step) {
        grad[base + j] = exp(x[base + j] - ms.x) * scale - select(0.0, l.w, j == l.y);
    }
}

fn write_stats(r: u32, base: u32, ms: vec2<f32>, l: Label) {
    // (max − x_y) + log s keeps full precision when |max| is large.
    let loss_r = (ms.x - x[base + min(l.y, p.cols - 1u)]) + log(ms.y);
    stats[2u * r] = l.w * loss_r;
    stats[2u * r + 1u] = l.w;
}

@compute @workgroup_size(ROW_WG)
fn rows_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = gid.x + gid.y * nwg.x * ROW_WG;
    if (r >= p.rows) { return; }
    let base = r * p.cols;
    let ms = online_stats(base, 0u, 1u);
    let l = label_of(r);
    write_stats(r, base, ms, l);
    write_grad(base, 0u, 1u, ms, l);
}

// `r` is workgroup-uniform, so the early return keeps the barriers in uniform control flow.
@compute @workgroup_size(WG)
fn rows_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let r = wid.x + wid.y * nwg.x;
    if (r >= p.rows) { return; }
    let base = r * p.cols;
    let ms = tree_stats(lid, online_stats(base, lid, WG));
    let l = label_of(r);
    if (lid == 0u) {
        write_stats(r, base, ms, l);
    }
    write_grad(base, lid, WG, ms, l);
}

// One workgroup: strided partial sums, then a fixed-order tree.
@compute @workgroup_size(MEAN_WG)
fn mean(@builtin(local_invocation_index) lid: u32) {
    var a = 0.0;
    var b = 0.0;
    for (var r = lid; r < p.rows; r += MEAN_WG) {
        a += row_stats[2u * r];
        b += row_stats[2u * r + 1u];
    }
    red_m[lid] = a;
    red_s[lid] = b;
    workgroupBarrier();
    for (var k = MEAN_WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red_m[lid] += red_m[lid + k];
            red_s[lid] += red_s[lid + k];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        loss[0] = red_m[0] / red_s[0];
        inv_w[0] = 1.0 / red_s[0];
    }
}

// dx = grad · (g · inv_w): g and inv_w are one-element buffers, read by every thread (no readback,
// no broadcast kernel). Four elements per thread, grid-strided like unary.wgsl.
@compute @workgroup_size(64)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let threads = nwg.x * 64u;
    let t = gid.x + gid.y * threads;
    let stride = threads * nwg.y;
    let n = p.rows * p.cols;
    let s = upstream[0] * scale_w[0];
    for (var k = 0u; k < 4u; k++) {
        let i = t + k * stride;
        if (i < n) {
            dx[i] = saved_grad[i] * s;
        }
    }
}
