// Prelude: Philox4x32-10 (Salmon et al., SC'11; Random123), shared by rng.wgsl and every
// kernel that draws its own random numbers. Concatenated in front of a family's shader by
// `kernel!(K = ["philox", "<family>"]::..)`.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// High 32 bits of a 32×32 product from 16-bit halves (WGSL has no u64); the low half is a * b.
fn mulhi(a: u32, b: u32) -> u32 {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let lh = al * bh;
    let hl = ah * bl;
    let mid = ((al * bl) >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    return ah * bh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = ctr;
    var k = key;
    for (var r = 0u; r < 10u; r++) {
        let hi0 = mulhi(PHILOX_M0, c.x);
        let hi1 = mulhi(PHILOX_M1, c.z);
        c = vec4<u32>(hi1 ^ c.y ^ k.x, PHILOX_M1 * c.z, hi0 ^ c.w ^ k.y, PHILOX_M0 * c.x);
        k += vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    return c;
}


// The top 24 bits as a float in [0, 1): exactly representable, so never rounds up to 1.
fn unit(x: u32) -> f32 {
    return f32(x >> 8u) * (1.0 / 16777216.0);
}

// Box–Muller on one pair of words: u1 in (0, 1] so log never sees 0. The angle stays in
// [-π, π), the only range where WGSL bounds the error of sin and cos. Shared by rng.wgsl's
// normal mode and every kernel that must draw the same normals (adjusted_ce.wgsl).
fn box_muller(x0: u32, x1: u32) -> vec2<f32> {
    let u1 = f32((x0 >> 8u) + 1u) * (1.0 / 16777216.0);
    let r = sqrt(-2.0 * log(u1));
    let th = 6.2831855 * unit(x1) - 3.1415927;
    return vec2<f32>(r * cos(th), r * sin(th));
}
