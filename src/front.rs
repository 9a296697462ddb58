//! The front door: a data set, an engine, a trainer and a model, which is all a
//! Rust program needs to train a network, keep it and predict with it. Training
//! runs the command line's own loop (`train::train`), writing the same run
//! directory (a checkpoint every epoch, atomic writes), and prediction the same
//! batches (`infer::predict`); see the crate's opening example.

use crate::data::{self, Images, Shape};
pub use crate::device::Device;
use crate::device::{self, Choice};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::gpu::AdapterChoice;
use crate::infer;
use crate::model::checkpoint;
use crate::model::net::{check_batch, check_input};
use crate::model::spec::{self, Spec};
pub use crate::run::EpochMetrics as Epoch;
use crate::run::{self, RunDir};
use crate::settings::{Settings, MEMORY};
use crate::train::{self, TrainJob};
pub use crate::train::{Progress, Stage};
use sha2::{Digest, Sha256};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

impl Device {
    /// The engine this names: `Auto` takes a real GPU adapter where there is
    /// one and the native CPU engine where there is none (or only a software
    /// one); `Gpu` the WGSL kernels on any adapter, `Cpu` the native engine on
    /// every core. The `GPUNET_*` variables (adapter, backend, class, threads)
    /// are read as the command line reads them.
    pub fn engine(self) -> Result<Box<dyn Engine>> {
        let adapter = AdapterChoice::from_env()?;
        let choice = Choice { device: self, adapter, threads: 0, native: crate::native::Options::from_env()? };
        Ok(device::open(&choice)?.engine)
    }
}

/// Labelled images to train on, with the test set and the class names they
/// come with. Each image is one byte per value, channel by channel, then row by
/// row (C, H, W); labels count classes from 0.
#[derive(Clone, Debug)]
pub struct Dataset {
    train: Images,
    test: Option<Images>,
    names: Vec<String>,
}

impl Dataset {
    /// The embedded MNIST: 60,000 training digits, and t10k's 10,000 as the test set.
    pub fn mnist() -> Result<Dataset> {
        let (train, test) = rayon::join(data::mnist_train, data::mnist_test);
        Ok(Dataset { train: train?, test: Some(test?), names: Vec::new() })
    }

    /// The data set at `path`, read as `gpunet train --train PATH` reads it: a
    /// Kaggle CSV, IDX files (a folder holding MNIST's names: its t10k files
    /// become the test set), CIFAR batches, or a folder of class folders of
    /// pictures (with `train/` and `test/` ones, both).
    pub fn open(path: impl AsRef<Path>) -> Result<Dataset> {
        let path = path.as_ref();
        let (train, test, names) = data::load_set(path, &Default::default(), &mut |_| {})?;
        let train = train::labelled(train, path, "training")?;
        let test = test.map(|t| train::labelled(t, path, "test")).transpose()?;
        Ok(Dataset { train, test, names })
    }

    /// `labels.len()` images of `shape` (channels, height, width) from memory:
    /// `pixels` holds them one after another, one byte per value. The classes
    /// are 0 to the largest label.
    pub fn from_arrays(shape: Shape, pixels: Vec<u8>, labels: Vec<u8>) -> Result<Dataset> {
        Ok(Dataset { train: arrays(shape, pixels, labels)?, test: None, names: Vec::new() })
    }

    /// These images with `test` as their test set (scored after training); it
    /// must have their shape.
    pub fn with_test(self, test: Dataset) -> Result<Dataset> {
        if test.train.shape != self.train.shape {
            let (t, s) = (data::shape_text(test.train.shape), data::shape_text(self.train.shape));
            return Err(Error::usage(format!("the test images are {t}, the training images {s}")));
        }
        Ok(Dataset { test: Some(test.train), ..self })
    }

    /// These images with their classes named (label i is `names[i]`): what the
    /// model keeps, and `predict` and `eval` print.
    pub fn with_names(self, names: Vec<String>) -> Result<Dataset> {
        let classes = self.classes();
        if names.len() < classes {
            return Err(Error::usage(format!("{} class names for {classes} classes", names.len())));
        }
        Ok(Dataset { names, ..self })
    }

    /// The first `n` training images (all if fewer); the test set stays whole.
    pub fn limit(self, n: usize) -> Dataset {
        Dataset { train: self.train.truncate(n), ..self }
    }

