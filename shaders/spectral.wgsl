// Spectral norms and SVDs of stacks of small matrices: one invocation owns one matrix and loops
// over it. The matrices are tiny (gSR: 16x16 .. 32x40), so a workgroup per matrix would spend more
// on barriers than on arithmetic on lavapipe, and one invocation per matrix needs no barriers at all.
// Every loop bound is uniform (all matrices share a shape), so lanes never diverge in loop counts.
// On a GPU one thread per matrix is latency-bound, but gSR's whole stack (60 x 16x16, 4 iterations)
// is ~10^5 FMAs, tens of microseconds next to a generator step, so a workgroup-per-matrix variant with
// barrier reductions would not pay for its second code path.
//
// llvmpipe (Mesa 22) ends every loop of an invocation once ALL its loops together have run 65535
// iterations (LP_MAX_TGSI_LOOP_ITERATIONS), silently. So on software devices the host splits the
// work into dispatches of bounded loop count: power iterations into chunks of iterations, SVD
// sweeps and finishing into ranges of steps [step0, step1), from cost formulas that count each
// loop as its trips + 1 (src/ops/spectral.rs; measured exact on Mesa 22.3).

struct Params {
    batch: u32,
    rows: u32,
    cols: u32,
    iters: u32,     // power_iter: iterations in this dispatch
    eps: f32,       // power_iter: normalize(a) = a / max(|a|, eps); svd: rotation threshold
    trans: u32,     // svd: 1 when rows < cols (works on Wᵀ)
    step0: u32,     // svd_sweep / svd_finish: the steps this dispatch runs
    step1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// ---- power iteration -------------------------------------------------------------------------
// W [batch, rows, cols]; u [batch, rows]; v [batch, cols]; sigma [batch].
// Per iteration (SN-GAN / gSR order): v <- normalize(Wᵀu), u <- normalize(Wv); then sigma = uᵀWv.
// The normalizations are folded into the next matvec as a scalar (su, sv) so each iteration is
// exactly two passes over W; uᵀWv of the last iteration is |Wv|² / max(|Wv|, eps), free.

@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> u_in: array<f32>;
@group(0) @binding(3) var<storage, read> v_in: array<f32>;
@group(0) @binding(4) var<storage, read_write> u_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> v_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> sigma: array<f32>;

@compute @workgroup_size(64)
fn power_iter(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let b = gid.x + gid.y * nwg.x * 64u;
    if (b >= p.batch) { return; }
    let R = p.rows;
    let C = p.cols;
    let w0 = b * R * C;
    let u0 = b * R;
    let v0 = b * C;
    // u_out / v_out hold the unnormalized iterates; the true vectors are su * u_out, sv * v_out.
    for (var r = 0u; r < R; r++) { u_out[u0 + r] = u_in[u0 + r]; }
    for (var c = 0u; c < C; c++) { v_out[v0 + c] = v_in[v0 + c]; }
    var su = 1.0;
    var sv = 1.0;
    var s = 0.0;
    for (var it = 0u; it < p.iters; it++) {
        var ss = 0.0;
        for (var c = 0u; c < C; c++) {
            var acc = 0.0;
            for (var r = 0u; r < R; r++) { acc += w[w0 + r * C + c] * u_out[u0 + r]; }
            acc *= su;
            v_out[v0 + c] = acc;
            ss += acc * acc;
        }
        sv = 1.0 / max(sqrt(ss), p.eps);
        ss = 0.0;
        for (var r = 0u; r < R; r++) {
            var acc = 0.0;
            for (var c = 0u; c < C; c++) { acc += w[w0 + r * C + c] * v_out[v0 + c]; }
            acc *= sv;
            u_out[u0 + r] = acc;
            ss += acc * acc;
        }
        su = 1.0 / max(sqrt(ss), p.eps);
        s = ss * su;
    }
    if (p.iters == 0u) {
        // No update: sigma of the stored vectors (evaluation).
        for (var r = 0u; r < R; r++) {
            var acc = 0.0;
            for (var c = 0u; c < C; c++) { acc += w[w0 + r * C + c] * v_out[v0 + c]; }
            s += u_out[u0 + r] * acc;
        }
    }
    for (var r = 0u; r < R; r++) { u_out[u0 + r] *= su; }
    for (var c = 0u; c < C; c++) { v_out[v0 + c] *= sv; }
    sigma[b] = s;
}

// ---- backward of sigma = uᵀWv: dW[b, r, c] = g[b] · u[b, r] · v[b, c] ---------------------------

@group(0) @binding(1) var<storage, read> g_sig: array<f32>;
@group(0) @binding(2) var<storage, read> u_bw: array<f32>;
@group(0) @binding(3) var<storage, read> v_bw: array<f32>;
@group(0) @binding(4) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(64)
fn outer(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.batch * p.rows * p.cols) { return; }
    let c = t % p.cols;
    let r = (t / p.cols) % p.rows;
    let b = t / (p.rows * p.cols);
    dw[t] = g_sig[b] * u_bw[b * p.rows + r] * v_bw[b * p.cols + c];
}

