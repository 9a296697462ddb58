//! conv2d 'same' (stride 1) as GEMMs over im2col columns. Each image is cut into
//! blocks of output rows whose columns fit in L2, so the columns are written and
//! read from cache rather than memory:
//! - forward: Y_b[:, block] (Co, P) = W (Co, Ci·k·k) · col_block;
//! - grad input: the forward of dY with the flipped, transposed kernel
//!   (Ci, Co·k·k) and the padding mirrored, a full-depth GEMM instead of a thin
//!   one followed by col2im;
//! - grad weight: dWᵀ (Ci·k·k, Co) += col_block · dY_blockᵀ, summed per fixed group
//!   of images and then across groups in order, so the result does not depend on
//!   the thread count.

use super::gemm::{gemm, Strides};
use super::Scratch;
use crate::cpu::{ConvDims, FLAG_BIAS, FLAG_RELU};
use rayon::prelude::*;

/// Images whose weight gradients one task sums before the groups are added up.
const GROUP: usize = 16;
/// Floats of im2col columns per block: 384 KiB, well inside a core's L2.
const COL_BUDGET: usize = 96 * 1024;

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
    /// Rows of a column matrix: Ci·k·k.
    fn taps(&self) -> usize {
        self.ci * self.k * self.k
    }
    /// Output rows per block.
    fn block_rows(&self) -> usize {
        (COL_BUDGET / (self.taps() * self.w).max(1)).clamp(1, self.h)
    }
    /// The backward-input conv: dY (Co channels) through the flipped kernel, padding mirrored.
    fn transposed(&self) -> Shape {
        Shape { ci: self.co, co: self.ci, pb: self.k - 1 - self.pb, ..*self }
    }
}

/// col (Ci·k·k, (r1 - r0)·W): the taps of output rows [r0, r1) of one image x (Ci, H, W).
/// Every element is written.
fn im2col(col: &mut [f32], x: &[f32], s: &Shape, r0: usize, r1: usize) {
    let (w, hw, bp) = (s.w, s.hw(), (r1 - r0) * s.w);
    for c in 0..s.ci {
        let plane = &x[c * hw..(c + 1) * hw];
        for ky in 0..s.k {
            // output rows whose input row oy + ky - pb lies inside the image
            let a = r0.max(s.pb.saturating_sub(ky));
            let b = r1.min((s.h + s.pb).saturating_sub(ky)).max(a);
            for kx in 0..s.k {
                let row = &mut col[((c * s.k + ky) * s.k + kx) * bp..][..bp];
                row[..(a - r0) * w].fill(0.0);
                row[(b - r0) * w..].fill(0.0);
                if a == b {
                    continue;
                }
                // rows a..b in one copy: dst j reads plane[j + off]; the cells that wrap into a
                // neighbouring row (or past the plane) are the padding, zeroed below
                let off = ((r0 + ky) * w + kx) as isize - (s.pb * w + s.pb) as isize;
                let (j0, j1) = ((a - r0) * w, (b - r0) * w);
                let lo = j0.max((-off).max(0) as usize);
                let hi = j1.min((hw as isize - off).max(0) as usize);
                if lo < hi {
                    let src = (lo as isize + off) as usize;
                    row[lo..hi].copy_from_slice(&plane[src..src + hi - lo]);
                }
                let (left, right) = (s.pb.saturating_sub(kx).min(w), (w + s.pb).saturating_sub(kx).min(w));
                for r in (j0..j1).step_by(w) {
                    row[r..r + left].fill(0.0);
                    row[r + right..r + w].fill(0.0);
                }
            }
        }
    }
}

/// y (N, Co, H, W) = conv(x, wt (Co, Ci·k·k)), then `epilogue(co, row)` on each output row.
fn conv(y: &mut [f32], x: &[f32], wt: &[f32], s: &Shape, scratch: &Scratch, epilogue: impl Fn(usize, &mut [f32]) + Sync) {
    let (hw, taps, rows) = (s.hw(), s.taps(), s.block_rows());
    y[..s.n * s.co * hw].par_chunks_mut(s.co * hw).enumerate().for_each(|(b, yb)| {
        let xb = &x[b * s.ci * hw..(b + 1) * s.ci * hw];
        scratch.with(taps * rows * s.w, |col| {
            for r0 in (0..s.h).step_by(rows) {
                let r1 = (r0 + rows).min(s.h);
                let bp = (r1 - r0) * s.w;
                im2col(col, xb, s, r0, r1);
                let out = &mut yb[r0 * s.w..];
                gemm(s.co, bp, taps, out, Strides::rows(hw), wt, Strides::rows(taps), col, Strides::rows(bp), false);
            }
        });
        for (co, row) in yb.chunks_mut(hw).enumerate() {
            epilogue(co, row);
        }
    });
}

