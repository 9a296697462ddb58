//! Prediction and evaluation with a saved model.

use crate::data::{shape_text, Images};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::checkpoint::Model;
use crate::model::spec::Spec;
use crate::model::{Net, NetConfig};
use std::path::PathBuf;

/// Class probabilities (n, classes) for every image, in order.
pub fn predict(engine: &mut dyn Engine, model: &Model, images: &Images, batch: usize) -> Result<Vec<f32>> {
    let cfg = NetConfig { batch: batch.min(images.len()).max(1), norm: model.norm.clone(), optim: None, seed: 0 };
    let mut net = Net::new(engine, model.spec.clone(), images, cfg)?;
    net.write_params(engine, &model.params)?;
    let n = images.len();
    net.set_index(engine, 0, &(0..n as u32).collect::<Vec<_>>())?;
    let b = net.cfg.batch;
    let mut probs = Vec::with_capacity(n * model.spec.classes());
    for first in (0..n).step_by(b) {
        probs.extend(net.predict_batch(engine, first, b.min(n - first))?);
    }
    Ok(probs)
}

/// The pictures `paths` name (files, and the pictures in folders), in order,
/// read for a model of `spec`: a model of MNIST's digits reads each as a digit
/// (ink found, fitted, centred); any other the way its training folder's
/// pictures were read (fitted to its input's shape and channels).
pub fn read_pictures(spec: &Spec, paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Images)> {
    let files = crate::data::picture::expand(paths)?;
    let images = if spec.input == crate::data::MNIST && spec.names.is_empty() {
        crate::data::picture::load(&files)?
    } else {
        let read = |f: &PathBuf| crate::data::folder::read_picture(f, spec.input);
        let pixels = files.iter().map(read).collect::<Result<Vec<_>>>()?;
        Images { shape: spec.input, classes: spec.classes(), pixels: pixels.concat(), labels: None }
    };
    Ok((files, images))
}

/// The first label at or past `classes`: its index and what to say of it.
pub fn label_past(labels: &[u8], classes: usize) -> Option<(usize, String)> {
    let i = labels.iter().position(|&l| l as usize >= classes)?;
    Some((i, format!("label {} of image {}: the model has {classes} classes", labels[i], i + 1)))
}

/// The input shape and classes every model of an ensemble (`paths` names them)
/// shares, or an error naming the first that differs.
pub fn shared_shape(models: &[Model], paths: &[std::path::PathBuf]) -> Result<(crate::data::Shape, usize)> {
    let first = (models[0].spec.input, models[0].spec.classes());
    for (m, path) in models.iter().zip(paths) {
        if (m.spec.input, m.spec.classes()) != first {
            let (this, that) = (shape_text(m.spec.input), shape_text(first.0));
            let (classes, first_classes) = (m.spec.classes(), first.1);
            return Err(Error::input(
                path,
                0,
                format!("takes {this} images into {classes} classes, the first model {that} into {first_classes}: an ensemble's models must agree"),
            ));
        }
    }
    Ok(first)
}

/// Test-time augmentation: the views each image is read in, as (dx, dy) shifts in
/// pixels (the digit moved right and down, zeros shifted in); a model's
/// prediction is the mean of its probabilities over them. `views` is 1 (the image
/// alone), 5 (and the four one-pixel shifts) or 9 (and the diagonal ones).
pub fn tta_shifts(views: usize) -> Result<&'static [(i32, i32)]> {
    const SHIFTS: [(i32, i32); 9] = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)];
    match views {
        1 | 5 | 9 => Ok(&SHIFTS[..views]),
        _ => Err(Error::usage(format!(
            "--tta {views}: expected 1 (no test-time augmentation), 5 (one-pixel shifts) or 9 (and diagonals)"
        ))),
    }
}

