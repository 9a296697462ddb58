//! Twins of shaders/dropout.wgsl: the same counter-based hash, bit for bit.

use super::Dims;
use num_traits::Float;

/// Mirrors `struct Dropout`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DropoutDims {
    pub n: u32,
    pub seed: u32,
    pub step: u32,
    /// Distinguishes the dropout layers of one network.
    pub salt: u32,
    /// Element kept iff hash >= threshold = ceil(p · 2^32).
    pub threshold: u32,
    pub _u: [u32; 3],
    /// 1 / (1 - p).
    pub scale: f32,
    pub _f: [f32; 7],
}
impl Dims for DropoutDims {}

impl DropoutDims {
    /// p in [0, 1): the probability of dropping a unit.
    pub fn new(n: usize, p: f32, seed: u32, step: u32, salt: u32) -> Self {
        let threshold = ((p as f64) * 4294967296.0).ceil().min(u32::MAX as f64) as u32;
        DropoutDims {
            n: n as u32,
            seed,
            step,
            salt,
            threshold,
            _u: [0; 3],
            scale: (1.0 / (1.0 - p as f64)) as f32,
            _f: [0.0; 7],
        }
    }
}

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
