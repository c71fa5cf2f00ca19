// Bilinear resizing of NCHW planes with PyTorch's F.interpolate(mode='bilinear',
// align_corners=False) geometry: output o samples the input at s = (o + 0.5)·in/out − 0.5,
// clamped below at 0, between i0 = floor(s) and i1 = min(i0 + 1, in − 1) with weight
// λ = s − i0 on i1. s is formed exactly in integers, s = ((2o + 1)·in − out) / (2·out), so λ
// is one rounded division (PyTorch forms s in f32 and differs from it by its own rounding).
// An invocation writes a run of `items` consecutive outputs of one row; the row's source and
// weight are computed once per run.

struct Params {
    planes: u32,  // B·C
    h: u32,       // input plane
    w: u32,
    oh: u32,      // output plane
    ow: u32,
    items: u32,   // outputs per invocation along a row
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

struct Tap {
    i0: u32,
    i1: u32,
    l1: f32,  // weight of i1; i0 gets 1 − l1
}

// The host keeps (2·out + 1)·in below 2³¹.
fn tap(o: u32, n_in: u32, n_out: u32) -> Tap {
    let num = u32(max(i32((2u * o + 1u) * n_in) - i32(n_out), 0));
    let den = 2u * n_out;
    let i0 = num / den;
    return Tap(i0, min(i0 + 1u, n_in - 1u), f32(num - i0 * den) / f32(den));
}

@compute @workgroup_size(64)
fn bilinear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    let runs = (p.ow + p.items - 1u) / p.items;
    let row = t / runs;
    if (row >= p.planes * p.oh) { return; }
    let first = (t - row * runs) * p.items;
    let end = min(first + p.items, p.ow);
    let q = row / p.oh;
    let ty = tap(row - q * p.oh, p.h, p.oh);
    let r0 = (q * p.h + ty.i0) * p.w;
    let r1 = (q * p.h + ty.i1) * p.w;
    for (var ox = first; ox < end; ox++) {
        let tx = tap(ox, p.w, p.ow);
        let top = (1.0 - tx.l1) * src[r0 + tx.i0] + tx.l1 * src[r0 + tx.i1];
        let bottom = (1.0 - tx.l1) * src[r1 + tx.i0] + tx.l1 * src[r1 + tx.i1];
        dst[row * p.ow + ox] = (1.0 - ty.l1) * top + ty.l1 * bottom;
    }
}
