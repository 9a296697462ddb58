//! conv2d on the direct microkernels of `direct`, one image per task:
//! - forward (and grad input, the stride-1 conv of dY spread by the stride,
//!   through the flipped kernel): the image zero-padded in CHW order, each output
//!   row cut into blocks of ≤ 28/V pixels whose V·16 channels sum over every tap
//!   in registers, into a (pixels, cop) buffer, then transposed into NCHW in
//!   8×8 blocks and finished per channel (bias and ReLU, or a ReLU mask);
//! - grad weight: the image padded in HWC order, where the taps (kx, ci) of one
//!   kernel row are contiguous, and dY transposed to (pixels, cop); each block of
//!   taps × channels sums over the image's pixels in registers, then adds into
//!   the group's (k, k·Ci, cop) partial sums, summed in order by `conv`.

use super::direct::{self, Fwd, Wgrad, LANES};
use super::ops;
use super::shape::{blocks, cop, finish, pad_hwc, Pooled, Shape};
use super::Scratch;
use rayon::prelude::*;

/// Whether the direct forward kernels run a conv of stride `s` (grad input and
/// grad weight run any stride).
pub fn takes_stride(s: usize) -> bool {
    s <= 2
}

/// xp (Ci, Hp, Wp): image x (Ci, H, W) zero-padded, every `spread`-th row and column.
fn pad_chw(xp: &mut [f32], x: &[f32], s: &Shape, spread: usize) {
    let (wp, hp) = (s.wp(), s.hp());
    xp.fill(0.0);
    for c in 0..s.ci {
        for iy in 0..s.h {
            let y = iy * spread + s.py;
            if y >= hp {
                continue;
            }
            let row = &mut xp[(c * hp + y) * wp..(c * hp + y + 1) * wp];
            let src = &x[(c * s.h + iy) * s.w..][..s.w];
            if spread == 1 {
                let w = s.w.min(wp - s.px);
                row[s.px..s.px + w].copy_from_slice(&src[..w]);
                continue;
            }
            for (ix, v) in src.iter().enumerate() {
                if let Some(o) = row.get_mut(ix * spread + s.px) {
                    *o = *v;
                }
            }
        }
    }
}

/// The kernel for the forward blocks: wr[((c·k + ky)·k + kx)·cop + o] = W[o, c, ky, kx],
/// or with `flip` (the grad-input conv, whose inputs are W's outputs)
/// W[c, o, k-1-ky, k-1-kx]; columns o past the conv's outputs are 0.
pub fn reorder(wr: &mut Vec<f32>, wt: &[f32], d: &Shape, flip: bool) {
    let kk = d.k * d.k;
    let (ins, outs) = if flip { (d.co, d.ci) } else { (d.ci, d.co) };
    let cop = cop(outs);
    wr.clear();
    wr.resize(ins * kk * cop, 0.0);
    for co in 0..d.co {
        for ci in 0..d.ci {
            for t in 0..kk {
                let v = wt[(co * d.ci + ci) * kk + t];
                let i = if flip { (co * kk + kk - 1 - t) * cop + ci } else { (ci * kk + t) * cop + co };
                wr[i] = v;
            }
        }
    }
}

/// y (N, Co, Ho, Wo) = conv(x, wr as `reorder` lays it out), x spread by `spread`,
/// plus `bias`, through ReLU with `relu`, zero where `mask` (N, Co, Ho, Wo) is ≤ 0.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    y: &mut [f32],
    x: &[f32],
    wr: &[f32],
    s: &Shape,
    spread: usize,
    scratch: &Scratch,
    bias: Option<&[f32]>,
    relu: bool,
    mask: Option<&[f32]>,
) {
    check(x, wr, s, bias);
    assert!(mask.is_none_or(|m| m.len() >= s.n * s.co * s.out_hw()), "direct conv: mask too short");
    let (ohw, cop, plen) = (s.out_hw(), cop(s.co), s.ci * s.hp() * s.wp());
    y[..s.n * s.co * ohw].par_chunks_mut(s.co * ohw).enumerate().for_each(|(b, yb)| {
        scratch.with(plen + ohw * cop, |buf| {
            let (xp, yt) = buf.split_at_mut(plen);
            image_sums(yt, xp, x, wr, s, spread, b);
            finish(yb, yt, s, b, bias, relu, mask);
        });
    });
}

