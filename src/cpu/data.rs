//! Twin of shaders/data.wgsl: gather a batch from the packed image store, with
//! the optional random affine augmentation computed the same way.

use super::dropout::pcg;
use crate::kernels::GatherDims;

/// Salt of the augmentation hash (as data.wgsl's AUGMENT_SALT).
const AUGMENT_SALT: u32 = 0x4155_4721;

/// Uniform in [-1, 1) from the k-th hash of store row `src` at this step.
fn unit(d: &GatherDims, src: u32, k: u32) -> f32 {
    let key = pcg(d.seed ^ pcg(d.step ^ pcg(AUGMENT_SALT)));
    (pcg(src.wrapping_mul(4).wrapping_add(k) ^ key) >> 8) as f32 * (2.0 / 16777216.0) - 1.0
}

/// Salt of the crop's and flip's hash (as data.wgsl's CROP_SALT).
const CROP_SALT: u32 = 0x4352_4f50;

/// Uniform in [-1, 1) from the k-th crop hash of store row `src` at this step.
fn crop_unit(d: &GatherDims, src: u32, k: u32) -> f32 {
    let key = pcg(d.seed ^ pcg(d.step ^ pcg(CROP_SALT)));
    (pcg(src.wrapping_mul(4).wrapping_add(k) ^ key) >> 8) as f32 * (2.0 / 16777216.0) - 1.0
}

/// A crop offset of row `src`: an integer in [-crop, crop], each equally likely.
fn crop_offset(d: &GatherDims, src: u32, k: u32) -> f32 {
    let n = (2 * d.crop + 1) as f32;
    ((crop_unit(d, src, k) + 1.0) * 0.5 * n).floor().min(n - 1.0) - d.crop as f32
}

/// Row `src`'s crop offset (x, y) and whether it is mirrored, at this step.
pub fn crop_flip(d: &GatherDims, src: u32) -> (f32, f32, bool) {
    let (dx, dy) = if d.crop != 0 { (crop_offset(d, src, 0), crop_offset(d, src, 1)) } else { (0.0, 0.0) };
    (dx, dy, d.flip != 0 && crop_unit(d, src, 2) < 0.0)
}

/// Salt of the warp's hash (as data.wgsl's ELASTIC_SALT).
const ELASTIC_SALT: u32 = 0x454c_4153;
/// Control points per side of the warp's grid (data.wgsl's GRID).
const GRID: u32 = 4;

/// Uniform in [-1, 1) from the k-th warp hash of store row `src` at this step.
fn warp_unit(d: &GatherDims, src: u32, k: u32) -> f32 {
    let key = pcg(d.seed ^ pcg(d.step ^ pcg(ELASTIC_SALT)));
    (pcg(src.wrapping_mul(2 * GRID * GRID).wrapping_add(k) ^ key) >> 8) as f32 * (2.0 / 16777216.0) - 1.0
}

/// The warp's displacement at point (px, py) of row `src`: bilinear between the
/// four control points around it, each moved by up to `elastic` pixels.
pub fn warp(d: &GatherDims, src: u32, px: f32, py: f32) -> (f32, f32) {
    let per = |side: u32| (GRID - 1) as f32 / (side as f32 - 1.0);
    let (gx, gy) = (px * per(d.side), py * per(d.height));
    let (i, j) = ((gx as u32).min(GRID - 2), (gy as u32).min(GRID - 2));
    let (fx, fy) = (gx - i as f32, gy - j as f32);
    let k = 2 * (j * GRID + i);
    let at = |k: u32| (warp_unit(d, src, k), warp_unit(d, src, k + 1));
    let (d00, d10, d01, d11) = (at(k), at(k + 2), at(k + 2 * GRID), at(k + 2 * GRID + 2));
    let mix = |a: f32, b: f32, c: f32, e: f32| {
        let top = (1.0 - fx) * a + fx * b;
        let bottom = (1.0 - fx) * c + fx * e;
        d.elastic * ((1.0 - fy) * top + fy * bottom)
    };
    (mix(d00.0, d10.0, d01.0, d11.0), mix(d00.1, d10.1, d01.1, d11.1))
}

