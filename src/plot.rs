//! `gpunet plot`: training curves of one or more runs — loss and accuracy per
//! epoch, training dashed and validation solid, one colour per run — as an SVG or
//! a PNG. One layout (`Chart`) feeds both renderers.

use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::picture::{Canvas, Rgb, WHITE};
use crate::run::{read_metrics, EpochMetrics};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PALETTE: [Rgb; 6] =
    [[31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189], [255, 127, 14], [23, 190, 207]];
const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [221, 221, 221];
const W: f64 = 960.0;
const H: f64 = 420.0;

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
                return Err(Error::io(
                    &path,
                    "no metrics.csv here: expected a run directory written by `gpunet train`",
                ));
            }
            let epochs = read_metrics(&path)?;
            if epochs.is_empty() {
                return Err(Error::input(&path, 0, "no epochs recorded yet"));
            }
            Ok(Run { name: d.display().to_string(), epochs })
        })
        .collect()
}

/// One panel: where it sits, what it shows and its value range.
struct Panel {
    title: &'static str,
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    lo: f64,
    hi: f64,
    max_epoch: f64,
}

impl Panel {
    fn at(&self, epoch: f64, v: f64) -> (f64, f64) {
        (
            self.x0 + (epoch - 1.0) / (self.max_epoch - 1.0) * self.w,
            self.y0 + self.h - (v - self.lo) / (self.hi - self.lo) * self.h,
        )
    }
    /// Five value ticks, bottom to top.
    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        (0..=4).map(|t| self.lo + (self.hi - self.lo) * t as f64 / 4.0)
    }
    /// Up to ten epoch ticks.
    fn epochs(&self) -> impl Iterator<Item = f64> + '_ {
        let n = (self.max_epoch as usize).min(10) - 1;
        (0..=n).map(move |t| (1.0 + (self.max_epoch - 1.0) * t as f64 / n as f64).round())
    }
}

/// A curve: panel, run (its colour), dashed (training) or solid (validation), points.
struct Series {
    panel: usize,
    run: usize,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

struct Chart {
    panels: Vec<Panel>,
    series: Vec<Series>,
    names: Vec<String>,
}

type Get = fn(&EpochMetrics) -> (f64, Option<f64>);

fn chart(runs: &[Run]) -> Chart {
    let max_epoch = runs.iter().flat_map(|r| r.epochs.iter().map(|e| e.epoch)).max().unwrap_or(1).max(2) as f64;
    let kinds: [(&str, Get, (f64, f64)); 2] = [
        ("loss", |e| (e.loss, e.val_loss), (0.0, f64::INFINITY)),
        ("accuracy", |e| (e.accuracy, e.val_accuracy), (0.0, 1.0)),
    ];
    let mut panels = Vec::new();
    let mut series = Vec::new();
    for (p, (title, get, bounds)) in kinds.into_iter().enumerate() {
        let values: Vec<f64> =
            runs.iter().flat_map(|r| r.epochs.iter().flat_map(|e| [Some(get(e).0), get(e).1])).flatten().collect();
        let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.05).max(1e-3);
        let (lo, hi) = ((lo - pad).max(bounds.0), (hi + pad).min(bounds.1));
        panels.push(Panel { title, x0: 70.0 + 470.0 * p as f64, y0: 40.0, w: 370.0, h: 300.0, lo, hi, max_epoch });
        for (r, run) in runs.iter().enumerate() {
            let train = run.epochs.iter().map(|e| (e.epoch as f64, get(e).0)).collect();
            series.push(Series { panel: p, run: r, dashed: true, points: train });
            let val: Vec<_> = run.epochs.iter().filter_map(|e| get(e).1.map(|v| (e.epoch as f64, v))).collect();
            if !val.is_empty() {
                series.push(Series { panel: p, run: r, dashed: false, points: val });
            }
        }
    }
    Chart { panels, series, names: runs.iter().map(|r| r.name.clone()).collect() }
}

