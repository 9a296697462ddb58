//! `gpunet plot`: training curves of one or more runs — loss and accuracy per
//! epoch, training dashed and validation solid, one colour per run, a legend by
//! run name — as an SVG or a PNG; the loss axis linear or logarithmic.

use super::{save, DrawResult, Drawing, Format, FONT};
use crate::error::{Error, Result};
use crate::run::{metrics_of, EpochMetrics};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One colour per run (the first six of matplotlib's tab10, then again).
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];
const INK: RGBColor = RGBColor(40, 40, 40);
const W: u32 = 1000;
const CHART_H: u32 = 400;
/// Legend entries a row.
const PER_ROW: usize = 3;

/// A run's name (the shortest tail of its path that tells the runs apart) and epochs.
pub struct Run {
    pub name: String,
    pub epochs: Vec<EpochMetrics>,
}

/// Reads the metrics.csv of each run directory (its current generation, checked);
/// a missing or empty one is an error.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<Run>> {
    let names = names(dirs);
    dirs.iter()
        .zip(names)
        .map(|(d, name)| {
            let epochs = metrics_of(d)?;
            if epochs.is_empty() {
                return Err(Error::input(d.join("metrics.csv"), 0, "no epochs recorded yet"));
            }
            Ok(Run { name, epochs })
        })
        .collect()
}

/// The last k components of each path, k the smallest that makes them differ
/// (`runs/k1`, `runs/k2` -> `k1`, `k2`; `a/best`, `b/best` -> `a/best`, `b/best`).
fn names(dirs: &[PathBuf]) -> Vec<String> {
    use std::path::Component;
    let parts: Vec<Vec<Component>> =
        dirs.iter().map(|d| d.components().filter(|c| !matches!(c, Component::CurDir)).collect()).collect();
    let longest = parts.iter().map(Vec::len).max().unwrap_or(0);
    let tail = |k: usize| -> Vec<String> {
        parts
            .iter()
            .map(|p| match p[p.len().saturating_sub(k)..].iter().collect::<PathBuf>() {
                t if t.as_os_str().is_empty() => ".".to_string(),
                t => t.display().to_string(),
            })
            .collect()
    };
    (1..=longest).map(tail).find(|n| (1..n.len()).all(|i| !n[..i].contains(&n[i]))).unwrap_or_else(|| tail(longest))
}

/// The curves of `runs`, the loss axis logarithmic or not.
pub struct Curves<'a> {
    pub runs: &'a [Run],
    pub log_loss: bool,
}

type Get = fn(&EpochMetrics) -> (f64, Option<f64>);

impl Curves<'_> {
    fn legend_h(&self) -> u32 {
        28 * self.runs.len().div_ceil(PER_ROW) as u32 + 34
    }
    fn max_epoch(&self) -> i32 {
        self.runs.iter().flat_map(|r| r.epochs.iter().map(|e| e.epoch)).max().unwrap_or(1).max(2) as i32
    }
    /// Every value a panel shows, training and validation.
    fn values(&self, get: Get) -> impl Iterator<Item = f64> + '_ {
        self.runs.iter().flat_map(move |r| r.epochs.iter().flat_map(move |e| [Some(get(e).0), get(e).1])).flatten()
    }
}

impl Drawing for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        (W, CHART_H + self.legend_h())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let (charts, legend) = root.split_vertically(CHART_H);
        let halves = charts.split_evenly((1, 2));
        let loss: Get = |e| (e.loss, e.val_loss);
        let (lo, hi) = bounds(self.values(loss));
        if self.log_loss {
            let lo = lo.max(hi * 1e-4).max(1e-6);
            let (lo, hi) = (lo * 0.8, hi * 1.25);
            self.panel(&halves[0], "loss (log scale)", loss, (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)))?;
        } else {
            let pad = (hi - lo) * 0.05;
            self.panel(&halves[0], "loss", loss, (lo - pad).max(0.0)..hi + pad)?;
        }
        let acc: Get = |e| (e.accuracy, e.val_accuracy);
        let (lo, hi) = bounds(self.values(acc));
        let pad = ((hi - lo) * 0.05).max(1e-3);
        self.panel(&halves[1], "accuracy", acc, (lo - pad).max(0.0)..(hi + pad).min(1.0))?;
        self.legend(&legend)
    }
}

