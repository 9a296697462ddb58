//! Twins of shaders/conv2d.wgsl: conv2d, forward and gradients, with a stride and
//! 'same' or 'valid' padding as Keras defines them: 'same' gives ceil(H/s) rows
//! and pads max((Ho-1)·s + k - H, 0) in all, half of it (rounded down) before;
//! 'valid' gives (H - k)/s + 1 rows and pads nothing. Output pixel (oy, ox) reads
//! input (oy·s + ky - pad_y, ox·s + kx - pad_x).

use super::{flags, Dims, FLAG_BIAS, FLAG_RELU};
use num_traits::Float;

/// Mirrors `struct Conv`. X (n, cin, h, w), W (cout, cin, k, k), Y (n, cout, ho, wo).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConvDims {
    pub n: u32,
    pub cin: u32,
    pub cout: u32,
    pub h: u32,
    pub w: u32,
    pub k: u32,
    pub flags: u32,
    /// Grad weight only: split-K chunks (1: write dW directly).
    pub splits: u32,
    pub stride: u32,
    /// Padding before (top, left); the rest of the padding goes after.
    pub pad_y: u32,
    pub pad_x: u32,
    pub ho: u32,
    pub wo: u32,
    pub _f: [f32; 3],
}
impl Dims for ConvDims {}

impl ConvDims {
    /// 'same', stride 1.
    pub fn new(n: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize) -> Self {
        ConvDims::strided(n, cin, cout, h, w, k, 1, true)
    }
    /// Stride `s` with 'same' (`same`) or 'valid' padding; 'valid' needs k <= h, w.
    #[allow(clippy::too_many_arguments)]
    pub fn strided(n: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize, s: usize, same: bool) -> Self {
        let u = |x: usize| x as u32;
        // (output length, padding before) along one axis of `len` pixels
        let out = |len: usize| {
            if same {
                let o = len.div_ceil(s);
                (o, ((o - 1) * s + k).saturating_sub(len) / 2)
            } else {
                ((len - k) / s + 1, 0)
            }
        };
        let ((ho, pad_y), (wo, pad_x)) = (out(h), out(w));
        ConvDims {
            n: u(n),
            cin: u(cin),
            cout: u(cout),
            h: u(h),
            w: u(w),
            k: u(k),
            flags: 0,
            splits: 1,
            stride: u(s),
            pad_y: u(pad_y),
            pad_x: u(pad_x),
            ho: u(ho),
            wo: u(wo),
            _f: [0.0; 3],
        }
    }
    pub fn with_epilogue(mut self, bias: bool, relu: bool) -> Self {
        self.flags = flags(bias, relu);
        self
    }
    /// (n, cin, cout, h, w, k) as usize.
    fn unpack(&self) -> (usize, usize, usize, usize, usize, usize) {
        let u = |x: u32| x as usize;
        (u(self.n), u(self.cin), u(self.cout), u(self.h), u(self.w), u(self.k))
    }
    /// Grad weight in `splits` split-K chunks: the output becomes (splits, Co, Ci·k·k).
    pub fn with_splits(mut self, splits: usize) -> Self {
        self.splits = splits as u32;
        self
    }
    /// Output pixels (of N·Ho·Wo) per split-K chunk, as conv2d.wgsl's split_chunk.
    pub fn split_chunk(&self) -> usize {
        let (kdim, s) = ((self.n * self.ho * self.wo) as usize, self.splits as usize);
        kdim.div_ceil(s * 16) * 16
    }
    /// (Ho, Wo) as usize.
    pub fn out_hw(&self) -> (usize, usize) {
        (self.ho as usize, self.wo as usize)
    }
}

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
