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

