// Spectral normalisation of one weight, PyTorch's torch.nn.utils.spectral_norm: W₂ = W viewed as
// [rows, cols] (rows = shape[0]), y = W / σ with σ = uᵀ W₂ v. One workgroup per weight, so σ and
// everything that depends on it stay in one dispatch; threads split every pass over W₂ and merge
// partial sums with fixed-order trees in workgroup memory (deterministic, no atomics).
//
// forward, TRAIN: one power iteration in PyTorch's order, v ← nrm(W₂ᵀu), u ← nrm(W₂v) with
//   nrm(a) = a / max(‖a‖, eps), and σ = uᵀ(W₂v); the new u, v go to the
//   module's state (u_state, v_state, in place) and to fresh tensors (u_out, v_out) that the
//   backward keeps, so a later forward cannot change a pending gradient.
// forward, !TRAIN: σ = uᵀ(W₂v) from the stored vectors, which are copied to u_out, v_out.
// backward: with y = W/σ and u, v constant, dW = (g − (Σ g⊙y)·u vᵀ) / σ.
//
// Work split: in a "column pass" (W₂ᵀu) each column gets 2^la consecutive threads, each summing
// every 2^la-th row; in a "row pass" (W₂v, and the backward) each row gets 2^lb threads, each
// summing every 2^lb-th column. The host picks la, lb: on GPUs lanes run along the contiguous
// axis (coalesced loads); on lavapipe, where barriers are coroutine switches, as few lanes as keep
// the threads busy. Per-thread loop trips are ~rows·cols / WG per pass; the host checks them
// against the software loop budget (src/ops/spectral_norm.rs mirrors these loops).

