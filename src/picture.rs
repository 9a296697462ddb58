//! Pictures without a plotting stack: an RGB canvas with lines and a 3x5 font
//! (digits, lowercase letters, a little punctuation), and a PNG writer (zlib from
//! flate2, chunk CRCs from its CRC-32). `eval --errors` and `plot --out *.png`
//! draw with it.

use crate::data::PIXELS;
use crate::error::Result;
use crate::io::write_atomic;
use std::io::Write;
use std::path::Path;

pub type Rgb = [u8; 3];
pub const WHITE: Rgb = [255, 255, 255];
pub const GREEN: Rgb = [0, 140, 60];
pub const RED: Rgb = [210, 30, 30];
pub const GREY: Rgb = [110, 110, 110];

/// Glyphs 0-9 and '>' (index 10), 3 wide and 5 high, one row per 3 bits (MSB left).
const GLYPHS: [[u8; 5]; 11] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],
    [0b010, 0b110, 0b010, 0b010, 0b111],
    [0b111, 0b001, 0b111, 0b100, 0b111],
    [0b111, 0b001, 0b111, 0b001, 0b111],
    [0b101, 0b101, 0b111, 0b001, 0b001],
    [0b111, 0b100, 0b111, 0b001, 0b111],
    [0b111, 0b100, 0b111, 0b101, 0b111],
    [0b111, 0b001, 0b010, 0b010, 0b010],
    [0b111, 0b101, 0b111, 0b101, 0b111],
    [0b111, 0b101, 0b111, 0b001, 0b111],
    [0b000, 0b100, 0b010, 0b100, 0b000],
];
const ARROW: usize = 10;

/// Lowercase letters a-z, 3x5 like the digits.
const LETTERS: [[u8; 5]; 26] = [
    [0b000, 0b011, 0b101, 0b101, 0b011],
    [0b100, 0b110, 0b101, 0b101, 0b110],
    [0b000, 0b011, 0b100, 0b100, 0b011],
    [0b001, 0b011, 0b101, 0b101, 0b011],
    [0b000, 0b010, 0b111, 0b100, 0b011],
    [0b001, 0b010, 0b111, 0b010, 0b010],
    [0b000, 0b011, 0b101, 0b011, 0b110],
    [0b100, 0b110, 0b101, 0b101, 0b101],
    [0b010, 0b000, 0b010, 0b010, 0b010],
    [0b001, 0b000, 0b001, 0b101, 0b010],
    [0b100, 0b101, 0b110, 0b110, 0b101],
    [0b010, 0b010, 0b010, 0b010, 0b001],
    [0b000, 0b110, 0b111, 0b101, 0b101],
    [0b000, 0b110, 0b101, 0b101, 0b101],
    [0b000, 0b010, 0b101, 0b101, 0b010],
    [0b000, 0b110, 0b101, 0b110, 0b100],
    [0b000, 0b011, 0b101, 0b011, 0b001],
    [0b000, 0b101, 0b110, 0b100, 0b100],
    [0b000, 0b011, 0b110, 0b011, 0b110],
    [0b010, 0b111, 0b010, 0b010, 0b001],
    [0b000, 0b101, 0b101, 0b101, 0b011],
    [0b000, 0b101, 0b101, 0b101, 0b010],
    [0b000, 0b101, 0b101, 0b111, 0b101],
    [0b000, 0b101, 0b010, 0b010, 0b101],
    [0b000, 0b101, 0b101, 0b011, 0b110],
    [0b000, 0b111, 0b011, 0b100, 0b111],
];

/// The 3x5 bits of a character: digits, letters (either case), `. - _ / : ( ) , >`
/// and space; anything else draws as `?`.
fn bits(ch: char) -> [u8; 5] {
    match ch {
        '0'..='9' => GLYPHS[ch as usize - '0' as usize],
        'a'..='z' => LETTERS[ch as usize - 'a' as usize],
        'A'..='Z' => LETTERS[ch as usize - 'A' as usize],
        '>' => GLYPHS[ARROW],
        '.' => [0, 0, 0, 0, 0b010],
        '-' => [0, 0, 0b111, 0, 0],
        '_' => [0, 0, 0, 0, 0b111],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        ':' => [0, 0b010, 0, 0b010, 0],
        '(' => [0b001, 0b010, 0b010, 0b010, 0b001],
        ')' => [0b100, 0b010, 0b010, 0b010, 0b100],
        ',' => [0, 0, 0, 0b010, 0b100],
        ' ' => [0; 5],
        _ => [0b111, 0b001, 0b010, 0, 0b010],
    }
}

