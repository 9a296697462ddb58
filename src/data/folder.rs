//! Folders of pictures sorted by class, `DIR/<class>/<picture>`, as Keras'
//! `image_dataset_from_directory` and torchvision's `ImageFolder` read them: the
//! class names are the folder names, sorted by their bytes; pictures are known by
//! their extension (anything else is counted and left); every picture is read
//! the one way `prepare` says, which predicting a picture repeats.

use super::{Images, Shape};
use crate::error::{Error, Result};
use image::{ImageReader, Limits, RgbaImage};
use std::path::{Path, PathBuf};

/// The extensions read as pictures (compared without case). Not TIFF: its
/// decoder allocated 128 MiB for a 334-byte file, past the limits it is given
/// (the fuzz harness found it), so a TIFF is refused by name (`TIFF`).
pub const EXTENSIONS: [&str; 10] = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "pnm", "pbm", "pgm", "ppm"];
const TIFF: [&str; 2] = ["tif", "tiff"];

/// The largest side a picture may have: a header claiming more is refused before
/// anything is allocated for it.
pub const MAX_SIDE: u32 = 16_384;

/// How a folder is read: the channels (None: 3 if any picture has colour, else
/// 1), the size every picture is resized to (None: they must all have one), and
/// whether an unreadable picture is skipped (counted) instead of stopping the run;
/// and (not pictures, but how a data set is read) CIFAR-100's labels.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Options {
    pub channels: Option<usize>,
    pub resize: Option<(usize, usize)>,
    pub skip_bad: bool,
    pub labels: super::cifar::Labels,
}

impl Options {
    /// The options that read pictures to `shape` (a test set's, to its training
    /// set's; a model's).
    pub fn to(shape: Shape, o: &Options) -> Options {
        let (c, h, w) = shape;
        Options { channels: Some(c), resize: Some((h, w)), ..*o }
    }
}

/// Whether `dir` is a folder of class folders: it holds folders and no IDX files.
pub fn is_class_folder(dir: &Path) -> bool {
    subfolders(dir).is_ok_and(|f| !f.is_empty())
}

fn subfolders(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            found.push((path.file_name().unwrap_or_default().to_string_lossy().to_string(), path));
        }
    }
    found.sort_by(|a, b| a.1.as_os_str().as_encoded_bytes().cmp(b.1.as_os_str().as_encoded_bytes()));
    Ok(found)
}

/// A file's extension in lower case ("" where it has none).
fn extension(path: &Path) -> String {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default()
}

/// Why a picture cannot be read, naming it.
fn unreadable(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::input(path, 0, format!("not a picture gpunet can read: {why}"))
}

type Reader<R> = ImageReader<R>;

/// A reader that knows its format from the bytes and refuses a side past `side`,
/// and a decoder's allocation past 16 bytes a pixel of that square and 1 MiB.
fn limited<R: std::io::BufRead + std::io::Seek>(r: Reader<R>, side: u32) -> std::result::Result<Reader<R>, String> {
    let mut r = r.with_guessed_format().map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(16 * side as u64 * side as u64 + (1 << 20));
    r.limits(limits);
    Ok(r)
}

fn reader(path: &Path) -> std::result::Result<Reader<std::io::BufReader<std::fs::File>>, String> {
    limited(ImageReader::open(path).map_err(|e| e.to_string())?, MAX_SIDE)
}

/// A picture's (width, height) and whether it has colour, from its header alone.
fn header_of<R: std::io::BufRead + std::io::Seek>(
    r: Reader<R>,
    side: u32,
) -> std::result::Result<(u32, u32, bool), String> {
    use image::ImageDecoder;
    let d = r.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = d.dimensions();
    if w == 0 || h == 0 || w > side || h > side {
        return Err(format!("{w}x{h} pixels: expected 1 to {side} a side"));
    }
    Ok((w, h, d.color_type().has_color()))
}

fn header(path: &Path) -> std::result::Result<(u32, u32, bool), String> {
    header_of(reader(path)?, MAX_SIDE)
}

/// A picture in `bytes` read for `shape`, its sides at most `side`: the header
/// checked before any pixel is decoded (what the fuzz harness drives).
pub fn picture_from_bytes(bytes: &[u8], shape: Shape, side: u32) -> std::result::Result<Vec<u8>, String> {
    let open = || limited(ImageReader::new(std::io::Cursor::new(bytes)), side);
    header_of(open()?, side)?;
    let img = open()?.decode().map_err(|e| e.to_string())?;
    Ok(prepare(&img.to_rgba8(), shape))
}

/// A decoded picture as `shape` values, channels first: transparency flattened
/// on black (a transparent pixel is 0, as MNIST's paper), resized where its size
/// differs (a triangle filter: bilinear), grey as (299 R + 587 G + 114 B) / 1000.
pub fn prepare(picture: &RgbaImage, shape: Shape) -> Vec<u8> {
    let (c, h, w) = shape;
    let resized;
    let img = if (picture.width() as usize, picture.height() as usize) == (w, h) {
        picture
    } else {
        resized = image::imageops::resize(picture, w as u32, h as u32, image::imageops::FilterType::Triangle);
        &resized
    };
    let mut out = vec![0u8; c * h * w];
    for (i, px) in img.pixels().enumerate() {
        let [r, g, b, a] = px.0.map(u32::from);
        let flat = |v: u32| (v * a + 127) / 255;
        let (r, g, b) = (flat(r), flat(g), flat(b));
        match c {
            1 => out[i] = ((299 * r + 587 * g + 114 * b + 500) / 1000) as u8,
            _ => [r, g, b].iter().enumerate().for_each(|(ch, &v)| out[ch * h * w + i] = v as u8),
        }
    }
    out
}

