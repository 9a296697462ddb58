//! `--augment rotate=D,zoom=Z,shift=S,elastic=E,crop=P,flip`: a random affine
//! map per training image (rotation up to D degrees, zoom within 1 ± Z, shift up
//! to S of the shorter side in each direction), after a smooth random warp of up
//! to E pixels (elastic distortion), after a random crop of the image padded by P
//! pixels of black (an integer offset within ±P) and, with `flip`, a left-right
//! mirror of half the images; every channel moves alike. Applied on the device
//! inside the batch gather, never to validation, test or prediction batches.

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
    /// Pixels: the crop's largest offset (0: none).
    pub crop: u32,
    /// Half the images mirrored left to right (photos, not digits).
    pub flip: bool,
}

impl Augment {
    /// "none", or comma-separated rotate=, zoom=, shift=, elastic=, crop= and
    /// flip (any subset, each once).
    pub fn parse(text: &str) -> Result<Option<Augment>> {
        let bad = |why: String| {
            Error::usage(format!(
                "bad --augment '{text}': {why}; expected none or rotate=DEGREES,zoom=FRACTION,shift=FRACTION,elastic=PIXELS,crop=PIXELS,flip (e.g. rotate=10,zoom=0.1,shift=0.1 or crop=4,flip)"
            ))
        };
        if text == "none" {
            return Ok(None);
        }
        let mut a = Augment { rotate: 0.0, zoom: 0.0, shift: 0.0, elastic: 0.0, crop: 0, flip: false };
        let mut seen = Vec::new();
        for part in text.split(',') {
            if part == "flip" {
                if a.flip {
                    return Err(bad("'flip' given twice".into()));
                }
                a.flip = true;
                continue;
            }
            let (key, value) = part.split_once('=').ok_or_else(|| bad(format!("'{part}' is not key=value or flip")))?;
            if key == "crop" {
                let v: u32 =
                    value.parse().map_err(|_| bad(format!("crop takes whole pixels, 1 to 64; got '{value}'")))?;
                if !(1..=64).contains(&v) || seen.contains(&key) {
                    return Err(bad(format!("crop takes whole pixels, 1 to 64, once; got '{value}'")));
                }
                seen.push(key);
                a.crop = v;
                continue;
            }
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

    /// The text `parse` reads back (kept in checkpoints for --resume): the
    /// affine map's three always (as runs before crop and flip wrote it), the
    /// rest where set.
    pub fn text(a: Option<Augment>) -> String {
        let Some(a) = a else { return "none".into() };
        let mut t = format!("rotate={},zoom={},shift={}", a.rotate, a.zoom, a.shift);
        if a.elastic > 0.0 {
            t += &format!(",elastic={}", a.elastic);
        }
        if a.crop > 0 {
            t += &format!(",crop={}", a.crop);
        }
        if a.flip {
            t += ",flip";
        }
        t
    }

    /// A training gather's parameters with this augmentation at `step`, on
    /// images of `shape` (`fits`).
    pub fn gather(&self, d: GatherDims, (_, h, w): crate::data::Shape, seed: u32, step: u32) -> GatherDims {
        let shift = self.shift * h.min(w) as f32;
        d.augmented((h, w), self.rotate.to_radians(), self.zoom, shift, seed, step)
            .warped(self.elastic)
            .cropped(self.crop, self.flip)
    }
}
