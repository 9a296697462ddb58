//! conv2d as GEMMs straight over a zero-padded copy of each image in HWC order,
//! with no im2col: in HWC, the taps (kx, ci) of kernel row ky for output pixel
//! (oy, ox) are one contiguous run of k·Ci floats, at ((oy·s + ky)·Wp + ox·s)·Ci
//! in a copy of row pitch Wp. Numbering output pixels q = oy·Wp + ox puts that
//! run at q·s·Ci + ky·Wp·Ci, so for each ky the input is a strided matrix the GEMM
//! reads in place: Yᵀ (Q, Co) += X_ky (Q, k·Ci) · W_kyᵀ (k·Ci, Co), Q = Ho·Wp;
//! the Wp - Wo extra pixels per row (k - 1 at stride 1, about half the row at
//! stride 2) are computed and dropped.
//! - forward: the above, then Yᵀ is transposed into NCHW with bias and ReLU;
//! - grad input: a stride-1 conv of dY spread out by the stride (zeros between)
//!   and padded by k - 1 - pad, with the kernel flipped in space and its channels
//!   swapped;
//! - grad weight: dW_kyᵀ (k·Ci, Co) += X_kyᵀ · dYᵀ, per fixed group of images,
//!   then the groups summed in order, so results do not depend on the thread count.

use super::gemm::{gemm, Strides};
use super::shape::{finish_row, pad_hwc, Pooled, Shape};
use super::{conv_direct, shape, winograd};
use super::{ops, Scratch, Work};
use crate::kernels::{ConvDims, FLAG_BIAS, FLAG_RELU};
use rayon::prelude::*;

/// Images whose weight gradients one task sums before the groups are added up.
const GROUP: usize = 16;

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

/// y (N, Co, Ho, Wo) = conv(x, wr as `reorder` lays it out), x's rows and columns
/// spread by `spread`; then `epilogue(image, co, row)`.
fn conv(
    y: &mut [f32],
    x: &[f32],
    wr: &[f32],
    s: &Shape,
    spread: usize,
    scratch: &Scratch,
    epilogue: impl Fn(usize, usize, &mut [f32]) + Sync,
) {
    let (hw, ohw, wp, q, kc) = (s.hw(), s.out_hw(), s.wp(), s.q(), s.k * s.ci);
    let plen = s.padded_len();
    y[..s.n * s.co * ohw].par_chunks_mut(s.co * ohw).enumerate().for_each(|(b, yb)| {
        scratch.with(plen + q * s.co, |buf| {
            let (xp, yt) = buf.split_at_mut(plen);
            pad_hwc(xp, &x[b * s.ci * hw..(b + 1) * s.ci * hw], s, spread);
            for ky in 0..s.k {
                let a = &xp[ky * wp * s.ci..];
                let bw = &wr[ky * kc * s.co..(ky + 1) * kc * s.co];
                let rows = Strides::rows(s.s * s.ci);
                gemm(q, s.co, kc, yt, Strides::rows(s.co), a, rows, bw, Strides::rows(s.co), ky > 0);
            }
            for (co, row) in yb.chunks_mut(ohw).enumerate() {
                for oy in 0..s.ho {
                    for (ox, o) in row[oy * s.wo..(oy + 1) * s.wo].iter_mut().enumerate() {
                        *o = yt[(oy * wp + ox) * s.co + co];
                    }
                }
                epilogue(b, co, row);
            }
        });
    });
}

pub fn forward(y: &mut [f32], x: &[f32], wt: &[f32], bias: &[f32], d: &ConvDims, w: &mut Work) {
    let s = Shape::of(d);
    let (with_bias, relu) = (d.flags & FLAG_BIAS != 0, d.flags & FLAG_RELU != 0);
    if w.winograd && winograd::takes(&s, 1) {
        winograd::transform_weights(w.reordered, wt, &s, false);
        winograd::conv(y, x, w.reordered, &s, w.scratch, with_bias.then_some(bias), relu, None);
    } else if w.direct && conv_direct::takes_stride(s.s) {
        conv_direct::reorder(w.reordered, wt, &s, false);
        conv_direct::conv(y, x, w.reordered, &s, 1, w.scratch, with_bias.then_some(bias), relu, None);
    } else {
        reorder(w.reordered, wt, &s, false);
        conv(y, x, w.reordered, &s, 1, w.scratch, |_, co, row| {
            finish_row(row, with_bias.then(|| bias[co]), relu, None)
        });
    }
}