/// The stride-1 conv as `conv` computes it (plus `bias`, through ReLU with `relu`),
/// each image's output max-pooled k×k in cache: yp (N, Co, Ho/k, Wo/k) and the flat
/// index into the conv's output of each window's first maximum in `argmax`, as
/// a max-pool after `conv` gives them. The conv's output itself is not kept.
#[allow(clippy::too_many_arguments)]
pub fn conv_pooled(
    yp: &mut [f32],
    argmax: &mut [u32],
    x: &[f32],
    wr: &[f32],
    s: &Shape,
    k: usize,
    scratch: &Scratch,
    bias: Option<&[f32]>,
    relu: bool,
) {
    check(x, wr, s, bias);
    let (ohw, cop, plen) = (s.out_hw(), cop(s.co), s.ci * s.hp() * s.wp());
    let phw = (s.ho / k) * (s.wo / k);
    let (yp, argmax) = (&mut yp[..s.n * s.co * phw], &mut argmax[..s.n * s.co * phw]);
    if phw == 0 {
        return;
    }
    yp.par_chunks_mut(s.co * phw).zip(argmax.par_chunks_mut(s.co * phw)).enumerate().for_each(|(b, (ypb, apb))| {
        scratch.with(plen + ohw * cop + s.co * ohw, |buf| {
            let (xp, rest) = buf.split_at_mut(plen);
            let (yt, yb) = rest.split_at_mut(ohw * cop);
            image_sums(yt, xp, x, wr, s, 1, b);
            finish(yb, yt, s, b, bias, relu, None);
            for (c, (ypc, apc)) in ypb.chunks_mut(phw).zip(apb.chunks_mut(phw)).enumerate() {
                let plane = &yb[c * ohw..(c + 1) * ohw];
                ops::pool_plane(ypc, apc, &plane[..(s.ho / k) * k * s.wo], s.wo, k, (b * s.co + c) * ohw);
            }
        });
    });
}

fn check(x: &[f32], wr: &[f32], s: &Shape, bias: Option<&[f32]>) {
    assert!(direct::available() && takes_stride(s.s), "direct conv: not on this CPU or stride");
    assert!(x.len() >= s.n * s.ci * s.hw(), "direct conv: input too short");
    assert!(wr.len() >= s.ci * s.k * s.k * cop(s.co), "direct conv: kernel too short");
    assert!(bias.is_none_or(|b| b.len() >= s.co), "direct conv: bias too short");
}

