// conv2d as im2col + matmul. `im2col` unfolds x [B, C, H, W] into cols [B·OH·OW, C·KH·KW] (one
// invocation per element, zero where the window hangs over the padding); its adjoint `col2im`
// gathers, for each input pixel, the column entries that read it (at most KH·KW of them, in a
// fixed order: deterministic, no atomics).

struct Params {
    b: u32,
    c: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    oh: u32,
    ow: u32,
    stride: u32,
    pad: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 64u;
}

@compute @workgroup_size(64)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let k = p.c * p.kh * p.kw;
    let t = flat(gid, nwg);
    if (t >= p.b * p.oh * p.ow * k) { return; }
    let col = t % k;
    let row = t / k;
    let ox = row % p.ow;
    let oy = (row / p.ow) % p.oh;
    let bi = row / (p.ow * p.oh);
    let kx = col % p.kw;
    let ky = (col / p.kw) % p.kh;
    let ci = col / (p.kw * p.kh);
    // Input coordinates shifted by `pad` so they stay unsigned: inside when in [pad, pad + size).
    let y = oy * p.stride + ky;
    let x = ox * p.stride + kx;
    let inside = y >= p.pad && y < p.h + p.pad && x >= p.pad && x < p.w + p.pad;
    let at = ((bi * p.c + ci) * p.h + min(y - min(y, p.pad), p.h - 1u)) * p.w + min(x - min(x, p.pad), p.w - 1u);
    dst[t] = select(0.0, src[at], inside);
}

@compute @workgroup_size(64)
fn col2im(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = flat(gid, nwg);
    if (t >= p.b * p.c * p.h * p.w) { return; }
    let x = t % p.w;
    let y = (t / p.w) % p.h;
    let ci = (t / (p.w * p.h)) % p.c;
    let bi = t / (p.w * p.h * p.c);
    let k = p.c * p.kh * p.kw;
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        for (var kx = 0u; kx < p.kw; kx++) {
            // Output pixel whose window puts tap (ky, kx) on input (y, x): oy·stride + ky = y + pad.
            let ny = y + p.pad;
            let nx = x + p.pad;
            if (ny >= ky && nx >= kx) {
                let dy = ny - ky;
                let dx = nx - kx;
                let oy = dy / p.stride;
                let ox = dx / p.stride;
                if (dy % p.stride == 0u && dx % p.stride == 0u && oy < p.oh && ox < p.ow) {
                    let row = (bi * p.oh + oy) * p.ow + ox;
                    acc += src[row * k + (ci * p.kh + ky) * p.kw + kx];
                }
            }
        }
    }
    dst[t] = acc;
}
