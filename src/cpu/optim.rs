//! Twins of shaders/optim.wgsl: Adam and SGD (momentum, Nesterov) updates.

use crate::kernels::{AdamDims, SgdDims};

pub fn adam(param: &mut [f32], m: &mut [f32], v: &mut [f32], grad: &[f32], d: &AdamDims) {
    for i in 0..d.n as usize {
        let g = grad[i] + d.weight_decay * param[i];
        m[i] = d.beta1 * m[i] + (1.0 - d.beta1) * g;
        v[i] = d.beta2 * v[i] + (1.0 - d.beta2) * g * g;
        param[i] -= d.lr * (m[i] * d.c1) / ((v[i] * d.c2).sqrt() + d.eps);
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
