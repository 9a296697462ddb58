//! One generation of a run read as a whole: its model, optimizer state and
//! metrics.csv, each checked, and checked to belong together. The optimizer
//! file's header (covered by its own sum) records the generation's number, the
//! model file's header sum and metrics.csv's sha256, so a reader that mixed the
//! files of two generations, or a metrics.csv changed by a digit, is refused.
//! A generation is written once (as gen-N.tmp, then renamed) and never changed
//! after, only removed; that is what lets readers go without a lock.

use super::metrics::{parse_metrics, EpochMetrics};
use super::{METRICS, MODEL, OPTIM};
use crate::error::{Error, Result};
use crate::model::checkpoint::{self, Checked, Model, TrainState};
use crate::model::checksum;
use std::path::{Path, PathBuf};

/// Header keys of an optimizer file that bind it to its generation.
pub const NUMBER: &str = "gpunet.generation";
pub const MODEL_SUM: &str = "gpunet.model_sha256";
pub const METRICS_SUM: &str = "gpunet.metrics_sha256";

/// The records of generation `number` whose model file's header sum is `model`
/// and whose metrics.csv has the sha256 `metrics`.
pub fn records(number: u64, model: String, metrics: String) -> Vec<(&'static str, String)> {
    vec![(NUMBER, number.to_string()), (MODEL_SUM, model), (METRICS_SUM, metrics)]
}

pub struct Generation {
    pub dir: PathBuf,
    pub model: Checked,
    pub optim: Checked,
    pub metrics: Vec<EpochMetrics>,
}

impl Generation {
    /// The generation in `dir`, every file checked and the three checked to
    /// belong together. A generation written before header sums (its optimizer
    /// file has none) is taken on its tensor sums alone.
    pub fn read(dir: &Path) -> Result<Generation> {
        let model = Checked::read(&dir.join(MODEL))?;
        let optim = Checked::read(&dir.join(OPTIM))?;
        let path = dir.join(METRICS);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            // written before header sums, a run could be saved without its metrics
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && optim.sum.is_none() => String::new(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        if optim.sum.is_some() {
            let record = |k: &str| {
                optim.meta.get(k).ok_or_else(|| Error::input(&optim.path, 0, format!("missing '{k}' metadata")))
            };
            if model.sum.as_ref() != Some(record(MODEL_SUM)?) {
                return Err(Error::input(
                    &model.path,
                    0,
                    format!(
                        "is not the model {OPTIM} beside it was saved with (the sha256 it records differs): \
                         the generation's files were mixed or replaced"
                    ),
                ));
            }
            if checksum::hex(text.as_bytes()) != *record(METRICS_SUM)? {
                return Err(Error::input(
                    &path,
                    0,
                    format!(
                        "does not match the sha256 recorded in {OPTIM}: it was changed or damaged; \
                         if you changed it on purpose, `gpunet check --repair {}` records it",
                        dir.display()
                    ),
                ));
            }
        }
        let metrics = parse_metrics(&text, &path)?;
        Ok(Generation { dir: dir.to_path_buf(), model, optim, metrics })
    }

    /// Whether every byte of it is covered by a sum (false for generations
    /// written before header sums).
    pub fn sealed(&self) -> bool {
        self.optim.sum.is_some() && self.model.sum.is_some()
    }

    pub fn model(&self) -> Result<Model> {
        Ok(checkpoint::model_from(&self.model)?.0)
    }

    pub fn state(&self) -> Result<TrainState> {
        checkpoint::state_of(&self.optim)
    }
}
