//! IDX files (the original MNIST format), gzipped or plain.

use super::{Images, PIXELS, SIDE};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Inflates gzip data; plain data (no gzip magic) is returned as is. What it
/// inflates to is capped at 64 MiB or 64 times the compressed size (MNIST's
/// largest file grows 4.8 times), so a decompression bomb is refused, not obeyed.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.len() < 2 || bytes[..2] != [0x1f, 0x8b] {
        return Ok(bytes.to_vec());
    }
    let cap = (64 << 20).max(64 * bytes.len() as u64);
    // one allocation for what the trailer says (its size mod 2^32), trusted only as
    // far as 8 times the input: a made-up trailer must not reserve the whole cap
    let told = u32::from_le_bytes(bytes[bytes.len().saturating_sub(4)..].try_into().unwrap_or([0; 4]));
    let mut out = Vec::with_capacity((told as usize).min(8 * bytes.len()) + 1);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("gzip: {e} (truncated download?)"))?;
    if out.len() as u64 > cap {
        return Err(format!("gzip: inflates past {cap} bytes, 64 times its size: not an IDX file"));
    }
    Ok(out)
}

fn header(bytes: &[u8], words: usize, path: &str) -> Result<Vec<u32>> {
    if bytes.len() < 4 * words {
        return Err(Error::input(path, 0, format!("IDX header needs {} bytes, file has {}", 4 * words, bytes.len())));
    }
    Ok((0..words).map(|i| u32::from_be_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap())).collect())
}

/// 28x28 images: magic 0x803, count, 28, 28, then count·784 bytes.
pub fn parse_images(bytes: &[u8], path: &str) -> Result<Vec<u8>> {
    let h = header(bytes, 4, path)?;
    if h[0] != IMAGES_MAGIC {
        return Err(Error::input(
            path,
            0,
            format!("bad IDX magic {:#010x}, expected {IMAGES_MAGIC:#010x} (images)", h[0]),
        ));
    }
    if h[2] as usize != SIDE || h[3] as usize != SIDE {
        return Err(Error::input(path, 0, format!("images are {}x{}, expected {SIDE}x{SIDE}", h[2], h[3])));
    }
    let want = h[1] as u64 * PIXELS as u64;
    let have = (bytes.len() - 16) as u64;
    if have != want {
        return Err(Error::input(
            path,
            0,
            format!("{} images need {want} pixel bytes, file has {have} (truncated?)", h[1]),
        ));
    }
    Ok(bytes[16..].to_vec())
}

/// Labels: magic 0x801, count, then count bytes, each 0..9.
pub fn parse_labels(bytes: &[u8], path: &str) -> Result<Vec<u8>> {
    let h = header(bytes, 2, path)?;
    if h[0] != LABELS_MAGIC {
        return Err(Error::input(
            path,
            0,
            format!("bad IDX magic {:#010x}, expected {LABELS_MAGIC:#010x} (labels)", h[0]),
        ));
    }
    let have = (bytes.len() - 8) as u64;
    if have != h[1] as u64 {
        return Err(Error::input(path, 0, format!("{} labels expected, file has {have} bytes (truncated?)", h[1])));
    }
    if let Some(i) = bytes[8..].iter().position(|&l| l > 9) {
        return Err(Error::input(path, 0, format!("label {} at index {i} is outside 0..9", bytes[8 + i])));
    }
    Ok(bytes[8..].to_vec())
}

pub fn pair(pixels: Vec<u8>, labels: Vec<u8>, path: &str) -> Result<Images> {
    if labels.len() * PIXELS != pixels.len() {
        return Err(Error::input(path, 0, format!("{} images but {} labels", pixels.len() / PIXELS, labels.len())));
    }
    Ok(Images { pixels, labels: Some(labels) })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    gunzip(&bytes).map_err(|m| Error::input(path, 0, m))
}

/// An image file and, if it exists beside it, its labels file.
pub fn load_pair(path: &Path) -> Result<Images> {
    let p = path.display().to_string();
    let pixels = parse_images(&read(path)?, &p)?;
    let labels_path =
        path.with_file_name(path.file_name().unwrap().to_string_lossy().replace("images-idx3", "labels-idx1"));
    if !labels_path.exists() {
        return Ok(Images { pixels, labels: None });
    }
    let labels = parse_labels(&read(&labels_path)?, &labels_path.display().to_string())?;
    pair(pixels, labels, &p)
}
