// Pooling and resampling over NCHW planes. Every kernel gathers (one output element reads the
// inputs it depends on, in a fixed order): deterministic, no atomics. An invocation writes a run
// of up to `items` consecutive outputs of one row, so the index maths (lane by lane on lavapipe)
// runs once per run; on GPUs `items` is 1 and neighbouring lanes write neighbouring outputs.

struct Params {
    planes: u32,   // planes of the output (B·C, or B·C_out for the shortcut)
    h: u32,        // input plane height, width
    w: u32,
    oh: u32,       // output plane height, width
    ow: u32,
    k: u32,        // window side
    stride: u32,
    items: u32,    // outputs per invocation along a row
    scale: f32,    // factor on every output (1/k² for avg pool, 1/HW for the global mean)
    c_in: u32,     // shortcut: input and output channels, zero channels before the input's
    c_out: u32,
    pad: u32,
    n: u32,        // sum_hw / expand_hw: elements per plane
    chunk: u32,    // sum_hw: elements one invocation sums
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

// The run of invocation t over `rows` rows of `width` outputs: [first, end) of `row`; `ok` is
// false past the last run.
struct Run {
    row: u32,
    first: u32,
    end: u32,
    ok: bool,
}

fn run_of(t: u32, rows: u32, width: u32) -> Run {
    let runs = (width + p.items - 1u) / p.items;
    let row = t / runs;
    let first = (t - row * runs) * p.items;
    return Run(row, first, min(first + p.items, width), row < rows);
}

// First output (oy or ox) whose window covers input coordinate y, and one past the last:
// oy·stride <= y < oy·stride + k, oy < out (empty when lo >= hi: y falls between windows).
fn covering(y: u32, out: u32) -> vec2<u32> {
    let lo = select(0u, (y + 1u - p.k + p.stride - 1u) / p.stride, y + 1u >= p.k);
    return vec2<u32>(lo, min(y / p.stride + 1u, out));
}

// covering(x + 1) from covering(x) = c: each bound moves by at most one. Along a row this
// replaces two divisions per element, which lavapipe runs lane by lane.
fn next_covering(c: vec2<u32>, x: u32, out: u32) -> vec2<u32> {
    let lo = c.x + select(0u, 1u, c.x < out && c.x * p.stride + p.k <= x + 1u);
    let hi = c.y + select(0u, 1u, c.y < out && c.y * p.stride <= x + 1u);
    return vec2<u32>(lo, hi);
}

// Sum of each k×k window times `scale`: avg pool forward, and upsampling's backward.
@compute @workgroup_size(64)
fn window_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes * p.oh, p.ow);
    if (!r.ok) { return; }
    let q = r.row / p.oh;
    let oy = r.row - q * p.oh;
    let base = (q * p.h + oy * p.stride) * p.w;
    for (var ox = r.first; ox < r.end; ox++) {
        let at = base + ox * p.stride;
        var acc = 0.0;
        for (var ky = 0u; ky < p.k; ky++) {
            for (var kx = 0u; kx < p.k; kx++) {
                acc += src[at + ky * p.w + kx];
            }
        }
        dst[r.row * p.ow + ox] = acc * p.scale;
    }
}

// Adjoint of window_sum: each input pixel gathers `scale` × the outputs whose windows cover it
// (avg pool backward).
@compute @workgroup_size(64)
fn window_spread(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes * p.h, p.w);
    if (!r.ok) { return; }
    let q = r.row / p.h;
    let y = r.row - q * p.h;
    let ys = covering(y, p.oh);
    var xs = covering(r.first, p.ow);
    for (var x = r.first; x < r.end; x++) {
        var acc = 0.0;
        for (var oy = ys.x; oy < ys.y; oy++) {
            for (var ox = xs.x; ox < xs.y; ox++) {
                acc += src[(q * p.oh + oy) * p.ow + ox];
            }
        }
        dst[r.row * p.w + x] = acc * p.scale;
        xs = next_covering(xs, x, p.ow);
    }
}

// By the bits: llvmpipe folds v != v to false.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Max pool forward: the first maximum of each window in row-major order (a NaN wins and stays),
// with its index within the input plane for the backward.
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

@compute @workgroup_size(64)
fn max_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes * p.oh, p.ow);
    if (!r.ok) { return; }
    let q = r.row / p.oh;
    let oy = r.row - q * p.oh;
    let plane = q * p.h * p.w;
    for (var ox = r.first; ox < r.end; ox++) {
        let at = oy * p.stride * p.w + ox * p.stride;
        var best = src[plane + at];
        var best_at = at;
        for (var ky = 0u; ky < p.k; ky++) {
            for (var kx = 0u; kx < p.k; kx++) {
                let i = at + ky * p.w + kx;
                let v = src[plane + i];
                if (v > best || (is_nan(v) && !is_nan(best))) {
                    best = v;
                    best_at = i;
                }
            }
        }
        dst[r.row * p.ow + ox] = best;
        arg[r.row * p.ow + ox] = best_at;
    }
}

