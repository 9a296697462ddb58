//! Twins of shaders/optim.wgsl: Adam and SGD (momentum, Nesterov) updates.

use crate::kernels::{AdamDims, EmaDims, SgdDims};

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
