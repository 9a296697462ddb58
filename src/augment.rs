//! `--augment rotate=D,zoom=Z,shift=S,elastic=E`: a random affine map per
//! training image (rotation up to D degrees, zoom within 1 ± Z, shift up to S of
//! the side in each direction), after a smooth random warp of up to E pixels
//! (elastic distortion), applied on the device inside the batch gather. Never
//! applied to validation, test or prediction batches.

use crate::error::{Error, Result};
use crate::kernels::GatherDims;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augment {
    /// Degrees.
    pub rotate: f32,
    /// Relative: factors within 1 ± zoom.
    pub zoom: f32,
    /// Fraction of the image side.
    pub shift: f32,
    /// Pixels: the warp's largest displacement at a control point (0: none).
    pub elastic: f32,
}

impl Augment {
    /// "none", or comma-separated rotate=, zoom=, shift= (any subset, each once).
    pub fn parse(text: &str) -> Result<Option<Augment>> {
        let bad = |why: String| {
            Error::usage(format!(
                "bad --augment '{text}': {why}; expected none or rotate=DEGREES,zoom=FRACTION,shift=FRACTION,elastic=PIXELS (e.g. rotate=10,zoom=0.1,shift=0.1)"
            ))
        };
        if text == "none" {
            return Ok(None);
        }
        let mut a = Augment { rotate: 0.0, zoom: 0.0, shift: 0.0, elastic: 0.0 };
        let mut seen = Vec::new();
        for part in text.split(',') {
            let (key, value) = part.split_once('=').ok_or_else(|| bad(format!("'{part}' is not key=value")))?;
            let v: f32 = value.parse().map_err(|_| bad(format!("'{value}' is not a number")))?;
            let (field, max) = match key {
                "rotate" => (&mut a.rotate, 180.0),
                "zoom" => (&mut a.zoom, 0.9),
                "shift" => (&mut a.shift, 1.0),
                "elastic" => (&mut a.elastic, 8.0),
                _ => return Err(bad(format!("unknown key '{key}'"))),
            };
            if seen.contains(&key) {
                return Err(bad(format!("'{key}' given twice")));
            }
            if !(0.0..=max).contains(&v) {
                return Err(bad(format!("{key} must be in [0, {max}], got {v}")));
            }
            seen.push(key);
            *field = v;
        }
        Ok(Some(a))
    }

    /// The text `parse` reads back (kept in checkpoints for --resume).
    pub fn text(a: Option<Augment>) -> String {
        match a {
            None => "none".into(),
            Some(a) if a.elastic > 0.0 => {
                format!("rotate={},zoom={},shift={},elastic={}", a.rotate, a.zoom, a.shift, a.elastic)
            }
            Some(a) => format!("rotate={},zoom={},shift={}", a.rotate, a.zoom, a.shift),
        }
    }

    /// A training gather's parameters with this augmentation at `step`, on
    /// square grey images of side `side` (`fits`).
    pub fn gather(&self, d: GatherDims, side: usize, seed: u32, step: u32) -> GatherDims {
        d.augmented(side, self.rotate.to_radians(), self.zoom, self.shift * side as f32, seed, step)
            .warped(self.elastic)
    }

    /// Whether the maps apply to images of `shape`: the gather kernel moves one
    /// square grey plane.
    pub fn fits(shape: crate::data::Shape) -> Result<()> {
        let (c, h, w) = shape;
        if c == 1 && h == w {
            return Ok(());
        }
        Err(Error::usage(format!(
            "--augment maps square grey images for now; these are {}",
            crate::data::shape_text(shape)
        )))
    }
}