/// The conv of `d` (on the direct kernels, not Winograd) with each image's output
/// max-pooled k×k as it is made: yp and argmax as a max-pool of `forward`'s y.
#[allow(clippy::too_many_arguments)]
pub fn forward_pooled(
    yp: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    wt: &[f32],
    bias: &[f32],
    d: &ConvDims,
    k: usize,
    w: &mut Work,
) {
    let s = Shape::of(d);
    let (with_bias, relu) = (d.flags & FLAG_BIAS != 0, d.flags & FLAG_RELU != 0);
    assert!(pools_in_forward(&s, w.direct, w.winograd), "conv: no pooled forward for this conv");
    conv_direct::reorder(w.reordered, wt, &s, false);
    conv_direct::conv_pooled(yp, argmax, x, w.reordered, &s, k, w.scratch, with_bias.then_some(bias), relu);
}

/// Whether `forward` runs this conv on the direct kernels (not Winograd, not
/// GEMMs), where `forward_pooled` can pool its output as it is made.
pub fn pools_in_forward(s: &Shape, direct: bool, winograd: bool) -> bool {
    direct && !(winograd && winograd::takes(s, 1)) && conv_direct::takes_stride(s.s)
}

/// dX = the stride-1 conv of dY, spread by the stride, with W flipped in space
/// and its channels swapped; zero where `mask` (a ReLU's output, as dX) is ≤ 0.
pub fn backward_input(dx: &mut [f32], dy: &[f32], wt: &[f32], d: &ConvDims, w: &mut Work, mask: Option<&[f32]>) {
    let s = Shape::of(d);
    if w.winograd && winograd::takes(&s.transposed(), s.s) {
        winograd::transform_weights(w.reordered, wt, &s, true);
        winograd::conv(dx, dy, w.reordered, &s.transposed(), w.scratch, None, false, mask);
    } else if w.direct && conv_direct::scatter_takes(&s) {
        conv_direct::reorder(w.reordered, wt, &s, true);
        conv_direct::backward_scatter(dx, dy, w.reordered, &s, w.scratch, mask);
    } else if w.direct {
        conv_direct::reorder(w.reordered, wt, &s, true);
        conv_direct::conv(dx, dy, w.reordered, &s.transposed(), s.s, w.scratch, None, false, mask);
    } else {
        reorder(w.reordered, wt, &s, true);
        let image = s.ci * s.hw();
        conv(dx, dy, w.reordered, &s.transposed(), s.s, w.scratch, |b, ci, row| {
            finish_row(row, None, false, mask.map(|m| &m[b * image + ci * s.hw()..][..row.len()]))
        });
    }
}

/// Σ over the flat output pixels [lo, hi) of (N, Ho, Wo) of X_kyᵀ · dYᵀ, for every
/// ky, into `part` laid out as (k, k·Ci, Co).
fn weight_range(part: &mut [f32], dy: &[f32], x: &[f32], s: &Shape, lo: usize, hi: usize, scratch: &Scratch) {
    let (hw, ohw, wp, q, kc) = (s.hw(), s.out_hw(), s.wp(), s.q(), s.k * s.ci);
    let plen = s.padded_len();
    part.fill(0.0);
    if lo >= hi {
        return;
    }
    scratch.with(plen + q * s.co, |buf| {
        let (xp, dyt) = buf.split_at_mut(plen);
        for b in lo / ohw..=(hi - 1) / ohw {
            let (p0, p1) = (lo.max(b * ohw) - b * ohw, hi.min((b + 1) * ohw) - b * ohw);
            pad_hwc(xp, &x[b * s.ci * hw..(b + 1) * s.ci * hw], s, 1);
            // dYᵀ on padded-width rows; the dropped columns, and pixels outside [p0, p1), are 0
            dyt.fill(0.0);
            let dyb = &dy[b * s.co * ohw..(b + 1) * s.co * ohw];
            for p in p0..p1 {
                let (oy, ox) = (p / s.wo, p % s.wo);
                for co in 0..s.co {
                    dyt[(oy * wp + ox) * s.co + co] = dyb[co * ohw + p];
                }
            }
            for ky in 0..s.k {
                let a = &xp[ky * wp * s.ci..];
                let out = &mut part[ky * kc * s.co..(ky + 1) * kc * s.co];
                let cols = Strides::cols(s.s * s.ci);
                gemm(kc, s.co, q, out, Strides::rows(s.co), a, cols, dyt, Strides::rows(s.co), true);
            }
        }
    });
}

