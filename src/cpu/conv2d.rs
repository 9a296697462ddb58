//! Twins of shaders/conv2d.wgsl: conv2d 'same' (stride 1), forward and gradients.
//! Even kernels pad (k-1)/2 before and the rest after, like Keras and PyTorch.

use super::{flags, Dims, FLAG_BIAS, FLAG_RELU};
use num_traits::Float;

/// Mirrors `struct Conv`. X (n, cin, h, w), W (cout, cin, k, k), Y (n, cout, h, w).
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
    pub _f: [f32; 8],
}
impl Dims for ConvDims {}

impl ConvDims {
    pub fn new(n: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize) -> Self {
        let u = |x: usize| x as u32;
        ConvDims { n: u(n), cin: u(cin), cout: u(cout), h: u(h), w: u(w), k: u(k), flags: 0, splits: 1, _f: [0.0; 8] }
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
    /// Pixels (of N·H·W) per split-K chunk, as conv2d.wgsl's split_chunk.
    pub fn split_chunk(&self) -> usize {
        let (kdim, s) = ((self.n * self.h * self.w) as usize, self.splits as usize);
        kdim.div_ceil(s * 16) * 16
    }
    /// Padding before (top/left); the rest, k - 1 - before, goes after.
    pub fn pad_before(&self) -> usize {
        (self.k as usize - 1) / 2
    }
}

/// Calls f(n, ci, co, oy, ox, iy, ix, ky, kx) for every (output pixel, tap) pair whose
/// input pixel lies inside the image: the one loop nest all three kernels share.
fn for_each_tap(d: &ConvDims, mut f: impl FnMut([usize; 9])) {
    let (n, cin, cout, h, w, k) = d.unpack();
    let pb = d.pad_before() as isize;
    for b in 0..n {
        for co in 0..cout {
            for ci in 0..cin {
                for oy in 0..h {
                    for ox in 0..w {
                        for ky in 0..k {
                            let iy = oy as isize + ky as isize - pb;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..k {
                                let ix = ox as isize + kx as isize - pb;
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
    y.iter_mut().for_each(|v| *v = T::zero());
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        y[((b * cout + co) * h + oy) * w + ox] = y[((b * cout + co) * h + oy) * w + ox]
            + wt[((co * cin + ci) * k + ky) * k + kx] * x[((b * cin + ci) * h + iy) * w + ix];
    });
    let hw = h * w;
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
    dx.iter_mut().for_each(|v| *v = T::zero());
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        dx[((b * cin + ci) * h + iy) * w + ix] = dx[((b * cin + ci) * h + iy) * w + ix]
            + wt[((co * cin + ci) * k + ky) * k + kx] * dy[((b * cout + co) * h + oy) * w + ox];
    });
}

/// dW, or with `splits` > 1 the partial dW of each split-K chunk of pixels:
/// dw is then (splits, Co, Ci·k·k) and sum_splits adds the slices.
pub fn conv2d_backward_weight<T: Float>(dw: &mut [T], dy: &[T], x: &[T], d: &ConvDims) {
    let (_, cin, cout, h, w, k) = d.unpack();
    let (len, chunk) = (cout * cin * k * k, d.split_chunk());
    dw[..len * d.splits as usize].iter_mut().for_each(|v| *v = T::zero());
    for_each_tap(d, |[b, ci, co, oy, ox, iy, ix, ky, kx]| {
        let slice = ((b * h + oy) * w + ox) / chunk * len;
        let i = slice + ((co * cin + ci) * k + ky) * k + kx;
        dw[i] = dw[i] + dy[((b * cout + co) * h + oy) * w + ox] * x[((b * cin + ci) * h + iy) * w + ix];
    });
}