    pub fn train(&self) -> &Images {
        &self.train
    }
    pub fn test(&self) -> Option<&Images> {
        self.test.as_ref()
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Each image's (channels, height, width).
    pub fn shape(&self) -> Shape {
        self.train.shape
    }
    /// The classes a network for these images tells apart.
    pub fn classes(&self) -> usize {
        self.train.classes.max(self.test.as_ref().map_or(0, |t| t.classes))
    }
}

/// Images from memory, checked: the pixels fill `labels.len()` images exactly.
fn arrays(shape: Shape, pixels: Vec<u8>, labels: Vec<u8>) -> Result<Images> {
    let size = shape.0 * shape.1 * shape.2;
    if size == 0 || pixels.len() != labels.len() * size {
        return Err(Error::usage(format!(
            "{} pixel values for {} labels of {} images: expected {} (one byte per value)",
            pixels.len(),
            labels.len(),
            data::shape_text(shape),
            labels.len() * size
        )));
    }
    if labels.is_empty() {
        return Err(Error::usage("no images: at least one image and its label are needed"));
    }
    let classes = labels.iter().max().map_or(0, |&l| l as usize + 1);
    Ok(Images { shape, classes, pixels, labels: Some(labels) })
}

/// `memory:` and the sha256 of the images a run was handed: the run records it
/// as its data's fingerprint, and `gpunet train --resume`, which reads data from
/// files, refuses such a run rather than go on with other images.
fn memory_origin(train: &Images, test: Option<&Images>) -> String {
    let mut h = Sha256::new();
    for set in [Some(train), test].into_iter().flatten() {
        h.update(set.pixels.len().to_le_bytes());
        h.update(&set.pixels);
        h.update(set.labels.as_deref().unwrap_or_default());
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{MEMORY}{hex}")
}

/// How to train: a network (a named arch, `gpunet archs`, or a spec) and the
/// choices of `gpunet train`, each with the same default; or a run to continue.
pub struct Trainer {
    settings: Settings,
    epochs: usize,
    out: Option<PathBuf>,
    keep: usize,
    /// The run it continues, locked since `resume`.
    resumed: Option<train::Resumed>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("settings", &self.settings)
            .field("epochs", &self.epochs)
            .field("out", &self.out)
            .field("keep", &self.keep)
            .field("resumes", &self.resumed.as_ref().map(|r| &r.model))
            .finish()
    }
}

impl Trainer {
    /// Training of `arch` with its named defaults (the blog's: Adam at 1e-3,
    /// batch 500, a 20% validation split, seed 42).
    pub fn new(arch: &str) -> Result<Trainer> {
        Spec::parse(arch)?;
        let settings = Settings::new(arch);
        Ok(Trainer { settings, epochs: spec::default_epochs(arch), out: None, keep: KEEP, resumed: None })
    }

    /// The run `target` names (a run directory, a generation in one, or a model
    /// file in either), continued where it stopped: locked at once, its
    /// settings and epoch count those it was started with. A continued run
    /// equals one that was never stopped; its settings may not change (its
    /// epoch count may).
    pub fn resume(target: impl AsRef<Path>) -> Result<Trainer> {
        let r = train::resume_run(target.as_ref())?;
        let epochs = r.state.epochs.unwrap_or_else(|| spec::default_epochs(&r.settings.arch));
        Ok(Trainer { settings: r.settings.clone(), epochs, out: None, keep: KEEP, resumed: Some(r) })
    }

