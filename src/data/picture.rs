//! Digits from image files (PNG, JPEG, GIF, BMP, WebP, TIFF, PNM), prepared the way
//! MNIST's were made and the web pages prepare a drawing (web/host.js, `toMnist`,
//! which this mirrors operation for operation, so both give the same 28x28 for the
//! same strokes): the ink's bounding box fitted into 20x20 keeping its aspect
//! ratio (area-averaged), then placed in 28x28 with its centre of mass at the
//! centre. Dark ink on a light ground and light ink on a dark ground both work.

use super::{Images, PIXELS, SIDE};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// MNIST fits each digit's bounding box into BOX x BOX.
const BOX: f64 = 20.0;

/// The extensions `predict` reads as pictures (lower case).
pub const EXTENSIONS: [&str; 11] = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "pgm", "ppm", "pnm"];

/// Whether a path names a picture by its extension.
pub fn is_picture(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The pictures `inputs` name: files, and the pictures in directories (sorted by name).
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::io(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && is_picture(f))
                .collect();
            if found.is_empty() {
                return Err(Error::input(p, 0, format!("holds no pictures ({})", EXTENSIONS.join(", "))));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Each picture as a 28x28 MNIST-style digit, in order.
pub fn load(paths: &[PathBuf]) -> Result<Images> {
    let mut pixels = Vec::with_capacity(paths.len() * PIXELS);
    for p in paths {
        let img = image::open(p).map_err(|e| Error::input(p, 0, format!("not a picture gpunet can read: {e}")))?;
        let rgba = img.to_rgba8();
        let (w, h) = (rgba.width() as usize, rgba.height() as usize);
        let digit = to_mnist(&ink(rgba.as_raw(), w, h), w, h)
            .ok_or_else(|| Error::input(p, 0, "no ink found: the picture is blank"))?;
        pixels.extend(digit);
    }
    Ok(Images::digits(pixels, None))
}

/// Ink, 0..255, from RGBA pixels: grey level (alpha over white), inverted where
/// the border is light (dark ink on paper). A ground that is not clean (a scan,
/// a photo) is taken off: its level, measured on the border, and a tenth of the
/// way from it to the darkest ink count as no ink.
pub fn ink(rgba: &[u8], w: usize, h: usize) -> Vec<f32> {
    let grey: Vec<f64> = rgba
        .chunks_exact(4)
        .map(|p| {
            let (r, g, b, a) = (p[0] as f64, p[1] as f64, p[2] as f64, p[3] as f64 / 255.0);
            let l = if p[0] == p[1] && p[1] == p[2] { r } else { (0.299 * r + 0.587 * g + 0.114 * b).round() };
            l * a + 255.0 * (1.0 - a)
        })
        .collect();
    let border: Vec<f64> =
        (0..w * h).filter(|&i| i % w == 0 || i % w == w - 1 || i / w == 0 || i / w == h - 1).map(|i| grey[i]).collect();
    let light_ground = border.iter().sum::<f64>() / border.len().max(1) as f64 > 127.5;
    let ink: Vec<f64> = grey.iter().map(|&l| if light_ground { 255.0 - l } else { l }).collect();
    let mut ground: Vec<f64> = border.iter().map(|&l| if light_ground { 255.0 - l } else { l }).collect();
    ground.sort_by(|a, b| a.total_cmp(b));
    let bg = ground.get(ground.len() / 2).copied().unwrap_or(0.0);
    if bg == 0.0 {
        return ink.iter().map(|&v| v as f32).collect();
    }
    let max = ink.iter().copied().fold(0.0, f64::max);
    let cut = bg + 0.1 * (max - bg);
    ink.iter().map(|&v| if v > cut { (v - cut) as f32 } else { 0.0 }).collect()
}

/// Area-averaging weights: target cell t of `dst` covers source [t·src/dst, (t+1)·src/dst).
fn coverage(src: usize, dst: usize) -> Vec<Vec<(usize, f64)>> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|t| {
            let (lo, hi) = (t as f64 * scale, (t + 1) as f64 * scale);
            (lo.floor() as usize..(src as f64).min(hi.ceil()) as usize)
                .filter_map(|i| {
                    let w = hi.min(i as f64 + 1.0) - lo.max(i as f64);
                    (w > 0.0).then_some((i, w))
                })
                .collect()
        })
        .collect()
}

/// JavaScript's Math.round (halves toward +∞), as web/host.js rounds.
fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// web/host.js's `toMnist` (tests/node_parity.rs holds the two equal): `ink` (w·h values 0..255) as a 28x28 digit; None without ink.
pub fn to_mnist(ink: &[f32], w: usize, h: usize) -> Option<Vec<u8>> {
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, None, 0);
    for y in 0..h {
        for x in 0..w {
            if ink[y * w + x] > 0.0 {
                x0 = x0.min(x);
                x1 = Some(x1.map_or(x, |v: usize| v.max(x)));
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
    }
    let x1 = x1?;
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let s = BOX / bw.max(bh) as f64;
    let tw = (js_round(bw as f64 * s) as usize).max(1);
    let th = (js_round(bh as f64 * s) as usize).max(1);
    let (cx, cy) = (coverage(bw, tw), coverage(bh, th));
    let area = (bw as f64 / tw as f64) * (bh as f64 / th as f64);
    let mut fit = vec![0f32; tw * th];
    let (mut mass, mut mx, mut my) = (0.0, 0.0, 0.0);
    for ty in 0..th {
        for tx in 0..tw {
            let mut sum = 0.0;
            for &(sy, a) in &cy[ty] {
                let row = (y0 + sy) * w + x0;
                for &(sx, b) in &cx[tx] {
                    sum += a * b * ink[row + sx] as f64;
                }
            }
            let v = sum / area;
            fit[ty * tw + tx] = v as f32;
            mass += v;
            mx += (tx as f64 + 0.5) * v;
            my += (ty as f64 + 0.5) * v;
        }
    }
    let half = SIDE as f64 / 2.0;
    let (ox, oy) = (js_round(half - mx / mass) as i64, js_round(half - my / mass) as i64);
    let mut out = vec![0u8; PIXELS];
    for ty in 0..th {
        for tx in 0..tw {
            let (x, y) = (tx as i64 + ox, ty as i64 + oy);
            if (0..SIDE as i64).contains(&x) && (0..SIDE as i64).contains(&y) {
                out[y as usize * SIDE + x as usize] = js_round(fit[ty * tw + tx] as f64).min(255.0) as u8;
            }
        }
    }
    Some(out)
}
