//! Pictures, drawn with plotters: training curves (`curves`), the grid of
//! misread digits (`grid`) and what augmentation does to digits (`augment`). A drawing is made once, as SVG (plotters); a PNG is
//! that SVG rasterised by resvg with a font embedded in the binary (Ubuntu Light,
//! from epaint_default_fonts), so no system fonts are needed, and encoded by the
//! `image` crate. SVG text names sans-serif, which the viewer's fonts set; the
//! layout is measured with the embedded font. Files are written atomically.

pub mod augment;
pub mod curves;
pub mod grid;

pub use curves::{load, plot, Run};

use crate::error::{Error, Result};
use crate::io::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// The family every text style names; registered once with the embedded font.
pub const FONT: &str = "sans-serif";
/// The embedded font: Ubuntu Light, from epaint_default_fonts.
const FONT_TTF: &[u8] = epaint_default_fonts::UBUNTU_LIGHT;

/// What a picture is written as, from the output's extension.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// `.svg` or `.png` (any case), or a usage error naming the command's choice.
    pub fn of(out: &Path, allowed: &[Format], command: &str) -> Result<Format> {
        let ext = out.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
        let f = match ext.as_deref() {
            Some("svg") => Some(Format::Svg),
            Some("png") => Some(Format::Png),
            _ => None,
        };
        match f {
            Some(f) if allowed.contains(&f) => Ok(f),
            _ => {
                let names: Vec<&str> =
                    allowed.iter().map(|f| if *f == Format::Svg { ".svg" } else { ".png" }).collect();
                Err(Error::usage(format!("{}: {command} writes {}", out.display(), names.join(" or "))))
            }
        }
    }
}

/// The error type of a drawing on backend `DB`.
pub type DrawResult<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A picture that draws itself on any plotters backend.
pub trait Drawing {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// Draws one image of `shape` (grey: 0 = paper, 255 = ink, drawn as ink on
/// white; or RGB as it is) with its top left at `at`, as large as a square of
/// `side` pixels allows: whole screen pixels per image pixel, or image pixels
/// skipped where it is larger than the square.
pub fn picture<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    (c, h, w): crate::data::Shape,
    img: &[u8],
    side: usize,
) -> DrawResult<DB> {
    let (zoom, step) = match side / h.max(w) {
        0 => (1, h.max(w).div_ceil(side)),
        z => (z, 1),
    };
    for (ty, sy) in (0..h).step_by(step).enumerate() {
        for (tx, sx) in (0..w).step_by(step).enumerate() {
            let at = |ch: usize| img[ch * h * w + sy * w + sx];
            let colour = match c {
                3 => RGBColor(at(0), at(1), at(2)),
                _ if at(0) == 0 => continue,
                _ => RGBColor(255 - at(0), 255 - at(0), 255 - at(0)),
            };
            let (px, py) = (x + (zoom * tx) as i32, y + (zoom * ty) as i32);
            root.draw(&Rectangle::new([(px, py), (px + zoom as i32, py + zoom as i32)], colour.filled()))?;
        }
    }
    Ok(())
}

/// Renders `d` to `out` as `format`, atomically: a failure leaves no file. A PNG
/// is the SVG rasterised (resvg), so both formats show one drawing.
pub fn save(d: &impl Drawing, out: &Path, format: Format) -> Result<()> {
    let failed = |e: &dyn std::fmt::Display| Error::io(out, format!("drawing failed: {e}"));
    let doc = svg(d).map_err(|e| failed(&e))?;
    let bytes = match format {
        Format::Svg => doc.into_bytes(),
        Format::Png => png(&doc, d.size()).map_err(|e| failed(&e))?,
    };
    write_atomic(out, |f| f.write_all(&bytes))
}

/// The drawing as an SVG document.
fn svg(d: &impl Drawing) -> std::result::Result<String, String> {
    static FONT_ONCE: std::sync::Once = std::sync::Once::new();
    FONT_ONCE.call_once(|| {
        // text is measured with the font that draws it in PNGs
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_TTF)
            .unwrap_or_else(|_| panic!("the embedded font is a valid TrueType font"));
    });
    let mut doc = String::new();
    {
        let root = SVGBackend::with_string(&mut doc, d.size()).into_drawing_area();
        d.draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(doc)
}

/// An SVG document rasterised to a PNG of `(w, h)` pixels, text set in the embedded font.
fn png(doc: &str, (w, h): (u32, u32)) -> std::result::Result<Vec<u8>, String> {
    use resvg::{tiny_skia, usvg};
    let mut opt = usvg::Options::default();
    opt.fontdb_mut().load_font_data(FONT_TTF.to_vec());
    let family = opt.fontdb.faces().next().and_then(|f| f.families.first()).map(|f| f.0.clone()).ok_or("no font")?;
    opt.fontdb_mut().set_sans_serif_family(&family);
    opt.font_family = family;
    let tree = usvg::Tree::from_str(doc, &opt).map_err(|e| e.to_string())?;
    let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or("empty picture")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    // opaque pixels: premultiplied RGBA is plain RGBA; drop the alpha
    let rgb: Vec<u8> = pixmap.data().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let img = image::RgbImage::from_raw(w, h, rgb).ok_or("pixel buffer size")?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(png)
}
