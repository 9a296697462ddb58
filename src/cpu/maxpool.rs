//! Twins of shaders/maxpool.wgsl: k×k max-pool, stride k, floor.

use super::Dims;
use num_traits::Float;

/// Mirrors `struct Pool`. X (n, c, h, w) -> Y (n, c, h/k, w/k).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PoolDims {
    pub n: u32,
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub k: u32,
    pub _u: [u32; 3],
    pub _f: [f32; 8],
}
impl Dims for PoolDims {}

impl PoolDims {
    pub fn new(n: usize, c: usize, h: usize, w: usize, k: usize) -> Self {
        let u = |x: usize| x as u32;
        PoolDims { n: u(n), c: u(c), h: u(h), w: u(w), k: u(k), _u: [0; 3], _f: [0.0; 8] }
    }
}

/// Keeps the flat input index of each window's first maximum in `argmax`.
pub fn maxpool_forward<T: Float>(y: &mut [T], argmax: &mut [u32], x: &[T], d: &PoolDims) {
    let (h, w, k) = (d.h as usize, d.w as usize, d.k as usize);
    let (oh, ow) = (h / k, w / k);
    for plane in 0..(d.n * d.c) as usize {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best_i = (plane * h + oy * k) * w + ox * k;
                for dy in 0..k {
                    for dx in 0..k {
                        let i = (plane * h + oy * k + dy) * w + ox * k + dx;
                        if x[i] > x[best_i] {
                            best_i = i;
                        }
                    }
                }
                let o = (plane * oh + oy) * ow + ox;
                y[o] = x[best_i];
                argmax[o] = best_i as u32;
            }
        }
    }
}

/// Overwrites dx: the gradient of each window goes to its argmax, 0 elsewhere.
pub fn maxpool_backward<T: Float>(dx: &mut [T], dy: &[T], argmax: &[u32], d: &PoolDims) {
    let (h, w, k) = (d.h as usize, d.w as usize, d.k as usize);
    let outputs = (d.n * d.c) as usize * (h / k) * (w / k);
    dx[..(d.n * d.c) as usize * h * w].iter_mut().for_each(|v| *v = T::zero());
    for o in 0..outputs {
        dx[argmax[o] as usize] = dy[o];
    }
}
