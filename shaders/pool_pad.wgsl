// Pooling windows with zero padding that the result ignores, as TensorFlow pools: the average
// divides by the number of window positions inside the input (PyTorch's count_include_pad=False)
// and the maximum is taken over those positions only. Inception-v3's FID graph uses both with a
// 3×3 window, stride 1, pad 1. Each window is clipped to the input once, so no padded position
// is ever loaded. An invocation writes a run of `items` consecutive outputs of one row.

struct Params {
    planes: u32,  // B·C
    h: u32,       // input plane
    w: u32,
    oh: u32,      // output plane: (h + 2·pad − k) / stride + 1
    ow: u32,
    k: u32,       // window side
    stride: u32,
    pad: u32,
    items: u32,   // outputs per invocation along a row
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// Output run of invocation t: plane q, output row oy, outputs [first, end) along it.
struct Run {
    q: u32,
    oy: u32,
    first: u32,
    end: u32,
    ok: bool,
}

fn run_of(gid: vec3<u32>, nwg: vec3<u32>) -> Run {
    let t = gid.x + gid.y * nwg.x * 64u;
    let runs = (p.ow + p.items - 1u) / p.items;
    let row = t / runs;
    let first = (t - row * runs) * p.items;
    let q = row / p.oh;
    return Run(q, row - q * p.oh, first, min(first + p.items, p.ow), q < p.planes);
}

// [lo, hi) of the window starting at o·stride − pad, clipped to [0, n). Never empty: pad ≤ k/2
// (checked on the host) keeps every window's centre inside.
fn span(o: u32, n: u32) -> vec2<u32> {
    let s = i32(o * p.stride) - i32(p.pad);
    return vec2<u32>(u32(max(s, 0)), u32(min(s + i32(p.k), i32(n))));
}

@compute @workgroup_size(64)
fn avg_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(gid, nwg);
    if (!r.ok) { return; }
    let ys = span(r.oy, p.h);
    let plane = r.q * p.h * p.w;
    let out_row = (r.q * p.oh + r.oy) * p.ow;
    for (var ox = r.first; ox < r.end; ox++) {
        let xs = span(ox, p.w);
        var acc = 0.0;
        for (var y = ys.x; y < ys.y; y++) {
            for (var x = xs.x; x < xs.y; x++) {
                acc += src[plane + y * p.w + x];
            }
        }
        dst[out_row + ox] = acc / f32((ys.y - ys.x) * (xs.y - xs.x));
    }
}

// By the bits: llvmpipe folds v != v to false.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(64)
fn max_pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(gid, nwg);
    if (!r.ok) { return; }
    let ys = span(r.oy, p.h);
    let plane = r.q * p.h * p.w;
    let out_row = (r.q * p.oh + r.oy) * p.ow;
    for (var ox = r.first; ox < r.end; ox++) {
        let xs = span(ox, p.w);
        var best = src[plane + ys.x * p.w + xs.x];
        for (var y = ys.x; y < ys.y; y++) {
            for (var x = xs.x; x < xs.y; x++) {
                let v = src[plane + y * p.w + x];
                // A NaN wins its window, as in max_pool2d.
                if (v > best || (is_nan(v) && !is_nan(best))) {
                    best = v;
                }
            }
        }
        dst[out_row + ox] = best;
    }
}