// ---- one-sided Jacobi (Hestenes) SVD -----------------------------------------------------------
// Works on A = W (or Wᵀ when trans = 1) of shape m x n with m >= n, scaled so max|A| = 1, which
// keeps every squared column norm above f32's underflow unless the column is numerically null.
// Rotations orthogonalize the columns of A in place (a) while accumulating them in R (rr, n x n,
// starts as I); afterwards A = U Σ and R = V. With trans = 1 the roles swap: the host binds the U
// output as rr and the V output as a, since Wᵀ = V Σ Uᵀ.
//
// Three entry points, each a phase with its own dispatches: svd_start (scale, copy, R = I);
// svd_sweep (rotation steps [step0, step1) of the sequence of sweeps of P = n(n-1)/2 pairs in
// row-cyclic order); svd_finish (columns [step0, step1): sort into place, normalize, fix signs).
// Phases live in separate entry points because llvmpipe runs an if whose condition it cannot
// prove uniform with masks, paying loop iterations for the branches it does not take.
// A matrix whose last sweep rotated nothing is converged and skips the remaining rotations.

@group(0) @binding(1) var<storage, read> w_svd: array<f32>;
@group(0) @binding(2) var<storage, read_write> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> rr: array<f32>;
@group(0) @binding(4) var<storage, read_write> sv: array<f32>;
@group(0) @binding(5) var<storage, read_write> aux: array<f32>;  // [batch, 4]: scale, rotated, done, -

// Squared column norms below this (relative to max|A|² = 1) are treated as exact zeros.
const NULL2: f32 = 1e-30;

struct Mat {
    b: u32,
    m: u32,
    n: u32,
    a0: u32,   // offset of A in a (m x n)
    r0: u32,   // offset of R in rr (n x n)
    s0: u32,   // offset in sv
}

fn col_dot(x: Mat, j: u32, k: u32) -> f32 {
    var acc = 0.0;
    for (var i = 0u; i < x.m; i++) { acc += a[x.a0 + i * x.n + j] * a[x.a0 + i * x.n + k]; }
    return acc;
}

fn svd_init(x: Mat, trans: bool) {
    var amax = 0.0;
    for (var i = 0u; i < x.m * x.n; i++) { amax = max(amax, abs(w_svd[x.a0 + i])); }
    let scale = select(1.0, amax, amax > 0.0);
    for (var i = 0u; i < x.m; i++) {
        for (var j = 0u; j < x.n; j++) {
            let src = select(i * x.n + j, j * x.m + i, trans);
            a[x.a0 + i * x.n + j] = w_svd[x.a0 + src] / scale;
        }
    }
    for (var i = 0u; i < x.n * x.n; i++) { rr[x.r0 + i] = select(0.0, 1.0, i % (x.n + 1u) == 0u); }
    aux[x.b * 4u] = scale;
    aux[x.b * 4u + 1u] = 0.0;
    aux[x.b * 4u + 2u] = 0.0;
}

