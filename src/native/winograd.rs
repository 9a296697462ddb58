//! 3×3 stride-1 conv2d (forward, and grad input, itself such a conv) as Winograd
//! F(2×2, 3×3): each 2×2 block of outputs comes from a 4×4 input patch d as
//! Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, 16 products per block and channel pair where the
//! direct sum takes 36. Per image: the input padded in HWC order, every patch
//! transformed (vectors over channels) into V (16, T tiles, Ci), each of the 16
//! (T, Ci) matrices transposed and multiplied by U (16, Ci, cop) on the direct
//! kernels (a 1×1 conv over "tile pixels"), the products M (16, T, cop) folded
//! back into 2×2 blocks, then transposed into NCHW and finished as `conv_direct`
//! finishes. Rounding differs from the direct sum within the twins' tolerance
//! (tests/native runs every conv case through it).

use super::direct::{self, Fwd, LANES};
use super::shape::{blocks, cop, finish, Shape};
use super::Scratch;
use rayon::prelude::*;

/// Whether a conv of this shape, its input spread by `spread`, runs here: the
/// transforms run in vectors of input channels, so a layer with few (a first
/// layer's one) stays direct.
pub fn takes(s: &Shape, spread: usize) -> bool {
    s.k == 3 && s.s == 1 && spread == 1 && s.ci >= LANES && direct::available()
}

/// U (16, ins, cop) = G g Gᵀ for every (in, out) pair of 3×3 kernels g, the conv's
/// inputs and outputs as `conv_direct::reorder` takes them (`flip`: grad input).
pub fn transform_weights(u: &mut Vec<f32>, wt: &[f32], d: &Shape, flip: bool) {
    let (ins, outs) = if flip { (d.co, d.ci) } else { (d.ci, d.co) };
    let cop = cop(outs);
    u.clear();
    u.resize(16 * ins * cop, 0.0);
    let gm = [[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]];
    for i in 0..ins {
        for o in 0..outs {
            // g[ky][kx] of the conv from input i to output o
            let g = |ky: usize, kx: usize| {
                if flip {
                    wt[((i * d.ci + o) * 3 + 2 - ky) * 3 + 2 - kx]
                } else {
                    wt[((o * d.ci + i) * 3 + ky) * 3 + kx]
                }
            };
            let mut gg = [[0.0f32; 3]; 4]; // G g
            for (a, row) in gg.iter_mut().enumerate() {
                for (kx, v) in row.iter_mut().enumerate() {
                    *v = (0..3).map(|ky| gm[a][ky] * g(ky, kx)).sum();
                }
            }
            for a in 0..4 {
                for b in 0..4 {
                    let v: f32 = (0..3).map(|kx| gg[a][kx] * gm[b][kx]).sum();
                    u[((a * 4 + b) * ins + i) * cop + o] = v;
                }
            }
        }
    }
}

/// y (N, Co, Ho, Wo) = the 3×3 conv of x with U as `transform_weights` made it,
/// plus `bias`, through ReLU with `relu`, zero where `mask` is ≤ 0.
#[allow(clippy::too_many_arguments)]
pub fn conv(
    y: &mut [f32],
    x: &[f32],
    u: &[f32],
    s: &Shape,
    scratch: &Scratch,
    bias: Option<&[f32]>,
    relu: bool,
    mask: Option<&[f32]>,
) {
    assert!(takes(s, 1), "winograd: not a 3x3 stride-1 conv on an AVX-512 CPU");
    let (hw, ohw, ci, cop) = (s.hw(), s.out_hw(), s.ci, cop(s.co));
    let cip = ci.next_multiple_of(LANES);
    let (th, tw) = (s.ho.div_ceil(2), s.wo.div_ceil(2));
    let t = th * tw;
    // the padded image, with room for the last tiles' patches
    let (hp, wp) = (2 * th + 2, 2 * tw + 2);
    let xlen = hp * wp * cip;
    let (vlen, mlen) = (16 * t * cip, 16 * t * cop);
    assert!(u.len() >= 16 * ci * cop, "winograd: transformed kernel too short");
    let (v, most) = direct::blocking(cop);
    let (width, tiles) = blocks(t, most);
    let d = Fwd { cop, plane: t, wp: 0, ci, k: 1, ky0: 0, ky1: 1, out_row: 0 };
    y[..s.n * s.co * ohw].par_chunks_mut(s.co * ohw).enumerate().for_each(|(b, yb)| {
        scratch.with(xlen + 2 * vlen + mlen + ohw * cop, |buf| {
            let (xh, rest) = buf.split_at_mut(xlen);
            let (vt, rest) = rest.split_at_mut(vlen);
            let (vc, rest) = rest.split_at_mut(vlen);
            let (m, yt) = rest.split_at_mut(mlen);
            // the image in HWC, channels padded to whole vectors, zero around
            xh.fill(0.0);
            let img = &x[b * ci * hw..(b + 1) * ci * hw];
            for iy in 0..s.h.min(hp - s.py) {
                let at = ((iy + s.py) * wp + s.px) * cip;
                direct::transpose(&mut xh[at..], cip, &img[iy * s.w..], hw, ci, s.w.min(wp - s.px));
            }
            // SAFETY: this CPU has AVX-512 (asserted); the slices hold what the calls index
            unsafe { input_transform(vt, xh, th, tw, wp, cip) };
            // each (T, Ci) into (Ci, T), so a tile block's products are one kernel call
            for xi in 0..16 {
                direct::transpose(&mut vc[xi * ci * t..], t, &vt[xi * t * cip..], cip, t, ci);
            }
            for xi in 0..16 {
                for blk in 0..tiles {
                    let t0 = blk * width;
                    let r = width.min(t - t0);
                    for co in (0..cop).step_by(v * LANES) {
                        // SAFETY: reads rows [0, ci) of tiles t0 + [0, r) of this ξ's (ci, t) matrix
                        // and rows of U (ci, cop) at channels co + [0, v·16); writes tiles t0 + [0, r)
                        // of this ξ's M (t, cop) at those channels
                        unsafe {
                            direct::fwd(
                                (1, v, 1, r),
                                m.as_mut_ptr().add((xi * t + t0) * cop + co),
                                vc.as_ptr().add(xi * ci * t + t0),
                                u.as_ptr().add(xi * ci * cop + co),
                                &d,
                            )
                        }
                    }
                }
            }
            // SAFETY: as above
            unsafe { output_transform(yt, m, th, tw, s.ho, s.wo, cop) };
            finish(yb, yt, s, b, bias, relu, mask);
        });
    });
}

