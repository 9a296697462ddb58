//! conv2d 'same' (stride 1) as GEMMs straight over a zero-padded copy of each
//! image in HWC order, with no im2col: in HWC, the taps (kx, ci) of kernel row
//! ky for output pixel q = oy·Wp + ox are one contiguous run of k·Ci floats at
//! (q + ky·Wp)·Ci, so for each ky the input is a strided matrix the GEMM reads in
//! place: Yᵀ (Q, Co) += X_ky (Q, k·Ci) · W_kyᵀ (k·Ci, Co). Q runs over rows of the
//! padded width Wp; the k - 1 extra columns per row are computed and dropped.
//! - forward: the above, then Yᵀ is transposed into NCHW with bias and ReLU;
//! - grad input: the same with dY as input and the kernel flipped in space, its
//!   channels swapped and the padding mirrored;
//! - grad weight: dW_kyᵀ (k·Ci, Co) += X_kyᵀ · dYᵀ, per fixed group of images,
//!   then the groups summed in order, so results do not depend on the thread count.

use super::gemm::{gemm, Strides};
use super::Scratch;
use crate::cpu::{ConvDims, FLAG_BIAS, FLAG_RELU};
use rayon::prelude::*;

/// Images whose weight gradients one task sums before the groups are added up.
const GROUP: usize = 16;

#[derive(Clone, Copy)]
struct Shape {
    n: usize,
    ci: usize,
    co: usize,
    h: usize,
    w: usize,
    k: usize,
    /// padding before (top/left); k - 1 - pb after
    pb: usize,
}

impl Shape {
    fn of(d: &ConvDims) -> Shape {
        let u = |x: u32| x as usize;
        Shape { n: u(d.n), ci: u(d.cin), co: u(d.cout), h: u(d.h), w: u(d.w), k: u(d.k), pb: d.pad_before() }
    }
    fn hw(&self) -> usize {
        self.h * self.w
    }
    /// Padded width.
    fn wp(&self) -> usize {
        self.w + self.k - 1
    }
    /// Output positions on padded-width rows: H·Wp.
    fn q(&self) -> usize {
        self.h * self.wp()
    }
    /// Floats of a padded HWC image, with the k·Ci the last row's dropped columns read past it.
    fn padded_len(&self) -> usize {
        (self.h + self.k - 1) * self.wp() * self.ci + self.k * self.ci
    }
    /// The backward-input conv: dY (Co channels) through the flipped kernel, padding mirrored.
    fn transposed(&self) -> Shape {
        Shape { ci: self.co, co: self.ci, pb: self.k - 1 - self.pb, ..*self }
    }
}

/// xp: image x (Ci, H, W) zero-padded to (H + k - 1, Wp) in HWC order.
fn pad_hwc(xp: &mut [f32], x: &[f32], s: &Shape) {
    let (wp, ci) = (s.wp(), s.ci);
    xp.fill(0.0);
    for c in 0..ci {
        for iy in 0..s.h {
            let dst = ((iy + s.pb) * wp + s.pb) * ci + c;
            for (ix, v) in x[(c * s.h + iy) * s.w..][..s.w].iter().enumerate() {
                xp[dst + ix * ci] = *v;
            }
        }
    }
}

/// The kernel as k matrices W_kyᵀ (k·Ci, Co): wr[((ky·k + kx)·Ci + ci)·Co + co]
/// = W[co, ci, ky, kx], or with `flip` the backward-input kernel, whose input
/// channels are W's outputs: wr[((ky·k + kx)·Co + co)·Ci + ci] = W[co, ci, k-1-ky, k-1-kx].
fn reorder(wr: &mut Vec<f32>, wt: &[f32], d: &Shape, flip: bool) {
    let (k, kk) = (d.k, d.k * d.k);
    wr.resize(d.ci * d.co * kk, 0.0);
    for co in 0..d.co {
        for ci in 0..d.ci {
            for t in 0..kk {
                let v = wt[(co * d.ci + ci) * kk + t];
                let (ky, kx) = (t / k, t % k);
                let i = if flip {
                    (((k - 1 - ky) * k + (k - 1 - kx)) * d.co + co) * d.ci + ci
                } else {
                    ((ky * k + kx) * d.ci + ci) * d.co + co
                };
                wr[i] = v;
            }
        }
    }
}

/// y (N, Co, H, W) = conv(x, wr as `reorder` lays it out), then `epilogue(co, row)`.
fn conv(
    y: &mut [f32],
    x: &[f32],
    wr: &[f32],
    s: &Shape,
    scratch: &Scratch,
    epilogue: impl Fn(usize, &mut [f32]) + Sync,
) {
    let (hw, wp, q, kc) = (s.hw(), s.wp(), s.q(), s.k * s.ci);
    let plen = s.padded_len();
    y[..s.n * s.co * hw].par_chunks_mut(s.co * hw).enumerate().for_each(|(b, yb)| {
        scratch.with(plen + q * s.co, |buf| {
            let (xp, yt) = buf.split_at_mut(plen);
            pad_hwc(xp, &x[b * s.ci * hw..(b + 1) * s.ci * hw], s);
            for ky in 0..s.k {
                let a = &xp[ky * wp * s.ci..];
                let bw = &wr[ky * kc * s.co..(ky + 1) * kc * s.co];
                gemm(q, s.co, kc, yt, Strides::rows(s.co), a, Strides::rows(s.ci), bw, Strides::rows(s.co), ky > 0);
            }
            for (co, row) in yb.chunks_mut(hw).enumerate() {
                for oy in 0..s.h {
                    for (ox, o) in row[oy * s.w..(oy + 1) * s.w].iter_mut().enumerate() {
                        *o = yt[(oy * wp + ox) * s.co + co];
                    }
                }
                epilogue(co, row);
            }
        });
    });
}

