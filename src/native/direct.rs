//! Direct convolution microkernels for x86-64 CPUs with AVX-512: each call keeps
//! an (R pixels or taps) × (V·16 channels) block of results in registers for a
//! whole reduction, so no im2col, no packing and no padded-row waste. Output
//! channels are padded to a multiple of 16 (`cop`) in the weights and results,
//! so any channel count takes this path; the padding columns are computed from
//! zeros and never read back. The input gradient of a 'valid' conv, and of a 5×5
//! stride-2 one, runs as a scatter instead (`scatter`): dX rows in registers,
//! each dY pixel's taps added in, so nothing reads padding or a stride's zeros. Used by `conv` when `available()`; elsewhere, and
//! with GPUNET_NATIVE_CONV=gemm, conv runs as GEMMs on the `gemm` crate.

/// Channels per vector.
pub const LANES: usize = 16;

/// Whether this CPU runs the kernels here.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Vectors of output channels per block, and the most pixels (or taps) a block
/// holds: R·V accumulators plus V operands stay within the 32 vector registers.
/// Two vectors of 14 beat four of 7 (measured: half the weight traffic per FMA).
pub fn blocking(cop: usize) -> (usize, usize) {
    if cop.is_multiple_of(2 * LANES) {
        (2, 14)
    } else {
        (1, 28)
    }
}

/// Forward-style block of G output rows of R pixels: for output channel c < V·16,
/// Σ over taps (ci, ky, kx), ky in [ky0, ky1), of x[ci·plane + g·S·wp + ky·wp + kx + r·S] ·
/// w[((ci·k + ky)·k + kx)·cop + c], stored at out[g·out_row + r·cop + c] (x, w
/// and out already offset to the block's first pixel and channel). The kernel
/// rows left out are those that read only padding, whose products are zero.
#[derive(Clone, Copy)]
pub struct Fwd {
    pub cop: usize,
    pub plane: usize,
    pub wp: usize,
    pub ci: usize,
    pub k: usize,
    pub ky0: usize,
    pub ky1: usize,
    /// floats from one output row's results to the next's
    pub out_row: usize,
}

impl Fwd {
    /// The block of `g` output rows whose first reads padded row `first`, the next
    /// `stride` rows further: only the kernel rows that meet padded rows
    /// [lo, hi] (where the data is) for at least one of them.
    pub fn rows_reading(self, (lo, hi): (usize, usize), first: usize, g: usize, stride: usize) -> Fwd {
        let ky0 = lo.saturating_sub(first + (g - 1) * stride).min(self.k);
        let ky1 = if hi >= first { (hi - first + 1).min(self.k) } else { 0 };
        Fwd { ky0, ky1: ky1.max(ky0), ..self }
    }
}

/// Weight-gradient block: part[r·cop + c] += Σ over pixels of
/// x[pixel's offset + r] · dyt[pixel·cop + c], pixels walked as `images` images
/// of `rows` rows of `cols` pixels (x steps by `step` floats a pixel, `row_step`
/// a row and `x_image` an image; dyt by cop a pixel, `dy_row` a row and
/// `dy_image` an image).
pub struct Wgrad {
    pub cop: usize,
    pub images: usize,
    pub rows: usize,
    pub cols: usize,
    pub step: usize,
    pub row_step: usize,
    pub x_image: usize,
    pub dy_row: usize,
    pub dy_image: usize,
}

/// Input-gradient row of a stride-S conv as a scatter, in the padded input's
/// coordinates: row `y` of dX = Σ over dY channels c < co and kernel rows
/// ky = ky0, ky0 + S, … < ky1 (those that reach row y from dY row (y - ky)/S) of
/// each dY pixel ix's taps kx = qx + S·j, j < K, added at dX pixel S·ix + kx, for
/// the OUT = WD + K - 1 pixels qx + S·x of one column phase qx (at stride 1 the
/// only phase, K the kernel): every product reads data, none padding. Weights as
/// `conv_direct::reorder(.., flip)` lays them out (a k×k kernel), cop channels a tap.
pub struct Scatter {
    pub co: usize,
    pub dy_plane: usize,
    pub cop: usize,
    pub k: usize,
    pub qx: usize,
    pub y: usize,
    pub ky0: usize,
    pub ky1: usize,
}