impl Curves<'_> {
    fn panel<DB: DrawingBackend, Y>(&self, area: &DrawingArea<DB, Shift>, title: &str, get: Get, y: Y) -> DrawResult<DB>
    where
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let max_epoch = self.max_epoch();
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 26).into_font().color(&INK))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(1..max_epoch, y)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_labels(max_epoch.min(10) as usize)
            .y_labels(6)
            .y_label_formatter(&|v| tick(*v))
            .label_style((FONT, 17).into_font().color(&INK))
            .axis_desc_style((FONT, 18).into_font().color(&INK))
            .max_light_lines(0)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;
        for (r, run) in self.runs.iter().enumerate() {
            let colour = PALETTE[r % PALETTE.len()];
            let train: Vec<(i32, f64)> = run.epochs.iter().map(|e| (e.epoch as i32, get(e).0)).collect();
            let val: Vec<(i32, f64)> =
                run.epochs.iter().filter_map(|e| get(e).1.map(|v| (e.epoch as i32, v))).collect();
            chart.draw_series(DashedLineSeries::new(train.iter().copied(), 7, 5, colour.stroke_width(2)))?;
            chart.draw_series(train.iter().map(|&p| Circle::new(p, 3, colour.stroke_width(1))))?;
            chart.draw_series(LineSeries::new(val.iter().copied(), colour.stroke_width(2)))?;
            chart.draw_series(val.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
        }
        Ok(())
    }

    /// Below the charts: each run's colour and name, then what dashed and solid mean.
    fn legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let text = (FONT, 18).into_font().color(&INK);
        let col_w = (W as i32 - 80) / PER_ROW as i32;
        for (r, run) in self.runs.iter().enumerate() {
            let (x, y) = (80 + col_w * (r % PER_ROW) as i32, 8 + 28 * (r / PER_ROW) as i32);
            area.draw(&Rectangle::new([(x, y + 7), (x + 26, y + 11)], PALETTE[r % PALETTE.len()].filled()))?;
            area.draw(&Text::new(run.name.clone(), (x + 34, y), text.clone()))?;
        }
        let y = 8 + 28 * self.runs.len().div_ceil(PER_ROW) as i32;
        area.draw(&Text::new(
            "dashed, open points: training; solid, filled points: validation",
            (80, y),
            (FONT, 16).into_font().color(&RGBColor(90, 90, 90)),
        ))
    }
}

/// Ticks of a log axis: 1, 2 and 5 times the powers of ten inside [lo, hi]; every
/// digit's multiples where those would be fewer than four.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let within = |digits: &[f64]| -> Vec<f64> {
        (lo.log10().floor() as i32..=hi.log10().ceil() as i32)
            .flat_map(|k| digits.iter().map(move |m| if k < 0 { m / 10f64.powi(-k) } else { m * 10f64.powi(k) }))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let ticks = within(&[1.0, 2.0, 5.0]);
    if ticks.len() >= 4 {
        ticks
    } else {
        within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// A tick value as written by hand: 0.3, 0.95, 0.002 (no float noise, no trailing zeros).
fn tick(v: f64) -> String {
    let s = format!("{:.6}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// The least and greatest of `values` (0 and 1 where there are none).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5e-3, hi + 0.5e-3)
    } else {
        (lo, hi)
    }
}

/// Writes the curves of the runs in `dirs` to `out`, an .svg or a .png.
pub fn plot(dirs: &[PathBuf], out: &Path, log_loss: bool) -> Result<usize> {
    let format = Format::of(out, &[Format::Svg, Format::Png], "plot")?;
    let runs = load(dirs)?;
    save(&Curves { runs: &runs, log_loss }, out, format)?;
    Ok(runs.len())
}

#[cfg(test)]
mod tests {
    use super::names;
    use std::path::PathBuf;

    #[test]
    fn run_names_are_the_shortest_tails_that_differ() {
        let p = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(names(&p(&["runs/k1", "runs/k2/"])), ["k1", "k2"]);
        assert_eq!(names(&p(&["a/best", "b/best"])), ["a/best", "b/best"]);
        assert_eq!(names(&p(&["./x", "y/x", "/y/x"])), ["x", "y/x", "/y/x"]);
        assert_eq!(names(&p(&["."])), ["."]);
    }

    #[test]
    fn log_ticks_are_round() {
        assert_eq!(super::log_ticks(0.015, 1.3), [0.02, 0.05, 0.1, 0.2, 0.5, 1.0]);
        assert_eq!(super::log_ticks(0.25, 0.9), [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    }

    #[test]
    fn ticks_read_as_written_by_hand() {
        assert_eq!(
            [0.30000000000000004, 0.95, 2.0, 0.002, -0.0, 1e-7].map(super::tick),
            ["0.3", "0.95", "2", "0.002", "0", "0"]
        );
    }
}