/// Image b's outputs into yt (Ho·Wo, cop), through its zero-padded copy in xp.
fn image_sums(yt: &mut [f32], xp: &mut [f32], x: &[f32], wr: &[f32], s: &Shape, spread: usize, b: usize) {
    let (hw, cop) = (s.hw(), cop(s.co));
    let (hp, wp) = (s.hp(), s.wp());
    let (v, most) = direct::blocking(cop);
    let (width, tiles) = blocks(s.wo, most);
    // rows narrower than half a block go two at a time
    let pair = if 2 * s.wo <= most { 2 } else { 1 };
    let d = Fwd { cop, plane: hp * wp, wp, ci: s.ci, k: s.k, ky0: 0, ky1: s.k, out_row: s.wo * cop };
    // the padded rows that hold data: the rest are zeros, and kernel rows that
    // read only those are left out of a block's sums
    let data = (s.py, s.py + (s.h - 1) * spread);
    pad_chw(xp, &x[b * s.ci * hw..(b + 1) * s.ci * hw], s, spread);
    for co in (0..cop).step_by(v * LANES) {
        for oy in (0..s.ho).step_by(pair) {
            let g = pair.min(s.ho - oy);
            let d = d.rows_reading(data, oy * s.s, g, s.s);
            for t in 0..tiles {
                let ox = t * width;
                let r = width.min(s.wo - ox);
                // SAFETY: the block's reads end at x (ci - 1, (oy + g - 1)·s + k - 1, (ox + r - 1)·s + k - 1)
                // < (ci, hp, wp) and wr's (ci·k·k - 1)·cop + co + v·16 ≤ its length (`check`); its writes are
                // channels co + [0, v·16) of pixels (oy + [0, g))·wo + ox + [0, r) of yt (ho·wo, cop)
                unsafe {
                    direct::fwd(
                        (s.s, v, g, r),
                        yt.as_mut_ptr().add((oy * s.wo + ox) * cop + co),
                        xp.as_ptr().add(oy * s.s * wp + ox * s.s),
                        wr.as_ptr().add(co),
                        &d,
                    )
                }
            }
        }
    }
}

/// Whether `backward_scatter` takes the input gradient of conv `s`: 'valid' at
/// stride 1 (then every padded pixel is an input pixel), or any padding at
/// stride 2, with a kernel and dY row width `direct::scatter` has.
pub fn scatter_takes(s: &Shape) -> bool {
    let valid = s.py == 0 && s.px == 0 && s.ho + s.k == s.h + 1 && s.wo + s.k == s.w + 1;
    (s.s == 2 || valid) && direct::scatter_takes(s.wo, s.k, s.s)
}

/// dX (N, Ci, H, W) of conv `s` (forward shape) from dY, with W laid out by
/// `reorder(.., flip)`: each dY pixel's window added into dX rows in registers,
/// so no product reads padding or, at stride 2, the zeros between dY's pixels
/// (the forward-style input gradient reads a dY spread by the stride and padded
/// by k - 1 all round: three products in four are zeros at stride 2). Rows are
/// made in the padded input's coordinates (at stride 2 per column phase), those
/// of the input only, and cut to its columns; zero where `mask` (as dX) is ≤ 0.
pub fn backward_scatter(dx: &mut [f32], dy: &[f32], wr: &[f32], s: &Shape, scratch: &Scratch, mask: Option<&[f32]>) {
    assert!(direct::available() && scatter_takes(s), "direct conv: no scatter for this conv");
    let (t, hw, ohw, cop) = (s.transposed(), s.hw(), s.out_hw(), cop(s.ci));
    assert!(dy.len() >= s.n * s.co * ohw && wr.len() >= s.co * s.k * s.k * cop, "direct conv: dY or kernel too short");
    assert!(mask.is_none_or(|m| m.len() >= s.n * s.ci * hw), "direct conv: mask too short");
    let (v, _) = direct::blocking(cop);
    // padded rows as wide as every tap reaches (wp) and as the input's columns do
    let pitch = s.wp().max(s.px + s.w);
    let cut = pitch != s.w; // else the padded rows are the input's
    let rows_len = if cut { s.h * pitch * cop } else { 0 };
    dx[..s.n * s.ci * hw].par_chunks_mut(s.ci * hw).enumerate().for_each(|(b, xb)| {
        scratch.with(hw * cop + rows_len, |buf| {
            let (yt, padded) = buf.split_at_mut(hw * cop);
            let rows = if cut { &mut padded[..] } else { &mut yt[..] };
            if pitch > s.wp() {
                rows.fill(0.0); // the columns past wp, which no tap reaches, stay 0
            }
            for c0 in (0..cop).step_by(v * LANES) {
                for r in 0..s.h {
                    // padded row y takes kernel rows ky ≡ y (mod s) with dY row (y - ky)/s in [0, ho)
                    let y = r + s.py;
                    let lo = y.saturating_sub(s.s * (s.ho - 1));
                    let (ky0, ky1) = (lo + (y - lo) % s.s, (y + 1).min(s.k));
                    for qx in 0..s.s {
                        let taps = (s.k - qx).div_ceil(s.s);
                        let d = direct::Scatter { co: s.co, dy_plane: ohw, cop, k: s.k, qx, y, ky0, ky1 };
                        // SAFETY: dY rows (y - ky)/s for ky = ky0, ky0 + s, … < ky1 lie in [0, ho)
                        // of image b's co planes (asserted long enough); the taps read are
                        // co·k·k of cop floats from c0 < cop; the writes are pixels qx + s·x,
                        // x < wd + taps - 1, all < wp ≤ pitch, of row r, channels c0 + [0, v·16),
                        // of rows (h·pitch, cop)
                        unsafe {
                            direct::scatter(
                                (v, s.wo, taps, s.s),
                                rows.as_mut_ptr().add((r * pitch + qx) * cop + c0),
                                dy.as_ptr().add(b * s.co * ohw),
                                wr.as_ptr().add(c0),
                                &d,
                            )
                        }
                    }
                }
            }
            if cut {
                for r in 0..s.h {
                    yt[r * s.w * cop..][..s.w * cop].copy_from_slice(&padded[(r * pitch + s.px) * cop..][..s.w * cop]);
                }
            }
            finish(xb, yt, &t, b, None, false, mask);
        });
    });
}