/// dW (Co, Ci·k·k), or with `splits` > 1 the (splits, Co, Ci·k·k) partials of the
/// twin's pixel chunks, through (k, k·Ci, cols) partial sums per pixel range; with
/// `with_bias` (not split) also the bias gradient Σ dY per channel, from the same
/// groups, into `w.bias` (Co).
#[allow(clippy::too_many_arguments)]
pub fn backward_weight(
    dw: &mut [f32],
    dy: &[f32],
    x: &[f32],
    d: &ConvDims,
    w: &mut Work,
    with_bias: bool,
    pooled: Option<Pooled>,
) {
    let s = Shape::of(d);
    assert!(pooled.is_none() || (w.direct && d.splits <= 1), "conv: a pooled dY needs the direct kernels, unsplit");
    let (kk, len, pixels, ohw) = (s.k * s.k, s.co * s.ci * s.k * s.k, s.n * s.out_hw(), s.out_hw());
    assert!(!with_bias || d.splits <= 1, "conv: a bias gradient beside split-K partials");
    // the direct kernels' sums carry the channels padded to whole vectors
    let cols = if w.direct { shape::cop(s.co) } else { s.co };
    // each group's weight sums, then its bias sums
    let wlen = kk * s.ci * cols;
    let plen = wlen + if with_bias { s.co } else { 0 };
    // output pixel ranges: the twin's split-K chunks, or fixed groups of images
    let (parts, per) =
        if d.splits > 1 { (d.splits as usize, d.split_chunk()) } else { (s.n.div_ceil(GROUP), GROUP * s.out_hw()) };
    let partials = &mut *w.partials;
    if partials.len() < parts * plen {
        partials.resize(parts * plen, 0.0);
    }
    let (scratch, direct) = (w.scratch, w.direct);
    partials[..parts * plen].par_chunks_mut(plen).enumerate().for_each(|(i, part)| {
        let (lo, hi) = ((i * per).min(pixels), ((i + 1) * per).min(pixels));
        let (wpart, bpart) = part.split_at_mut(wlen);
        if direct {
            conv_direct::weight_range(wpart, dy, pooled, x, &s, lo, hi, scratch)
        } else {
            weight_range(wpart, dy, x, &s, lo, hi, scratch)
        }
        // whole images (no split): per channel, as the unfused bias gradient sums
        let images = lo / ohw..hi.div_ceil(ohw);
        for (co, o) in bpart.iter_mut().enumerate() {
            *o = match pooled {
                None => ops::channel_sum(dy, co, s.co, ohw, images.clone()),
                Some(p) => {
                    let phw = (s.ho / p.k) * (s.wo / p.k);
                    images.clone().map(|b| p.plane_sum(b * s.co + co, phw)).sum()
                }
            };
        }
    });
    // the groups summed in order into the first (0 + a + b + ... as a fold from 0 gives)
    let partials = &mut partials[..parts * plen];
    if d.splits <= 1 {
        let (first, rest) = partials.split_at_mut(plen);
        first.par_chunks_mut(1 << 12).enumerate().for_each(|(t, out)| {
            for g in 0..parts - 1 {
                let src = &rest[g * plen + t * (1 << 12)..][..out.len()];
                out.iter_mut().zip(src).for_each(|(o, v)| *o += v);
            }
        });
    }
    // back to (Co, Ci, k, k), each split into its own slice
    let slices = if d.splits > 1 { parts } else { 1 };
    let partials = &partials[..slices * plen];
    if with_bias {
        w.bias.clear();
        w.bias.extend_from_slice(&partials[wlen..plen]);
    }
    dw[..slices * len].par_chunks_mut(s.ci * kk).enumerate().for_each(|(r, out)| {
        let (slice, co) = (r / s.co, r % s.co);
        for (j, o) in out.iter_mut().enumerate() {
            let (ci, t) = (j / kk, j % kk);
            *o = partials[slice * plen + (t * s.ci + ci) * cols + co];
        }
    });
}
