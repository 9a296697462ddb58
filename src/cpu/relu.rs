//! Twins of shaders/relu.wgsl.

use crate::kernels::ElemDims;
use num_traits::Float;

pub fn relu_forward<T: Float>(y: &mut [T], x: &[T], d: &ElemDims) {
    for i in 0..d.n as usize {
        y[i] = x[i].max(T::zero());
    }
}

/// In place: `dy <- dy · [y > 0]`.
pub fn relu_backward<T: Float>(dy: &mut [T], y: &[T], d: &ElemDims) {
    for i in 0..d.n as usize {
        if y[i] <= T::zero() {
            dy[i] = T::zero();
        }
    }
}