/// Pixels whose taps one weight-gradient block sums in registers before adding
/// them to the partial sums: whole images, as many as make about this many.
const BLOCK_PIXELS: usize = 256;

/// Σ over the flat output pixels [lo, hi) of (N, Ho, Wo), into `part` (k, k·Ci, cop).
#[allow(clippy::too_many_arguments)]
pub fn weight_range(
    part: &mut [f32],
    dy: &[f32],
    pooled: Option<Pooled>,
    x: &[f32],
    s: &Shape,
    lo: usize,
    hi: usize,
    scratch: &Scratch,
) {
    assert!(direct::available(), "direct conv: not on this CPU");
    let (ohw, kc, cop) = (s.out_hw(), s.k * s.ci, cop(s.co));
    let (plen, dlen) = (s.hp() * s.wp() * s.ci, ohw * cop);
    let batch = (BLOCK_PIXELS / ohw).max(1);
    assert!(part.len() >= s.k * kc * cop, "direct conv: partial sums too short");
    part.fill(0.0);
    if lo >= hi {
        return;
    }
    scratch.with(batch * (plen + dlen), |buf| {
        let (xp, dyt) = buf.split_at_mut(batch * plen);
        let mut b = lo / ohw;
        while b * ohw < hi {
            let (p0, p1) = (lo.max(b * ohw) - b * ohw, hi.min((b + 1) * ohw) - b * ohw);
            if p0 > 0 || p1 < ohw {
                // part of one image: a partial first row, full rows, a partial last row
                prepare(xp, dyt, dy, pooled, x, s, b, p0, p1);
                let mut p = p0;
                while p < p1 {
                    let (oy, ox) = (p / s.wo, p % s.wo);
                    let (rows, cols) =
                        if ox > 0 || p1 - p < s.wo { (1, (s.wo - ox).min(p1 - p)) } else { ((p1 - p) / s.wo, s.wo) };
                    block_sums(part, xp, dyt, s, 1, oy, ox, rows, cols);
                    p += rows * cols;
                }
                b += 1;
            } else {
                // whole images, `batch` at a time
                let images = batch.min(hi / ohw - b);
                for i in 0..images {
                    prepare(&mut xp[i * plen..], &mut dyt[i * dlen..], dy, pooled, x, s, b + i, 0, ohw);
                }
                block_sums(part, xp, dyt, s, images, 0, 0, s.ho, s.wo);
                b += images;
            }
        }
    });
}

