//! Run settings: what fixes a training run's data order and update rule, with
//! validation and their round trip through checkpoint metadata: one serde
//! struct, written as JSON under `gpunet.settings`; files written before that
//! (one `gpunet.train.*` key a field) still load.

use crate::augment::Augment;
use crate::data::cifar::Labels;
use crate::error::{Error, Result};
use crate::model::checkpoint::{EARLIER_SETTINGS as EARLIER, SETTINGS as KEY};
use crate::optim::{Optim, ADAM_BETAS};
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The settings that fix a run's data order and update rule. They are saved with
/// the optimizer state; `--resume` takes them from there. A field missing from
/// a saved run (it predates the flag) takes its default, the blog's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub arch: String,
    #[serde(rename = "batch_size")]
    pub batch: usize,
    pub lr: f32,
    pub lr_schedule: Schedule,
    #[serde(with = "augment_text")]
    pub augment: Option<Augment>,
    pub optimizer: String,
    /// Adam's (beta1, beta2)
    #[serde(with = "betas")]
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
    /// "scale": pixels / scale; "standard": then each channel standardised with
    /// its mean and deviation over the training rows (kept with the model)
    pub normalize: String,
    #[serde(with = "path_text")]
    pub train: Option<PathBuf>,
    /// The test set scored after training (`--test`); None: the one that comes
    /// with the training data (the embedded t10k, or a folder's own), if any
    #[serde(with = "path_text")]
    pub test: Option<PathBuf>,
    /// Pictures of a class-folder data set: channels (None: from the pictures),
    /// the size they are resized to (None: they must share one), skip unreadable ones
    pub channels: Option<usize>,
    #[serde(with = "size_text")]
    pub resize: Option<(usize, usize)>,
    pub skip_bad_images: bool,
    /// CIFAR-100's labels: "fine" (100 classes) or "coarse" (20)
    pub labels: String,
    /// The fingerprint of the data files the run began on (`data::fingerprint`;
    /// no flag sets it): a resume on other files is refused
    pub data: Option<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings::blog("")
    }
}

/// The prefix of the data fingerprint of images a program handed to the
/// library (`Trainer::fit`), which `memory:` and their sha256 make.
pub(crate) const MEMORY: &str = "memory:";

