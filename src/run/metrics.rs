//! metrics.csv: one row per epoch (epoch, training seconds, loss, accuracy,
//! validation loss and accuracy, the epoch's first rate), as `gpunet plot` and
//! `--resume` read it back.

use crate::error::{Error, Result};
use crate::io::write_atomic;
use std::path::Path;

/// One epoch's figures, as metrics.csv records them.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    pub epoch: usize,
    /// Training time of the epoch, validation excluded.
    pub seconds: f64,
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    /// The rate of the epoch's first step.
    pub lr: f32,
}

/// Writes metrics.csv atomically; returns the sha256 of what it wrote, which the
/// generation's optimizer file records.
pub fn write_metrics(path: &Path, rows: &[EpochMetrics]) -> Result<String> {
    let text = render(rows);
    write_atomic(path, |w| w.write_all(text.as_bytes()))?;
    Ok(crate::model::checksum::hex(text.as_bytes()))
}

fn render(rows: &[EpochMetrics]) -> String {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    let mut text = String::from("epoch,seconds,loss,accuracy,val_loss,val_accuracy,lr\n");
    for r in rows {
        text += &format!(
            "{},{:.3},{:.6},{:.6},{},{},{}\n",
            r.epoch,
            r.seconds,
            r.loss,
            r.accuracy,
            opt(r.val_loss),
            opt(r.val_accuracy),
            r.lr
        );
    }
    text
}

/// The rows of a metrics.csv's text (`path` names it in errors).
pub fn parse_metrics(text: &str, path: &Path) -> Result<Vec<EpochMetrics>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let bad = || Error::input(path, i + 1, "malformed metrics row");
        if f.len() != 7 {
            return Err(bad());
        }
        let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
        let opt = |s: &str| {
            if s.is_empty() {
                Ok(None)
            } else {
                num(s).map(Some)
            }
        };
        out.push(EpochMetrics {
            epoch: f[0].parse().map_err(|_| bad())?,
            seconds: num(f[1])?,
            loss: num(f[2])?,
            accuracy: num(f[3])?,
            val_loss: opt(f[4])?,
            val_accuracy: opt(f[5])?,
            lr: f[6].parse().map_err(|_| bad())?,
        });
    }
    Ok(out)
}