/// Reads one picture the way a folder's pictures are read, for a model of `shape`.
pub fn read_picture(path: &Path, shape: Shape) -> Result<Vec<u8>> {
    let img = reader(path).and_then(|r| r.decode().map_err(|e| e.to_string()));
    let img = img.map_err(|e| unreadable(path, e))?;
    Ok(prepare(&img.to_rgba8(), shape))
}

/// The pictures of `dir`'s class folders and the class names; `say` hears what
/// was left out and, on a large folder, how far reading has come.
pub fn load(dir: &Path, o: &Options, say: &mut dyn FnMut(&str)) -> Result<(Images, Vec<String>)> {
    let classes = subfolders(dir)?;
    if classes.is_empty() {
        return Err(Error::input(dir, 0, "no class folders in it: expected DIR/<class>/<picture>"));
    }
    if classes.len() > 256 {
        return Err(Error::input(
            dir,
            0,
            format!("{} class folders, more than the 256 labels can tell apart", classes.len()),
        ));
    }
    let (mut files, mut ignored) = (Vec::new(), 0usize);
    for (label, (name, path)) in classes.iter().enumerate() {
        let mut found: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let p = entry.map_err(|e| Error::io(path, e))?.path();
            let ext = extension(&p);
            if p.is_file() && EXTENSIONS.contains(&ext.as_str()) {
                found.push(p);
            } else if TIFF.contains(&ext.as_str()) {
                return Err(Error::input(&p, 0, "TIFF pictures are not read (their decoder does not keep to its memory limits): convert them to PNG"));
            } else {
                ignored += 1;
            }
        }
        if found.is_empty() {
            return Err(Error::input(
                path,
                0,
                format!("class folder '{name}' holds no pictures ({})", EXTENSIONS.join(", ")),
            ));
        }
        found.sort();
        files.extend(found.into_iter().map(|p| (p, label as u8)));
    }
    let (files, shape, bad) = survey(files, o, say)?;
    let mut pixels = Vec::with_capacity(files.len() * shape.0 * shape.1 * shape.2);
    let (mut labels, mut skipped) = (Vec::with_capacity(files.len()), bad);
    for (k, (path, label)) in files.iter().enumerate() {
        match read_picture(path, shape) {
            Ok(v) => {
                pixels.extend(v);
                labels.push(*label);
            }
            Err(e) if o.skip_bad => {
                skipped += 1;
                say(&format!("skipped {e}"));
            }
            Err(e) => return Err(e),
        }
        if (k + 1) % 10_000 == 0 {
            say(&format!("{}: read {} of {} pictures", dir.display(), k + 1, files.len()));
        }
    }
    let mut line = format!(
        "{}: {} pictures of {} in {} classes",
        dir.display(),
        labels.len(),
        super::shape_text(shape),
        classes.len()
    );
    if ignored > 0 {
        line += &format!("; {ignored} other files ignored");
    }
    if skipped > 0 {
        line += &format!("; {skipped} unreadable pictures skipped (--skip-bad-images)");
    }
    say(&line);
    let names = classes.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    Ok((Images { shape, classes: names.len(), pixels, labels: Some(labels) }, names))
}

type Files = Vec<(PathBuf, u8)>;

/// Every picture's header read: the files that can be read, the shape they all
/// take, and how many were skipped; an unreadable one stops it (unless skipped),
/// as do two sizes without `--resize`.
fn survey(files: Files, o: &Options, say: &mut dyn FnMut(&str)) -> Result<(Files, Shape, usize)> {
    let (mut kept, mut first, mut colour, mut bad) = (Vec::with_capacity(files.len()), None, false, 0);
    for (path, label) in files {
        match header(&path) {
            Ok((w, h, c)) => {
                colour |= c;
                match first {
                    None => first = Some((w, h, path.clone())),
                    Some((fw, fh, ref f)) if o.resize.is_none() && (fw, fh) != (w, h) => {
                        return Err(Error::input(
                            &path,
                            0,
                            format!(
                                "{w}x{h} pixels, but {} is {fw}x{fh}: give --resize H,W to read them at one size",
                                f.display()
                            ),
                        ))
                    }
                    _ => {}
                }
                kept.push((path, label));
            }
            Err(e) if o.skip_bad => {
                bad += 1;
                say(&format!("skipped {}", unreadable(&path, e)));
            }
            Err(e) => return Err(unreadable(&path, format!("{e} (--skip-bad-images goes on without it)"))),
        }
    }
    let Some((w, h, _)) = first else { return Err(Error::usage("no readable pictures")) };
    let (h, w) = o.resize.unwrap_or((h as usize, w as usize));
    let c = o.channels.unwrap_or(if colour { 3 } else { 1 });
    Ok((kept, (c, h, w), bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG whose header claims 100,000 x 100,000 pixels is refused from its
    /// header, before a pixel buffer exists; the same file at its true size reads.
    #[test]
    fn a_huge_header_is_refused_before_allocation() {
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(3, 2, image::Rgb([9, 90, 200])));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let png = png.into_inner();
        assert_eq!(picture_from_bytes(&png, (3, 2, 3), MAX_SIDE).unwrap(), [[9; 6], [90; 6], [200; 6]].concat());
        let mut huge = png.clone();
        huge[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]);
        // the IHDR chunk's CRC over its type and data, so only the size is wrong
        let mut crc = flate2::Crc::new();
        crc.update(&huge[12..29]);
        huge[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        let e = picture_from_bytes(&huge, (3, 2, 3), MAX_SIDE).unwrap_err();
        assert!(e.contains("100000") || e.contains("limit"), "{e}");
    }
}