/// Every image moved `dx` pixels right and `dy` down (negative: left, up); what
/// leaves the frame is dropped, zeros come in. Labels are kept.
pub fn shifted(images: &Images, dx: i32, dy: i32) -> Images {
    let mut pixels = vec![0u8; images.pixels.len()];
    let (_, h, w) = images.shape;
    let (h, w) = (h as i32, w as i32);
    // the destination columns that have a source column, as a range
    let (x0, x1) = (dx.clamp(0, w) as usize, (w + dx.min(0)).max(0) as usize);
    let plane = (h * w) as usize;
    for (src, dst) in images.pixels.chunks(plane).zip(pixels.chunks_mut(plane)) {
        for y in 0..h {
            let sy = y - dy;
            if (0..h).contains(&sy) && x0 < x1 {
                let (d, s) = ((y * w) as usize, (sy * w) as usize);
                let sx0 = (x0 as i32 - dx) as usize;
                dst[d + x0..d + x1].copy_from_slice(&src[s + sx0..s + sx0 + (x1 - x0)]);
            }
        }
    }
    Images { pixels, labels: images.labels.clone(), ..*images }
}

/// Each model's probabilities for every image, averaged over the views `shifts`
/// (`tta_shifts`); the engine is cleared after each model.
pub fn predict_each(
    engine: &mut dyn Engine,
    models: &[Model],
    images: &Images,
    batch: usize,
    shifts: &[(i32, i32)],
) -> Result<Vec<Vec<f32>>> {
    let views: Vec<Images> = shifts.iter().filter(|&&s| s != (0, 0)).map(|&(dx, dy)| shifted(images, dx, dy)).collect();
    let mut all = Vec::with_capacity(models.len());
    for m in models {
        let mut each = Vec::with_capacity(shifts.len());
        if shifts.contains(&(0, 0)) {
            each.push(predict(engine, m, images, batch)?);
            engine.clear()?;
        }
        for v in &views {
            each.push(predict(engine, m, v, batch)?);
            engine.clear()?;
        }
        all.push(mean(&each));
    }
    Ok(all)
}

/// The mean of several probability tables (an ensemble's members, or one model's
/// views), element by element.
pub fn mean(members: &[Vec<f32>]) -> Vec<f32> {
    let k = members.len() as f32;
    (0..members[0].len()).map(|i| members.iter().map(|m| m[i]).sum::<f32>() / k).collect()
}

/// The predicted class of each row of `classes` probabilities (first maximum).
pub fn argmax(probs: &[f32], classes: usize) -> Vec<u8> {
    probs
        .chunks(classes)
        .map(|row| row.iter().enumerate().fold(0, |best, (j, &p)| if p > row[best] { j } else { best }) as u8)
        .collect()
}

pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    /// `confusion[true][predicted]`, classes x classes
    pub confusion: Vec<Vec<u32>>,
    /// The classes' names, where they have them (the table's rows are named so).
    pub names: Vec<String>,
}

/// Loss, accuracy and confusion of rows of `classes` probabilities against `labels`
/// (each below `classes`).
pub fn evaluate(probs: &[f32], labels: &[u8], classes: usize) -> Evaluation {
    let mut confusion = vec![vec![0u32; classes]; classes];
    let mut loss = 0.0;
    for ((row, &label), pred) in probs.chunks(classes).zip(labels).zip(argmax(probs, classes)) {
        loss -= (row[label as usize].max(1e-30) as f64).ln();
        confusion[label as usize][pred as usize] += 1;
    }
    let n = labels.len().max(1) as f64;
    let hits: u32 = (0..classes).map(|c| confusion[c][c]).sum();
    Evaluation { loss: loss / n, accuracy: hits as f64 / n, confusion, names: Vec::new() }
}

impl Evaluation {
    /// Of the images predicted as `class`, the share that are; None if none were.
    pub fn precision(&self, class: usize) -> Option<f64> {
        let predicted: u32 = self.confusion.iter().map(|row| row[class]).sum();
        (predicted > 0).then(|| self.confusion[class][class] as f64 / predicted as f64)
    }
    /// Of the images of `class`, the share predicted as such; None if there were none.
    pub fn recall(&self, class: usize) -> Option<f64> {
        let actual: u32 = self.confusion[class].iter().sum();
        (actual > 0).then(|| self.confusion[class][class] as f64 / actual as f64)
    }
}

