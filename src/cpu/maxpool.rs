//! Twins of shaders/maxpool.wgsl: k×k max-pool, stride k, floor.

use crate::kernels::PoolDims;
use num_traits::Float;

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

/// A gradient epilogue's unpooling (FLAG_UNPOOL, kernels::fuse): `g` is a k×k
/// max-pool's output gradient (planes of h×w), sent back through `argmax` into the
/// pool's input gradient `dx` (planes of full_h×full_w), 0 elsewhere, as
/// `maxpool_backward` does.
pub fn unpool<T: Float>(dx: &mut [T], g: &[T], argmax: &[u32], planes: usize, hw: usize, full_hw: usize) {
    dx[..planes * full_hw].iter_mut().for_each(|v| *v = T::zero());
    for o in 0..planes * hw {
        dx[argmax[o] as usize] = g[o];
    }
}