/// The map of store row `src` at this step: [angle (radians), zoom factor, shift
/// x, shift y (pixels)]; the image moves by out = c + z·R(angle)·(in - c) + shift.
pub fn affine(d: &GatherDims, src: u32) -> [f32; 4] {
    let theta = d.rotate * unit(d, src, 0);
    let z = 1.0 + d.zoom * unit(d, src, 1);
    [theta, z, d.shift * unit(d, src, 2), d.shift * unit(d, src, 3)]
}

fn byte_at(store: &[u32], d: &GatherDims, src: usize, j: usize) -> f32 {
    ((store[src * d.row_words as usize + j / 4] >> (8 * (j % 4))) & 255) as f32
}

/// (cos θ, sin θ) for |θ| <= π as data.wgsl's cos_sin computes them: polynomials
/// in θ/2 and the double-angle formulas, + and × only (WGSL's own cos and sin may
/// be off by 2^-11), within 5e-7 of the true values.
pub fn cos_sin(theta: f32) -> (f32, f32) {
    let h = 0.5 * theta;
    let q = h * h;
    let s = h
        * (1.0
            + q * (-1.0 / 6.0
                + q * (1.0 / 120.0 + q * (-1.0 / 5040.0 + q * (1.0 / 362880.0 + q * (-1.0 / 39916800.0))))));
    let c = 1.0
        + q * (-0.5
            + q * (1.0 / 24.0
                + q * (-1.0 / 720.0 + q * (1.0 / 40320.0 + q * (-1.0 / 3628800.0 + q * (1.0 / 479001600.0))))));
    ((c - s) * (c + s), 2.0 * s * c)
}

/// Output value j of row `src` (channel ch, pixel p) under its maps: p mirrored
/// and moved by the crop's offset, then by the warp; the source point
/// c + R(-θ)·(p - c - t) / z, sampled bilinearly, zero outside.
fn augmented(store: &[u32], d: &GatherDims, src: u32, j: usize) -> f32 {
    let [theta, z, tx, ty] = affine(d, src);
    let (w, h) = (d.side as usize, d.height as usize);
    let (cx, cy) = ((d.side as f32 - 1.0) * 0.5, (d.height as f32 - 1.0) * 0.5);
    let (ch, k) = (j / (w * h), j % (w * h));
    let (mut px, mut py) = ((k % w) as f32, (k / w) as f32);
    let (ox, oy, flip) = crop_flip(d, src);
    if flip {
        px = (w - 1) as f32 - px;
    }
    if d.crop != 0 {
        (px, py) = (px + ox, py + oy);
    }
    if d.elastic != 0.0 {
        let (wx, wy) = warp(d, src, px, py);
        (px, py) = (px + wx, py + wy);
    }
    let dx = px - cx - tx;
    let dy = py - cy - ty;
    let (cs, sn) = cos_sin(theta);
    let sx = cx + (cs * dx + sn * dy) / z;
    let sy = cy + (cs * dy - sn * dx) / z;
    let (x0, y0) = (sx.floor(), sy.floor());
    let (fx, fy) = (sx - x0, sy - y0);
    let texel = |ix: i64, iy: i64| {
        if ix < 0 || iy < 0 || ix >= w as i64 || iy >= h as i64 {
            0.0
        } else {
            byte_at(store, d, src as usize, ch * w * h + (iy * w as i64 + ix) as usize)
        }
    };
    let (ix, iy) = (x0 as i64, y0 as i64);
    let top = (1.0 - fx) * texel(ix, iy) + fx * texel(ix + 1, iy);
    let bottom = (1.0 - fx) * texel(ix, iy + 1) + fx * texel(ix + 1, iy + 1);
    (1.0 - fy) * top + fy * bottom
}

pub fn gather(x: &mut [f32], y: &mut [u32], store: &[u32], store_labels: &[u32], index: &[u32], d: &GatherDims) {
    let px = d.pixels as usize;
    for r in 0..d.n as usize {
        let src = index[d.offset as usize + r];
        for j in 0..px {
            let v = if d.augment != 0 { augmented(store, d, src, j) } else { byte_at(store, d, src as usize, j) };
            x[r * px + j] = v * d.inv_scale;
        }
        y[r] = store_labels[src as usize];
    }
}
