//! Twins of shaders/relu.wgsl.

use super::Dims;
use num_traits::Float;

/// Mirrors `struct Relu`: an element count.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ElemDims {
    pub n: u32,
    pub _u: [u32; 7],
    pub _f: [f32; 8],
}
impl Dims for ElemDims {}

impl ElemDims {
    pub fn new(n: usize) -> Self {
        ElemDims { n: n as u32, _u: [0; 7], _f: [0.0; 8] }
    }
}

pub fn relu_forward<T: Float>(y: &mut [T], x: &[T], d: &ElemDims) {
    for i in 0..d.n as usize {
        y[i] = x[i].max(T::zero());
    }
}

/// In place: dy <- dy · [y > 0].
pub fn relu_backward<T: Float>(dy: &mut [T], y: &[T], d: &ElemDims) {
    for i in 0..d.n as usize {
        if y[i] <= T::zero() {
            dy[i] = T::zero();
        }
    }
}
