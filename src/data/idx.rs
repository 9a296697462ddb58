//! IDX files (the original MNIST format) of any image size, grey or with
//! channels, gzipped or plain.

use super::{Images, Shape};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const IMAGES4_MAGIC: u32 = 0x0000_0804;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Inflates gzip data; plain data (no gzip magic) is returned as is. What it
/// inflates to is capped at 64 MiB or 64 times the compressed size (MNIST's
/// largest file grows 4.8 times), so a decompression bomb is refused, not obeyed.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    if bytes.len() < 2 || bytes[..2] != [0x1f, 0x8b] {
        return Ok(bytes.to_vec());
    }
    let told = u32::from_le_bytes(bytes[bytes.len().saturating_sub(4)..].try_into().unwrap_or([0; 4]));
    inflate(bytes, bytes.len() as u64, told)
}

/// `gunzip` of `compressed` bytes of gzip read from `input`, whose trailer
/// says `told` (the size mod 2^32).
fn inflate(input: impl Read, compressed: u64, told: u32) -> Result<Vec<u8>, String> {
    let cap = (64 << 20).max(64 * compressed);
    // one allocation for what the trailer says, trusted only as far as 8 times
    // the input: a made-up trailer must not reserve the whole cap
    let mut out = Vec::with_capacity((told as u64).min(8 * compressed) as usize + 1);
    flate2::read::MultiGzDecoder::new(input)
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

/// The largest image an IDX file may hold, in values (C·H·W), and the most
/// channels: what a network here can take in.
const MAX_IMAGE: u64 = 1 << 24;
const CHANNELS: [u64; 2] = [1, 3];

/// Images of unsigned bytes: magic 0x00000803 (count, H, W: grey) or 0x00000804
/// (four dimensions: count, C, H, W with C 1 or 3 — or count, H, W, C with only
/// the last 1 or 3, as converters of colour sets often write it), then the
/// values. Returns each image's (C, H, W) and the values in that order.
pub fn parse_images(bytes: &[u8], path: &str) -> Result<(Shape, Vec<u8>)> {
    images_from(bytes.to_vec(), path)
}

/// `parse_images` on a file's own buffer: the header dropped and (H, W, C)
/// turned in place, so the images take no second copy.
fn images_from(mut bytes: Vec<u8>, path: &str) -> Result<(Shape, Vec<u8>)> {
    let bad = |m: String| Error::input(path, 0, m);
    let magic = header(&bytes, 1, path)?[0];
    let dims = match magic {
        IMAGES_MAGIC => 3,
        IMAGES4_MAGIC => 4,
        _ => {
            return Err(bad(format!(
                "bad IDX magic {magic:#010x}, expected {IMAGES_MAGIC:#010x} or {IMAGES4_MAGIC:#010x} (images of bytes)"
            )))
        }
    };
    let h: Vec<u64> = header(&bytes, 1 + dims, path)?[1..].iter().map(|&d| d as u64).collect();
    let (n, hwc) = (h[0], &h[1..]);
    let (shape, last_channels) = match *hwc {
        [height, width] => ((1, height, width), false),
        [c, height, width] if CHANNELS.contains(&c) => ((c, height, width), false),
        [height, width, c] if CHANNELS.contains(&c) => ((c, height, width), true),
        _ => return Err(bad(format!("4-D images of {hwc:?}: expected (C, H, W) or (H, W, C) with C 1 or 3"))),
    };
    let size = shape.0 * shape.1 * shape.2;
    if size == 0 || size > MAX_IMAGE {
        return Err(bad(format!("images of {}x{}x{} values: expected 1 to {MAX_IMAGE}", shape.0, shape.1, shape.2)));
    }
    let start = 4 + 4 * dims;
    let (want, have) = (n * size, (bytes.len() - start) as u64);
    if have != want {
        return Err(bad(format!("{n} images need {want} pixel bytes, file has {have} (truncated?)")));
    }
    let shape = (shape.0 as usize, shape.1 as usize, shape.2 as usize);
    bytes.drain(..start);
    if !last_channels || shape.0 == 1 {
        return Ok((shape, bytes));
    }
    // (H, W, C) to (C, H, W), image by image through one image of scratch
    let (c, plane) = (shape.0, shape.1 * shape.2);
    let mut src = vec![0u8; c * plane];
    for dst in bytes.chunks_exact_mut(c * plane) {
        src.copy_from_slice(dst);
        for (p, px) in src.chunks_exact(c).enumerate() {
            px.iter().enumerate().for_each(|(ch, &v)| dst[ch * plane + p] = v);
        }
    }
    Ok((shape, bytes))
}

/// Labels: magic 0x801, count, then count bytes, each a class 0..255.
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
    Ok(bytes[8..].to_vec())
}

/// Images and their labels, one each; the classes are the labels' largest + 1.
pub fn pair(shape: Shape, pixels: Vec<u8>, labels: Vec<u8>, path: &str) -> Result<Images> {
    let size = shape.0 * shape.1 * shape.2;
    if labels.len() * size != pixels.len() {
        return Err(Error::input(path, 0, format!("{} images but {} labels", pixels.len() / size, labels.len())));
    }
    let classes = labels.iter().max().map_or(0, |&l| l as usize + 1);
    Ok(Images { shape, classes, pixels, labels: Some(labels) })
}

/// A file's bytes, inflated as it is read where it is gzip (the compressed
/// bytes are never held whole beside what they inflate to).
fn read(path: &Path) -> Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let io = |e| Error::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 2];
    if len < 18 || file.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return std::fs::read(path).map_err(io);
    }
    let mut trailer = [0u8; 4];
    file.seek(SeekFrom::End(-4)).and_then(|_| file.read_exact(&mut trailer)).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    inflate(std::io::BufReader::new(file), len, u32::from_le_bytes(trailer)).map_err(|m| Error::input(path, 0, m))
}

/// The training and (where present) test image files of a folder laid out as
/// MNIST's: `train-images-idx3-ubyte` and `t10k-images-idx3-ubyte` (`idx4` for
/// images with channels), plain or `.gz`.
pub fn in_dir(dir: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    let find =
        |stem: &str| [stem.to_string(), format!("{stem}.gz")].into_iter().map(|n| dir.join(n)).find(|p| p.is_file());
    let either =
        |set: &str| find(&format!("{set}-images-idx3-ubyte")).or_else(|| find(&format!("{set}-images-idx4-ubyte")));
    match either("train") {
        Some(train) => Ok((train, either("t10k"))),
        None => Err(Error::input(
            dir,
            0,
            "a folder of training data needs train-images-idx3-ubyte[.gz] (and t10k-images-idx3-ubyte[.gz] for its test set) in it",
        )),
    }
}

/// An image file and, if it exists beside it, its labels file.
pub fn load_pair(path: &Path) -> Result<Images> {
    let p = path.display().to_string();
    let (shape, pixels) = images_from(read(path)?, &p)?;
    let name = path.file_name().unwrap().to_string_lossy();
    let labels_path =
        path.with_file_name(name.replace("images-idx3", "labels-idx1").replace("images-idx4", "labels-idx1"));
    if labels_path == path || !labels_path.exists() {
        return Ok(Images { shape, classes: 0, pixels, labels: None });
    }
    let labels = parse_labels(&read(&labels_path)?, &labels_path.display().to_string())?;
    pair(shape, pixels, labels, &p)
}
