// Softmax, log-softmax and logsumexp along the last axis of a [rows, cols] view, and their fused
// backward rules. Two variants of every entry point:
//   *_row: one invocation per row looping over its columns. No workgroup memory, no barriers:
//          on lavapipe a barrier switches between the coroutines of every 8-lane subgroup.
//   *_wg:  one workgroup per row; threads stride over the columns and merge their partial
//          results with a fixed-order tree in workgroup memory (real GPUs, long rows).
// Both are max-subtracted and read x twice, not three times: a running (max, sum) pair is
// rescaled whenever the max grows ("online softmax", Milakov & Gimelshein 2018).
// Deterministic: every reduction has a fixed order; no atomics.

struct Params {
    rows: u32,
    cols: u32,
    mode: u32,   // 0 softmax, 1 log_softmax, 2 logsumexp
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Forward: x = input, out = result. Backward: x = saved output (softmax, log_softmax) or the input
// (logsumexp), out = dx, g = upstream gradient ([rows] for logsumexp, else [rows, cols]).
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;

// Threads per workgroup of the *_row entries: 64 on GPUs; 8 (one lavapipe SIMD row) on software
// adapters, so that even 16 rows spread over both CPU cores.
override ROW_WG: u32 = 64u;

// Writes softmax or log_softmax of the row from its (max, sum).
fn emit(base: u32, start: u32, step: u32, ms: vec2<f32>) {
    if (p.mode == 0u) {
        let inv = 1.0 / ms.y;
        for (var j = start; j < p.cols; j += step) {
            out[base + j] = exp(x[base + j] - ms.x) * inv;
        }
    } else {
        // (x − m) − log s, not x − (m + log s): m + log s would round to ulp(m), 1e-3 at |m| = 1e4.
        let log_s = log(ms.y);
        for (var j = start; j < p.cols; j += step) {
            out[base + j] = (x[base + j] - ms.x) - log_s;
        }
    }
}

// Σ_j g⊙y (softmax backward) or Σ_j g (log_softmax backward) over a strided part of the row.
fn dot_part(base: u32, start: u32, step: u32) -> f32 {
    var acc = 0.0;
    for (var j = start; j < p.cols; j += step) {
        acc += g[base + j] * select(1.0, x[base + j], p.mode == 0u);
    }
    return acc;
}

// dx for the row: softmax y⊙(g − dot); log_softmax g − exp(y)·Σg; logsumexp g_r·exp(x − lse).
// `red` is dot (modes 0, 1) or the (max, sum) of x (mode 2).
fn emit_grad(r: u32, base: u32, start: u32, step: u32, red: vec2<f32>) {
    if (p.mode == 0u) {
        for (var j = start; j < p.cols; j += step) {
            let y = x[base + j];
            out[base + j] = y * (g[base + j] - red.x);
        }
    } else if (p.mode == 1u) {
        for (var j = start; j < p.cols; j += step) {
            out[base + j] = g[base + j] - exp(x[base + j]) * red.x;
        }
    } else {
        let scale = g[r] / red.y;
        for (var j = start; j < p.cols; j += step) {
            out[base + j] = exp(x[base + j] - red.x) * scale;
        }
    }
}

fn row_of(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * ROW_WG;
}

@compute @workgroup_size(ROW_WG)
fn fwd_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_of(gid, nwg);
    if (r >= p.rows) { return; }
    let base = r * p.cols;
    let ms = online_stats(base, 0u, 1u);
    if (p.mode == 2u) {
        out[r] = ms.x + log(ms.y);
    } else {
        emit(base, 0u, 1u, ms);
    }
}

@compute @workgroup_size(ROW_WG)
fn bwd_row(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = row_of(gid, nwg);
    if (r >= p.rows) { return; }
    let base = r * p.cols;
    var red: vec2<f32>;
    if (p.mode == 2u) {
        red = online_stats(base, 0u, 1u);
    } else {
        red = vec2<f32>(dot_part(base, 0u, 1u), 0.0);
    }
    emit_grad(r, base, 0u, 1u, red);
}


fn tree_sum(lid: u32, v: f32) -> f32 {
    red_s[lid] = v;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red_s[lid] += red_s[lid + k];
        }
        workgroupBarrier();
    }
    return red_s[0];
}

// Rows past 65535 fold into a 2-D grid; `r` is workgroup-uniform, so the early return keeps every
// barrier in uniform control flow.
@compute @workgroup_size(WG)
fn fwd_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let r = wid.x + wid.y * nwg.x;
    if (r >= p.rows) { return; }
    let base = r * p.cols;
    let ms = tree_stats(lid, online_stats(base, lid, WG));
    if (p.mode == 2u) {
        if (lid == 0u) {
            out[r] = ms.x + log(ms.y);
        }
    } else {
        emit(base, lid, WG, ms);
    }
}

@compute @workgroup_size(WG)
fn bwd_wg(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let r = wid.x + wid.y * nwg.x;
    if (r >= p.rows) { return; }
    let base = r * p.cols;
    var red: vec2<f32>;
    if (p.mode == 2u) {
        red = tree_stats(lid, online_stats(base, lid, WG));
    } else {
        red = vec2<f32>(tree_sum(lid, dot_part(base, lid, WG)), 0.0);
    }
    emit_grad(r, base, lid, WG, red);
}
