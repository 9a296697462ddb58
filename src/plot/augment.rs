//! `show-augment`: what `--augment` does to training images. The first ten
//! training images (of the run's training rows, in its store's order) in the top
//! row; under it the same ten as the batch gather resamples them at successive
//! training steps (the kernel's twin, with the draws of a run of the same seed:
//! each image's map comes from hash(seed, step, store row)). Grey images are
//! drawn as ink on paper, colour ones in colour.

use super::{DrawResult, Drawing, FONT};
use crate::augment::Augment;
use crate::data::{Images, Shape};
use crate::kernels::GatherDims;
use plotters::coord::Shift;
use plotters::prelude::*;

const COLS: usize = 10;
const CELL: u32 = 60;
/// The side of the square an image is drawn in.
const BOX: usize = 56;
const LABEL_W: u32 = 84;

/// Rows of images of one shape (each row COLS images of C·H·W bytes), each row
/// named on its left.
struct Rows {
    shape: Shape,
    rows: Vec<(String, Vec<u8>)>,
}

impl Drawing for Rows {
    fn size(&self) -> (u32, u32) {
        (LABEL_W + COLS as u32 * CELL, self.rows.len() as u32 * CELL)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let style = (FONT, 18).into_font().color(&RGBColor(60, 60, 60));
        let (c, h, w) = self.shape;
        for (r, (name, pixels)) in self.rows.iter().enumerate() {
            let y = r as i32 * CELL as i32;
            root.draw(&Text::new(name.clone(), (6, y + CELL as i32 / 2 - 9), style.clone()))?;
            for (k, img) in pixels.chunks(c * h * w).enumerate() {
                let x = LABEL_W as i32 + k as i32 * CELL as i32 + 2;
                super::picture(root, (x, y + 2), self.shape, img, BOX)?;
            }
        }
        Ok(())
    }
}

/// Draws the first ten of `images` (a run's training rows) as they are and as
/// `steps` training steps of a run with `seed` would see them under `augment`,
/// into `out`.
pub fn save(
    out: &std::path::Path,
    format: super::Format,
    images: &Images,
    augment: Augment,
    seed: u64,
    steps: usize,
) -> crate::Result<()> {
    let (n, size) = (COLS.min(images.len()), images.size());
    let first = Images { pixels: images.pixels[..n * size].to_vec(), labels: None, ..*images };
    let (store, _) = crate::model::net::pack(&first);
    let index: Vec<u32> = (0..n as u32).collect();
    let gather = |d: GatherDims| {
        let (mut x, mut y) = (vec![0f32; n * size], vec![0u32; n]);
        crate::cpu::gather(&mut x, &mut y, &store, &vec![0; n], &index, &d);
        x.iter().map(|&v| v.round().clamp(0.0, 255.0) as u8).collect()
    };
    let plain = GatherDims::new(n, 0, size, 1.0);
    let mut rows = vec![("original".to_string(), gather(plain))];
    for step in 0..steps {
        rows.push((
            format!("step {}", step + 1),
            gather(augment.gather(plain, images.shape, seed as u32, step as u32)),
        ));
    }
    super::save(&Rows { shape: images.shape, rows }, out, format)
}