    pub fn epochs(self, epochs: usize) -> Trainer {
        Trainer { epochs, ..self }
    }
    pub fn batch_size(mut self, batch: usize) -> Trainer {
        self.settings.batch = batch;
        self
    }
    pub fn learning_rate(mut self, lr: f32) -> Trainer {
        self.settings.lr = lr;
        self
    }
    pub fn seed(mut self, seed: u64) -> Trainer {
        self.settings.seed = seed;
        self
    }
    /// The share of the training images held out to validate each epoch (0: none).
    pub fn validation(mut self, fraction: f64) -> Trainer {
        self.settings.val_split = fraction;
        self
    }
    /// The run directory (default: `runs/<arch>-<seconds>`); it must be new or
    /// empty, or, for a continued run, be that run's.
    pub fn out(self, dir: impl Into<PathBuf>) -> Trainer {
        Trainer { out: Some(dir.into()), ..self }
    }
    /// Older generations to keep besides the current one and the best (default 2).
    pub fn keep(self, keep: usize) -> Trainer {
        Trainer { keep, ..self }
    }
    /// Every other choice `gpunet train` has (schedule, augmentation, optimizer, ...).
    pub fn settings(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Trains a network for `data`'s shape and classes on `engine`. The run
    /// directory holds what `gpunet train` writes (a model every epoch); the
    /// trained model comes back with the metrics.
    pub fn fit(self, engine: &mut dyn Engine, data: Dataset) -> Result<Trained> {
        self.fit_with(engine, data, |_| ControlFlow::Continue(()))
    }

    /// `fit`, calling `on_epoch` after each epoch is saved: `ControlFlow::Break(())`
    /// ends the run there (the test set scored, the model returned).
    pub fn fit_with(
        self,
        engine: &mut dyn Engine,
        data: Dataset,
        on_epoch: impl FnMut(&Epoch) -> ControlFlow<()>,
    ) -> Result<Trained> {
        let mut events = Events { on_epoch };
        self.start(data, &mut events)?.fit(engine, &AtomicBool::new(false), &mut events)
    }

    /// The run, ready to train on `data`: its directory made (or, continued,
    /// found) and locked, the images checked against the network (and, for a
    /// continued run, against those it trained on).
    pub fn start(self, data: Dataset, progress: &mut dyn Progress) -> Result<Run> {
        let origin = memory_origin(&data.train, data.test.as_ref());
        check_batch(self.settings.batch, &Spec::for_data(&self.settings.arch, data.shape(), data.classes())?)?;
        let (dir, job) = self.open(progress)?;
        let settings = job.settings.for_data(Some(&origin))?;
        let data = train::Data::split(data.train, data.test, data.names, &settings, settings.data.clone())?;
        Ok(Run { job: TrainJob { settings, ..job }, data, dir })
    }

    /// The run, ready to train on the files its settings name (`train` and
    /// `test`; the embedded MNIST where there are none), as `gpunet train` does:
    /// its directory locked before any data is read, every input read and
    /// checked before any engine is needed.
    pub fn start_files(self, progress: &mut dyn Progress) -> Result<Run> {
        if let Some(r) =
            self.resumed.as_ref().filter(|r| r.settings.data.as_deref().is_some_and(|d| d.starts_with(MEMORY)))
        {
            return Err(Error::usage(format!(
                "the run in {} trained on images a program handed to gpunet's library (Trainer::fit), not on files: only that program, with the same images, can continue it",
                r.run.dir().display()
            )));
        }
        let (dir, job) = self.open(progress)?;
        let data = train::load_data(&job.settings)?;
        progress.started(Stage::DataRead);
        let settings = job.settings.for_data(data.fingerprint.as_deref())?;
        Ok(Run { job: TrainJob { settings, ..job }, data, dir })
    }

    /// The run directory, made or found and locked, and the job on it; a
    /// continued run's settings checked against those it was started with.
    fn open(self, progress: &mut dyn Progress) -> Result<(RunDir, TrainJob)> {
        let Trainer { settings, epochs, out, keep, resumed } = self;
        if let Some(r) = &resumed {
            let (was, now) = (r.settings.json(), settings.json());
            let mut changed = serde_json::Map::new();
            if let (Some(was), serde_json::Value::Object(now)) = (was.as_object(), now) {
                changed.extend(now.into_iter().filter(|(k, v)| was.get(k) != Some(v)));
            }
            r.settings.with_flags(&changed, true)?;
        }
        settings.validate()?;
        crate::settings::check_epochs(epochs)?;
        let (dir, resume) = train::open_run(out.as_deref(), resumed, keep, &settings.arch, epochs)?;
        if let Some(w) = run::space_warning(dir.dir(), Spec::parse(&settings.arch)?.param_count()) {
            progress.note(&w);
        }
        progress.started(Stage::RunReady);
        Ok((dir, TrainJob { settings, epochs, resume }))
    }
}

/// A training run ready to go: its directory locked, its data read and checked.
pub struct Run {
    job: TrainJob,
    data: train::Data,
    dir: RunDir,
}

impl Run {
    /// The run directory.
    pub fn dir(&self) -> &Path {
        self.dir.dir()
    }

