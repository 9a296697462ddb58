//! Run settings: what fixes a training run's data order and update rule, with
//! validation and their round trip through checkpoint metadata.

use crate::augment::Augment;
use crate::error::{Error, Result};
use crate::optim::Optim;
use crate::schedule::Schedule;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The settings that fix a run's data order and update rule. They are saved with
/// the optimizer state; `--resume` takes them from there.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub arch: String,
    pub batch: usize,
    pub lr: f32,
    pub lr_schedule: Schedule,
    pub augment: Option<Augment>,
    pub optimizer: String,
    pub momentum: f32,
    pub nesterov: bool,
    pub seed: u64,
    pub val_split: f64,
    pub limit: Option<usize>,
    pub scale: f32,
    pub train: Option<PathBuf>,
}

impl Settings {
    /// The blog's settings: batch 500, Adam(1e-3), seed 42, a 20% validation
    /// split, pixels / 255, the embedded MNIST; the named arch "deotte" comes with
    /// the training of its source: batch 64, augmentation and an exp:0.95 schedule.
    pub fn new(arch: &str) -> Settings {
        let blog = Settings::blog(arch);
        match arch {
            "deotte" => Settings {
                batch: 64,
                augment: Some(Augment { rotate: 10.0, zoom: 0.1, shift: 0.1 }),
                lr_schedule: Schedule::Exp(0.95),
                ..blog
            },
            _ => blog,
        }
    }

    fn blog(arch: &str) -> Settings {
        Settings {
            arch: arch.into(),
            batch: 500,
            lr: 1e-3,
            lr_schedule: Schedule::Const,
            augment: None,
            optimizer: "adam".into(),
            momentum: 0.9,
            nesterov: false,
            seed: 42,
            val_split: 0.2,
            limit: None,
            scale: 255.0,
            train: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::usage(m));
        if self.batch == 0 {
            return bad("--batch-size must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("--lr must be a positive number, got {}", self.lr));
        }
        if !(0.0..1.0).contains(&self.val_split) {
            return bad(format!("--val-split must be in [0, 1), got {}", self.val_split));
        }
        if !(self.scale > 0.0 && self.scale.is_finite()) {
            return bad(format!("--scale must be positive, got {}", self.scale));
        }
        if self.limit == Some(0) {
            return bad("--limit must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("--momentum must be in [0, 1), got {}", self.momentum));
        }
        self.optim().map(|_| ())
    }

    pub fn optim(&self) -> Result<Optim> {
        match self.optimizer.as_str() {
            "adam" => Ok(Optim::adam(self.lr)),
            "sgd" => Ok(Optim::sgd(self.lr, self.momentum, self.nesterov)),
            o => Err(Error::usage(format!("unknown optimizer '{o}': expected adam or sgd"))),
        }
    }

    /// As checkpoint metadata (`gpunet.train.*`).
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        let mut put = |k: &str, v: String| m.insert(format!("gpunet.train.{k}"), v);
        put("arch", self.arch.clone());
        put("batch_size", self.batch.to_string());
        put("lr", self.lr.to_string());
        put("lr_schedule", self.lr_schedule.text());
        put("augment", Augment::text(self.augment));
        put("optimizer", self.optimizer.clone());
        put("momentum", self.momentum.to_string());
        put("nesterov", self.nesterov.to_string());
        put("seed", self.seed.to_string());
        put("val_split", self.val_split.to_string());
        put("limit", self.limit.map(|l| l.to_string()).unwrap_or_default());
        put("scale", self.scale.to_string());
        put("train", self.train.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
        m
    }

    /// Back from checkpoint metadata; `path` names the file in errors.
    pub fn from_map(path: &Path, m: &HashMap<String, String>) -> Result<Settings> {
        let get = |k: &str| {
            m.get(&format!("gpunet.train.{k}"))
                .cloned()
                .ok_or_else(|| Error::input(path, 0, format!("missing 'gpunet.train.{k}' metadata")))
        };
        fn num<T: std::str::FromStr>(path: &Path, k: &str, s: String) -> Result<T> {
            s.parse().map_err(|_| Error::input(path, 0, format!("bad 'gpunet.train.{k}' metadata '{s}'")))
        }
        let limit = get("limit")?;
        let train = get("train")?;
        Ok(Settings {
            arch: get("arch")?,
            batch: num(path, "batch_size", get("batch_size")?)?,
            lr: num(path, "lr", get("lr")?)?,
            // runs saved before schedules existed ran at a constant rate
            lr_schedule: match m.get("gpunet.train.lr_schedule") {
                Some(t) => Schedule::parse(t)
                    .map_err(|e| Error::input(path, 0, format!("bad 'gpunet.train.lr_schedule' metadata: {e}")))?,
                None => Schedule::Const,
            },
            augment: match m.get("gpunet.train.augment") {
                Some(t) => Augment::parse(t)
                    .map_err(|e| Error::input(path, 0, format!("bad 'gpunet.train.augment' metadata: {e}")))?,
                None => None,
            },
            optimizer: get("optimizer")?,
            momentum: num(path, "momentum", get("momentum")?)?,
            nesterov: num(path, "nesterov", get("nesterov")?)?,
            seed: num(path, "seed", get("seed")?)?,
            val_split: num(path, "val_split", get("val_split")?)?,
            limit: if limit.is_empty() { None } else { Some(num(path, "limit", limit)?) },
            scale: num(path, "scale", get("scale")?)?,
            train: if train.is_empty() { None } else { Some(PathBuf::from(train)) },
        })
    }
}
