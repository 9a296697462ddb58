//! `gpunet plot`: training curves of one or more runs as an SVG — loss and
//! accuracy per epoch, training dashed and validation solid, one colour per run.

use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::train::{read_metrics, EpochMetrics};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PALETTE: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];
const W: f64 = 960.0;
const H: f64 = 420.0;
/// One panel's plotting area: left, top, width, height.
const PANEL: [(f64, f64, f64, f64); 2] = [(70.0, 40.0, 370.0, 300.0), (540.0, 40.0, 370.0, 300.0)];

/// A run's name (its directory) and epochs.
pub struct Run {
    pub name: String,
    pub epochs: Vec<EpochMetrics>,
}

/// Reads `DIR/metrics.csv` of each run directory; a missing or empty one is an error.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<Run>> {
    dirs.iter()
        .map(|d| {
            let path = d.join("metrics.csv");
            if !path.is_file() {
                return Err(Error::io(&path, "no metrics.csv here: expected a run directory written by `gpunet train`"));
            }
            let epochs = read_metrics(&path)?;
            if epochs.is_empty() {
                return Err(Error::input(&path, 0, "no epochs recorded yet"));
            }
            Ok(Run { name: d.display().to_string(), epochs })
        })
        .collect()
}

/// The value range a panel shows: the data's, padded 5%, kept inside `bounds`.
fn range(lo: f64, hi: f64, bounds: (f64, f64)) -> (f64, f64) {
    let pad = ((hi - lo) * 0.05).max(1e-3);
    ((lo - pad).max(bounds.0), (hi + pad).min(bounds.1))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The SVG document for `runs`.
pub fn svg(runs: &[Run]) -> String {
    let max_epoch = runs.iter().flat_map(|r| r.epochs.iter().map(|e| e.epoch)).max().unwrap_or(1).max(2) as f64;
    let mut out = String::new();
    let _ = writeln!(out, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    type Get = fn(&EpochMetrics) -> (f64, Option<f64>);
    let panels: [(&str, Get, (f64, f64)); 2] = [
        ("loss", |e| (e.loss, e.val_loss), (0.0, f64::INFINITY)),
        ("accuracy", |e| (e.accuracy, e.val_accuracy), (0.0, 1.0)),
    ];
    for (p, (title, get, bounds)) in panels.iter().enumerate() {
        let (x0, y0, pw, ph) = PANEL[p];
        let values: Vec<f64> =
            runs.iter().flat_map(|r| r.epochs.iter().flat_map(|e| [Some(get(e).0), get(e).1])).flatten().collect();
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = range(lo, hi, *bounds);
        let sx = |epoch: f64| x0 + (epoch - 1.0) / (max_epoch - 1.0) * pw;
        let sy = |v: f64| y0 + ph - (v - lo) / (hi - lo) * ph;
        let _ = writeln!(out, r#"<text x="{}" y="{}" font-size="15" text-anchor="middle">{title} (training dashed, validation solid)</text>"#, x0 + pw / 2.0, y0 - 14.0);
        let _ = writeln!(out, r##"<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##);
        for t in 0..=4 {
            let v = lo + (hi - lo) * t as f64 / 4.0;
            let y = sy(v);
            let _ = writeln!(out, r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{v:.4}</text>"##, x0 + pw, x0 - 6.0, y + 4.0);
        }
        let ticks = (max_epoch as usize).min(10);
        for t in 0..=ticks {
            let e = 1.0 + (max_epoch - 1.0) * t as f64 / ticks as f64;
            let _ = writeln!(out, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, sx(e), y0 + ph + 16.0, e.round());
        }
        let _ = writeln!(out, r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#, x0 + pw / 2.0, y0 + ph + 34.0);
        for (r, run) in runs.iter().enumerate() {
            let colour = PALETTE[r % PALETTE.len()];
            let line = |pts: Vec<(f64, f64)>, dash: &str| {
                let pts: Vec<String> = pts.iter().map(|(e, v)| format!("{:.1},{:.1}", sx(*e), sy(*v))).collect();
                format!(r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#, pts.join(" "))
            };
            let train: Vec<(f64, f64)> = run.epochs.iter().map(|e| (e.epoch as f64, get(e).0)).collect();
            let val: Vec<(f64, f64)> = run.epochs.iter().filter_map(|e| get(e).1.map(|v| (e.epoch as f64, v))).collect();
            let _ = writeln!(out, "{}", line(train, r#" stroke-dasharray="6,4""#));
            if !val.is_empty() {
                let _ = writeln!(out, "{}", line(val, ""));
            }
        }
    }
    for (r, run) in runs.iter().enumerate() {
        let (x, y) = (70.0 + 300.0 * (r % 3) as f64, H - 36.0 + 18.0 * (r / 3) as f64);
        let colour = PALETTE[r % PALETTE.len()];
        let _ = writeln!(out, r#"<rect x="{x}" y="{}" width="14" height="4" fill="{colour}"/><text x="{}" y="{}">{}</text>"#, y - 4.0, x + 20.0, y, esc(&run.name));
    }
    out.push_str("</svg>\n");
    out
}

/// Writes the curves of the runs in `dirs` to `out` (an .svg).
pub fn plot(dirs: &[PathBuf], out: &Path) -> Result<usize> {
    if out.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()) != Some("svg".into()) {
        return Err(Error::usage(format!("--out {}: plot writes SVG; name the file .svg", out.display())));
    }
    let runs = load(dirs)?;
    let doc = svg(&runs);
    write_atomic(out, |w| w.write_all(doc.as_bytes()))?;
    Ok(runs.len())
}
