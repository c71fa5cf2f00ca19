// Counter-based Philox4x32-10 (Salmon et al., SC'11; Random123). Block b of a call uses the
// counter (lo(c), hi(c), stream, 0) with c = base + b and the key (lo(seed), hi(seed)), and yields
// outputs 4b..4b+3, so every element depends only on (seed, stream, base, index), never on the
// dispatch shape. One invocation computes one block.

struct Params {
    n: u32,          // output elements
    mode: u32,       // 0: raw u32, 1: uniform a + (b − a)·u, 2: normal a + b·z
    key0: u32,
    key1: u32,
    base_lo: u32,    // 64-bit block counter of element 0
    base_hi: u32,
    stream: u32,
    _pad: u32,
    a: f32,
    b: f32,
    _pad2: vec2<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;

// mulhi, philox, unit and box_muller come from the prelude shaders/philox.wgsl
// (kernel!(["philox", "rng"])).

fn transform(w: vec4<u32>) -> vec4<u32> {
    switch p.mode {
        case 1u: {
            let u = vec4<f32>(unit(w.x), unit(w.y), unit(w.z), unit(w.w));
            return bitcast<vec4<u32>>(p.a + (p.b - p.a) * u);
        }
        case 2u: {
            let z = vec4<f32>(box_muller(w.x, w.y), box_muller(w.z, w.w));
            return bitcast<vec4<u32>>(p.a + p.b * z);
        }
        default: { return w; }
    }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let blk = gid.x + gid.y * nwg.x * 64u;
    let first = blk * 4u;
    if (first >= p.n) {
        return;
    }
    let lo = p.base_lo + blk;
    let hi = p.base_hi + select(0u, 1u, lo < blk);
    let w = transform(philox(vec4<u32>(lo, hi, p.stream, 0u), vec2<u32>(p.key0, p.key1)));
    for (var j = 0u; j < 4u; j++) {
        if (first + j < p.n) {
            y[first + j] = w[j];
        }
    }
}
