//! Optimizer updates over one flat parameter buffer (all layers at once).
//! adam: PyTorch's form, with L2 weight decay folded into the gradient, or with
//!       `decoupled` AdamW's: the weights shrunk by lr·decay, the gradient as it is.
//! sgd:  momentum and optional Nesterov, PyTorch's form.
//! ema:  the weights' exponential moving average (Polyak averaging), one step.

struct Adam {
    n: u32,
    decoupled: u32,      // 1: AdamW (decay applied to the weights, not the gradient)
    _u2: u32, _u3: u32, _v: vec4<u32>,
    lr: f32, beta1: f32, beta2: f32, eps: f32,
    weight_decay: f32,
    c1: f32,             // 1 / (1 - beta1^t)
    c2: f32,             // 1 / (1 - beta2^t)
    _f: f32,
}

struct Sgd {
    n: u32,
    nesterov: u32,
    _u2: u32, _u3: u32, _v: vec4<u32>,
    lr: f32, momentum: f32, weight_decay: f32,
    _f3: f32, _f: vec4<f32>,
}

struct Ema {
    n: u32,
    _u1: u32, _u2: u32, _u3: u32, _v: vec4<u32>,
    decay: f32,          // avg <- decay * avg + (1 - decay) * w
    _f1: f32, _f2: f32, _f3: f32, _f: vec4<f32>,
}

@group(0) @binding(0) var<uniform> ad: Adam;
@group(0) @binding(0) var<uniform> sg: Sgd;
@group(0) @binding(0) var<uniform> em: Ema;
@group(0) @binding(1) var<storage, read_write> param: array<f32>; // (n)
@group(0) @binding(2) var<storage, read_write> m: array<f32>;     // (n) adam first moment
@group(0) @binding(3) var<storage, read_write> v: array<f32>;     // (n) adam second moment
@group(0) @binding(4) var<storage, read> grad: array<f32>;        // (n) adam
@group(0) @binding(2) var<storage, read_write> vel: array<f32>;   // (n) sgd velocity
@group(0) @binding(3) var<storage, read> grad_s: array<f32>;      // (n) sgd
@group(0) @binding(1) var<storage, read_write> avg: array<f32>;   // (n) ema: the average
@group(0) @binding(2) var<storage, read> live: array<f32>;        // (n) ema: the weights

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= ad.n) { return; }
    let w = param[i];
    let decoupled = ad.decoupled != 0u;
    let g = grad[i] + select(ad.weight_decay, 0.0, decoupled) * w;
    let mi = ad.beta1 * m[i] + (1.0 - ad.beta1) * g;
    let vi = ad.beta2 * v[i] + (1.0 - ad.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let shrunk = select(w, w * (1.0 - ad.lr * ad.weight_decay), decoupled);
    param[i] = shrunk - ad.lr * (mi * ad.c1) / (sqrt(vi * ad.c2) + ad.eps);
}

@compute @workgroup_size(256)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= sg.n) { return; }
    let g = grad_s[i] + sg.weight_decay * param[i];
    let b = sg.momentum * vel[i] + g;
    vel[i] = b;
    let step = select(b, g + sg.momentum * b, sg.nesterov != 0u);
    param[i] -= sg.lr * step;
}

@compute @workgroup_size(256)
fn ema(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= em.n) { return; }
    avg[i] = em.decay * avg[i] + (1.0 - em.decay) * live[i];
}
