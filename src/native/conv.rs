//! conv2d 'same' (stride 1) as GEMMs over im2col columns, one image per task:
//! forward Y_b (Co, HW) = W (Co, Ci·k·k) · col_b; grad input dcol_b = Wᵀ · dY_b,
//! folded back by col2im; grad weight dW = Σ_b dY_b · col_bᵀ, summed in fixed
//! groups of images so the result does not depend on the thread count.

use super::gemm::{gemm, Strides};
use super::Scratch;
use crate::cpu::{ConvDims, FLAG_BIAS, FLAG_RELU};
use rayon::prelude::*;

/// Images whose weight gradients one task sums before the groups are added up.
const GROUP: usize = 16;

struct Shape {
    n: usize,
    ci: usize,
    co: usize,
    h: usize,
    w: usize,
    k: usize,
    /// padding before (top/left)
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
    /// For tap kx, the output columns [lo, hi) whose input column lies inside the image.
    fn cols(&self, kx: usize) -> (usize, usize) {
        (self.pb.saturating_sub(kx).min(self.w), (self.w + self.pb).saturating_sub(kx).min(self.w))
    }
}

/// Calls f(column row, input plane row offset, lo, hi) for every (ci, ky, kx, oy) whose
/// input row lies inside the image; the caller zero-fills or skips the rest.
fn for_each_row(s: &Shape, mut f: impl FnMut(usize, Option<usize>, usize, usize)) {
    let hw = s.hw();
    for c in 0..s.ci {
        for ky in 0..s.k {
            for kx in 0..s.k {
                let row = ((c * s.k + ky) * s.k + kx) * hw;
                let (lo, hi) = s.cols(kx);
                for oy in 0..s.h {
                    let iy = (oy + ky).checked_sub(s.pb).filter(|&iy| iy < s.h);
                    // input element of output column lo: (c, iy, lo + kx - pb)
                    let src = iy.map(|iy| (c * s.h + iy) * s.w + lo + kx - s.pb);
                    f(row + oy * s.w, src, lo, hi);
                }
            }
        }
    }
}

/// col (Ci·k·k, H·W) of one image x (Ci, H, W); every element is written.
fn im2col(col: &mut [f32], x: &[f32], s: &Shape) {
    for_each_row(s, |dst, src, lo, hi| {
        let out = &mut col[dst..dst + s.w];
        match src {
            Some(src) if lo < hi => {
                out[..lo].fill(0.0);
                out[lo..hi].copy_from_slice(&x[src..src + hi - lo]);
                out[hi..].fill(0.0);
            }
            _ => out.fill(0.0),
        }
    });
}

/// dx (Ci, H, W) of one image = the sum of col's entries over the taps that read each pixel.
fn col2im(dx: &mut [f32], col: &[f32], s: &Shape) {
    dx.fill(0.0);
    for_each_row(s, |row, src, lo, hi| {
        if let Some(src) = src {
            for (d, c) in dx[src..src + hi - lo].iter_mut().zip(&col[row + lo..row + hi]) {
                *d += c;
            }
        }
    });
}

pub fn forward(y: &mut [f32], x: &[f32], wt: &[f32], bias: &[f32], d: &ConvDims, scratch: &Scratch) {
    let s = Shape::of(d);
    let (hw, taps) = (s.hw(), s.taps());
    y[..s.n * s.co * hw].par_chunks_mut(s.co * hw).enumerate().for_each(|(b, yb)| {
        scratch.with(taps * hw, |col| {
            im2col(col, &x[b * s.ci * hw..(b + 1) * s.ci * hw], &s);
            gemm(s.co, hw, taps, yb, Strides::rows(hw), wt, Strides::rows(taps), col, Strides::rows(hw), false);
        });
        for (co, row) in yb.chunks_mut(hw).enumerate() {
            let add = if d.flags & FLAG_BIAS != 0 { bias[co] } else { 0.0 };
            if d.flags & FLAG_RELU != 0 {
                row.iter_mut().for_each(|v| *v = (*v + add).max(0.0));
            } else {
                row.iter_mut().for_each(|v| *v += add);
            }
        }
    });
}

pub fn backward_input(dx: &mut [f32], dy: &[f32], wt: &[f32], d: &ConvDims, scratch: &Scratch) {
    let s = Shape::of(d);
    let (hw, taps) = (s.hw(), s.taps());
    dx[..s.n * s.ci * hw].par_chunks_mut(s.ci * hw).enumerate().for_each(|(b, dxb)| {
        scratch.with(taps * hw, |col| {
            let dyb = &dy[b * s.co * hw..(b + 1) * s.co * hw];
            gemm(taps, hw, s.co, col, Strides::rows(hw), wt, Strides::cols(taps), dyb, Strides::rows(hw), false);
            col2im(dxb, col, &s);
        });
    });
}

/// The weight gradient of the flat pixels [lo, hi) of (N, H, W) into `part` (Co, Ci·k·k).
fn weight_range(part: &mut [f32], dy: &[f32], x: &[f32], s: &Shape, lo: usize, hi: usize, scratch: &Scratch) {
    let (hw, taps) = (s.hw(), s.taps());
    part.fill(0.0);
    if lo >= hi {
        return;
    }
    for b in lo / hw..=(hi - 1) / hw {
        let (p0, p1) = (lo.max(b * hw) - b * hw, hi.min((b + 1) * hw) - b * hw);
        scratch.with(taps * hw, |col| {
            im2col(col, &x[b * s.ci * hw..(b + 1) * s.ci * hw], s);
            let dyb = &dy[b * s.co * hw + p0..(b + 1) * s.co * hw];
            gemm(s.co, taps, p1 - p0, part, Strides::rows(taps), dyb, Strides::rows(hw), &col[p0..], Strides::cols(hw), true);
        });
    }
}

/// dW (Co, Ci·k·k), or with `splits` > 1 the (splits, Co, Ci·k·k) partials of the
/// twin's pixel chunks. `partials` is reusable scratch for the image groups.
pub fn backward_weight(dw: &mut [f32], dy: &[f32], x: &[f32], d: &ConvDims, scratch: &Scratch, partials: &mut Vec<f32>) {
    let s = Shape::of(d);
    let (len, pixels) = (s.co * s.taps(), s.n * s.hw());
    if d.splits > 1 {
        let chunk = d.split_chunk();
        dw[..len * d.splits as usize].par_chunks_mut(len).enumerate().for_each(|(i, part)| {
            weight_range(part, dy, x, &s, (i * chunk).min(pixels), ((i + 1) * chunk).min(pixels), scratch)
        });
        return;
    }
    let groups = s.n.div_ceil(GROUP);
    let range = |g: usize| (g * GROUP * s.hw(), ((g + 1) * GROUP).min(s.n) * s.hw());
    if groups <= 1 {
        return weight_range(&mut dw[..len], dy, x, &s, 0, pixels, scratch);
    }
    if partials.len() < groups * len {
        partials.resize(groups * len, 0.0);
    }
    partials[..groups * len].par_chunks_mut(len).enumerate().for_each(|(g, part)| {
        let (lo, hi) = range(g);
        weight_range(part, dy, x, &s, lo, hi, scratch)
    });
    let partials = &partials[..groups * len];
    dw[..len].par_chunks_mut(4096).enumerate().for_each(|(t, out)| {
        let base = t * 4096;
        out.copy_from_slice(&partials[base..base + out.len()]);
        for g in 1..groups {
            let p = &partials[g * len + base..g * len + base + out.len()];
            out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
        }
    });
}