// One Jacobi rotation of columns j < k, unless they are already orthogonal to tolerance.
fn svd_rotate(x: Mat, j: u32, k: u32, first: bool, last: bool) {
    let f = x.b * 4u;
    if (first) { aux[f + 1u] = 0.0; }
    if (aux[f + 2u] == 0.0) {
        var alpha = 0.0;
        var beta = 0.0;
        var gamma = 0.0;
        for (var i = 0u; i < x.m; i++) {
            let u = a[x.a0 + i * x.n + j];
            let v = a[x.a0 + i * x.n + k];
            alpha += u * u;
            beta += v * v;
            gamma += u * v;
        }
        if (alpha >= NULL2 && beta >= NULL2 && abs(gamma) > p.eps * sqrt(alpha * beta)) {
            aux[f + 1u] = 1.0;
            // tan of the angle that zeroes <a_j, a_k>, the smaller root (|t| <= 1).
            let zeta = (beta - alpha) / (2.0 * gamma);
            var t = 0.5 / zeta; // the limit for huge |zeta|, where zeta² would overflow
            if (abs(zeta) < 1e15) {
                t = select(-1.0, 1.0, zeta >= 0.0) / (abs(zeta) + sqrt(1.0 + zeta * zeta));
            }
            let c = inverseSqrt(1.0 + t * t);
            let s = c * t;
            for (var i = 0u; i < x.m; i++) {
                let u = a[x.a0 + i * x.n + j];
                let v = a[x.a0 + i * x.n + k];
                a[x.a0 + i * x.n + j] = c * u - s * v;
                a[x.a0 + i * x.n + k] = s * u + c * v;
            }
            for (var i = 0u; i < x.n; i++) {
                let u = rr[x.r0 + i * x.n + j];
                let v = rr[x.r0 + i * x.n + k];
                rr[x.r0 + i * x.n + j] = c * u - s * v;
                rr[x.r0 + i * x.n + k] = s * u + c * v;
            }
        }
    }
    if (last && aux[f + 1u] == 0.0) { aux[f + 2u] = 1.0; }
}

// Replaces column j of a (numerically null; columns < j are orthonormal) by the unit vector
// orthogonal to them that is closest to the basis vector e_k they cover least.
fn complete_column(x: Mat, j: u32) {
    var best = 0u;
    var best_res = -1.0;
    for (var k = 0u; k < x.m; k++) {
        var cov = 0.0;
        for (var l = 0u; l < j; l++) { cov += a[x.a0 + k * x.n + l] * a[x.a0 + k * x.n + l]; }
        if (1.0 - cov > best_res) { best_res = 1.0 - cov; best = k; }
    }
    for (var i = 0u; i < x.m; i++) { a[x.a0 + i * x.n + j] = select(0.0, 1.0, i == best); }
    // Classical Gram-Schmidt twice is enough for one vector against an orthonormal set.
    for (var rep = 0u; rep < 2u; rep++) {
        for (var l = 0u; l < j; l++) {
            let d = col_dot(x, l, j);
            for (var i = 0u; i < x.m; i++) { a[x.a0 + i * x.n + j] -= d * a[x.a0 + i * x.n + l]; }
        }
    }
    let inv = inverseSqrt(col_dot(x, j, j));
    for (var i = 0u; i < x.m; i++) { a[x.a0 + i * x.n + j] *= inv; }
}

