//! Twins of shaders/optim.wgsl: Adam and SGD (momentum, Nesterov) updates, the
//! weights' average, and the dynamic loss scale's kernels (`optim::LossScale`:
//! word 0 the exponent, 1 the finite steps in a row, 2 the skipped steps, 3 the
//! step's flag, 4 the exponent its gradients carry).

use crate::kernels::{AdamDims, EmaDims, ScaleDims, SgdDims};

pub fn adam(param: &mut [f32], m: &mut [f32], v: &mut [f32], grad: &[f32], d: &AdamDims) {
    let decoupled = d.decoupled != 0;
    for i in 0..d.n as usize {
        let w = param[i];
        let g = grad[i] + if decoupled { 0.0 } else { d.weight_decay } * w;
        m[i] = d.beta1 * m[i] + (1.0 - d.beta1) * g;
        v[i] = d.beta2 * v[i] + (1.0 - d.beta2) * g * g;
        let shrunk = if decoupled { w * (1.0 - d.lr * d.weight_decay) } else { w };
        param[i] = shrunk - d.lr * (m[i] * d.c1) / ((v[i] * d.c2).sqrt() + d.eps);
    }
}

pub fn ema(avg: &mut [f32], live: &[f32], d: &EmaDims) {
    for i in 0..d.n as usize {
        avg[i] = d.decay * avg[i] + (1.0 - d.decay) * live[i];
    }
}

pub fn sgd(param: &mut [f32], vel: &mut [f32], grad: &[f32], d: &SgdDims) {
    for i in 0..d.n as usize {
        let g = grad[i] + d.weight_decay * param[i];
        vel[i] = d.momentum * vel[i] + g;
        let step = if d.nesterov != 0 { g + d.momentum * vel[i] } else { vel[i] };
        param[i] -= d.lr * step;
    }
}

/// x·2^e, exactly (as WGSL's ldexp) for the exponents a loss scale takes.
fn ldexp(x: f32, e: i32) -> f32 {
    x * 2f32.powi(e)
}

pub fn scale_loss(dlogits: &mut [f32], scale: &mut [u32], d: &ScaleDims) {
    let e = scale[0] as i32;
    scale[3] = 0;
    scale[4] = scale[0];
    dlogits[..d.n as usize].iter_mut().for_each(|x| *x = ldexp(*x, e));
}

pub fn grads_finite(scale: &mut [u32], grads: &[f32], d: &ScaleDims) {
    if grads[..d.n as usize].iter().any(|g| !g.is_finite()) {
        scale[3] |= 1;
    }
}

/// The gradients unscaled, or None where the step is skipped (its flag is up).
fn unscaled(grad: &[f32], scale: &[u32], n: u32) -> Option<Vec<f32>> {
    (scale[3] == 0).then(|| grad[..n as usize].iter().map(|&g| ldexp(g, -(scale[4] as i32))).collect())
}

pub fn adam_scaled(param: &mut [f32], m: &mut [f32], v: &mut [f32], grad: &[f32], scale: &[u32], d: &AdamDims) {
    if let Some(g) = unscaled(grad, scale, d.n) {
        adam(param, m, v, &g, d);
    }
}

pub fn sgd_scaled(param: &mut [f32], vel: &mut [f32], grad: &[f32], scale: &[u32], d: &SgdDims) {
    if let Some(g) = unscaled(grad, scale, d.n) {
        sgd(param, vel, &g, d);
    }
}

pub fn scale_update(scale: &mut [u32], d: &ScaleDims) {
    let e = scale[0] as i32;
    if scale[3] != 0 {
        scale[0] = (e - 1).max(d.min_exp) as u32;
        scale[1] = 0;
        scale[2] += 1;
    } else if scale[1] + 1 >= d.interval {
        scale[0] = (e + 1).min(d.max_exp) as u32;
        scale[1] = 0;
    } else {
        scale[1] += 1;
    }
}
