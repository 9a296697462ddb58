//! Prediction and evaluation with a saved model.

use crate::data::{Images, CLASSES};
use crate::engine::Engine;
use crate::error::Result;
use crate::model::checkpoint::Model;
use crate::model::{Net, NetConfig};

/// Class probabilities (n, 10) for every image, in order.
pub fn predict(engine: &mut dyn Engine, model: &Model, images: &Images, batch: usize) -> Result<Vec<f32>> {
    let cfg = NetConfig { batch: batch.min(images.len()).max(1), scale: model.scale, optim: None, seed: 0 };
    let mut net = Net::new(engine, model.spec.clone(), images, cfg)?;
    net.write_params(engine, &model.params)?;
    let n = images.len();
    net.set_index(engine, 0, &(0..n as u32).collect::<Vec<_>>())?;
    let b = net.cfg.batch;
    let mut probs = Vec::with_capacity(n * CLASSES);
    for first in (0..n).step_by(b) {
        probs.extend(net.predict_batch(engine, first, b.min(n - first))?);
    }
    Ok(probs)
}

/// Each model's probabilities for every image; the engine is cleared after each.
pub fn predict_each(engine: &mut dyn Engine, models: &[Model], images: &Images, batch: usize) -> Result<Vec<Vec<f32>>> {
    let mut all = Vec::with_capacity(models.len());
    for m in models {
        all.push(predict(engine, m, images, batch)?);
        engine.clear()?;
    }
    Ok(all)
}

/// The ensemble's probabilities: the mean over members, element by element.
pub fn mean(members: &[Vec<f32>]) -> Vec<f32> {
    let k = members.len() as f32;
    (0..members[0].len()).map(|i| members.iter().map(|m| m[i]).sum::<f32>() / k).collect()
}

/// The predicted class of each row (first maximum).
pub fn argmax(probs: &[f32]) -> Vec<u8> {
    probs
        .chunks(CLASSES)
        .map(|row| row.iter().enumerate().fold(0, |best, (j, &p)| if p > row[best] { j } else { best }) as u8)
        .collect()
}

pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
    /// confusion[true][predicted]
    pub confusion: [[u32; CLASSES]; CLASSES],
}

pub fn evaluate(probs: &[f32], labels: &[u8]) -> Evaluation {
    let mut confusion = [[0u32; CLASSES]; CLASSES];
    let mut loss = 0.0;
    for ((row, &label), pred) in probs.chunks(CLASSES).zip(labels).zip(argmax(probs)) {
        loss -= (row[label as usize].max(1e-30) as f64).ln();
        confusion[label as usize][pred as usize] += 1;
    }
    let n = labels.len().max(1) as f64;
    let hits: u32 = (0..CLASSES).map(|c| confusion[c][c]).sum();
    Evaluation { loss: loss / n, accuracy: hits as f64 / n, confusion }
}

impl Evaluation {
    /// Of the images predicted as `class`, the share that are; None if none were.
    pub fn precision(&self, class: usize) -> Option<f64> {
        let predicted: u32 = (0..CLASSES).map(|t| self.confusion[t][class]).sum();
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
        write!(f, "     ")?;
        for c in 0..CLASSES {
            write!(f, "{c:>6}")?;
        }
        writeln!(f, "{:>10}{:>10}", "precision", "recall")?;
        for (t, row) in self.confusion.iter().enumerate() {
            write!(f, "{t:>4} ")?;
            for v in row {
                write!(f, "{v:>6}")?;
            }
            writeln!(f, "{}{}", pct(self.precision(t)), pct(self.recall(t)))?;
        }
        Ok(())
    }
}
