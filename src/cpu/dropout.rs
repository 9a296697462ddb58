//! Twins of shaders/dropout.wgsl: the same counter-based hash, bit for bit.

use crate::kernels::DropoutDims;
use num_traits::Float;

/// PCG-style integer permutation, as in dropout.wgsl.
pub fn pcg(v: u32) -> u32 {
    let s = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let w = ((s >> ((s >> 28) + 4)) ^ s).wrapping_mul(277803737);
    (w >> 22) ^ w
}

/// The per-(seed, step, layer) key that element indices are hashed with.
pub fn dropout_key(d: &DropoutDims) -> u32 {
    pcg(d.seed ^ pcg(d.step ^ pcg(d.salt)))
}

pub fn dropout_keep(i: u32, d: &DropoutDims) -> bool {
    pcg(i ^ dropout_key(d)) >= d.threshold
}

fn apply<T: Float>(out: &mut [T], src: &[T], d: &DropoutDims) {
    let scale = T::from(d.scale).unwrap();
    for i in 0..d.n as usize {
        out[i] = if dropout_keep(i as u32, d) { src[i] * scale } else { T::zero() };
    }
}

pub fn dropout_forward<T: Float>(y: &mut [T], x: &[T], d: &DropoutDims) {
    apply(y, x, d)
}

pub fn dropout_backward<T: Float>(dx: &mut [T], dy: &[T], d: &DropoutDims) {
    apply(dx, dy, d)
}
