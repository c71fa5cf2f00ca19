// Device peaks for `tailgrad bench`: fp32 FMA throughput and storage-buffer copy bandwidth.
// Every result is reported as a percentage of these, so they must measure the device, not the
// kernel: the FMA loop keeps 8 independent accumulators (enough to cover FMA latency × pipes
// on CPUs and to give GPUs instruction-level parallelism) and the copy moves whole vec4s.

struct Params {
    n: u32,       // fma: invocations that write a result; copy, add_ref: vec4s
    iters: u32,   // fma: loop trips, 32 fmas each (8 chains, unrolled 4 times)
    m: f32,       // fma multiplier, a uniform so the compiler cannot fold the chain
    c: f32,       // fma addend
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> src2: array<vec4<f32>>;

// 8 scalar chains: on a CPU driver each scalar is one SIMD register across lanes, so 8 chains fill
// 2 FMA pipes × 4 cycles of latency without spilling the 16 AVX registers. Unrolled by hand so
// the loop test (a masked vector compare on CPU drivers) is paid once per 32 fmas.
const ITEMS: u32 = 4u;

@compute @workgroup_size(64)
fn fma_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = gid.x + gid.y * nwg.x * 64u;
    let s = f32(t & 255u) * 1e-3;
    var x0 = s; var x1 = s + 0.1; var x2 = s + 0.2; var x3 = s + 0.3;
    var x4 = s + 0.4; var x5 = s + 0.5; var x6 = s + 0.6; var x7 = s + 0.7;
    let m = p.m;
    let c = p.c;
    for (var i = 0u; i < p.iters; i++) {
        x0 = fma(x0, m, c); x1 = fma(x1, m, c); x2 = fma(x2, m, c); x3 = fma(x3, m, c);
        x4 = fma(x4, m, c); x5 = fma(x5, m, c); x6 = fma(x6, m, c); x7 = fma(x7, m, c);
        x0 = fma(x0, m, c); x1 = fma(x1, m, c); x2 = fma(x2, m, c); x3 = fma(x3, m, c);
        x4 = fma(x4, m, c); x5 = fma(x5, m, c); x6 = fma(x6, m, c); x7 = fma(x7, m, c);
        x0 = fma(x0, m, c); x1 = fma(x1, m, c); x2 = fma(x2, m, c); x3 = fma(x3, m, c);
        x4 = fma(x4, m, c); x5 = fma(x5, m, c); x6 = fma(x6, m, c); x7 = fma(x7, m, c);
        x0 = fma(x0, m, c); x1 = fma(x1, m, c); x2 = fma(x2, m, c); x3 = fma(x3, m, c);
        x4 = fma(x4, m, c); x5 = fma(x5, m, c); x6 = fma(x6, m, c); x7 = fma(x7, m, c);
    }
    // Written so the chains are live; the host never reads it.
    if (t < p.n) {
        dst[t] = vec4<f32>(x0 + x4, x1 + x5, x2 + x6, x3 + x7);
    }
}

// Grid-stride over ITEMS vec4s per invocation, neighbouring lanes on neighbouring addresses.
@compute @workgroup_size(64)
fn copy_peak(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let threads = nwg.x * 64u;
    let t = gid.x + gid.y * threads;
    let stride = threads * nwg.y;
    for (var k = 0u; k < ITEMS; k++) {
        let i = t + k * stride;
        if (i >= p.n) { return; }
        dst[i] = src[i];
    }
}

// Reference for the library's `add`: dst = src + src2 with the copy's grid, no index maths.
@compute @workgroup_size(64)
fn add_ref(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let threads = nwg.x * 64u;
    let t = gid.x + gid.y * threads;
    let stride = threads * nwg.y;
    for (var k = 0u; k < ITEMS; k++) {
        let i = t + k * stride;
        if (i >= p.n) { return; }
        dst[i] = src[i] + src2[i];
    }
}