fn legend_at(r: usize) -> (f64, f64) {
    (70.0 + 300.0 * (r % 3) as f64, H - 36.0 + 18.0 * (r / 3) as f64)
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn svg(c: &Chart) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for p in &c.panels {
        let (x0, y0, pw, ph) = (p.x0, p.y0, p.w, p.h);
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="15" text-anchor="middle">{} (training dashed, validation solid)</text>"#,
            x0 + pw / 2.0,
            y0 - 14.0,
            p.title
        );
        let _ =
            writeln!(out, r#"<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="{}"/>"#, hex(INK));
        for v in p.ticks() {
            let y = p.at(1.0, v).1;
            let _ = writeln!(
                out,
                r#"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="{}"/><text x="{}" y="{}" text-anchor="end">{v:.4}</text>"#,
                x0 + pw,
                hex(GRID),
                x0 - 6.0,
                y + 4.0
            );
        }
        for e in p.epochs() {
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="middle">{e}</text>"#,
                p.at(e, p.lo).0,
                y0 + ph + 16.0
            );
        }
        let _ =
            writeln!(out, r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#, x0 + pw / 2.0, y0 + ph + 34.0);
    }
    for s in &c.series {
        let p = &c.panels[s.panel];
        let pts: Vec<String> =
            s.points.iter().map(|&(e, v)| p.at(e, v)).map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let dash = if s.dashed { r#" stroke-dasharray="6,4""# } else { "" };
        let colour = hex(PALETTE[s.run % PALETTE.len()]);
        let _ = writeln!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{}"/>"#,
            pts.join(" ")
        );
    }
    for (r, name) in c.names.iter().enumerate() {
        let (x, y) = legend_at(r);
        let colour = hex(PALETTE[r % PALETTE.len()]);
        let _ = writeln!(
            out,
            r#"<rect x="{x}" y="{}" width="14" height="4" fill="{colour}"/><text x="{}" y="{y}">{}</text>"#,
            y - 4.0,
            x + 20.0,
            esc(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn png(c: &Chart) -> Canvas {
    let mut cv = Canvas::new(W as usize, H as usize, WHITE);
    let u = |v: f64| v.max(0.0) as usize;
    for p in &c.panels {
        let title = format!("{} (training dashed, validation solid)", p.title);
        cv.text(u(p.x0 + p.w / 2.0) - Canvas::text_width(&title, 2) / 2, u(p.y0 - 24.0), &title, 2, INK);
        for v in p.ticks() {
            let y = p.at(1.0, v).1;
            cv.line((p.x0, y), (p.x0 + p.w, y), 1, GRID, None);
            let label = format!("{v:.4}");
            cv.text(u(p.x0 - 6.0) - Canvas::text_width(&label, 2), u(y - 5.0), &label, 2, INK);
        }
        for e in p.epochs() {
            let label = format!("{e}");
            cv.text(u(p.at(e, p.lo).0) - Canvas::text_width(&label, 2) / 2, u(p.y0 + p.h + 8.0), &label, 2, INK);
        }
        cv.text(u(p.x0 + p.w / 2.0) - Canvas::text_width("epoch", 2) / 2, u(p.y0 + p.h + 26.0), "epoch", 2, INK);
        let (x1, y1) = (p.x0 + p.w, p.y0 + p.h);
        for (a, b) in
            [((p.x0, p.y0), (x1, p.y0)), ((x1, p.y0), (x1, y1)), ((x1, y1), (p.x0, y1)), ((p.x0, y1), (p.x0, p.y0))]
        {
            cv.line(a, b, 1, INK, None);
        }
    }
    for s in &c.series {
        let p = &c.panels[s.panel];
        let dash = s.dashed.then_some((6.0, 4.0));
        for pair in s.points.windows(2) {
            cv.line(p.at(pair[0].0, pair[0].1), p.at(pair[1].0, pair[1].1), 2, PALETTE[s.run % PALETTE.len()], dash);
        }
    }
    for (r, name) in c.names.iter().enumerate() {
        let (x, y) = legend_at(r);
        cv.line((x, y - 3.0), (x + 14.0, y - 3.0), 4, PALETTE[r % PALETTE.len()], None);
        cv.text(u(x + 20.0), u(y - 8.0), name, 2, INK);
    }
    cv
}

/// Writes the curves of the runs in `dirs` to `out`, an .svg or a .png.
pub fn plot(dirs: &[PathBuf], out: &Path) -> Result<usize> {
    let ext = out.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("svg" | "png")) {
        return Err(Error::usage(format!("--out {}: plot writes .svg or .png", out.display())));
    }
    let runs = load(dirs)?;
    let c = chart(&runs);
    if ext.as_deref() == Some("png") {
        png(&c).write_png(out)?;
    } else {
        let doc = svg(&c);
        write_atomic(out, |w| w.write_all(doc.as_bytes()))?;
    }
    Ok(runs.len())
}
