//! `eval --errors`: the misread images in a grid, ten a row, each drawn as large
//! as its cell allows (MNIST's 28x28 at 2x2 a pixel) and captioned "true >
//! predicted" (the true label green, the prediction red). Grey images are drawn
//! as ink on paper (0 white), colour ones as they are.

use super::{DrawResult, Drawing, FONT};
use crate::data::{Images, Shape};
use plotters::coord::Shift;
use plotters::prelude::*;

pub const COLS: usize = 10;
pub const CELL_W: u32 = 64;
pub const CELL_H: u32 = 84;
pub const TRUE: RGBColor = RGBColor(0, 140, 60);
pub const PREDICTED: RGBColor = RGBColor(210, 30, 30);
const ARROW: RGBColor = RGBColor(110, 110, 110);

/// The side of the square an image is drawn in.
const BOX: usize = 56;

/// Images of one shape (grey: 0 = paper, 255 = ink; or RGB) with their true and
/// predicted labels.
pub struct ErrorGrid<'a> {
    pub shape: Shape,
    pub images: &'a [&'a [u8]],
    pub truth: &'a [u8],
    pub predicted: &'a [u8],
}

/// At most this many mistakes are drawn.
pub const MOST: usize = 200;

/// Draws the images that `predicted` gets wrong,
/// the first `MOST` of them, into `out`; (mistakes, drawn), or None (and nothing
/// written) where there is none.
pub fn save_mistakes(
    out: &std::path::Path,
    format: super::Format,
    all: &Images,
    truth: &[u8],
    predicted: &[u8],
) -> crate::Result<Option<(usize, usize)>> {
    let wrong: Vec<usize> = (0..truth.len()).filter(|&i| predicted[i] != truth[i]).collect();
    if wrong.is_empty() {
        return Ok(None);
    }
    let shown = &wrong[..wrong.len().min(MOST)];
    let images: Vec<&[u8]> = shown.iter().map(|&i| all.image(i)).collect();
    let t: Vec<u8> = shown.iter().map(|&i| truth[i]).collect();
    let p: Vec<u8> = shown.iter().map(|&i| predicted[i]).collect();
    super::save(&ErrorGrid { shape: all.shape, images: &images, truth: &t, predicted: &p }, out, format)?;
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
            super::picture(root, (x, y), self.shape, img, BOX)?;
            let ty = y + 58;
            root.draw(&Text::new(self.truth[k].to_string(), (x + 14, ty), caption(&TRUE)))?;
            root.draw(&Text::new(">", (x + 28, ty), caption(&ARROW)))?;
            root.draw(&Text::new(self.predicted[k].to_string(), (x + 42, ty), caption(&PREDICTED)))?;
        }
        Ok(())
    }
}