pub fn forward(y: &mut [f32], x: &[f32], wt: &[f32], bias: &[f32], d: &ConvDims, scratch: &Scratch, wr: &mut Vec<f32>) {
    let s = Shape::of(d);
    reorder(wr, wt, &s, false);
    let (with_bias, relu) = (d.flags & FLAG_BIAS != 0, d.flags & FLAG_RELU != 0);
    conv(y, x, wr, &s, scratch, |co, row| {
        let add = if with_bias { bias[co] } else { 0.0 };
        if relu {
            row.iter_mut().for_each(|v| *v = (*v + add).max(0.0));
        } else if with_bias {
            row.iter_mut().for_each(|v| *v += add);
        }
    });
}

/// dX = the 'same' conv of dY with W flipped in space and its channels swapped.
pub fn backward_input(dx: &mut [f32], dy: &[f32], wt: &[f32], d: &ConvDims, scratch: &Scratch, wr: &mut Vec<f32>) {
    let s = Shape::of(d);
    reorder(wr, wt, &s, true);
    conv(dx, dy, wr, &s.transposed(), scratch, |_, _| {});
}

/// Σ over the flat pixels [lo, hi) of (N, H, W) of X_kyᵀ · dYᵀ, for every ky, into
/// `part` laid out as (k, k·Ci, Co).
fn weight_range(part: &mut [f32], dy: &[f32], x: &[f32], s: &Shape, lo: usize, hi: usize, scratch: &Scratch) {
    let (hw, wp, q, kc) = (s.hw(), s.wp(), s.q(), s.k * s.ci);
    let plen = s.padded_len();
    part.fill(0.0);
    if lo >= hi {
        return;
    }
    scratch.with(plen + q * s.co, |buf| {
        let (xp, dyt) = buf.split_at_mut(plen);
        for b in lo / hw..=(hi - 1) / hw {
            let (p0, p1) = (lo.max(b * hw) - b * hw, hi.min((b + 1) * hw) - b * hw);
            pad_hwc(xp, &x[b * s.ci * hw..(b + 1) * s.ci * hw], s);
            // dYᵀ on padded-width rows; the dropped columns, and pixels outside [p0, p1), are 0
            dyt.fill(0.0);
            let dyb = &dy[b * s.co * hw..(b + 1) * s.co * hw];
            for p in p0..p1 {
                let (oy, ox) = (p / s.w, p % s.w);
                for co in 0..s.co {
                    dyt[(oy * wp + ox) * s.co + co] = dyb[co * hw + p];
                }
            }
            for ky in 0..s.k {
                let a = &xp[ky * wp * s.ci..];
                let out = &mut part[ky * kc * s.co..(ky + 1) * kc * s.co];
                gemm(kc, s.co, q, out, Strides::rows(s.co), a, Strides::cols(s.ci), dyt, Strides::rows(s.co), true);
            }
        }
    });
}

/// dW (Co, Ci·k·k), or with `splits` > 1 the (splits, Co, Ci·k·k) partials of the
/// twin's pixel chunks. `partials` is reusable scratch for the (k, k·Ci, Co) sums.
pub fn backward_weight(
    dw: &mut [f32],
    dy: &[f32],
    x: &[f32],
    d: &ConvDims,
    scratch: &Scratch,
    partials: &mut Vec<f32>,
) {
    let s = Shape::of(d);
    let (k, kk, len, pixels) = (s.k, s.k * s.k, s.co * s.ci * s.k * s.k, s.n * s.hw());
    // pixel ranges: the twin's split-K chunks, or fixed groups of images
    let (parts, per) =
        if d.splits > 1 { (d.splits as usize, d.split_chunk()) } else { (s.n.div_ceil(GROUP), GROUP * s.hw()) };
    if partials.len() < parts * len {
        partials.resize(parts * len, 0.0);
    }
    partials[..parts * len].par_chunks_mut(len).enumerate().for_each(|(i, part)| {
        weight_range(part, dy, x, &s, (i * per).min(pixels), ((i + 1) * per).min(pixels), scratch)
    });
    let partials = &partials[..parts * len];
    // back to (Co, Ci, k, k): each split into its own slice, or the groups summed in order
    let slices = if d.splits > 1 { parts } else { 1 };
    dw[..slices * len].par_chunks_mut(s.ci * kk).enumerate().for_each(|(r, out)| {
        let (slice, co) = (r / s.co, r % s.co);
        let sources = if d.splits > 1 { slice..slice + 1 } else { 0..parts };
        for (j, o) in out.iter_mut().enumerate() {
            let (ci, t) = (j / kk, j % kk);
            let at = ((t / k * k + t % k) * s.ci + ci) * s.co + co;
            *o = sources.clone().fold(0.0, |acc, g| acc + partials[g * len + at]);
        }
    });
}
