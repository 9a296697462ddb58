//! Run settings: what fixes a training run's data order and update rule, with
//! validation and their round trip through checkpoint metadata.

use crate::augment::Augment;
use crate::error::{Error, Result};
use crate::optim::{Optim, ADAM_BETAS};
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
    /// Adam's (beta1, beta2)
    pub adam_betas: (f32, f32),
    /// adam, sgd: L2 (decay·w joins the gradient); adamw: decoupled
    pub weight_decay: f32,
    /// Training targets (1 - s)·onehot + s/10
    pub label_smoothing: f32,
    /// The decay of the weights' moving average that evaluation and the saved
    /// model use (`--ema`); None: the weights themselves
    pub ema: Option<f32>,
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
    /// the training of its source: batch 64, augmentation and an exp:0.95 schedule;
    /// "fast" the recipe for the least time to 99% (see `spec::NAMED`).
    pub fn new(arch: &str) -> Settings {
        let blog = Settings::blog(arch);
        match arch {
            "deotte" => Settings {
                batch: 64,
                augment: Some(Augment { rotate: 10.0, zoom: 0.1, shift: 0.1, elastic: 0.0 }),
                lr_schedule: Schedule::Exp(0.95),
                ..blog
            },
            "fast" => Settings {
                batch: 256,
                lr: 0.01,
                lr_schedule: Schedule::OneCycle,
                adam_betas: (0.7, 0.9),
                val_split: 0.0,
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
            adam_betas: ADAM_BETAS,
            weight_decay: 0.0,
            label_smoothing: 0.0,
            ema: None,
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
        crate::model::net::check_batch(self.batch)?;
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
        let (b1, b2) = self.adam_betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return bad(format!("--adam-betas must both be in [0, 1), got {b1},{b2}"));
        }
        if !(self.weight_decay >= 0.0 && self.lr * self.weight_decay < 1.0) {
            return bad(format!(
                "--weight-decay must be at least 0 and below 1/lr ({}), got {}",
                1.0 / self.lr,
                self.weight_decay
            ));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(format!("--label-smoothing must be in [0, 1), got {}", self.label_smoothing));
        }
        if let Some(d) = self.ema.filter(|d| !(*d > 0.0 && *d < 1.0)) {
            return bad(format!("--ema must be a decay in (0, 1), as 0.999, got {d}"));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(format!("--momentum must be in [0, 1), got {}", self.momentum));
        }
        self.optim().map(|_| ())
    }

    pub fn optim(&self) -> Result<Optim> {
        let wd = self.weight_decay;
        match self.optimizer.as_str() {
            "adam" => Ok(Optim { weight_decay: wd, ..Optim::adam_with(self.lr, self.adam_betas) }),
            "adamw" => Ok(Optim::adamw(self.lr, self.adam_betas, wd)),
            "sgd" => Ok(Optim { weight_decay: wd, ..Optim::sgd(self.lr, self.momentum, self.nesterov) }),
            o => Err(Error::usage(format!("unknown optimizer '{o}': expected adam, adamw or sgd"))),
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
        put("adam_betas", betas_text(self.adam_betas));
        put("weight_decay", self.weight_decay.to_string());
        put("label_smoothing", self.label_smoothing.to_string());
        put("ema", self.ema.map(|d| d.to_string()).unwrap_or_default());
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
            // runs saved before the flag existed ran with the defaults
            adam_betas: match m.get("gpunet.train.adam_betas") {
                Some(t) => parse_betas(t)
                    .map_err(|e| Error::input(path, 0, format!("bad 'gpunet.train.adam_betas' metadata: {e}")))?,
                None => ADAM_BETAS,
            },
            // likewise: no decay
            weight_decay: match m.get("gpunet.train.weight_decay") {
                Some(t) => num(path, "weight_decay", t.clone())?,
                None => 0.0,
            },
            label_smoothing: match m.get("gpunet.train.label_smoothing") {
                Some(t) => num(path, "label_smoothing", t.clone())?,
                None => 0.0,
            },
            ema: match m.get("gpunet.train.ema").filter(|t| !t.is_empty()) {
                Some(t) => Some(num(path, "ema", t.clone())?),
                None => None,
            },
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

/// The one rule for `--epochs`: at least 1.
pub fn check_epochs(epochs: usize) -> Result<()> {
    if epochs == 0 {
        return Err(Error::usage("--epochs must be at least 1"));
    }
    Ok(())
}

/// `B1,B2` as `--adam-betas` takes it.
pub fn betas_text((b1, b2): (f32, f32)) -> String {
    format!("{b1},{b2}")
}

/// `--adam-betas B1,B2`: two numbers in [0, 1).
pub fn parse_betas(text: &str) -> Result<(f32, f32)> {
    let bad = || Error::usage(format!("--adam-betas '{text}': expected two numbers in [0, 1), as 0.9,0.999"));
    let (a, b) = text.split_once(',').ok_or_else(bad)?;
    let (b1, b2): (f32, f32) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
    if (0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2) {
        Ok((b1, b2))
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_checkpoint_metadata() {
        let s = Settings {
            adam_betas: (0.7, 0.9),
            lr_schedule: Schedule::OneCycle,
            optimizer: "adamw".into(),
            weight_decay: 0.05,
            label_smoothing: 0.1,
            ema: Some(0.999),
            ..Settings::new("deotte")
        };
        assert_eq!(Settings::from_map(Path::new("x"), &s.to_map()).unwrap(), s);
        // a run saved before --adam-betas and --weight-decay existed resumes with the defaults
        let mut old = s.to_map();
        old.remove("gpunet.train.adam_betas");
        old.remove("gpunet.train.weight_decay");
        old.remove("gpunet.train.label_smoothing");
        old.remove("gpunet.train.ema");
        let back = Settings::from_map(Path::new("x"), &old).unwrap();
        assert_eq!((back.adam_betas, back.weight_decay, back.label_smoothing), (ADAM_BETAS, 0.0, 0.0));
        assert_eq!(back.ema, None);
        for bad in [0.0, 1.0, -0.5, f32::NAN] {
            let s = Settings { ema: Some(bad), ..Settings::new("mlp") };
            assert!(s.validate().unwrap_err().to_string().contains("--ema"), "{bad}");
        }
        for bad in [-0.1, 1.0, f32::NAN] {
            let s = Settings { label_smoothing: bad, ..Settings::new("mlp") };
            assert!(s.validate().unwrap_err().to_string().contains("--label-smoothing"), "{bad}");
        }
    }

    #[test]
    fn weight_decay_is_l2_for_adam_and_sgd_and_decoupled_for_adamw() {
        let with = |optimizer: &str, weight_decay: f32| Settings {
            optimizer: optimizer.into(),
            weight_decay,
            ..Settings::new("mlp")
        };
        let o = with("adamw", 0.01).optim().unwrap();
        assert_eq!((o.name(), o.weight_decay), ("adamw", 0.01));
        assert!(matches!(o.kind, crate::optim::Kind::Adam { decoupled: true, .. }));
        let o = with("adam", 0.01).optim().unwrap();
        assert!(matches!(o.kind, crate::optim::Kind::Adam { decoupled: false, .. }) && o.weight_decay == 0.01);
        assert_eq!(with("sgd", 0.02).optim().unwrap().weight_decay, 0.02);
        for bad in [-0.1, f32::NAN, 1000.0] {
            let e = with("adamw", bad).validate().unwrap_err().to_string();
            assert!(e.contains("--weight-decay"), "{bad}: {e}");
        }
        assert!(with("adamx", 0.0).validate().unwrap_err().to_string().contains("expected adam, adamw or sgd"));
    }

    #[test]
    fn adam_betas_are_two_rates_below_one() {
        assert_eq!(parse_betas("0.7,0.9").unwrap(), (0.7, 0.9));
        let s = Settings { adam_betas: (0.7, 0.9), ..Settings::new("mlp") };
        assert_eq!(
            s.optim().unwrap().kind,
            crate::optim::Kind::Adam { beta1: 0.7, beta2: 0.9, eps: 1e-8, decoupled: false }
        );
        assert_eq!(parse_betas(" 0.9 , 0.999 ").unwrap(), (0.9, 0.999));
        for bad in ["0.9", "0.9,1", "-0.1,0.9", "a,b", "0.9,0.99,0.9", ""] {
            let e = parse_betas(bad).unwrap_err().to_string();
            assert!(e.contains("--adam-betas") && e.contains("[0, 1)"), "{bad}: {e}");
        }
    }
}