pub fn forward(y: &mut [f32], x: &[f32], wt: &[f32], bias: &[f32], d: &ConvDims, scratch: &Scratch) {
    let (with_bias, relu) = (d.flags & FLAG_BIAS != 0, d.flags & FLAG_RELU != 0);
    conv(y, x, wt, &Shape::of(d), scratch, |co, row| {
        let add = if with_bias { bias[co] } else { 0.0 };
        if relu {
            row.iter_mut().for_each(|v| *v = (*v + add).max(0.0));
        } else if with_bias {
            row.iter_mut().for_each(|v| *v += add);
        }
    });
}

/// dX = the 'same' conv of dY with W flipped in space and with in/out channels
/// swapped: `flipped` is scratch for that (Ci, Co·k·k) kernel.
pub fn backward_input(dx: &mut [f32], dy: &[f32], wt: &[f32], d: &ConvDims, scratch: &Scratch, flipped: &mut Vec<f32>) {
    let s = Shape::of(d);
    let kk = s.k * s.k;
    flipped.resize(s.ci * s.co * kk, 0.0);
    for ci in 0..s.ci {
        for co in 0..s.co {
            for t in 0..kk {
                // tap (ky, kx) of the flipped kernel is tap (k-1-ky, k-1-kx) of W
                flipped[(ci * s.co + co) * kk + t] = wt[(co * s.ci + ci) * kk + (kk - 1 - t)];
            }
        }
    }
    conv(dx, dy, flipped, &s.transposed(), scratch, |_, _| {});
}

/// dWᵀ (Ci·k·k, Co) of the flat pixels [lo, hi) of (N, H, W), into `part`.
fn weight_range(part: &mut [f32], dy: &[f32], x: &[f32], s: &Shape, lo: usize, hi: usize, scratch: &Scratch) {
    let (hw, taps, rows) = (s.hw(), s.taps(), s.block_rows());
    part.fill(0.0);
    if lo >= hi {
        return;
    }
    scratch.with(taps * rows * s.w, |col| {
        for b in lo / hw..=(hi - 1) / hw {
            let (p0, p1) = (lo.max(b * hw) - b * hw, hi.min((b + 1) * hw) - b * hw);
            let xb = &x[b * s.ci * hw..(b + 1) * s.ci * hw];
            for r0 in (p0 / s.w..p1.div_ceil(s.w)).step_by(rows) {
                let r1 = (r0 + rows).min(s.h);
                let bp = (r1 - r0) * s.w;
                im2col(col, xb, s, r0, r1);
                // the block's pixels that lie in [p0, p1)
                let (q0, q1) = (p0.max(r0 * s.w), p1.min(r1 * s.w));
                let c0 = q0 - r0 * s.w;
                let dyt = &dy[b * s.co * hw + q0..(b + 1) * s.co * hw];
                gemm(taps, s.co, q1 - q0, part, Strides::rows(s.co), &col[c0..], Strides::rows(bp), dyt, Strides::cols(hw), true);
            }
        }
    });
}

/// dW (Co, Ci·k·k), or with `splits` > 1 the (splits, Co, Ci·k·k) partials of the
/// twin's pixel chunks. `partials` is reusable scratch for the transposed sums.
pub fn backward_weight(dw: &mut [f32], dy: &[f32], x: &[f32], d: &ConvDims, scratch: &Scratch, partials: &mut Vec<f32>) {
    let s = Shape::of(d);
    let (taps, len, pixels) = (s.taps(), s.co * s.taps(), s.n * s.hw());
    // pixel ranges: the twin's split-K chunks, or fixed groups of images
    let (parts, per) = if d.splits > 1 { (d.splits as usize, d.split_chunk()) } else { (s.n.div_ceil(GROUP), GROUP * s.hw()) };
    if partials.len() < parts * len {
        partials.resize(parts * len, 0.0);
    }
    partials[..parts * len].par_chunks_mut(len).enumerate().for_each(|(i, part)| {
        weight_range(part, dy, x, &s, (i * per).min(pixels), ((i + 1) * per).min(pixels), scratch)
    });
    let partials = &partials[..parts * len];
    // back to (Co, Ci·k·k): each split into its own slice, or the groups summed in order
    let slices = if d.splits > 1 { parts } else { 1 };
    dw[..slices * len].par_chunks_mut(taps).enumerate().for_each(|(r, out)| {
        let (slice, co) = (r / s.co, r % s.co);
        let sources = if d.splits > 1 { slice..slice + 1 } else { 0..parts };
        for (q, o) in out.iter_mut().enumerate() {
            *o = sources.clone().fold(0.0, |acc, g| acc + partials[g * len + q * s.co + co]);
        }
    });
}
