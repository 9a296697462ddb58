//! What every conv path shares: a conv's geometry as the kernels see it
//! (`Shape`), the zero-padded HWC copy of an image, output channels padded to
//! whole vectors, the finishing of output rows (bias, ReLU, ReLU mask), and a
//! dY given as the max-pool backward that would write it.

use super::direct::{self, LANES};
use super::ops;
use crate::kernels::ConvDims;

/// One conv as the GEMMs see it: `ci` channels in, `co` out, an (ho, wo) output
/// read through a padded HWC copy of hp rows of pitch wp.
#[derive(Clone, Copy)]
pub(super) struct Shape {
    pub(super) n: usize,
    pub(super) ci: usize,
    pub(super) co: usize,
    /// the input image
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) k: usize,
    pub(super) s: usize,
    /// padding before (top, left)
    pub(super) py: usize,
    pub(super) px: usize,
    pub(super) ho: usize,
    pub(super) wo: usize,
}

impl Shape {
    pub(super) fn of(d: &ConvDims) -> Shape {
        let u = |x: u32| x as usize;
        let (ho, wo) = d.out_hw();
        Shape {
            n: u(d.n),
            ci: u(d.cin),
            co: u(d.cout),
            h: u(d.h),
            w: u(d.w),
            k: u(d.k),
            s: u(d.stride),
            py: u(d.pad_y),
            px: u(d.pad_x),
            ho,
            wo,
        }
    }
    pub(super) fn hw(&self) -> usize {
        self.h * self.w
    }
    pub(super) fn out_hw(&self) -> usize {
        self.ho * self.wo
    }
    /// Padded row pitch: every tap of the last output column.
    pub(super) fn wp(&self) -> usize {
        (self.wo - 1) * self.s + self.k
    }
    /// Output positions on padded-width rows: Ho·Wp.
    pub(super) fn q(&self) -> usize {
        self.ho * self.wp()
    }
    /// Padded rows: every tap of the last output row.
    pub(super) fn hp(&self) -> usize {
        (self.ho - 1) * self.s + self.k
    }
    /// Floats of a padded HWC image, with what the dropped pixels read past its end.
    pub(super) fn padded_len(&self) -> usize {
        self.hp().max(self.s * self.ho + self.k - 1) * self.wp() * self.ci + self.k * self.ci
    }
    /// The backward-input conv: dY (Co channels, spread by the stride) through the
    /// flipped kernel at stride 1, giving the input's H×W.
    pub(super) fn transposed(&self) -> Shape {
        let (py, px) = (self.k - 1 - self.py, self.k - 1 - self.px);
        Shape { ci: self.co, co: self.ci, h: self.ho, w: self.wo, s: 1, py, px, ho: self.h, wo: self.w, ..*self }
    }
}

/// xp: image x (Ci, H, W) zero-padded in HWC order, every `spread`-th row and
/// column (the stride, for backward-input's dY; 1 otherwise).
pub(super) fn pad_hwc(xp: &mut [f32], x: &[f32], s: &Shape, spread: usize) {
    let (wp, hp, ci) = (s.wp(), s.hp(), s.ci);
    xp.fill(0.0);
    if spread == 1 {
        // row iy of every channel, (Ci, W) into (W, Ci) at padded row iy + py, column px
        let w = s.w.min(wp.saturating_sub(s.px));
        for iy in 0..s.h.min(hp.saturating_sub(s.py)) {
            let at = ((iy + s.py) * wp + s.px) * ci;
            direct::transpose(&mut xp[at..], ci, &x[iy * s.w..], s.h * s.w, ci, w);
        }
        return;
    }
    for c in 0..ci {
        for iy in 0..s.h {
            let y = iy * spread + s.py;
            if y >= hp {
                continue;
            }
            for (ix, v) in x[(c * s.h + iy) * s.w..][..s.w].iter().enumerate() {
                let xx = ix * spread + s.px;
                if xx < wp {
                    xp[(y * wp + xx) * ci + c] = *v;
                }
            }
        }
    }
}

/// One output plane's row finished: plus `bias`, through ReLU with `relu`, then
/// zero where `mask` (a ReLU's output, as the row) is ≤ 0.
pub(super) fn finish_row(row: &mut [f32], bias: Option<f32>, relu: bool, mask: Option<&[f32]>) {
    let add = bias.unwrap_or(0.0);
    if relu {
        row.iter_mut().for_each(|v| *v = (*v + add).max(0.0));
    } else if bias.is_some() {
        row.iter_mut().for_each(|v| *v += add);
    }
    if let Some(m) = mask {
        ops::relu_mask(row, m);
    }
}

/// Output channels padded to whole vectors.
pub fn cop(co: usize) -> usize {
    co.next_multiple_of(LANES)
}

/// `len` items cut into the fewest blocks of at most `most`, as even as can be: (size, count).
pub(super) fn blocks(len: usize, most: usize) -> (usize, usize) {
    let count = len.div_ceil(most);
    (len.div_ceil(count), count)
}

/// Image b's outputs yb (Co, Ho, Wo) from yt (Ho·Wo, cop): transposed, then
/// bias and ReLU, then the ReLU mask, per channel row.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    yb: &mut [f32],
    yt: &[f32],
    s: &Shape,
    b: usize,
    bias: Option<&[f32]>,
    relu: bool,
    mask: Option<&[f32]>,
) {
    let ohw = s.out_hw();
    direct::transpose(yb, ohw, yt, cop(s.co), ohw, s.co);
    for (co, row) in yb.chunks_mut(ohw).enumerate() {
        finish_row(row, bias.map(|b| b[co]), relu, mask.map(|m| &m[(b * s.co + co) * ohw..][..ohw]));
    }
}

/// A conv's dY given as the masked k×k max-pool backward that would write it:
/// the pooled gradient, its argmax (flat indices into dY) and the pooled mask
/// (the pool's output: a window's gradient passes where it is > 0 or NaN).
#[derive(Clone, Copy)]
pub struct Pooled<'a> {
    pub dy: &'a [f32],
    pub argmax: &'a [u32],
    pub mask: &'a [f32],
    pub k: usize,
}

impl Pooled<'_> {
    /// The windows of dY plane `plane` (image · channels + channel), `pooled_hw` a
    /// plane: their argmax (flat dY indices) and gradients, the masked ones 0.
    pub fn plane(&self, plane: usize, pooled_hw: usize, grads: &mut [f32]) -> &[u32] {
        let r = plane * pooled_hw..(plane + 1) * pooled_hw;
        let (dy, mask) = (&self.dy[r.clone()], &self.mask[r.clone()]);
        grads[..pooled_hw]
            .iter_mut()
            .zip(dy.iter().zip(mask))
            .for_each(|(g, (d, m))| *g = if ops::passes(*m) { *d } else { 0.0 });
        &self.argmax[r]
    }
    /// Σ of plane `plane`'s window gradients (the masked ones 0).
    pub fn plane_sum(&self, plane: usize, pooled_hw: usize) -> f32 {
        let r = plane * pooled_hw..(plane + 1) * pooled_hw;
        self.dy[r.clone()].iter().zip(&self.mask[r]).map(|(d, m)| if ops::passes(*m) { *d } else { 0.0 }).sum()
    }
}