/// Image b padded in HWC order into xp, and its dY pixels [p0, p1) into dyt
/// (ho·wo, cop), transposed from `dy` or from the windows of `pooled` (the same
/// values: each kept window's gradient at its argmax, zeros elsewhere).
#[allow(clippy::too_many_arguments)]
fn prepare(
    xp: &mut [f32],
    dyt: &mut [f32],
    dy: &[f32],
    pooled: Option<Pooled>,
    x: &[f32],
    s: &Shape,
    b: usize,
    p0: usize,
    p1: usize,
) {
    let (hw, ohw, cop) = (s.hw(), s.out_hw(), cop(s.co));
    pad_hwc(xp, &x[b * s.ci * hw..(b + 1) * s.ci * hw], s, 1);
    let dyt = &mut dyt[..p1 * cop];
    // the image's dY planes: dy's, or the pooled windows' gradients scattered
    // plane by plane (each write within one plane) into a dense copy
    let dense;
    let dyb = match pooled {
        None => &dy[b * s.co * ohw..(b + 1) * s.co * ohw],
        Some(p) => {
            let phw = (s.ho / p.k) * (s.wo / p.k);
            let (mut planes, mut grads) = (vec![0.0f32; s.co * ohw], vec![0.0f32; phw]);
            for (c, out) in planes.chunks_mut(ohw).enumerate() {
                let plane = b * s.co + c;
                for (&a, &g) in p.plane(plane, phw, &mut grads).iter().zip(&grads) {
                    out[a as usize - plane * ohw] = g;
                }
            }
            dense = planes;
            &dense[..]
        }
    };
    direct::transpose(&mut dyt[p0 * cop..], cop, &dyb[p0..], ohw, s.co, p1 - p0);
    for p in p0..p1 {
        dyt[p * cop + s.co..(p + 1) * cop].fill(0.0);
    }
}

/// Every block of taps × channels over `rows` rows of `cols` pixels from (oy, ox)
/// of `images` prepared images, added into part.
#[allow(clippy::too_many_arguments)]
fn block_sums(
    part: &mut [f32],
    xp: &[f32],
    dyt: &[f32],
    s: &Shape,
    images: usize,
    oy: usize,
    ox: usize,
    rows: usize,
    cols: usize,
) {
    let (wp, kc, cop) = (s.wp(), s.k * s.ci, cop(s.co));
    let (v, most) = direct::blocking(cop);
    let (width, tiles) = blocks(kc, most);
    let d = Wgrad {
        cop,
        images,
        rows,
        cols,
        step: s.s * s.ci,
        row_step: s.s * wp * s.ci,
        x_image: s.hp() * wp * s.ci,
        dy_row: s.wo * cop,
        dy_image: s.out_hw() * cop,
    };
    let (at, p) = ((oy * s.s * wp + ox * s.s) * s.ci, oy * s.wo + ox);
    assert!(xp.len() >= images * d.x_image && dyt.len() >= (images - 1) * d.dy_image + (p + rows * cols) * cop);
    for ky in 0..s.k {
        for t in 0..tiles {
            let j = t * width;
            let r = width.min(kc - j);
            for co in (0..cop).step_by(v * LANES) {
                // SAFETY: taps j + [0, r) of kernel row ky at output pixel (oy', ox') of an image
                // read ((oy'·s + ky)·wp + ox'·s)·ci + j + r - 1 < hp·wp·ci, as the padded image holds
                // every tap of every output pixel, and dyt's reads are the pixels walked, both
                // within the lengths asserted above; the writes are rows ky·kc + j + [0, r) of
                // part (k·kc, cop), whose length weight_range asserted
                unsafe {
                    direct::wgrad(
                        v,
                        r,
                        part.as_mut_ptr().add((ky * kc + j) * cop + co),
                        xp.as_ptr().add(at + ky * wp * s.ci + j),
                        dyt.as_ptr().add(p * cop + co),
                        &d,
                    )
                }
            }
        }
    }
}
