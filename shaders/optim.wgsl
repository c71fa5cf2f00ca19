// Optimizer updates over flat arrays: the optimizer packs every parameter and gradient into one
// buffer each (copies, not dispatches), so a step over a whole model is one dispatch per run of
// parameters that share a step count. Each parameter starts on a vec4 boundary; the padding
// between them holds zeros that stay zero. All hyper-parameters arrive in the uniform, so a
// learning-rate schedule never recompiles anything.

struct Params {
    offset: u32,        // first vec4 of the run
    count: u32,         // vec4s in the run
    momentum_on: u32,   // SGD: keep a momentum buffer
    nesterov: u32,      // SGD: Nesterov momentum
    lr: f32,
    l2: f32,            // weight decay folded into the gradient (SGD, Adam)
    decay: f32,         // AdamW: 1 − lr·wd, applied to the parameter before the step; else 1
    mu: f32,            // SGD momentum / Adam β1
    beta2: f32,
    eps: f32,
    step_size: f32,     // Adam: lr / (1 − β1^t)
    inv_bc2_sqrt: f32,  // Adam: 1 / sqrt(1 − β2^t)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> s1: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> s2: array<vec4<f32>>;

const ITEMS: u32 = 4u;

// PyTorch's SGD: d = g + wd·x; buf = μ·buf + d; step along buf, or d + μ·buf for Nesterov.
@compute @workgroup_size(64)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let threads = nwg.x * 64u;
    let t = gid.x + gid.y * threads;
    let stride = threads * nwg.y;
    for (var k = 0u; k < ITEMS; k++) {
        let j = t + k * stride;
        if (j < p.count) {
            let i = p.offset + j;
            let x = param[i];
            var d = grad[i] + p.l2 * x;
            if (p.momentum_on != 0u) {
                let b = p.mu * s1[i] + d;
                s1[i] = b;
                d = select(b, d + p.mu * b, p.nesterov != 0u);
            }
            param[i] = x - p.lr * d;
        }
    }
}

// PyTorch's Adam / AdamW: bias-corrected moments, eps added outside the square root.
@compute @workgroup_size(64)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let threads = nwg.x * 64u;
    let t = gid.x + gid.y * threads;
    let stride = threads * nwg.y;
    for (var k = 0u; k < ITEMS; k++) {
        let j = t + k * stride;
        if (j < p.count) {
            let i = p.offset + j;
            let x = param[i];
            let g = grad[i] + p.l2 * x;
            let m = p.mu * s1[i] + (1.0 - p.mu) * g;
            let v = p.beta2 * s2[i] + (1.0 - p.beta2) * g * g;
            s1[i] = m;
            s2[i] = v;
            param[i] = p.decay * x - p.step_size * m / (sqrt(v) * p.inv_bc2_sqrt + p.eps);
        }
    }
}
