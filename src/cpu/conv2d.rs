//! Twins of shaders/conv2d.wgsl: conv2d, forward and gradients, with a stride and
//! 'same' or 'valid' padding as Keras defines them: 'same' gives ceil(H/s) rows
//! and pads max((Ho-1)·s + k - H, 0) in all, half of it (rounded down) before;
//! 'valid' gives (H - k)/s + 1 rows and pads nothing. Output pixel (oy, ox) reads
//! input (oy·s + ky - pad_y, ox·s + kx - pad_x).

use crate::kernels::{ConvDims, FLAG_BIAS, FLAG_RELU};
use num_traits::Float;

/// Calls f(n, ci, co, oy, ox, iy, ix, ky, kx) for every (output pixel, tap) pair whose
/// input pixel lies inside the image: the one loop nest all three kernels share.
fn for_each_tap(d: &ConvDims, mut f: impl FnMut([usize; 9])) {
    let (n, cin, cout, h, w, k) = d.unpack();
    let (ho, wo) = d.out_hw();
    let (s, py, px) = (d.stride as isize, d.pad_y as isize, d.pad_x as isize);
    for b in 0..n {
        for co in 0..cout {
            for ci in 0..cin {
                for oy in 0..ho {
                    for ox in 0..wo {
                        for ky in 0..k {
                            let iy = oy as isize * s + ky as isize - py;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..k {
                                let ix = ox as isize * s + kx as isize - px;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                f([b, ci, co, oy, ox, iy as usize, ix as usize, ky, kx]);
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn conv2d_forward<T: Float>(y: &mut [T], x: &[T], wt: &[T], bias: &[T], d: &ConvDims) {
    let (_, cin, cout, h, w, k) = d.unpack();
    let (ho, wo) = d.out_hw();
    y.iter_mut().for_each(|v| *v = T::zero());
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        y[((b * cout + co) * ho + oy) * wo + ox] = y[((b * cout + co) * ho + oy) * wo + ox]
            + wt[((co * cin + ci) * k + ky) * k + kx] * x[((b * cin + ci) * h + iy) * w + ix];
    });
    let hw = ho * wo;
    for (i, v) in y.iter_mut().enumerate().take(d.n as usize * cout * hw) {
        let co = (i / hw) % cout;
        if d.flags & FLAG_BIAS != 0 {
            *v = *v + bias[co];
        }
        if d.flags & FLAG_RELU != 0 {
            *v = v.max(T::zero());
        }
    }
}

pub fn conv2d_backward_input<T: Float>(dx: &mut [T], dy: &[T], wt: &[T], d: &ConvDims) {
    let (_, cin, cout, h, w, k) = d.unpack();
    let (ho, wo) = d.out_hw();
    dx.iter_mut().for_each(|v| *v = T::zero());
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        dx[((b * cin + ci) * h + iy) * w + ix] = dx[((b * cin + ci) * h + iy) * w + ix]
            + wt[((co * cin + ci) * k + ky) * k + kx] * dy[((b * cout + co) * ho + oy) * wo + ox];
    });
}

/// dW, or with `splits` > 1 the partial dW of each split-K chunk of pixels:
/// dw is then (splits, Co, Ci·k·k) and sum_splits adds the slices.
pub fn conv2d_backward_weight<T: Float>(dw: &mut [T], dy: &[T], x: &[T], d: &ConvDims) {
    let (_, cin, cout, h, w, k) = d.unpack();
    let (ho, wo) = d.out_hw();
    let (len, chunk) = (cout * cin * k * k, d.split_chunk());
    dw[..len * d.splits as usize].iter_mut().for_each(|v| *v = T::zero());
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        let slice = ((b * ho + oy) * wo + ox) / chunk * len;
        let i = slice + ((co * cin + ci) * k + ky) * k + kx;
        dw[i] = dw[i] + dy[((b * cout + co) * ho + oy) * wo + ox] * x[((b * cin + ci) * h + iy) * w + ix];
    });
}
