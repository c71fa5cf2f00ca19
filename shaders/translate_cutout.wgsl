// DiffAugment's translation (zero fill) followed by its cutout mask, over NCHW planes, and the
// adjoint of that linear map. Both are gathers: an output element reads at most one input element
// (translation is a bijection between in-range positions), so neither needs atomics.
//
// Per sample b, the integers come from four uniform draws u in [0, 1) in the last four columns of
// row b of a [B, cols] f32 tensor: (tx, ty, ox, oy), each floor(u·n) clamped to [0, n − 1] for n
// choices, so draws made on the GPU never need a readback.
//   forward: y[b,c,i,j] = x[b,c,i+tx,j+ty] (0 out of range), times 0 where
//            ox − kx/2 <= i < ox − kx/2 + kx and oy − ky/2 <= j < oy − ky/2 + ky;
//   adjoint: dx[b,c,r,q] = g[b,c,r−tx,q−ty] where (r−tx, q−ty) is in range and not cut out.
// An invocation handles a run of `items` consecutive outputs of one row, so the per-row index
// maths (lane by lane on lavapipe) runs once per run; on GPUs `items` is 1.

struct Params {
    planes: u32,  // B·C
    c: u32,
    h: u32,
    w: u32,
    cols: u32,    // columns of the draws tensor
    sx: u32,      // tx in [−sx, sx] (along H), ty in [−sy, sy] (along W)
    sy: u32,
    kx: u32,      // cutout side along H and W; 0: no cutout
    ky: u32,
    items: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> draws: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// floor(u·n) clamped to [0, n − 1]: the f32 product can round up to n for u just below 1.
fn pick(u: f32, n: u32) -> i32 {
    return i32(clamp(floor(u * f32(n)), 0.0, f32(n - 1u)));
}

struct Sample {
    tx: i32,
    ty: i32,
    cx: i32,  // first cut row and column (may lie outside the image: clipped by the tests below)
    cy: i32,
}

fn sample(b: u32) -> Sample {
    let at = b * p.cols + p.cols - 4u;
    let tx = pick(draws[at], 2u * p.sx + 1u) - i32(p.sx);
    let ty = pick(draws[at + 1u], 2u * p.sy + 1u) - i32(p.sy);
    // Offsets in [0, H + 1 − kx mod 2), as the reference's randint.
    let cx = pick(draws[at + 2u], p.h + 1u - p.kx % 2u) - i32(p.kx / 2u);
    let cy = pick(draws[at + 3u], p.w + 1u - p.ky % 2u) - i32(p.ky / 2u);
    return Sample(tx, ty, cx, cy);
}

fn inside(v: i32, lo: i32, n: u32) -> bool {
    return v >= lo && v < lo + i32(n);
}

struct Run {
    plane: u32,
    row: u32,
    first: u32,
    end: u32,
    ok: bool,
}

fn run_of(gid: vec3<u32>, nwg: vec3<u32>) -> Run {
    let t = gid.x + gid.y * nwg.x * 64u;
    let runs = (p.w + p.items - 1u) / p.items;
    let rows = t / runs;
    let first = (t - rows * runs) * p.items;
    let plane = rows / p.h;
    return Run(plane, rows - plane * p.h, first, min(first + p.items, p.w), plane < p.planes);
}

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(gid, nwg);
    if (!r.ok) { return; }
    let s = sample(r.plane / p.c);
    let si = i32(r.row) + s.tx;
    let row_in = si >= 0 && si < i32(p.h);
    let row_cut = inside(i32(r.row), s.cx, p.kx);
    // Clamped so that masked-off lanes still load in bounds.
    let src_row = r.plane * p.h * p.w + u32(clamp(si, 0, i32(p.h) - 1)) * p.w;
    let dst_row = (r.plane * p.h + r.row) * p.w;
    for (var j = r.first; j < r.end; j++) {
        let sj = i32(j) + s.ty;
        let keep = row_in && sj >= 0 && sj < i32(p.w) && !(row_cut && inside(i32(j), s.cy, p.ky));
        let v = src[src_row + u32(clamp(sj, 0, i32(p.w) - 1))];
        dst[dst_row + j] = select(0.0, v, keep);
    }
}

@compute @workgroup_size(64)
fn adjoint(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = run_of(gid, nwg);
    if (!r.ok) { return; }
    let s = sample(r.plane / p.c);
    // Input row r was read by output row r − tx; the mask is the one of that output.
    let oi = i32(r.row) - s.tx;
    let row_in = oi >= 0 && oi < i32(p.h);
    let row_cut = inside(oi, s.cx, p.kx);
    let src_row = r.plane * p.h * p.w + u32(clamp(oi, 0, i32(p.h) - 1)) * p.w;
    let dst_row = (r.plane * p.h + r.row) * p.w;
    for (var q = r.first; q < r.end; q++) {
        let oj = i32(q) - s.ty;
        let keep = row_in && oj >= 0 && oj < i32(p.w) && !(row_cut && inside(oj, s.cy, p.ky));
        let v = src[src_row + u32(clamp(oj, 0, i32(p.w) - 1))];
        dst[dst_row + q] = select(0.0, v, keep);
    }
}