pub struct Canvas {
    pub width: usize,
    pub height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize, background: Rgb) -> Canvas {
        Canvas { width, height, rgb: background.repeat(width * height) }
    }

    /// A filled square of side `size` at (x, y); clipped at the edges.
    pub fn square(&mut self, x: usize, y: usize, size: usize, c: Rgb) {
        for yy in y..(y + size).min(self.height) {
            for xx in x..(x + size).min(self.width) {
                let i = (yy * self.width + xx) * 3;
                self.rgb[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    /// A 28x28 MNIST image (0 = white paper, 255 = black ink), each pixel `scale` wide.
    pub fn digit_image(&mut self, x: usize, y: usize, img: &[u8], scale: usize) {
        for (i, &v) in img.iter().take(PIXELS).enumerate() {
            let ink = 255 - v;
            self.square(x + (i % 28) * scale, y + (i / 28) * scale, scale, [ink, ink, ink]);
        }
    }

    fn bits(&mut self, x: usize, y: usize, rows: [u8; 5], scale: usize, c: Rgb) {
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    self.square(x + col * scale, y + row * scale, scale, c);
                }
            }
        }
    }

    /// Pixels a string of `text` takes across at `scale`.
    pub fn text_width(text: &str, scale: usize) -> usize {
        text.chars().count() * 4 * scale
    }

    /// `text` with its top-left at (x, y), 4·scale pixels a character.
    pub fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, c: Rgb) {
        for (k, ch) in text.chars().enumerate() {
            self.bits(x + k * 4 * scale, y, bits(ch), scale, c);
        }
    }

    /// A line `width` pixels thick from (x0, y0) to (x1, y1); with `dash` = (on, off)
    /// pixels, a dashed one.
    pub fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), width: usize, c: Rgb, dash: Option<(f64, f64)>) {
        let len = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
        let steps = (len.ceil() as usize).max(1);
        for k in 0..=steps {
            let t = k as f64 / steps as f64;
            if let Some((on, off)) = dash {
                if (t * len) % (on + off) >= on {
                    continue;
                }
            }
            let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
            let half = width as f64 / 2.0;
            if x >= half && y >= half {
                self.square((x - half) as usize, (y - half) as usize, width, c);
            }
        }
    }

    /// The canvas as an 8-bit RGB PNG, written atomically.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        let mut raw = Vec::with_capacity((self.width * 3 + 1) * self.height);
        for row in self.rgb.chunks(self.width * 3) {
            raw.push(0); // filter: none
            raw.extend_from_slice(row);
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&raw).and_then(|_| z.flush()).map_err(|e| crate::Error::io(path, e))?;
        let idat = z.finish().map_err(|e| crate::Error::io(path, e))?;
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&(self.width as u32).to_be_bytes());
        ihdr.extend_from_slice(&(self.height as u32).to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter, no interlace
        write_atomic(path, |w| {
            w.write_all(b"\x89PNG\r\n\x1a\n")?;
            for (kind, data) in [(b"IHDR", &ihdr), (b"IDAT", &idat), (b"IEND", &Vec::new())] {
                w.write_all(&(data.len() as u32).to_be_bytes())?;
                w.write_all(kind)?;
                w.write_all(data)?;
                let mut crc = flate2::Crc::new();
                crc.update(kind);
                crc.update(data);
                w.write_all(&crc.sum().to_be_bytes())?;
            }
            Ok(())
        })
    }
}

/// Columns of the error grid.
const COLS: usize = 10;
/// Image pixels are drawn 2x2; below each, "true > predicted" in 3x-scaled glyphs.
const CELL_W: usize = 64;
const CELL_H: usize = 80;

/// A grid of images, each captioned "true > predicted" (true in green, prediction in red).
pub fn error_grid(images: &[&[u8]], truth: &[u8], predicted: &[u8]) -> Canvas {
    let rows = images.len().div_ceil(COLS).max(1);
    let mut c = Canvas::new(COLS * CELL_W, rows * CELL_H, WHITE);
    for (k, img) in images.iter().enumerate() {
        let (x, y) = ((k % COLS) * CELL_W + 4, (k / COLS) * CELL_H + 2);
        c.digit_image(x, y, img, 2);
        let ty = y + 58;
        c.text(x + 12, ty, &truth[k].to_string(), 3, GREEN);
        c.text(x + 24, ty, ">", 3, GREY);
        c.text(x + 36, ty, &predicted[k].to_string(), 3, RED);
    }
    c
}