    /// Trains on `engine` to the last epoch, telling `progress` (a line per
    /// epoch, each step, each saved epoch's metrics: `Break` ends the run
    /// there). Once `stop` is set, the step in flight finishes, the state is
    /// saved and `Error::Interrupted` returns: `Trainer::resume` goes on from there.
    pub fn fit(mut self, engine: &mut dyn Engine, stop: &AtomicBool, progress: &mut dyn Progress) -> Result<Trained> {
        let report = train::train(engine, &self.job, self.data, stop, progress, &mut self.dir)?;
        engine.clear()?;
        let model = Model::load(&report.out)?;
        Ok(Trained {
            epochs: report.epochs,
            test: report.test,
            dir: report.out,
            images_per_s: report.images_per_s,
            model,
        })
    }
}

/// Older generations a run keeps besides its current one and its best (`--keep`'s default).
const KEEP: usize = 2;

/// The epoch callback as the training loop's progress.
struct Events<F> {
    on_epoch: F,
}

impl<F: FnMut(&Epoch) -> ControlFlow<()>> Progress for Events<F> {
    fn line(&mut self, _: &str) {}
    fn epoch_done(&mut self, m: &Epoch) -> ControlFlow<()> {
        (self.on_epoch)(m)
    }
}

/// What a training run gives back.
pub struct Trained {
    /// Each epoch's metrics, in order.
    pub epochs: Vec<Epoch>,
    /// (loss, accuracy) on the test set, where the data has one.
    pub test: Option<(f64, f64)>,
    /// The run directory.
    pub dir: PathBuf,
    /// Training images a second over the run.
    pub images_per_s: f64,
    /// The model the run saved last.
    pub model: Model,
}

/// A trained network: its spec, input normalisation and weights, as a model
/// file holds them.
pub struct Model {
    inner: checkpoint::Model,
    /// The checked file it was read from, written again by `save`.
    file: checkpoint::Checked,
}

impl Model {
    /// The model `path` names: a model.safetensors, or a run (or generation)
    /// directory's current model; every tensor checked against its sum.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let file = run::read_model(path.as_ref())?;
        let (inner, _) = checkpoint::model_from(&file)?;
        Ok(Model { inner, file })
    }

    /// Writes the model file to `path` (atomically: all of it, or nothing).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_atomic(path.as_ref(), |w| w.write_all(self.file.bytes()))
    }

    /// The (channels, height, width) of the images it takes.
    pub fn input(&self) -> Shape {
        self.inner.spec.input
    }
    pub fn classes(&self) -> usize {
        self.inner.spec.classes()
    }
    /// The classes' names, where its training data named them.
    pub fn names(&self) -> &[String] {
        &self.inner.spec.names
    }
    /// The network, as `gpunet archs` writes specs.
    pub fn spec(&self) -> String {
        self.inner.spec.text()
    }

    /// The pictures `paths` name (files, and the pictures in folders) in order,
    /// read as `gpunet predict` reads them for this model: a digit model finds,
    /// fits and centres the ink; any other fits each to its input's shape.
    pub fn read_pictures(&self, paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Images)> {
        infer::read_pictures(&self.inner.spec, paths)
    }

    /// Every image's class probabilities, `classes()` a row, in order.
    pub fn predict(&self, engine: &mut dyn Engine, images: &Images) -> Result<Vec<f32>> {
        check_input(&self.inner.spec, images)?;
        let batch = PREDICT_BATCH.min(images.len().max(1));
        check_batch(batch, &self.inner.spec)?;
        let probs = infer::predict(engine, &self.inner, images, batch);
        engine.clear()?;
        probs
    }

    /// Each image's most likely class.
    pub fn classify(&self, engine: &mut dyn Engine, images: &Images) -> Result<Vec<u8>> {
        Ok(infer::argmax(&self.predict(engine, images)?, self.classes()))
    }

    /// Loss, accuracy and confusion table on labelled `images`.
    pub fn evaluate(&self, engine: &mut dyn Engine, images: &Images) -> Result<infer::Evaluation> {
        let classes = self.classes();
        let labels = images.labels.as_deref().ok_or_else(|| Error::usage("evaluation needs labelled images"))?;
        if let Some((_, why)) = infer::label_past(labels, classes) {
            return Err(Error::usage(why));
        }
        let mut e = infer::evaluate(&self.predict(engine, images)?, labels, classes);
        e.names = self.inner.spec.names.clone();
        Ok(e)
    }
}

/// Images a prediction batch holds (`gpunet predict`'s default).
const PREDICT_BATCH: usize = 500;
