//! Twins of shaders/conv2d.wgsl: conv2d, forward and gradients, with a stride and
//! 'same' or 'valid' padding as Keras defines them: 'same' gives ceil(H/s) rows
//! and pads max((Ho-1)·s + k - H, 0) in all, half of it (rounded down) before;
//! 'valid' gives (H - k)/s + 1 rows and pads nothing. Output pixel (oy, ox) reads
//! input (oy·s + ky - pad_y, ox·s + kx - pad_x).

use crate::kernels::{ConvDims, FLAG_BIAS, FLAG_GRAD_BIAS, FLAG_MASK, FLAG_RELU, FLAG_UNPOOL};
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

/// Under FLAG_MASK dX is then times `[mask > 0]` (mask laid out as dX); under
/// FLAG_UNPOOL, dX is a max-pool's output gradient sent on through `argmax` into
/// the pool's input gradient, (N, Ci, `epi[1]`, `epi[2]`).
pub fn conv2d_backward_input<T: Float>(dx: &mut [T], dy: &[T], wt: &[T], mask: &[T], argmax: &[u32], d: &ConvDims) {
    let (n, cin, _, h, w, _) = d.unpack();
    if d.flags & FLAG_UNPOOL != 0 {
        let mut g = vec![T::zero(); n * cin * h * w];
        conv2d_backward_input(&mut g, dy, wt, mask, argmax, &ConvDims { flags: d.flags & !FLAG_UNPOOL, ..*d });
        return super::unpool(dx, &g, argmax, n * cin, h * w, (d.epi[1] * d.epi[2]) as usize);
    }
    plain_backward_input(dx, dy, wt, d);
    if d.flags & FLAG_MASK != 0 {
        for (v, m) in dx[..n * cin * h * w].iter_mut().zip(mask) {
            if m.partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater) {
                *v = T::zero();
            }
        }
    }
}

fn plain_backward_input<T: Float>(dx: &mut [T], dy: &[T], wt: &[T], d: &ConvDims) {
    let (_, cin, cout, h, w, k) = d.unpack();
    let (ho, wo) = d.out_hw();
    dx.iter_mut().for_each(|v| *v = T::zero());
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        dx[((b * cin + ci) * h + iy) * w + ix] = dx[((b * cin + ci) * h + iy) * w + ix]
            + wt[((co * cin + ci) * k + ky) * k + kx] * dy[((b * cout + co) * ho + oy) * wo + ox];
    });
}

/// dW, or with `splits` > 1 the partial dW of each split-K chunk of pixels:
/// dw is then (splits, Co, Ci·k·k) and sum_splits adds the slices. Under
/// FLAG_GRAD_BIAS each slice also holds the bias gradient (Co) from `epi[0]` on (a
/// slice is then `epi[0]` + Co long; what lies between is not written).
pub fn conv2d_backward_weight<T: Float>(dw: &mut [T], dy: &[T], x: &[T], d: &ConvDims) {
    let (n, cin, cout, h, w, k) = d.unpack();
    let (ho, wo) = d.out_hw();
    let (len, chunk) = (cout * cin * k * k, d.split_chunk());
    let bias_at = (d.flags & FLAG_GRAD_BIAS != 0).then_some(d.epi[0] as usize);
    let stride = bias_at.map_or(len, |at| at + cout);
    for z in 0..d.splits as usize {
        dw[z * stride..z * stride + len].iter_mut().for_each(|v| *v = T::zero());
    }
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        let slice = ((b * ho + oy) * wo + ox) / chunk * stride;
        let i = slice + ((co * cin + ci) * k + ky) * k + kx;
        dw[i] = dw[i] + dy[((b * cout + co) * ho + oy) * wo + ox] * x[((b * cin + ci) * h + iy) * w + ix];
    });
    if let Some(at) = bias_at {
        for z in 0..d.splits as usize {
            let pixels = (z * chunk).min(n * ho * wo)..((z + 1) * chunk).min(n * ho * wo);
            for co in 0..cout {
                let sum = pixels
                    .clone()
                    .fold(T::zero(), |s, p| s + dy[((p / (ho * wo)) * cout + co) * ho * wo + p % (ho * wo)]);
                dw[z * stride + at + co] = sum;
            }
        }
    }
}