/// V[ξ][tile][c] = (Bᵀ d B)[ξ] for the 4×4 patch d at (2·ty, 2·tx) of xh (hp, wp, cip).
#[target_feature(enable = "avx512f")]
unsafe fn input_transform(v: &mut [f32], xh: &[f32], th: usize, tw: usize, wp: usize, cip: usize) {
    let t = th * tw;
    for ty in 0..th {
        for tx in 0..tw {
            let tile = ty * tw + tx;
            for c0 in (0..cip).step_by(LANES) {
                let mut d = [[[0.0f32; LANES]; 4]; 4];
                for (i, row) in d.iter_mut().enumerate() {
                    for (j, px) in row.iter_mut().enumerate() {
                        px.copy_from_slice(&xh[((2 * ty + i) * wp + 2 * tx + j) * cip + c0..][..LANES]);
                    }
                }
                // Bᵀ d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3
                let mut e = [[[0.0f32; LANES]; 4]; 4];
                for j in 0..4 {
                    for l in 0..LANES {
                        let (a, b, c, dd) = (d[0][j][l], d[1][j][l], d[2][j][l], d[3][j][l]);
                        e[0][j][l] = a - c;
                        e[1][j][l] = b + c;
                        e[2][j][l] = c - b;
                        e[3][j][l] = b - dd;
                    }
                }
                // (Bᵀ d) B: the same on columns
                for i in 0..4 {
                    let row = e[i];
                    let out = [
                        std::array::from_fn::<f32, LANES, _>(|l| row[0][l] - row[2][l]),
                        std::array::from_fn(|l| row[1][l] + row[2][l]),
                        std::array::from_fn(|l| row[2][l] - row[1][l]),
                        std::array::from_fn(|l| row[1][l] - row[3][l]),
                    ];
                    for (j, o) in out.iter().enumerate() {
                        v[((i * 4 + j) * t + tile) * cip + c0..][..LANES].copy_from_slice(o);
                    }
                }
            }
        }
    }
}

/// yt (ho·wo, cop) = Aᵀ M A per tile: rows m0 + m1 + m2 and m1 - m2 - m3, then the
/// same on columns; outputs past (ho, wo) dropped.
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)] // the transform's indices read as its formulas
unsafe fn output_transform(yt: &mut [f32], m: &[f32], th: usize, tw: usize, ho: usize, wo: usize, cop: usize) {
    let t = th * tw;
    for ty in 0..th {
        for tx in 0..tw {
            let tile = ty * tw + tx;
            for c0 in (0..cop).step_by(LANES) {
                let at = |xi: usize| &m[(xi * t + tile) * cop + c0..][..LANES];
                let mut f = [[[0.0f32; LANES]; 4]; 2]; // Aᵀ M
                for j in 0..4 {
                    let (a, b, c, d) = (at(j), at(4 + j), at(8 + j), at(12 + j));
                    for l in 0..LANES {
                        f[0][j][l] = a[l] + b[l] + c[l];
                        f[1][j][l] = b[l] - c[l] - d[l];
                    }
                }
                for (i, row) in f.iter().enumerate() {
                    let oy = 2 * ty + i;
                    if oy >= ho {
                        continue;
                    }
                    for j in 0..2 {
                        let ox = 2 * tx + j;
                        if ox >= wo {
                            continue;
                        }
                        let o = &mut yt[(oy * wo + ox) * cop + c0..][..LANES];
                        for l in 0..LANES {
                            o[l] = if j == 0 {
                                row[0][l] + row[1][l] + row[2][l]
                            } else {
                                row[1][l] - row[2][l] - row[3][l]
                            };
                        }
                    }
                }
            }
        }
    }
}