impl Settings {
    /// The blog's settings: batch 500, Adam(1e-3), seed 42, a 20% validation
    /// split, pixels / 255, the embedded MNIST; the named arch "deotte" comes with
    /// the training of its source: batch 64, augmentation and an exp:0.95 schedule;
    /// "fast" the recipe for the least time to 99%, "cifar" one for small colour
    /// photos (see `spec::NAMED`).
    pub fn new(arch: &str) -> Settings {
        let blog = Settings::blog(arch);
        match arch {
            "deotte" => Settings {
                batch: 64,
                augment: Some(Augment { rotate: 10.0, zoom: 0.1, shift: 0.1, elastic: 0.0, crop: 0, flip: false }),
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
            "cifar" => Settings {
                batch: 256,
                lr: 0.005,
                lr_schedule: Schedule::OneCycle,
                augment: Some(Augment { rotate: 0.0, zoom: 0.0, shift: 0.0, elastic: 0.0, crop: 4, flip: true }),
                label_smoothing: 0.2,
                normalize: "standard".into(),
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
            normalize: "scale".into(),
            train: None,
            test: None,
            channels: None,
            resize: None,
            skip_bad_images: false,
            labels: "fine".into(),
            data: None,
        }
    }

    /// These settings for data of `fingerprint`: a run that recorded another one
    /// is refused (its files, or the images a program handed it, changed since it
    /// began), else the fingerprint is kept.
    pub fn for_data(self, fingerprint: Option<&str>) -> Result<Settings> {
        if let Some((was, now)) = self.data.as_deref().zip(fingerprint).filter(|(was, now)| was != now) {
            if was.starts_with(MEMORY) || now.starts_with(MEMORY) {
                return Err(Error::usage(
                    "the images differ from those the run began on (their sha256 does not match); continue it on the same images or start a new run",
                ));
            }
            let files = [self.train.as_deref(), self.test.as_deref()].into_iter().flatten();
            let names: Vec<String> = files.map(|p| p.display().to_string()).collect();
            return Err(Error::usage(format!(
                "the data changed since the run began: the files under {} are not the ones it trained on (names and sizes differ); resume on those files or start a new run",
                names.join(" and ")
            )));
        }
        Ok(Settings { data: fingerprint.map(String::from).or(self.data), ..self })
    }

    /// The input normalisation of a run on `train` (its training rows).
    pub fn norm(&self, train: &crate::data::Images) -> Result<crate::data::norm::Norm> {
        use crate::data::norm::{Norm, Standard};
        let standard = (self.normalize == "standard").then(|| Standard::of(train, self.scale)).transpose()?;
        Ok(Norm { standard, ..Norm::scale(self.scale) })
    }

    /// How a folder of pictures is read.
    pub fn pictures(&self) -> crate::data::folder::Options {
        crate::data::folder::Options {
            channels: self.channels,
            resize: self.resize,
            skip_bad: self.skip_bad_images,
            labels: if self.labels == "coarse" { Labels::Coarse } else { Labels::Fine },
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::usage(m));
        if self.batch == 0 {
            return bad("--batch-size must be at least 1, got 0".into());
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
        if !matches!(self.normalize.as_str(), "scale" | "standard") {
            return bad(format!("--normalize must be scale or standard, got '{}'", self.normalize));
        }
        Labels::parse(&self.labels)?;
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
        if self.channels.is_some_and(|c| c != 1 && c != 3) {
            return bad(format!("--channels must be 1 (grey) or 3 (RGB), got {}", self.channels.unwrap_or(0)));
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

    /// As checkpoint metadata.
    pub fn to_map(&self) -> HashMap<String, String> {
        let json = serde_json::to_string(self).expect("settings are plain numbers and strings");
        HashMap::from([(KEY.to_string(), json)])
    }

    /// Back from checkpoint metadata; `path` names the file in errors.
    pub fn from_map(path: &Path, m: &HashMap<String, String>) -> Result<Settings> {
        let bad = |e: serde_json::Error| Error::input(path, 0, format!("bad '{KEY}' metadata: {e}"));
        if let Some(json) = m.get(KEY) {
            return serde_json::from_str(json).map_err(bad);
        }
        if !m.keys().any(|k| k.starts_with(EARLIER)) {
            return Err(Error::input(path, 0, format!("missing '{KEY}' metadata: not a gpunet optimizer file")));
        }
        serde_json::from_value(earlier(m)).map_err(bad)
    }
}

impl Settings {
    /// `self` with the fields `given` names replaced: the flags a user gave, as
    /// the settings' JSON names them (`batch_size` for `--batch-size`). Where
    /// `self` is a resumed run's, a given value that differs from the run's own
    /// is an error naming each such flag and the run's value.
    pub fn with_flags(&self, given: &serde_json::Map<String, serde_json::Value>, resumed: bool) -> Result<Settings> {
        let was = self.json();
        let mut merged = was.clone();
        for (k, v) in given {
            merged[k] = v.clone();
        }
        let s: Settings = serde_json::from_value(merged).map_err(|e| Error::usage(e.to_string()))?;
        let now = s.json();
        let flag = |k: &str| format!("--{}", k.replace('_', "-"));
        let show = |v: &serde_json::Value| match v {
            serde_json::Value::String(t) => t.clone(),
            serde_json::Value::Null => "none".into(),
            v => v.to_string(),
        };
        let conflicts: Vec<String> = given
            .keys()
            .filter(|k| resumed && now[k.as_str()] != was[k.as_str()])
            .map(|k| format!("{} {} (the run has {})", flag(k), show(&now[k.as_str()]), show(&was[k.as_str()])))
            .collect();
        if !conflicts.is_empty() {
            return Err(Error::usage(format!(
                "--resume continues a run with its own settings; these flags contradict it: {}",
                conflicts.join(", ")
            )));
        }
        Ok(s)
    }

    /// As JSON values, numbers as their shortest text reads them (an f32 does
    /// not widen to its f64 digits): what checkpoints hold and the page reads.
    pub fn json(&self) -> serde_json::Value {
        let text = serde_json::to_string(self).expect("settings are plain numbers and strings");
        serde_json::from_str(&text).expect("serde_json reads what it writes")
    }
}

/// The settings of a file written before `gpunet.settings`, as its JSON: each
/// `gpunet.train.K` a field, an empty text none, numbers and booleans read as
/// such, the fields held as text kept so.
fn earlier(m: &HashMap<String, String>) -> serde_json::Value {
    const TEXT: [&str; 6] = ["arch", "optimizer", "lr_schedule", "augment", "adam_betas", "train"];
    let fields = m.iter().filter_map(|(k, v)| {
        let field = k.strip_prefix(EARLIER)?;
        let value = match v.as_str() {
            "" => serde_json::Value::Null,
            v if TEXT.contains(&field) => v.into(),
            v => serde_json::from_str(v).unwrap_or_else(|_| v.into()),
        };
        Some((field.to_string(), value))
    });
    serde_json::Value::Object(fields.collect())
}

/// `--augment`'s text ("none" for none) in the settings' JSON.
mod augment_text {
    use super::Augment;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Option<Augment>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Augment::text(*a))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Augment>, D::Error> {
        Augment::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A data file's path in the settings' JSON (as `display` shows it,
/// where it is not UTF-8).
mod path_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::path::PathBuf;

    pub fn serialize<S: Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some(p) => s.serialize_some(&p.to_string_lossy()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(PathBuf::from))
    }
}

/// `--resize`'s text (H,W) in the settings' JSON.
mod size_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &Option<(usize, usize)>, s: S) -> Result<S::Ok, S::Error> {
        match p {
            Some((h, w)) => s.serialize_some(&format!("{h},{w}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<(usize, usize)>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
        let dims: Vec<usize> = text.split(',').filter_map(|v| v.trim().parse().ok()).filter(|&v| v > 0).collect();
        match dims[..] {
            [h, w] if h <= 16_384 && w <= 16_384 => Ok(Some((h, w))),
            _ => Err(serde::de::Error::custom(format!("--resize {text}: expected H,W, two sizes 1..16384"))),
        }
    }
}

/// `--adam-betas`' text (B1,B2) in the settings' JSON.
mod betas {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &(f32, f32), s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::betas_text(*b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(f32, f32), D::Error> {
        super::parse_betas(&String::deserialize(d)?).map_err(serde::de::Error::custom)
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
        let with_path = Settings { train: Some("data/train 1.csv".into()), limit: Some(600), ..s.clone() };
        assert_eq!(Settings::from_map(Path::new("x"), &with_path.to_map()).unwrap(), with_path);
        // as the previous main wrote them (a deotte run's optimizer file, copied)
        let earlier = |drop: &[&str]| -> HashMap<String, String> {
            [
                ("adam_betas", "0.9,0.999"),
                ("arch", "deotte"),
                ("augment", "rotate=10,zoom=0.1,shift=0.1"),
                ("batch_size", "50"),
                ("ema", ""),
                ("label_smoothing", "0"),
                ("limit", "600"),
                ("lr", "0.001"),
                ("lr_schedule", "exp:0.95"),
                ("momentum", "0.9"),
                ("nesterov", "false"),
                ("optimizer", "adam"),
                ("scale", "255"),
                ("seed", "7"),
                ("train", ""),
                ("val_split", "0.2"),
                ("weight_decay", "0"),
            ]
            .into_iter()
            .filter(|(k, _)| !drop.contains(k))
            .map(|(k, v)| (format!("gpunet.train.{k}"), v.to_string()))
            .collect()
        };
        let deotte = Settings { batch: 50, limit: Some(600), seed: 7, ..Settings::new("deotte") };
        assert_eq!(Settings::from_map(Path::new("x"), &earlier(&[])).unwrap(), deotte);
        // a run saved before --adam-betas, --weight-decay, ... existed resumes with the defaults
        let older = earlier(&["adam_betas", "weight_decay", "label_smoothing", "ema", "lr_schedule", "augment"]);
        let back = Settings::from_map(Path::new("x"), &older).unwrap();
        assert_eq!(back, Settings { augment: None, lr_schedule: Schedule::Const, ..deotte.clone() });
        let mut bad = earlier(&[]);
        bad.insert("gpunet.train.lr".into(), "fast".into());
        let e = Settings::from_map(Path::new("x"), &bad).unwrap_err().to_string();
        assert!(e.starts_with("x: bad 'gpunet.settings' metadata") && e.contains("fast"), "{e}");
        let e = Settings::from_map(Path::new("x"), &HashMap::new()).unwrap_err().to_string();
        assert!(e.contains("missing 'gpunet.settings' metadata"), "{e}");
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
