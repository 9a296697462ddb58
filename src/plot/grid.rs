//! `eval --errors`: the misread images in a grid, ten a row, each drawn 2x2 and
//! captioned "true > predicted" (the true label green, the prediction red).

use super::{DrawResult, Drawing, FONT};
use crate::data::PIXELS;
use plotters::coord::Shift;
use plotters::prelude::*;

pub const COLS: usize = 10;
pub const CELL_W: u32 = 64;
pub const CELL_H: u32 = 84;
pub const TRUE: RGBColor = RGBColor(0, 140, 60);
pub const PREDICTED: RGBColor = RGBColor(210, 30, 30);
const ARROW: RGBColor = RGBColor(110, 110, 110);

/// MNIST images (0 = paper, 255 = ink) with their true and predicted labels.
pub struct ErrorGrid<'a> {
    pub images: &'a [&'a [u8]],
    pub truth: &'a [u8],
    pub predicted: &'a [u8],
}

/// At most this many mistakes are drawn.
pub const MOST: usize = 200;

/// Draws the images of `pixels` (784 bytes each) that `predicted` gets wrong,
/// the first `MOST` of them, into `out`; (mistakes, drawn), or None (and nothing
/// written) where there is none.
pub fn save_mistakes(
    out: &std::path::Path,
    format: super::Format,
    pixels: &[u8],
    truth: &[u8],
    predicted: &[u8],
) -> crate::Result<Option<(usize, usize)>> {
    let wrong: Vec<usize> = (0..truth.len()).filter(|&i| predicted[i] != truth[i]).collect();
    if wrong.is_empty() {
        return Ok(None);
    }
    let shown = &wrong[..wrong.len().min(MOST)];
    let images: Vec<&[u8]> = shown.iter().map(|&i| &pixels[i * PIXELS..][..PIXELS]).collect();
    let t: Vec<u8> = shown.iter().map(|&i| truth[i]).collect();
    let p: Vec<u8> = shown.iter().map(|&i| predicted[i]).collect();
    super::save(&ErrorGrid { images: &images, truth: &t, predicted: &p }, out, format)?;
    Ok(Some((wrong.len(), shown.len())))
}

impl Drawing for ErrorGrid<'_> {
    fn size(&self) -> (u32, u32) {
        (COLS as u32 * CELL_W, self.images.len().div_ceil(COLS).max(1) as u32 * CELL_H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let caption = |c: &RGBColor| {
            (FONT, 22).into_font().color(c).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ))
        };
        for (k, img) in self.images.iter().enumerate() {
            let (x, y) = ((k % COLS) as i32 * CELL_W as i32 + 4, (k / COLS) as i32 * CELL_H as i32 + 2);
            for (i, &v) in img.iter().take(PIXELS).enumerate() {
                if v > 0 {
                    let (px, py) = (x + 2 * (i % 28) as i32, y + 2 * (i / 28) as i32);
                    let g = 255 - v;
                    root.draw(&Rectangle::new([(px, py), (px + 2, py + 2)], RGBColor(g, g, g).filled()))?;
                }
            }
            let ty = y + 58;
            root.draw(&Text::new(self.truth[k].to_string(), (x + 14, ty), caption(&TRUE)))?;
            root.draw(&Text::new(">", (x + 28, ty), caption(&ARROW)))?;
            root.draw(&Text::new(self.predicted[k].to_string(), (x + 42, ty), caption(&PREDICTED)))?;
        }
        Ok(())
    }
}
