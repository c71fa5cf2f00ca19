// Zero padding of NCHW planes by separate amounts on each side (Inception's 1×7 / 7×1 convs pad
// one axis only). A gather: each output reads at most one input, so no atomics. An invocation
// writes a run of `items` consecutive outputs of one row; the row's index maths (lane by lane on
// lavapipe) runs once per run.

struct Params {
    planes: u32,  // B·C
    h: u32,       // input plane
    w: u32,
    oh: u32,      // output plane: h + top + bottom, w + left + right
    ow: u32,
    top: u32,
    left: u32,
    items: u32,   // outputs per invocation along a row
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    let runs = (p.ow + p.items - 1u) / p.items;
    let row = t / runs;
    if (row >= p.planes * p.oh) { return; }
    let first = (t - row * runs) * p.items;
    let end = min(first + p.items, p.ow);
    let q = row / p.oh;
    let iy = i32(row - q * p.oh) - i32(p.top);
    let row_in = iy >= 0 && iy < i32(p.h);
    // Clamped so that lanes outside the input still load in bounds.
    let src_row = (q * p.h + u32(clamp(iy, 0, i32(p.h) - 1))) * p.w;
    for (var ox = first; ox < end; ox++) {
        let ix = i32(ox) - i32(p.left);
        let keep = row_in && ix >= 0 && ix < i32(p.w);
        let v = src[src_row + u32(clamp(ix, 0, i32(p.w) - 1))];
        dst[row * p.ow + ox] = select(0.0, v, keep);
    }
}