/// Whether `scatter` has kernels for dY rows `wd` wide of a k×k conv at stride
/// `s`: at stride 1 a row's K = k taps, at stride 2 (k = 5) a phase's 3 or 2.
pub fn scatter_takes(wd: usize, k: usize, s: usize) -> bool {
    matches!((s, k, wd), (1, 3, 2..=12) | (1, 5, 2..=10) | (2, 5, 2..=12))
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Fwd, Scatter, Wgrad, LANES};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    unsafe fn fwd<const S: usize, const V: usize, const G: usize, const R: usize>(
        out: *mut f32,
        x: *const f32,
        w: *const f32,
        d: &Fwd,
    ) {
        let mut acc = [[[_mm512_setzero_ps(); V]; R]; G];
        for c in 0..d.ci {
            for ky in d.ky0..d.ky1 {
                let row = x.add(c * d.plane + ky * d.wp);
                let mut wt = w.add((c * d.k + ky) * d.k * d.cop);
                for kx in 0..d.k {
                    let mut wv = [_mm512_setzero_ps(); V];
                    for (v, o) in wv.iter_mut().enumerate() {
                        *o = _mm512_loadu_ps(wt.add(v * LANES));
                    }
                    for (g, ag) in acc.iter_mut().enumerate() {
                        let p = row.add(g * S * d.wp + kx);
                        for (r, a) in ag.iter_mut().enumerate() {
                            let b = _mm512_set1_ps(*p.add(r * S));
                            for v in 0..V {
                                a[v] = _mm512_fmadd_ps(b, wv[v], a[v]);
                            }
                        }
                    }
                    wt = wt.add(d.cop);
                }
            }
        }
        for (g, ag) in acc.iter().enumerate() {
            for (r, a) in ag.iter().enumerate() {
                for (v, s) in a.iter().enumerate() {
                    _mm512_storeu_ps(out.add(g * d.out_row + r * d.cop + v * LANES), *s);
                }
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn wgrad<const V: usize, const R: usize>(part: *mut f32, x: *const f32, dyt: *const f32, d: &Wgrad) {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for image in 0..d.images {
            let (x, dyt) = (x.add(image * d.x_image), dyt.add(image * d.dy_image));
            for row in 0..d.rows {
                let (mut xp, mut dp) = (x.add(row * d.row_step), dyt.add(row * d.dy_row));
                for _ in 0..d.cols {
                    let mut dv = [_mm512_setzero_ps(); V];
                    for (v, o) in dv.iter_mut().enumerate() {
                        *o = _mm512_loadu_ps(dp.add(v * LANES));
                    }
                    for (r, a) in acc.iter_mut().enumerate() {
                        let b = _mm512_set1_ps(*xp.add(r));
                        for v in 0..V {
                            a[v] = _mm512_fmadd_ps(b, dv[v], a[v]);
                        }
                    }
                    xp = xp.add(d.step);
                    dp = dp.add(d.cop);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            for (v, s) in a.iter().enumerate() {
                let o = part.add(r * d.cop + v * LANES);
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), *s));
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn scatter<const V: usize, const WD: usize, const K: usize, const OUT: usize, const S: usize>(
        out: *mut f32,
        dy: *const f32,
        w: *const f32,
        d: &Scatter,
    ) {
        let mut acc = [[_mm512_setzero_ps(); V]; OUT];
        let k = d.k;
        for c in 0..d.co {
            let mut ky = d.ky0;
            while ky < d.ky1 {
                let row = dy.add(c * d.dy_plane + (d.y - ky) / S * WD);
                // the flipped layout: tap (ky, kx) at (k-1-ky)·k + k-1-kx
                let taps = w.add((c * k + k - 1 - ky) * k * d.cop);
                for j in 0..K {
                    let wt = taps.add((k - 1 - d.qx - S * j) * d.cop);
                    let mut wv = [_mm512_setzero_ps(); V];
                    for (v, o) in wv.iter_mut().enumerate() {
                        *o = _mm512_loadu_ps(wt.add(v * LANES));
                    }
                    for ix in 0..WD {
                        let b = _mm512_set1_ps(*row.add(ix));
                        for v in 0..V {
                            acc[ix + j][v] = _mm512_fmadd_ps(b, wv[v], acc[ix + j][v]);
                        }
                    }
                }
                ky += S;
            }
        }
        for (x, a) in acc.iter().enumerate() {
            for (v, s) in a.iter().enumerate() {
                _mm512_storeu_ps(out.add(x * S * d.cop + v * LANES), *s);
            }
        }
    }

    pub type ScatterFn = unsafe fn(*mut f32, *const f32, *const f32, &Scatter);

    macro_rules! scatter_pick {
        ($v:literal, $k:literal, $s:literal, $wd:expr, [$($n:literal => $out:literal)*]) => {
            match $wd {
                $($n => scatter::<$v, $n, $k, $out, $s> as ScatterFn,)*
                _ => unreachable!("scatter rows of {}", $wd),
            }
        };
    }

    /// The scatter kernel for V vectors, dY rows of `wd` pixels, `k` taps a row
    /// (a phase's at stride 2) and stride `s`.
    pub fn scatter_fn(v: usize, wd: usize, k: usize, s: usize) -> ScatterFn {
        match (v, k, s) {
            (1, 3, 1) => {
                scatter_pick!(1, 3, 1, wd, [2 => 4 3 => 5 4 => 6 5 => 7 6 => 8 7 => 9 8 => 10 9 => 11 10 => 12 11 => 13 12 => 14])
            }
            (2, 3, 1) => {
                scatter_pick!(2, 3, 1, wd, [2 => 4 3 => 5 4 => 6 5 => 7 6 => 8 7 => 9 8 => 10 9 => 11 10 => 12 11 => 13 12 => 14])
            }
            (1, 5, 1) => {
                scatter_pick!(1, 5, 1, wd, [2 => 6 3 => 7 4 => 8 5 => 9 6 => 10 7 => 11 8 => 12 9 => 13 10 => 14])
            }
            (2, 5, 1) => {
                scatter_pick!(2, 5, 1, wd, [2 => 6 3 => 7 4 => 8 5 => 9 6 => 10 7 => 11 8 => 12 9 => 13 10 => 14])
            }
            (1, 3, 2) => {
                scatter_pick!(1, 3, 2, wd, [2 => 4 3 => 5 4 => 6 5 => 7 6 => 8 7 => 9 8 => 10 9 => 11 10 => 12 11 => 13 12 => 14])
            }
            (2, 3, 2) => {
                scatter_pick!(2, 3, 2, wd, [2 => 4 3 => 5 4 => 6 5 => 7 6 => 8 7 => 9 8 => 10 9 => 11 10 => 12 11 => 13 12 => 14])
            }
            (1, 2, 2) => {
                scatter_pick!(1, 2, 2, wd, [2 => 3 3 => 4 4 => 5 5 => 6 6 => 7 7 => 8 8 => 9 9 => 10 10 => 11 11 => 12 12 => 13])
            }
            (2, 2, 2) => {
                scatter_pick!(2, 2, 2, wd, [2 => 3 3 => 4 4 => 5 5 => 6 6 => 7 7 => 8 8 => 9 9 => 10 10 => 11 11 => 12 12 => 13])
            }
            _ => unreachable!("scatter: {v} vectors, {k} taps, stride {s}"),
        }
    }

    /// n ≤ 16 windows of one output row; `first` is the flat index of x[0].
    #[target_feature(enable = "avx512f")]
    pub unsafe fn maxpool2(y: *mut f32, argmax: *mut u32, x: *const f32, w: usize, n: usize, first: u32) {
        let m = ((1u32 << n) - 1) as u16;
        let (lo, hi) = (((1u32 << (2 * n).min(16)) - 1) as u16, ((1u32 << (2 * n).saturating_sub(16)) - 1) as u16);
        let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
        // (even, odd) columns of a row's 2n floats
        let split = |r: *const f32| {
            let (a, b) = (_mm512_maskz_loadu_ps(lo, r), _mm512_maskz_loadu_ps(hi, r.add(LANES)));
            (_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b))
        };
        let (a, b) = split(x);
        let (c, d) = split(x.add(w));
        let mut index = _mm512_add_epi32(_mm512_set1_epi32(first as i32), even);
        let (mut best, mut at) = (a, index);
        for (v, step) in [(b, 1), (c, w as i32 - 1), (d, 1)] {
            index = _mm512_add_epi32(index, _mm512_set1_epi32(step));
            let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, best);
            best = _mm512_mask_blend_ps(gt, best, v);
            at = _mm512_mask_blend_epi32(gt, at, index);
        }
        _mm512_mask_storeu_ps(y, m, best);
        _mm512_mask_storeu_epi32(argmax as *mut i32, m, at);
    }

    pub type FwdFn = unsafe fn(*mut f32, *const f32, *const f32, &Fwd);
    pub type WgradFn = unsafe fn(*mut f32, *const f32, *const f32, &Wgrad);

    macro_rules! pick {
        ($f:ident, $r:expr, [$($n:literal)*], $($c:literal),+) => {
            pick!(@ $f, $r, [$($n)*], [$($c),+])
        };
        (@ $f:ident, $r:expr, [$($n:literal)*], $c:tt) => {
            match $r {
                $($n => pick!(@fn $f, $c, $n),)*
                _ => unreachable!("block of {} rows", $r),
            }
        };
        (@fn $f:ident, [$($c:literal),+], $n:literal) => {
            $f::<$($c,)+ $n> as _
        };
    }

    /// The forward kernel for stride S (1 or 2), V vectors and G rows of R pixels.
    pub fn fwd_fn(s: usize, v: usize, g: usize, r: usize) -> FwdFn {
        match (s, v, g) {
            (1, 1, 1) => {
                pick!(fwd, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28], 1, 1, 1)
            }
            (1, 1, 2) => pick!(fwd, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14], 1, 1, 2),
            (1, 2, 1) => pick!(fwd, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14], 1, 2, 1),
            (1, 2, 2) => pick!(fwd, r, [1 2 3 4 5 6 7], 1, 2, 2),
            (2, 1, 1) => {
                pick!(fwd, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28], 2, 1, 1)
            }
            (2, 1, 2) => pick!(fwd, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14], 2, 1, 2),
            (2, 2, 1) => pick!(fwd, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14], 2, 2, 1),
            (2, 2, 2) => pick!(fwd, r, [1 2 3 4 5 6 7], 2, 2, 2),
            _ => unreachable!("stride {s}, {v} vectors, {g} rows"),
        }
    }

    /// The weight-gradient kernel for V vectors and R taps.
    pub fn wgrad_fn(v: usize, r: usize) -> WgradFn {
        match v {
            1 => pick!(wgrad, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28], 1),
            2 => pick!(wgrad, r, [1 2 3 4 5 6 7 8 9 10 11 12 13 14], 2),
            _ => unreachable!("{v} vectors"),
        }
    }
}

