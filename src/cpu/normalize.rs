//! Twin of shaders/normalize.wgsl: per-channel standardisation, in place.

use crate::kernels::NormalizeDims;
use num_traits::Float;

pub fn normalize<T: Float>(x: &mut [T], d: &NormalizeDims) {
    let (plane, channels) = (d.plane as usize, d.channels as usize);
    for (i, v) in x[..d.n as usize].iter_mut().enumerate() {
        let c = (i / plane) % channels;
        *v = (*v - T::from(d.mean[c]).unwrap()) * T::from(d.inv_std[c]).unwrap();
    }
}
