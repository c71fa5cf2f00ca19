// Packs one matmul operand into the panel texture read by matmul_tex.wgsl, applying its
// transpose (through strides), batch and zero padding in the same pass. X is viewed as
// X[batch, outer, k] (outer = M for A, N for B). Texel t = ((b * panels + q / pw) * kp + k) * pw
// + q % pw holds X[b, 4q + e, k] for e = 0..3, zero where outer >= rows or k >= K.
//
// X arrives as L, a copy of its buffer in a linear texture (texel i = elements 4i..4i+3, rows of
// 2^lw_log2 texels), made by copy_buffer_to_texture. On llvmpipe a storage-buffer load is a
// per-lane, per-component loop that inserts each float through the stack (a store-forwarding
// stall each), while a storage-texture load is one vector gather: packing through L is ~2.5x
// cheaper. A matmul operand is contiguous along k (`pack_k`: A, or B stored transposed) or
// along the outer dim (`pack_o`). One invocation packs a 4 (outer) x 4 (k) block of quad q
// (outer 4q..4q+3) and k quad kq (k 4kq..4kq+3) of batch gid.z: 4 lines of 4 consecutive
// elements, each two texel loads and a shift. The 8 SIMD lanes run along the contiguous
// dimension, so their loads are contiguous and few lanes idle on narrow operands. No
// data-dependent branches: llvmpipe executes both sides of a divergent `if`.
// Only quads holding operand rows are written: the rest of a panel only reaches discarded
// rows and columns of C (padding rows of A, columns of B).

struct Params {
    rows: u32,
    k: u32,
    kp: u32,
    pw_log2: u32, // log2 of the texels per k in one panel: 2 (16 rows), 4 or 5 (64, 128 columns)
    quads: u32,   // quads to write: ceil(rows / 4)
    bs: u32,      // element strides of X: batch, outer, k
    so: u32,
    sk: u32,
    lw_log2: u32, // log2 of L's width in texels
    l_last: u32,  // last texel of L
    panels: u32,
    _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var L: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var T: texture_storage_2d<rgba32float, write>;

fn texel(t: u32) -> vec4<f32> {
    let c = min(t, p.l_last);
    return textureLoad(L, vec2<u32>(c & ((1u << p.lw_log2) - 1u), c >> p.lw_log2));
}

// Elements i..i+3 of X, any alignment (components are shifted with selects: a dynamic vector
// index would move the vector to per-lane scratch memory on llvmpipe).
fn four(i: u32) -> vec4<f32> {
    let a = texel(i >> 2u);
    let b = texel((i >> 2u) + 1u);
    let r = i & 3u;
    let v = select(a, vec4<f32>(a.yzw, b.x), r == 1u);
    return select(select(v, vec4<f32>(a.zw, b.xy), r == 2u), vec4<f32>(a.w, b.xyz), r == 3u);
}

// Lanes of a 4-line that are inside the operand.
fn inside(first: u32, n: u32) -> vec4<bool> {
    return vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(n);
}

fn line(i: u32, first: u32, n: u32, keep: bool) -> vec4<f32> {
    return select(vec4<f32>(0.0), four(i), inside(first, n) & vec4<bool>(keep));
}

fn put(t: u32, v: vec4<f32>) {
    textureStore(T, vec2<u32>(t & 4095u, t >> 12u), v);
}

// Writes the block whose column f is the texel for k = 4kq + f.
fn store(q: u32, kq: u32, batch: u32, m: mat4x4<f32>) {
    let pw = 1u << p.pw_log2;
    let panel = batch * p.panels + (q >> p.pw_log2);
    let t = (panel * p.kp + 4u * kq) * pw + (q & (pw - 1u));
    put(t, m[0]);
    put(t + pw, m[1]);
    put(t + 2u * pw, m[2]);
    put(t + 3u * pw, m[3]);
}

// X contiguous along k: line e is row o + e at k0..k0+3. Lanes walk k (gid.x), quads gid.y.
@compute @workgroup_size(64)
fn pack_k(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var q = gid.y; q < p.quads; q += nwg.y) {
        let o = 4u * q;
        for (var kq = gid.x; kq < p.kp / 4u; kq += 64u * nwg.x) {
            let i = gid.z * p.bs + o * p.so + 4u * kq;
            let m = mat4x4<f32>(
                line(i, 4u * kq, p.k, o < p.rows),
                line(i + p.so, 4u * kq, p.k, o + 1u < p.rows),
                line(i + 2u * p.so, 4u * kq, p.k, o + 2u < p.rows),
                line(i + 3u * p.so, 4u * kq, p.k, o + 3u < p.rows));
            store(q, kq, gid.z, transpose(m));
        }
    }
}

// X contiguous along the outer dim: line f is rows o..o+3 at k = k0 + f. Lanes walk the
// quads (gid.x), k quads gid.y.
@compute @workgroup_size(8, 8)
fn pack_o(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var q = gid.x; q < p.quads; q += 8u * nwg.x) {
        let o = 4u * q;
        for (var kq = gid.y; kq < p.kp / 4u; kq += 8u * nwg.y) {
            let k0 = 4u * kq;
            let i = gid.z * p.bs + o + k0 * p.sk;
            let m = mat4x4<f32>(
                line(i, o, p.rows, k0 < p.k),
                line(i + p.sk, o, p.rows, k0 + 1u < p.k),
                line(i + 2u * p.sk, o, p.rows, k0 + 2u < p.k),
                line(i + 3u * p.sk, o, p.rows, k0 + 3u < p.k));
            store(q, kq, gid.z, m);
        }
    }
}
