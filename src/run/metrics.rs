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

/// metrics.csv's header: its columns, in order.
const HEADER: [&str; 7] = ["epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy", "lr"];

/// Writes metrics.csv atomically; returns the sha256 of what it wrote, which the
/// generation's optimizer file records.
pub fn write_metrics(path: &Path, rows: &[EpochMetrics]) -> Result<String> {
    let text = render(rows).map_err(|e| Error::io(path, e))?;
    write_atomic(path, |w| w.write_all(&text))?;
    Ok(crate::model::checksum::hex(&text))
}

fn render(rows: &[EpochMetrics]) -> csv::Result<Vec<u8>> {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for r in rows {
        w.write_record([
            r.epoch.to_string(),
            format!("{:.3}", r.seconds),
            format!("{:.6}", r.loss),
            format!("{:.6}", r.accuracy),
            opt(r.val_loss),
            opt(r.val_accuracy),
            r.lr.to_string(),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The rows of a metrics.csv's text (`path` names it in errors, with the line).
pub fn parse_metrics(text: &str, path: &Path) -> Result<Vec<EpochMetrics>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = rec.as_ref().ok().and_then(|r| r.position()).map_or(i + 1, |p| p.line() as usize);
        let rec = rec.map_err(|e| Error::input(path, line, format!("not CSV: {e}")))?;
        if i == 0 {
            if rec.iter().ne(HEADER) {
                return Err(Error::input(path, line, format!("expected the header {}", HEADER.join(","))));
            }
            continue;
        }
        let bad = |what: &str| {
            Error::input(path, line, format!("malformed metrics row: {what} (columns: {})", HEADER.join(",")))
        };
        if rec.len() != HEADER.len() {
            return Err(bad(&format!("{} fields, expected {}", rec.len(), HEADER.len())));
        }
        let num =
            |c: usize| rec[c].parse::<f64>().map_err(|_| bad(&format!("{} '{}' is not a number", HEADER[c], &rec[c])));
        let opt = |c: usize| if rec[c].is_empty() { Ok(None) } else { num(c).map(Some) };
        out.push(EpochMetrics {
            epoch: rec[0].parse().map_err(|_| bad(&format!("epoch '{}' is not a count", &rec[0])))?,
            seconds: num(1)?,
            loss: num(2)?,
            accuracy: num(3)?,
            val_loss: opt(4)?,
            val_accuracy: opt(5)?,
            lr: rec[6].parse().map_err(|_| bad(&format!("lr '{}' is not a number", &rec[6])))?,
        });
    }
    Ok(out)
}
