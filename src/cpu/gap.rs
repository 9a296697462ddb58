//! Twins of shaders/gap.wgsl: global average pooling, (N, C, H, W) -> (N, C).

use crate::kernels::GapDims;
use num_traits::Float;

/// Each plane's sum in order, divided by its size.
pub fn gap_forward<T: Float>(y: &mut [T], x: &[T], d: &GapDims) {
    let hw = d.hw as usize;
    for p in 0..d.planes as usize {
        let s = x[p * hw..(p + 1) * hw].iter().fold(T::zero(), |s, &v| s + v);
        y[p] = s / T::from(hw).unwrap();
    }
}

/// Overwrites dx: each input's share of its plane's gradient.
pub fn gap_backward<T: Float>(dx: &mut [T], dy: &[T], d: &GapDims) {
    let hw = d.hw as usize;
    for i in 0..d.planes as usize * hw {
        dx[i] = dy[i / hw] / T::from(hw).unwrap();
    }
}
