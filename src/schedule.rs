//! Learning-rate schedules: the rate of every step as a function of the base
//! rate, the step and the run's length, so a resumed run continues exactly.
//!
//!   const      lr
//!   exp:G      lr·G^epoch, per epoch (Keras' LearningRateScheduler(lambda e: lr·G**e))
//!   cosine     lr·(1 + cos(π·t/T))/2, per step, T = the run's steps (PyTorch's CosineAnnealingLR, eta_min 0)
//!   onecycle   per step, PyTorch's OneCycleLR defaults with max_lr = lr: from lr/25 up to lr over
//!              the first 30% of steps, then down to lr/25/10⁴, both halves cosine (momentum is not cycled)

use crate::error::{Error, Result};
use std::f64::consts::PI;

/// In the run's settings (JSON) as its `--lr-schedule` text.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Schedule {
    Const,
    Exp(f64),
    Cosine,
    OneCycle,
}

/// OneCycleLR's defaults.
const PCT_START: f64 = 0.3;
const DIV_FACTOR: f64 = 25.0;
const FINAL_DIV_FACTOR: f64 = 1e4;

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule> {
        let bad = |why: &str| {
            Error::usage(format!(
                "bad --lr-schedule '{text}': {why}; expected const, exp:G (0 < G <= 1), cosine or onecycle"
            ))
        };
        match text {
            "const" => Ok(Schedule::Const),
            "cosine" => Ok(Schedule::Cosine),
            "onecycle" => Ok(Schedule::OneCycle),
            _ => match text.strip_prefix("exp:") {
                Some(g) => match g.parse::<f64>() {
                    Ok(g) if g > 0.0 && g <= 1.0 => Ok(Schedule::Exp(g)),
                    _ => Err(bad("the decay G must be a number in (0, 1]")),
                },
                None => Err(bad("unknown schedule")),
            },
        }
    }

    /// The text `parse` reads back (kept in checkpoints for --resume).
    pub fn text(&self) -> String {
        match self {
            Schedule::Const => "const".into(),
            Schedule::Exp(g) => format!("exp:{g}"),
            Schedule::Cosine => "cosine".into(),
            Schedule::OneCycle => "onecycle".into(),
        }
    }

    /// The rate of `step` (from 0) in a run of `epochs` epochs of `per_epoch` steps.
    pub fn lr(&self, base: f32, step: u64, per_epoch: u64, epochs: u64) -> f32 {
        let base = base as f64;
        let total = (per_epoch * epochs).max(1) as f64;
        let t = step as f64;
        let cos_between = |from: f64, to: f64, frac: f64| to + (from - to) * (1.0 + (PI * frac).cos()) / 2.0;
        let lr = match *self {
            Schedule::Const => base,
            Schedule::Exp(g) => base * g.powi((step / per_epoch.max(1)) as i32),
            Schedule::Cosine => cos_between(base, 0.0, (t / total).min(1.0)),
            Schedule::OneCycle => {
                let initial = base / DIV_FACTOR;
                let min = initial / FINAL_DIV_FACTOR;
                // PyTorch counts phase ends in steps: the peak at step 0.3·T − 1, the end at T − 1
                let peak = PCT_START * total - 1.0;
                let end = total - 1.0;
                if t <= peak {
                    cos_between(initial, base, t / peak)
                } else {
                    cos_between(base, min, ((t - peak) / (end - peak)).min(1.0))
                }
            }
        };
        lr as f32
    }
}

impl From<Schedule> for String {
    fn from(s: Schedule) -> String {
        s.text()
    }
}

impl TryFrom<String> for Schedule {
    type Error = Error;
    fn try_from(text: String) -> Result<Schedule> {
        Schedule::parse(&text)
    }
}
