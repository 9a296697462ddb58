//! Optimizer updates over one flat parameter buffer (all layers at once).
//! adam: PyTorch's form, with L2 weight decay folded into the gradient, or with
//!       `decoupled` AdamW's: the weights shrunk by lr·decay, the gradient as it is.
//! sgd:  momentum and optional Nesterov, PyTorch's form.
//! ema:  the weights' exponential moving average (Polyak averaging), one step.
//!
//! Dynamic loss scaling (`--precision mixed`: gradients as f16 operands would
//! lose their small values to f16's range, so the loss gradient is scaled by a
//! power of two 2^e and the update unscales it), its state in a buffer of
//! words the step reads and moves on the device, never waiting on the host:
//! [0] e, [1] finite steps since e last changed, [2] steps skipped in the run,
//! [3] 1 where this step's gradients hold ±∞ or NaN, [4] the e this step's
//! gradients carry.
//! scale_loss:   the loss gradient times 2^e, first in the backward pass; clears
//!               the step's flag and notes its e
//! grads_finite: raises the flag where a gradient is ±∞ or NaN
//! adam_scaled, sgd_scaled: the update of the unscaled gradient, or none at all
//!               where the flag is up (the step is skipped: weights and moments
//!               stay as they were)
//! scale_update: a skipped step halves the scale; `interval` finite steps in a
//!               row double it (within 2^min_exp..2^max_exp)

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

struct Scale {
    n: u32,              // values: the loss gradient's (scale_loss), the gradients' (grads_finite)
    interval: u32,       // finite steps in a row after which the scale doubles
    min_exp: u32, max_exp: u32, // i32 bits (the first half of a block is u32 words)
    _v: vec4<u32>, _f: vec4<f32>, _g: vec4<f32>,
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
@group(0) @binding(0) var<uniform> sc: Scale;
@group(0) @binding(5) var<storage, read> ls_adam: array<u32>;     // the loss scale: adam_scaled
@group(0) @binding(4) var<storage, read> ls_sgd: array<u32>;      // sgd_scaled
@group(0) @binding(1) var<storage, read_write> dlogits: array<f32>; // (n) scale_loss
@group(0) @binding(2) var<storage, read_write> ls: array<u32>;    // scale_loss
@group(0) @binding(1) var<storage, read_write> ls_flag: array<atomic<u32>>; // grads_finite
@group(0) @binding(2) var<storage, read> grad_f: array<f32>;      // (n) grads_finite
@group(0) @binding(1) var<storage, read_write> ls_next: array<u32>; // scale_update

fn flat(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= ad.n) { return; }
    adam_at(i, grad[i]);
}

@compute @workgroup_size(256)
fn adam_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= ad.n || ls_adam[3] != 0u) { return; }
    adam_at(i, ldexp(grad[i], -bitcast<i32>(ls_adam[4])));
}

// Adam's update of parameter i by gradient `g0` (L2 decay not yet added).
fn adam_at(i: u32, g0: f32) {
    let w = param[i];
    let decoupled = ad.decoupled != 0u;
    let g = g0 + select(ad.weight_decay, 0.0, decoupled) * w;
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
    sgd_at(i, grad_s[i]);
}

@compute @workgroup_size(256)
fn sgd_scaled(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= sg.n || ls_sgd[3] != 0u) { return; }
    sgd_at(i, ldexp(grad_s[i], -bitcast<i32>(ls_sgd[4])));
}

// SGD's update of parameter i by gradient `g0` (L2 decay not yet added).
fn sgd_at(i: u32, g0: f32) {
    let g = g0 + sg.weight_decay * param[i];
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

@compute @workgroup_size(256)
fn scale_loss(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    let e = bitcast<i32>(ls[0]);
    if (i == 0u) {
        ls[3] = 0u;
        ls[4] = ls[0];
    }
    if (i < sc.n) { dlogits[i] = ldexp(dlogits[i], e); }
}

@compute @workgroup_size(256)
fn grads_finite(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(gid, nwg);
    if (i >= sc.n) { return; }
    // an exponent of all ones: ±∞ or NaN (tested on the bits, which no fast-math assumes away)
    if ((bitcast<u32>(grad_f[i]) & 0x7f800000u) == 0x7f800000u) { atomicOr(&ls_flag[3], 1u); }
}

@compute @workgroup_size(1)
fn scale_update() {
    let e = bitcast<i32>(ls_next[0]);
    if (ls_next[3] != 0u) {
        ls_next[0] = bitcast<u32>(max(e - 1, bitcast<i32>(sc.min_exp)));
        ls_next[1] = 0u;
        ls_next[2] += 1u;
    } else if (ls_next[1] + 1u >= sc.interval) {
        ls_next[0] = bitcast<u32>(min(e + 1, bitcast<i32>(sc.max_exp)));
        ls_next[1] = 0u;
    } else {
        ls_next[1] += 1u;
    }
}
