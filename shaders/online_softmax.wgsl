// Online softmax statistics shared by softmax.wgsl and cross_entropy.wgsl (prepended to both by
// `kernel!`). Expects the including shader to declare `x: array<f32>` and `p.cols`.

const WG: u32 = 256u;
var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;

// Adds one element v to a running (max m, sum s of exp(· - m)). The three-way branch avoids the
// exp(-inf - -inf) = NaN of the textbook update, so -inf entries (masks) are exact zeros, while a
// NaN falls through to the last branch and poisons the row as it should.
fn push(ms: vec2<f32>, v: f32) -> vec2<f32> {
    if (v > ms.x) {
        return vec2<f32>(v, ms.y * exp(ms.x - v) + 1.0);
    } else if (v == ms.x) {
        return vec2<f32>(ms.x, ms.y + 1.0);
    }
    return vec2<f32>(ms.x, ms.y + exp(v - ms.x));
}

// Merges two partial (max, sum) pairs with the same rules as `push`.
fn merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    if (b.x > a.x) {
        return vec2<f32>(b.x, a.y * exp(a.x - b.x) + b.y);
    } else if (b.x == a.x) {
        return vec2<f32>(a.x, a.y + b.y);
    }
    return vec2<f32>(a.x, a.y + b.y * exp(b.x - a.x));
}

// (max, sum) over columns start, start + step, ... of the row at `base`. The seed is the row's
// first element with weight 0: a valid lower bound of the max that needs no -inf constant, and
// the identity for threads that get no column.
fn online_stats(base: u32, start: u32, step: u32) -> vec2<f32> {
    var ms = vec2<f32>(x[base], 0.0);
    for (var j = start; j < p.cols; j += step) {
        ms = push(ms, x[base + j]);
    }
    return ms;
}

// Fixed-order tree merge of every thread's (max, sum); all threads get the row's pair.
fn tree_stats(lid: u32, ms: vec2<f32>) -> vec2<f32> {
    red_m[lid] = ms.x;
    red_s[lid] = ms.y;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            let m = merge(vec2<f32>(red_m[lid], red_s[lid]), vec2<f32>(red_m[lid + k], red_s[lid + k]));
            red_m[lid] = m.x;
            red_s[lid] = m.y;
        }
        workgroupBarrier();
    }
    return vec2<f32>(red_m[0], red_s[0]);
}