// Max pool backward: each input pixel gathers the gradients of the windows whose argmax it is.
@group(0) @binding(2) var<storage, read> arg_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(64)
fn max_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes * p.h, p.w);
    if (!r.ok) { return; }
    let q = r.row / p.h;
    let y = r.row - q * p.h;
    let ys = covering(y, p.oh);
    var xs = covering(r.first, p.ow);
    for (var x = r.first; x < r.end; x++) {
        var acc = 0.0;
        for (var oy = ys.x; oy < ys.y; oy++) {
            for (var ox = xs.x; ox < xs.y; ox++) {
                let o = (q * p.oh + oy) * p.ow + ox;
                acc += select(0.0, src[o], arg_in[o] == y * p.w + x);
            }
        }
        dx[r.row * p.w + x] = acc;
        xs = next_covering(xs, x, p.ow);
    }
}

// ResNet option-A shortcut: out[b, co, oy, ox] = x[b, co − pad, oy·s, ox·s], zero outside the
// input's channels.
@compute @workgroup_size(64)
fn shortcut_fwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes * p.oh, p.ow);
    if (!r.ok) { return; }
    let q = r.row / p.oh;
    let oy = r.row - q * p.oh;
    let b = q / p.c_out;
    let co = q - b * p.c_out;
    let inside = co >= p.pad && co < p.pad + p.c_in;
    let ci = min(co - min(co, p.pad), p.c_in - 1u);
    let base = ((b * p.c_in + ci) * p.h + oy * p.stride) * p.w;
    // Branches, not select: lanes outside load nothing.
    for (var ox = r.first; ox < r.end; ox++) {
        var v = 0.0;
        if (inside) {
            v = src[base + ox * p.stride];
        }
        dst[r.row * p.ow + ox] = v;
    }
}

// Its adjoint: dx[b, ci, y, x] = g[b, ci + pad, y/s, x/s] where s divides y and x, else 0.
@compute @workgroup_size(64)
fn shortcut_bwd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes * p.h, p.w);
    if (!r.ok) { return; }
    let q = r.row / p.h;
    let y = r.row - q * p.h;
    let b = q / p.c_in;
    let ci = q - b * p.c_in;
    let oy = y / p.stride;
    let on_row = oy * p.stride == y;
    let base = ((b * p.c_out + ci + p.pad) * p.oh + oy) * p.ow;
    // x = ox·stride + phase, stepped without dividing per element.
    var ox = r.first / p.stride;
    var phase = r.first - ox * p.stride;
    for (var x = r.first; x < r.end; x++) {
        var v = 0.0;
        if (on_row && phase == 0u) {
            v = src[base + ox];
        }
        dst[r.row * p.w + x] = v;
        phase += 1u;
        if (phase == p.stride) {
            phase = 0u;
            ox += 1u;
        }
    }
}

// Nearest upsampling by 2: each input pixel of row `row` (p.oh × p.ow planes) is written to the
// 2×2 block it covers in output rows 2·row and 2·row + 1 (p.w = 2·p.ow wide): one load, four
// stores.
@compute @workgroup_size(64)
fn upsample2x(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes * p.oh, p.ow);
    if (!r.ok) { return; }
    let top = 2u * r.row * p.w;
    for (var x = r.first; x < r.end; x++) {
        let v = src[r.row * p.ow + x];
        dst[top + 2u * x] = v;
        dst[top + 2u * x + 1u] = v;
        dst[top + p.w + 2u * x] = v;
        dst[top + p.w + 2u * x + 1u] = v;
    }
}

// Sum of each plane's n elements times `scale`, in chunks of `chunk` (one invocation each, in
// order): output [planes, ceil(n / chunk)]. A second pass sums the chunks when there are several.
@compute @workgroup_size(64)
fn sum_hw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let chunks = (p.n + p.chunk - 1u) / p.chunk;
    let t = flat(gid, nwg);
    if (t >= p.planes * chunks) { return; }
    let q = t / chunks;
    let first = (t - q * chunks) * p.chunk;
    let end = min(first + p.chunk, p.n);
    var acc = 0.0;
    for (var i = first; i < end; i++) {
        acc += src[q * p.n + i];
    }
    dst[t] = acc * p.scale;
}

// Adjoint of sum_hw: every element of plane q gets scale · g[q].
@compute @workgroup_size(64)
fn expand_hw(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(flat(gid, nwg), p.planes, p.n);
    if (!r.ok) { return; }
    let v = src[r.row] * p.scale;
    for (var i = r.first; i < r.end; i++) {
        dst[r.row * p.n + i] = v;
    }
}
