//! `show-augment`: what `--augment` does to training images. The first ten
//! training digits in the top row; under it the same ten as the batch gather
//! resamples them at successive training steps (the kernel's twin, with the
//! draws of a run of the same seed: each image's map comes from hash(seed,
//! step, store row)).

use super::{DrawResult, Drawing, FONT};
use crate::augment::Augment;
use crate::data::{Images, PIXELS, SIDE};
use crate::kernels::GatherDims;
use plotters::coord::Shift;
use plotters::prelude::*;

const COLS: usize = 10;
const CELL: u32 = 60;
const LABEL_W: u32 = 84;

/// Rows of digits (each row COLS images of 784 values, 0 paper .. 255 ink), each
/// row named on its left.
struct Rows {
    rows: Vec<(String, Vec<f32>)>,
}

impl Drawing for Rows {
    fn size(&self) -> (u32, u32) {
        (LABEL_W + COLS as u32 * CELL, self.rows.len() as u32 * CELL)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let style = (FONT, 18).into_font().color(&RGBColor(60, 60, 60));
        for (r, (name, pixels)) in self.rows.iter().enumerate() {
            let y = r as i32 * CELL as i32;
            root.draw(&Text::new(name.clone(), (6, y + CELL as i32 / 2 - 9), style.clone()))?;
            for (k, img) in pixels.chunks(PIXELS).enumerate() {
                let x = LABEL_W as i32 + k as i32 * CELL as i32 + 2;
                for (i, &v) in img.iter().enumerate() {
                    let g = 255 - v.round().clamp(0.0, 255.0) as u8;
                    if g < 255 {
                        let (px, py) = (x + 2 * (i % SIDE) as i32, y + 2 + 2 * (i / SIDE) as i32);
                        root.draw(&Rectangle::new([(px, py), (px + 2, py + 2)], RGBColor(g, g, g).filled()))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Draws the first ten of `images` as they are and as `steps` training steps of a
/// run with `seed` would see them under `augment`, into `out`.
pub fn save(
    out: &std::path::Path,
    format: super::Format,
    images: &Images,
    augment: Augment,
    seed: u64,
    steps: usize,
) -> crate::Result<()> {
    let n = COLS.min(images.len());
    let store: Vec<u32> =
        images.pixels[..n * PIXELS].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let index: Vec<u32> = (0..n as u32).collect();
    let gather = |d: GatherDims| {
        let (mut x, mut y) = (vec![0f32; n * PIXELS], vec![0u32; n]);
        crate::cpu::gather(&mut x, &mut y, &store, &vec![0; n], &index, &d);
        x
    };
    let plain = GatherDims::new(n, 0, PIXELS, 1.0);
    let mut rows = vec![("original".to_string(), gather(plain))];
    for step in 0..steps {
        rows.push((
            format!("step {}", step + 1),
            gather(augment.gather(plain, crate::data::MNIST, seed as u32, step as u32)),
        ));
    }
    super::save(&Rows { rows }, out, format)
}
