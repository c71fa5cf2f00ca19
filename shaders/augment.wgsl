// Batch gather + augmentation, one dispatch: for each batch slot b, image idx[b] (u8 pixels
// packed 4 per u32, C×H×W) is centred on a size×size zero canvas, cropped at a random offset
// (dx, dy) ∈ [−pad, pad]² with zero fill (torchvision RandomCrop(size, padding=pad)), flipped
// horizontally with probability 1/2, and normalised per channel as v·scale_c + shift_c with
// scale_c = 1/(255·std_c), shift_c = −mean_c/std_c. Output value at (b, c, oy, ox):
//   sx = flip ? size−1−ox : ox;  pixel (oy + dy − top, sx + dx − left) of the image, 0 outside.
// The random words of slot b are Philox(counter (b, step_lo, step_hi, TAG), key seed): a pure
// function of (seed, step, slot), so a batch is reproducible and no CPU draws per pixel.
// One invocation writes `items` consecutive outputs of one (slot, channel) plane, so it draws
// its slot's words and loads its channel's constants once.

struct Params {
    batch: u32,
    channels: u32,
    height: u32,
    width: u32,
    size: u32,
    pad: u32,
    flip: u32,      // 1: random horizontal flip
    items: u32,     // outputs per invocation
    top: u32,       // canvas offset of the image: (size − height) / 2
    left: u32,      // (size − width) / 2
    runs: u32,      // invocations per plane: ceil(size² / items)
    _pad: u32,
    key0: u32,
    key1: u32,
    step_lo: u32,
    step_hi: u32,
    norm: array<vec4<f32>, 4>,  // per channel: (scale, shift, 0, 0)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pixels: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_labels: array<u32>;

// Fourth counter word: keeps these draws apart from rng.wgsl's (whose fourth word is 0).
const TAG: u32 = 0x61756721u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    if (t >= p.batch * p.channels * p.runs) {
        return;
    }
    let run = t % p.runs;
    let plane = t / p.runs;
    let c = plane % p.channels;
    let b = plane / p.channels;
    let src = idx[b];
    if (c == 0u && run == 0u) {
        out_labels[b] = labels[src];
    }
    var dx = 0;
    var dy = 0;
    var flip = false;
    if (p.pad > 0u || p.flip != 0u) {
        let r = philox(vec4<u32>(b, p.step_lo, p.step_hi, TAG), vec2<u32>(p.key0, p.key1));
        // Uniform in 0..span by multiply-high (bias < span / 2³²).
        let span = 2u * p.pad + 1u;
        dx = i32(mulhi(r.x, span)) - i32(p.pad);
        dy = i32(mulhi(r.y, span)) - i32(p.pad);
        flip = p.flip != 0u && (r.z >> 31u) == 1u;
    }
    let nrm = p.norm[c];
    let area = p.size * p.size;
    let first = run * p.items;
    let last = min(first + p.items, area);
    var oy = first / p.size;
    var ox = first % p.size;
    let base = (src * p.channels + c) * p.height * p.width;
    let obase = plane * area;
    for (var e = first; e < last; e++) {
        let sx = select(ox, p.size - 1u - ox, flip);
        let iy = i32(oy) + dy - i32(p.top);
        let ix = i32(sx) + dx - i32(p.left);
        var v = 0u;
        if (iy >= 0 && ix >= 0 && u32(iy) < p.height && u32(ix) < p.width) {
            let byte = base + u32(iy) * p.width + u32(ix);
            v = (pixels[byte >> 2u] >> ((byte & 3u) * 8u)) & 0xffu;
        }
        out[obase + e] = f32(v) * nrm.x + nrm.y;
        ox += 1u;
        if (ox == p.size) {
            ox = 0u;
            oy += 1u;
        }
    }
}