impl std::fmt::Display for Evaluation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |v: Option<f64>| v.map_or_else(|| format!("{:>10}", "-"), |v| format!("{:>9.2}%", v * 100.0));
        writeln!(f, "loss {:.4} - accuracy {:.4}", self.loss, self.accuracy)?;
        writeln!(f, "confusion matrix (rows: true label, columns: predicted), per-class precision and recall")?;
        let width = self.names.iter().map(|n| n.chars().count() + 1).max().unwrap_or(0);
        write!(f, "     {:width$}", "")?;
        for c in 0..self.confusion.len() {
            write!(f, "{c:>6}")?;
        }
        writeln!(f, "{:>10}{:>10}", "precision", "recall")?;
        for (t, row) in self.confusion.iter().enumerate() {
            write!(f, "{t:>4} {:width$}", self.names.get(t).map_or("", String::as_str))?;
            for v in row {
                write!(f, "{v:>6}")?;
            }
            writeln!(f, "{}{}", pct(self.precision(t)), pct(self.recall(t)))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{PIXELS, SIDE};

    /// The plain definition: pixel (x, y) of each plane of the result is (x - dx,
    /// y - dy) of the source's, or 0.
    fn naive(images: &Images, dx: i32, dy: i32) -> Vec<u8> {
        let (_, h, w) = images.shape;
        let plane = h * w;
        let mut out = vec![0; images.pixels.len()];
        for (i, o) in out.iter_mut().enumerate() {
            let (pl, p) = (i / plane, (i % plane) as i32);
            let (sx, sy) = (p % w as i32 - dx, p / w as i32 - dy);
            if (0..w as i32).contains(&sx) && (0..h as i32).contains(&sy) {
                *o = images.pixels[pl * plane + (sy * w as i32 + sx) as usize];
            }
        }
        out
    }

    #[test]
    fn shifts_move_each_channel_of_a_non_square_image() {
        let pixels: Vec<u8> = (0..2 * 3 * 5 * 7).map(|i| (i * 13 % 251) as u8 + 1).collect();
        let images = Images { shape: (3, 5, 7), classes: 2, pixels, labels: None };
        for &(dx, dy) in tta_shifts(9).unwrap() {
            assert_eq!(shifted(&images, dx, dy).pixels, naive(&images, dx, dy), "shift ({dx}, {dy})");
        }
    }

    #[test]
    fn shifts_move_digits_and_drop_what_leaves_the_frame() {
        let mut pixels = vec![0u8; 2 * PIXELS];
        pixels[5 * SIDE + 3] = 200; // image 0: (x 3, y 5)
        pixels[27] = 50; // image 0: (x 27, y 0), on the right edge
        for (i, p) in pixels[PIXELS..].iter_mut().enumerate() {
            *p = (i * 7 % 251) as u8 + 1; // image 1: no zeros
        }
        let images = Images::digits(pixels, Some(vec![4, 9]));
        let right = shifted(&images, 1, 0);
        assert_eq!((right.pixels[5 * SIDE + 4], right.pixels[5 * SIDE + 3]), (200, 0));
        assert_eq!(right.pixels[..PIXELS].iter().filter(|&&p| p > 0).count(), 1, "the edge pixel left the frame");
        let up_left = shifted(&images, -1, -1);
        assert_eq!(up_left.pixels[4 * SIDE + 2], 200);
        assert_eq!(up_left.labels, images.labels);
        for &(dx, dy) in tta_shifts(9).unwrap() {
            assert_eq!(shifted(&images, dx, dy).pixels, naive(&images, dx, dy), "shift ({dx}, {dy})");
        }
        // a one-pixel shift of a full image zeroes exactly one row or column (both for diagonals)
        let zeros = |v: &[u8]| v[PIXELS..].iter().filter(|&&p| p == 0).count();
        assert_eq!(zeros(&shifted(&images, 0, 1).pixels), SIDE);
        assert_eq!(zeros(&shifted(&images, -1, 1).pixels), 2 * SIDE - 1);
    }

    #[test]
    fn tta_takes_one_five_or_nine_views() {
        assert_eq!(tta_shifts(1).unwrap(), &[(0, 0)]);
        assert_eq!(tta_shifts(5).unwrap().len(), 5);
        for bad in [0, 2, 4, 10] {
            let e = tta_shifts(bad).unwrap_err().to_string();
            assert!(e.contains("--tta") && e.contains("expected 1"), "{e}");
        }
    }
}
