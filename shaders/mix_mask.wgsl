// Real-weight masks of GAN sample mixing (methods.md §A.3.2): dst[i, 0, v, u] = a_i(u, v), the
// weight of the real image at pixel (u, v) of pair i. One invocation per pixel; the per-pair
// parameters are rows of 8 floats: λ, u1, u2, v1, v2, τ_u, τ_v, unused (box edges in pixel units
// along W (u) and H (v); τ the edge softness, > 0).
//   kind 0 Mixup:  a = λ
//   kind 1 CutMix: a = 1 − 1[u1 ≤ u < u2]·1[v1 ≤ v < v2]      (u, v the integer pixel index)
//   kind 2 SRMix:  a = 1 − b_u·b_v, b_u = s((x − u1)/τ_u) − s((x − u2)/τ_u), x = u + 0.5
//   kind 3 SRMix, Gaussian kernel: b_u = Φ((x − u1)/τ_u) − Φ((x − u2)/τ_u), the exact convolution
//          of the continuous box indicator with a Gaussian of σ = τ_u (separable, likewise in v).

struct Params {
    b: u32,
    h: u32,
    w: u32,
    kind: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

// The logistic, from exp(−|z|) so it never overflows and keeps relative precision for z < 0.
fn logistic(z: f32) -> f32 {
    let e = exp(-abs(z));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), z >= 0.0);
}

// erfc(x) for x ≥ 0 to a relative error below 1.2e-7 (Numerical Recipes' erfcc, Chebyshev fit):
// the upper tail keeps relative precision where 1 − erf would cancel.
fn erfc_pos(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    return t * exp(-x * x + poly);
}

// The standard normal CDF Φ(z) = erfc(−z/√2)/2.
fn normal_cdf(z: f32) -> f32 {
    let tail = 0.5 * erfc_pos(abs(z) * 0.70710678);
    return select(tail, 1.0 - tail, z >= 0.0);
}

// F(za) − F(zb) for za ≥ zb and F a CDF symmetric about 0 (F(−z) = 1 − F(z)). Where both
// arguments lie right of 0 on average, both terms are near 1; the equal F(−zb) − F(−za) takes
// two small terms instead, so the ramp keeps relative precision on both sides of the box.
fn ramp(za: f32, zb: f32, gauss: bool) -> f32 {
    var hi = za;
    var lo = zb;
    if (za + zb > 0.0) {
        hi = -zb;
        lo = -za;
    }
    if (gauss) {
        return normal_cdf(hi) - normal_cdf(lo);
    }
    return logistic(hi) - logistic(lo);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    let hw = p.h * p.w;
    if (t >= p.b * hw) { return; }
    let i = t / hw;
    let u = f32(t % p.w);
    let v = f32((t % hw) / p.w);
    let r = i * 8u;
    let lambda = q[r];
    let u1 = q[r + 1u];
    let u2 = q[r + 2u];
    let v1 = q[r + 3u];
    let v2 = q[r + 4u];
    var a = lambda;
    if (p.kind == 1u) {
        let inside = u1 <= u && u < u2 && v1 <= v && v < v2;
        a = select(1.0, 0.0, inside);
    } else if (p.kind >= 2u) {
        let tu = q[r + 5u];
        let tv = q[r + 6u];
        let x = u + 0.5;
        let y = v + 0.5;
        let gauss = p.kind == 3u;
        let bu = ramp((x - u1) / tu, (x - u2) / tu, gauss);
        let bv = ramp((y - v1) / tv, (y - v2) / tv, gauss);
        a = 1.0 - bu * bv;
    }
    dst[t] = a;
}
