//! Twins of shaders/optim.wgsl: Adam and SGD (momentum, Nesterov) updates.

use super::Dims;

/// Mirrors `struct Adam`. c1 = 1/(1-β1^t), c2 = 1/(1-β2^t) for step t (from 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamDims {
    pub n: u32,
    pub _u: [u32; 7],
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub c1: f32,
    pub c2: f32,
    pub _f: f32,
}
impl Dims for AdamDims {}

impl AdamDims {
    pub fn new(n: usize, lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32, t: u64) -> Self {
        let t = t.max(1) as i32;
        AdamDims {
            n: n as u32,
            _u: [0; 7],
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            c1: (1.0 / (1.0 - (beta1 as f64).powi(t))) as f32,
            c2: (1.0 / (1.0 - (beta2 as f64).powi(t))) as f32,
            _f: 0.0,
        }
    }
}

pub fn adam(param: &mut [f32], m: &mut [f32], v: &mut [f32], grad: &[f32], d: &AdamDims) {
    for i in 0..d.n as usize {
        let g = grad[i] + d.weight_decay * param[i];
        m[i] = d.beta1 * m[i] + (1.0 - d.beta1) * g;
        v[i] = d.beta2 * v[i] + (1.0 - d.beta2) * g * g;
        param[i] -= d.lr * (m[i] * d.c1) / ((v[i] * d.c2).sqrt() + d.eps);
    }
}

/// Mirrors `struct Sgd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SgdDims {
    pub n: u32,
    pub nesterov: u32,
    pub _u: [u32; 6],
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub _f: [f32; 5],
}
impl Dims for SgdDims {}

impl SgdDims {
    pub fn new(n: usize, lr: f32, momentum: f32, nesterov: bool, weight_decay: f32) -> Self {
        SgdDims { n: n as u32, nesterov: nesterov as u32, _u: [0; 6], lr, momentum, weight_decay, _f: [0.0; 5] }
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