// Selection sort step: moves the largest remaining singular value to position j, then turns
// column j of A into a unit U column and applies the sign convention.
fn svd_column(x: Mat, j: u32, trans: bool) {
    var best = j;
    for (var k = j + 1u; k < x.n; k++) {
        if (sv[x.s0 + k] > sv[x.s0 + best]) { best = k; }
    }
    let sj = sv[x.s0 + best];
    if (best != j) {
        sv[x.s0 + best] = sv[x.s0 + j];
        for (var i = 0u; i < x.m; i++) {
            let u = a[x.a0 + i * x.n + j];
            a[x.a0 + i * x.n + j] = a[x.a0 + i * x.n + best];
            a[x.a0 + i * x.n + best] = u;
        }
        for (var i = 0u; i < x.n; i++) {
            let u = rr[x.r0 + i * x.n + j];
            rr[x.r0 + i * x.n + j] = rr[x.r0 + i * x.n + best];
            rr[x.r0 + i * x.n + best] = u;
        }
    }
    if (sj * sj >= NULL2) {
        for (var i = 0u; i < x.m; i++) { a[x.a0 + i * x.n + j] /= sj; }
    } else {
        complete_column(x, j); // null columns sort last, so columns < j are final
    }
    // rr is a product of sweeps·n²/2 rotations: renormalise its column so their rounding does not
    // surface as a norm error (an H100 drifted by 2e-5 on 64x64 without this).
    var nrm = 0.0;
    for (var i = 0u; i < x.n; i++) { let v = rr[x.r0 + i * x.n + j]; nrm += v * v; }
    let inv = 1.0 / sqrt(nrm);
    for (var i = 0u; i < x.n; i++) { rr[x.r0 + i * x.n + j] *= inv; }
    // Sign convention: the largest-magnitude entry (first on ties) of each column of the
    // caller's V is positive. V is rr normally, a when working on Wᵀ.
    var big = 0.0;
    for (var i = 0u; i < select(x.n, x.m, trans); i++) {
        var v: f32;
        if (trans) { v = a[x.a0 + i * x.n + j]; } else { v = rr[x.r0 + i * x.n + j]; }
        if (abs(v) > abs(big)) { big = v; }
    }
    if (big < 0.0) {
        for (var i = 0u; i < x.m; i++) { a[x.a0 + i * x.n + j] = -a[x.a0 + i * x.n + j]; }
        for (var i = 0u; i < x.n; i++) { rr[x.r0 + i * x.n + j] = -rr[x.r0 + i * x.n + j]; }
    }
    sv[x.s0 + j] = sj * aux[x.b * 4u];
}

// The matrix an invocation owns, or none past the batch.
fn svd_mat(gid: vec3<u32>, nwg: vec3<u32>) -> Mat {
    let b = gid.x + gid.y * nwg.x * 64u;
    let trans = p.trans == 1u;
    let m = select(p.rows, p.cols, trans);
    let n = select(p.cols, p.rows, trans);
    return Mat(b, m, n, b * m * n, b * n * n, b * n);
}

@compute @workgroup_size(64)
fn svd_start(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let x = svd_mat(gid, nwg);
    if (x.b >= p.batch) { return; }
    svd_init(x, p.trans == 1u);
}

// Rotations [step0, step1) of the sequence sweep 0 pair 0, sweep 0 pair 1, ...
@compute @workgroup_size(64)
fn svd_sweep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let x = svd_mat(gid, nwg);
    if (x.b >= p.batch) { return; }
    let n = x.n;
    let pairs = n * (n - 1u) / 2u;
    var j = 0u;
    var rem = p.step0 % pairs;
    for (; rem >= n - 1u - j; j++) { rem -= n - 1u - j; }
    var k = j + 1u + rem;
    for (var step = p.step0; step < p.step1; step++) {
        let pair = step % pairs;
        svd_rotate(x, j, k, pair == 0u, pair + 1u == pairs);
        k++;
        if (k == n) {
            j++;
            k = j + 1u;
            if (k == n) { j = 0u; k = 1u; }
        }
    }
}

// Columns [step0, step1) of the final sort / normalize / sign pass; the first range also
// computes the column norms.
@compute @workgroup_size(64)
fn svd_finish(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let x = svd_mat(gid, nwg);
    if (x.b >= p.batch) { return; }
    if (p.step0 == 0u) {
        for (var c = 0u; c < x.n; c++) { sv[x.s0 + c] = sqrt(col_dot(x, c, c)); }
    }
    for (var j = p.step0; j < p.step1; j++) { svd_column(x, j, p.trans == 1u); }
}