/// A forward block of `g` (1 or 2) rows of `r` pixels at stride `s` (1 or 2), `v` vectors.
/// # Safety
/// `available()`; every address the sums read or write is in bounds; `(v, _) = blocking(cop)`;
/// g·r ≤ 28 / v.
#[cfg(target_arch = "x86_64")]
pub unsafe fn fwd((s, v, g, r): (usize, usize, usize, usize), out: *mut f32, x: *const f32, w: *const f32, d: &Fwd) {
    avx512::fwd_fn(s, v, g, r)(out, x, w, d)
}

/// One scatter row (`Scatter`) of `v` vectors, dY rows `wd` wide, `k` taps a
/// row of this column phase, stride `s`.
/// # Safety
/// `available()`, `scatter_takes(wd, d.k, s)` with `k` the phase's taps,
/// `(v, _) = blocking(cop)`; dY's rows (y - ky)/s for the ky visited exist in
/// every channel, w holds co·d.k·d.k taps of cop floats, and out has the pixels
/// s·x for x < wd + k - 1, cop floats apart a pixel, from the block's first channel.
#[cfg(target_arch = "x86_64")]
pub unsafe fn scatter(
    (v, wd, k, s): (usize, usize, usize, usize),
    out: *mut f32,
    dy: *const f32,
    w: *const f32,
    d: &Scatter,
) {
    avx512::scatter_fn(v, wd, k, s)(out, dy, w, d)
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn scatter(_: (usize, usize, usize, usize), _: *mut f32, _: *const f32, _: *const f32, _: &Scatter) {
    unreachable!("direct conv needs AVX-512")
}

/// # Safety
/// As `fwd`, for `Wgrad`'s sums.
#[cfg(target_arch = "x86_64")]
pub unsafe fn wgrad(v: usize, r: usize, part: *mut f32, x: *const f32, dyt: *const f32, d: &Wgrad) {
    avx512::wgrad_fn(v, r)(part, x, dyt, d)
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn fwd(_: (usize, usize, usize, usize), _: *mut f32, _: *const f32, _: &Fwd) {
    unreachable!("direct conv needs AVX-512")
}

#[cfg(not(target_arch = "x86_64"))]
pub unsafe fn wgrad(_: usize, _: usize, _: *mut f32, _: *const f32, _: *const f32, _: &Wgrad) {
    unreachable!("direct conv needs AVX-512")
}

/// dst[j·dst_stride + i] = src[i·src_stride + j] for i < rows, j < cols: in 8×8
/// blocks in AVX registers where the CPU has AVX (the edge blocks through masked
/// loads and stores with AVX-512VL, else one by one).
pub fn transpose(dst: &mut [f32], dst_stride: usize, src: &[f32], src_stride: usize, rows: usize, cols: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!((rows - 1) * src_stride + cols <= src.len() && (cols - 1) * dst_stride + rows <= dst.len());
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        let masked = std::arch::is_x86_feature_detected!("avx512vl");
        for i in (0..rows).step_by(8) {
            for j in (0..cols).step_by(8) {
                let (r, c) = ((rows - i).min(8), (cols - j).min(8));
                let (d, s) = (dst[j * dst_stride + i..].as_mut_ptr(), src[i * src_stride + j..].as_ptr());
                // SAFETY: rows i..i+r of columns j..j+c of src, and rows j..j+c of columns
                // i..i+r of dst, are inside the spans asserted above; the full-block call
                // touches no more than that, the masked one only those
                unsafe {
                    if r == 8 && c == 8 {
                        avx::transpose8(d, dst_stride, s, src_stride)
                    } else if masked {
                        avx::transpose8_masked(d, dst_stride, s, src_stride, r, c)
                    } else {
                        for ii in 0..r {
                            for jj in 0..c {
                                *d.add(jj * dst_stride + ii) = *s.add(ii * src_stride + jj);
                            }
                        }
                    }
                }
            }
        }
        return;
    }
    for i in 0..rows {
        for j in 0..cols {
            dst[j * dst_stride + i] = src[i * src_stride + j];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use std::arch::x86_64::*;

    /// One 8×8 block: dst row j = src column j.
    #[target_feature(enable = "avx")]
    pub unsafe fn transpose8(dst: *mut f32, ds: usize, src: *const f32, ss: usize) {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * ss)));
        let out = shuffle(r);
        for (j, o) in out.iter().enumerate() {
            _mm256_storeu_ps(dst.add(j * ds), *o);
        }
    }

    /// The top-left rows × cols (≤ 8 each) of an 8×8 block, touching nothing else.
    #[target_feature(enable = "avx,avx512f,avx512vl")]
    pub unsafe fn transpose8_masked(dst: *mut f32, ds: usize, src: *const f32, ss: usize, rows: usize, cols: usize) {
        let (load, store) = (((1u32 << cols) - 1) as u8, ((1u32 << rows) - 1) as u8);
        let r: [__m256; 8] = std::array::from_fn(|i| {
            if i < rows {
                _mm256_maskz_loadu_ps(load, src.add(i * ss))
            } else {
                _mm256_setzero_ps()
            }
        });
        let out = shuffle(r);
        for (j, o) in out.iter().enumerate().take(cols) {
            _mm256_mask_storeu_ps(dst.add(j * ds), store, *o);
        }
    }

    /// Rows r[i] into columns.
    #[target_feature(enable = "avx")]
    unsafe fn shuffle(r: [__m256; 8]) -> [__m256; 8] {
        let t = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        std::array::from_fn(|j| {
            if j < 4 {
                _mm256_permute2f128_ps::<0x20>(u[j], u[j + 4])
            } else {
                _mm256_permute2f128_ps::<0x31>(u[j - 4], u[j])
            }
        })
    }
}