struct Params {
    rows: u32,
    cols: u32,
    la: u32,    // log2 threads per column in column passes
    lb: u32,    // log2 threads per row in row passes
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override WG: u32 = 256u;      // threads per workgroup, a power of two
override TRAIN: bool = true;  // forward: power iteration (train) or stored vectors (eval)

@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> red: array<f32, WG>;

// Sums x over aligned segments of 2^lg threads; the result is valid in each segment's first
// thread. lg is uniform, so every barrier is reached by the whole workgroup.
fn seg_sum(i: u32, lg: u32, x: f32) -> f32 {
    if (lg == 0u) { return x; }
    red[i] = x;
    workgroupBarrier();
    let mask = (1u << lg) - 1u;
    for (var k = 1u << (lg - 1u); k > 0u; k >>= 1u) {
        if ((i & mask) < k) { red[i] += red[i + k]; }
        workgroupBarrier();
    }
    return red[i];
}

// Sum of x over the whole workgroup, returned to every thread.
fn total(i: u32, x: f32) -> f32 {
    red[i] = x;
    workgroupBarrier();
    for (var k = WG >> 1u; k > 0u; k >>= 1u) {
        if (i < k) { red[i] += red[i + k]; }
        workgroupBarrier();
    }
    let s = red[0];
    workgroupBarrier(); // all have read red[0] before the next reduction overwrites it
    return s;
}

// ---- forward --------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> u_state: array<f32>;
@group(0) @binding(3) var<storage, read_write> v_state: array<f32>;
@group(0) @binding(4) var<storage, read_write> u_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> sigma: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

// The v the row pass multiplies by: the fresh one in training, the stored one in evaluation.
fn v_at(c: u32) -> f32 {
    if (TRAIN) { return v_out[c]; }
    return v_state[c];
}

@compute @workgroup_size(WG)
fn forward(@builtin(local_invocation_index) i: u32) {
    let R = p.rows;
    let C = p.cols;
    if (TRAIN) {
        // Column pass: t = W₂ᵀu into v_out, Σ t² per thread.
        let la = 1u << p.la;
        let lane = i & (la - 1u);
        let per_pass = WG >> p.la;
        var ss = 0.0;
        for (var c0 = 0u; c0 < C; c0 += per_pass) {
            let c = c0 + (i >> p.la);
            var acc = 0.0;
            if (c < C) {
                for (var r = lane; r < R; r += la) { acc += w[r * C + c] * u_state[r]; }
            }
            acc = seg_sum(i, p.la, acc);
            if (lane == 0u && c < C) {
                v_out[c] = acc;
                ss += acc * acc;
            }
        }
        let nv = max(sqrt(total(i, ss)), p.eps);
        // Each thread rescales the entries it wrote itself: no barrier needed before this.
        for (var c0 = 0u; c0 < C; c0 += per_pass) {
            let c = c0 + (i >> p.la);
            if (lane == 0u && c < C) {
                let x = v_out[c] / nv;
                v_out[c] = x;
                v_state[c] = x;
            }
        }
        storageBarrier(); // v_out complete before the row pass reads all of it
    } else {
        // Snapshot of the stored v for the backward (the row pass reads v_state itself).
        for (var c = i; c < C; c += WG) { v_out[c] = v_state[c]; }
    }

    // Row pass: W₂v. Train: into u_out, Σ (W₂v)² per thread; eval: Σ u·(W₂v) per thread.
    let lb = 1u << p.lb;
    let lane = i & (lb - 1u);
    let per_pass = WG >> p.lb;
    var part = 0.0;
    for (var r0 = 0u; r0 < R; r0 += per_pass) {
        let r = r0 + (i >> p.lb);
        var acc = 0.0;
        if (r < R) {
            for (var c = lane; c < C; c += lb) { acc += w[r * C + c] * v_at(c); }
        }
        acc = seg_sum(i, p.lb, acc);
        if (lane == 0u && r < R) {
            if (TRAIN) {
                u_out[r] = acc;
                part += acc * acc;
            } else {
                let u = u_state[r];
                u_out[r] = u;
                part += u * acc;
            }
        }
    }
    if (TRAIN) {
        let nu = max(sqrt(total(i, part)), p.eps);
        // σ = uᵀ(W₂v) summed exactly as the eval branch sums it, so that an eval forward right
        // after a training one gives the same W/σ bit for bit (not ‖W₂v‖²/nu, which rounds
        // differently).
        part = 0.0;
        for (var r0 = 0u; r0 < R; r0 += per_pass) {
            let r = r0 + (i >> p.lb);
            if (lane == 0u && r < R) {
                let wv = u_out[r];
                let u = wv / nu;
                u_out[r] = u;
                u_state[r] = u;
                part += u * wv;
            }
        }
    }
    let s = total(i, part);
    if (i == 0u) { sigma[0] = s; }
    for (var e = i; e < R * C; e += WG) { y[e] = w[e] / s; }
}

// ---- backward -------------------------------------------------------------------------------

@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> w_bw: array<f32>;
@group(0) @binding(3) var<storage, read> u_bw: array<f32>;
@group(0) @binding(4) var<storage, read> v_bw: array<f32>;
@group(0) @binding(5) var<storage, read> sigma_bw: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(WG)
fn backward(@builtin(local_invocation_index) i: u32) {
    let R = p.rows;
    let C = p.cols;
    let s = sigma_bw[0];
    // The row-pass split, so that (r, c) come without integer division.
    let lb = 1u << p.lb;
    let lane = i & (lb - 1u);
    let per_pass = WG >> p.lb;
    var part = 0.0;
    for (var r0 = 0u; r0 < R; r0 += per_pass) {
        let r = r0 + (i >> p.lb);
        if (r < R) {
            for (var c = lane; c < C; c += lb) { part += g[r * C + c] * w_bw[r * C + c]; }
        }
    }
    let gy = total(i, part) / s; // Σ g⊙y = Σ g⊙W / σ
    for (var r0 = 0u; r0 < R; r0 += per_pass) {
        let r = r0 + (i >> p.lb);
        if (r < R) {
            let ku = gy * u_bw[r];
            for (var c = lane; c < C; c += lb) {
                dw[r * C + c] = (g[r * C + c] - ku * v_bw[c]) / s;
            }
        }
    }
}