/// 2×2 max-pool of one (h, w) plane whose first element has flat index `base`:
/// y (oh, ow) and the flat index of each window's first maximum in scan order
/// (rows, then columns), as the twin finds it. Needs `available()`.
#[allow(clippy::too_many_arguments)]
pub fn maxpool2(y: &mut [f32], argmax: &mut [u32], x: &[f32], w: usize, oh: usize, ow: usize, base: usize) {
    assert!(y.len() >= oh * ow && argmax.len() >= oh * ow && x.len() >= (2 * oh - 1) * w + 2 * ow && 2 * ow <= w);
    assert!(available() && base + x.len() <= u32::MAX as usize);
    #[cfg(target_arch = "x86_64")]
    for oy in 0..oh {
        for ox in (0..ow).step_by(LANES) {
            let n = (ow - ox).min(LANES);
            // SAFETY: the reads are 2n floats from rows 2·oy and 2·oy + 1 at column 2·ox,
            // inside x (asserted above); the writes n outputs of row oy from column ox
            unsafe {
                avx512::maxpool2(
                    y.as_mut_ptr().add(oy * ow + ox),
                    argmax.as_mut_ptr().add(oy * ow + ox),
                    x.as_ptr().add(2 * oy * w + 2 * ox),
                    w,
                    n,
                    (base + 2 * oy * w + 2 * ox) as u32,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_block_sums_only_the_kernel_rows_that_meet_data() {
        let d = super::Fwd { cop: 16, plane: 0, wp: 0, ci: 1, k: 5, ky0: 0, ky1: 5, out_row: 0 };
        // a 'valid' 5x5 conv's input gradient: dY's 8 rows at padded rows 4..=11
        let rows = |first, g, stride| {
            let f = d.rows_reading((4, 11), first, g, stride);
            (f.ky0, f.ky1)
        };
        assert_eq!(rows(0, 1, 1), (4, 5));
        assert_eq!(rows(3, 1, 1), (1, 5));
        assert_eq!(rows(5, 1, 1), (0, 5));
        assert_eq!(rows(8, 1, 1), (0, 4));
        assert_eq!(rows(11, 1, 1), (0, 1));
        assert_eq!(rows(0, 2, 1), (3, 5));
        assert_eq!(rows(10, 2, 2), (0, 2));
        // rows of padding only: nothing to sum
        let (a, b) = rows(12, 1, 1);
        assert_eq!(a, b);
        let f = d.rows_reading((20, 30), 0, 1, 1);
        assert_eq!(f.ky0, f.ky1);
    }
}
