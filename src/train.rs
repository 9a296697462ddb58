//! The training loop: data, split, epochs of GPU steps, per-epoch metrics and
//! checkpoints, interrupt-safe state, and the final test accuracy.

use crate::cpu::pcg;
use crate::data::{self, Images};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::checkpoint::{self, TrainState};
use crate::model::{Acc, Net, NetConfig, Spec};
use crate::optim::LossScale;
use crate::run::{self, EpochMetrics, RunDir, Snapshot};
pub use crate::settings::Settings;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub struct Report {
    pub epochs: Vec<EpochMetrics>,
    /// (loss, accuracy) on the held-out test set, if there is one.
    pub test: Option<(f64, f64)>,
    pub out: PathBuf,
    pub images_per_s: f64,
}

/// Where progress goes: a line per epoch, and a running status within one.
pub trait Progress {
    fn line(&mut self, text: &str);
    /// A warning worth a person's attention (little disk space): on stderr unless taken.
    fn note(&mut self, text: &str) {
        eprintln!("{text}");
    }
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize, _done: usize) {}
    fn step(&mut self, _status: Option<&str>) {}
    fn epoch_end(&mut self) {}
    /// A mark of the run's start-up (for `GPUNET_PROFILE`'s breakdown).
    fn started(&mut self, _stage: Stage) {}
    /// An epoch is done and saved, its metrics these: `Break` ends the run there
    /// (the test set scored, the report returned, as after the last epoch).
    fn epoch_done(&mut self, _m: &EpochMetrics) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// The marks of a run's start-up, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Settings checked, the run directory made (or found) and locked.
    RunReady,
    /// Every input read and checked.
    DataRead,
    /// The network on the engine: data, parameters and plans, before the first step.
    OnDevice,
}

/// Prints lines only (tests, pipes).
pub struct Quiet;
impl Progress for Quiet {
    fn line(&mut self, _: &str) {}
}

pub struct TrainJob {
    pub settings: Settings,
    pub epochs: usize,
    /// The model file to continue from (optimizer state and metrics beside it).
    pub resume: Option<PathBuf>,
}

/// The images of a run.
pub struct Data {
    pub train: Images,
    pub val: Images,
    /// The test set: `--test`'s, or the one the training data comes with (the
    /// embedded t10k, a folder's t10k files or test/ folder).
    pub test: Option<Images>,
    /// The class names (a folder's class folders), empty where the data has none.
    pub names: Vec<String>,
    /// The files' fingerprint (`data::fingerprint` of `--train` and `--test`);
    /// None for the embedded MNIST.
    pub fingerprint: Option<String>,
}

/// Loads and splits the data the settings name (every row validated).
pub fn load_data(s: &Settings) -> Result<Data> {
    let pictures = s.pictures();
    let say = &mut |line: &str| eprintln!("{line}");
    let (all, mut test, names) = match &s.train {
        Some(path) => {
            let (train, test, names) = data::load_set(path, &pictures, say)?;
            (labelled(train, path, "training")?, test, names)
        }
        None => {
            // the two embedded sets inflate on both cores at once
            let (train, test) = rayon::join(data::mnist_train, data::mnist_test);
            (train?, Some(test?), Vec::new())
        }
    };
    if let Some(path) = &s.test {
        let like = data::folder::Options::to(all.shape, &pictures);
        test = Some(labelled(data::load_test(path, &like, &names, say)?, path, "test")?);
    }
    if let Some(t) = test.as_ref().filter(|t| t.shape != all.shape) {
        let (test, train) = (data::shape_text(t.shape), data::shape_text(all.shape));
        let at = s.test.as_deref().or(s.train.as_deref()).unwrap_or(Path::new("(embedded)"));
        return Err(Error::input(at, 0, format!("test images are {test}, the training images {train}")));
    }
    let paths: Vec<&Path> = [s.train.as_deref(), s.test.as_deref()].into_iter().flatten().collect();
    let fingerprint = (!paths.is_empty()).then(|| data::fingerprint(&paths)).transpose()?;
    Data::split(all, test, names, s, fingerprint)
}

/// `images` where they carry labels, else an error naming `path`.
pub(crate) fn labelled(images: Images, path: &Path, what: &str) -> Result<Images> {
    match images.labels {
        Some(_) => Ok(images),
        None => Err(Error::input(
            path,
            1,
            format!("{what} data needs labels (a 'label' column first, or a labels file beside the images)"),
        )),
    }
}

impl Data {
    /// The labelled images `all` cut to `--limit` and split into training and
    /// validation rows as the settings say (`s.limit`, `s.val_split`, `s.seed`),
    /// beside the `test` set and the class `names` they come with.
    pub fn split(
        all: Images,
        test: Option<Images>,
        names: Vec<String>,
        s: &Settings,
        fingerprint: Option<String>,
    ) -> Result<Data> {
        let all = match s.limit {
            Some(n) => all.truncate(n),
            None => all,
        };
        let rows = all.len();
        let (train, val) = all.split(s.val_split, s.seed);
        if train.is_empty() {
            return Err(Error::usage(format!(
                "no training rows left after --val-split {} of {rows} rows",
                s.val_split
            )));
        }
        Ok(Data { train, val, test, names, fingerprint })
    }

    /// The image store a run's net holds: the training rows, then the validation
    /// rows, then the test rows (`extra` more rows after them, blank).
    pub fn store(&self, extra: usize) -> Images {
        let blank = Images { pixels: vec![0; extra * self.train.size()], labels: Some(vec![0; extra]), ..self.train };
        let parts = [Some(&self.train), Some(&self.val), self.test.as_ref(), Some(&blank)];
        let parts: Vec<&Images> = parts.into_iter().flatten().collect();
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        for p in parts {
            pixels.extend_from_slice(&p.pixels);
            labels.extend_from_slice(p.labels.as_deref().unwrap_or(&vec![0; p.len()]));
        }
        Images { pixels, labels: Some(labels), classes: self.classes(), ..self.train }
    }

    /// Each image's (C, H, W).
    pub fn shape(&self) -> data::Shape {
        self.train.shape
    }

    /// The classes a net for this data tells apart: the most any set has.
    pub fn classes(&self) -> usize {
        [Some(&self.train), Some(&self.val), self.test.as_ref()]
            .into_iter()
            .flatten()
            .map(|s| s.classes)
            .max()
            .unwrap_or(0)
    }

    /// The network `arch` names, for this data's shape and classes.
    pub fn spec(&self, arch: &str) -> Result<Spec> {
        let spec = Spec::for_data(arch, self.shape(), self.classes())?;
        Ok(Spec { names: self.names.clone(), ..spec })
    }
}

/// Salt of the shuffle's hash, apart from dropout's (layer indices) and augmentation's.
const SHUFFLE_SALT: u32 = 0x5348_5546;

/// The order of an epoch's training rows: a Fisher-Yates shuffle driven by the
/// counter hash dropout and augmentation use (`cpu::pcg`), so the exported
/// training page computes the very same order (web/train.js, `epochOrder`).
/// j = hash mod (i + 1) is biased by under 2^-15 for i < 2^17: no matter for a shuffle.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<u32> {
    let key = pcg(seed as u32 ^ pcg((seed >> 32) as u32 ^ pcg(epoch as u32 ^ SHUFFLE_SALT)));
    let mut idx: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = pcg(i as u32 ^ key) % (i as u32 + 1);
        idx.swap(i, j as usize);
    }
    idx
}

fn batches(n: usize, batch: usize) -> usize {
    n.div_ceil(batch)
}

/// Runs (loss, accuracy) over `rows` store rows listed from index `first`.
pub fn evaluate(engine: &mut dyn Engine, net: &mut Net, first: usize, rows: usize) -> Result<(f64, f64)> {
    net.set_acc(engine, Acc::Eval, [0.0; 3])?;
    let b = net.cfg.batch;
    for i in 0..batches(rows, b) {
        net.eval_batch(engine, first + i * b, b.min(rows - i * b))?;
    }
    let (loss, hit, n) = net.read_acc(engine, Acc::Eval)?;
    Ok((loss / n, hit / n))
}

/// Saves model, optimizer state and metrics as the run's next generation.
/// Never saves diverged weights: non-finite parameters stop training instead,
/// naming where and what to try.
fn save_all(
    engine: &mut dyn Engine,
    net: &Net,
    run: &mut RunDir,
    st: &TrainState,
    metrics: &[EpochMetrics],
) -> Result<()> {
    let params = engine.read_f32(net.params_view())?;
    let avg = net.ema_view().map(|v| engine.read_f32(v)).transpose()?;
    if params.iter().chain(avg.iter().flatten()).any(|p| !p.is_finite()) {
        let lr = net.cfg.optim.map_or(0.0, |o| o.lr);
        return Err(Error::Numeric(format!(
            "the weights became non-finite by step {} (epoch {}); try a lower --lr than {lr:e} (the last good checkpoint, if any, is in {})",
            st.step,
            st.epoch + (st.batch > 0) as usize,
            run.dir().display()
        )));
    }
    let state: Vec<Vec<f32>> = net.state_views().into_iter().map(|v| engine.read_f32(v)).collect::<Result<_>>()?;
    // a mixed run's scale as it stands; one resumed in fp32 keeps the scale it had
    let st = &TrainState { loss_scale: net.loss_scale(engine)?.or(st.loss_scale), ..st.clone() };
    run.save(&Snapshot {
        spec: &net.spec,
        norm: &net.cfg.norm,
        slots: &net.slots,
        // with --ema the model file holds the average, the optimizer file the weights
        params: avg.as_deref().unwrap_or(&params),
        live: avg.is_some().then_some(&params[..]),
        m: &state[0],
        v: state.get(1).map(|v| v.as_slice()),
        state: st,
        metrics,
    })
}

/// The validation accuracy whose first crossing a run reports (the blog's bar).
const TARGET: f64 = 0.99;

/// A run to continue: locked first, then read from the one generation it continues.
pub struct Resumed {
    pub run: RunDir,
    /// The model file to continue from, in that generation.
    pub model: PathBuf,
    pub settings: Settings,
    /// Where training stood.
    pub state: TrainState,
}

/// Locks the run `target` names (`RunDir::resume`), then reads its settings and
/// where it stood from the generation it continues, every file checked.
pub fn resume_run(target: &Path) -> Result<Resumed> {
    let (run, model) = RunDir::resume(target, 0)?;
    let g = run::Generation::of(&model)?;
    let state = g.state()?;
    let settings = Settings::from_map(&g.optim.path, &state.settings)?;
    Ok(Resumed { run, model, settings, state })
}

/// The run directory a training job writes, and the model it resumes from: the
/// `resumed` run (refused where it trained `epochs` already, or where `out`
/// names another directory), else a new run at `out` (by default
/// `runs/<arch>-<seconds>`), locked before anything is said of it. Either keeps
/// `keep` older generations.
pub fn open_run(
    out: Option<&Path>,
    resumed: Option<Resumed>,
    keep: usize,
    arch: &str,
    epochs: usize,
) -> Result<(RunDir, Option<PathBuf>)> {
    let Some(Resumed { mut run, model, state: st, .. }) = resumed else {
        let default = || {
            let name: String =
                arch.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).take(40).collect();
            let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            Path::new("runs").join(format!("{name}-{secs}"))
        };
        return Ok((RunDir::create(&out.map_or_else(default, Path::to_path_buf), keep)?, None));
    };
    if st.epoch >= epochs && st.batch == 0 {
        return Err(Error::usage(format!(
            "nothing left to do: the run in {} has trained {} epoch{} already; give --epochs above {} to train more",
            run.dir().display(),
            st.epoch,
            if st.epoch == 1 { "" } else { "s" },
            st.epoch
        )));
    }
    if let Some(out) = out {
        if std::fs::canonicalize(out).ok() != std::fs::canonicalize(run.dir()).ok() {
            return Err(Error::usage(format!(
                "--resume continues the run in {}; --out {} names another directory",
                run.dir().display(),
                out.display()
            )));
        }
    }
    run.set_keep(keep);
    Ok((run, Some(model)))
}

/// Trains `data` as `job` says. `stop` is polled after every step: once set, the
/// state is saved and the call returns `Error::Interrupted`.
pub fn train(
    engine: &mut dyn Engine,
    job: &TrainJob,
    data: Data,
    stop: &AtomicBool,
    ui: &mut dyn Progress,
    run: &mut RunDir,
) -> Result<Report> {
    let s = &job.settings;
    s.validate()?;
    crate::settings::check_epochs(job.epochs)?;
    let sizes = Sizes { train: data.train.len(), val: data.val.len(), test: data.test.as_ref().map_or(0, |t| t.len()) };
    let mut net = build(engine, s, data, &sizes)?;
    announce(ui, s, engine.name(), &net, &sizes);
    let (mut st, mut metrics) = start(engine, &mut net, job, ui)?;
    let held_out: Vec<u32> = (sizes.train as u32..(sizes.train + sizes.val + sizes.test) as u32).collect();
    net.set_index(engine, sizes.train, &held_out)?;
    ui.started(Stage::OnDevice);

    let mut l = Loop { engine, net, s, epochs: job.epochs, sizes, run, ui, stop };
    let started = Instant::now();
    // the first time validation accuracy reaches TARGET: (seconds since start, epoch)
    let mut reached: Option<(f64, usize)> = None;
    let mut trained_images = 0usize;
    // a mixed run's loss scale where the epoch began (read once, then carried on)
    let mut scale_before = l.net.loss_scale(l.engine)?;
    for epoch in st.epoch..job.epochs {
        let t0 = Instant::now();
        let epoch_lr = l.lr(st.step - st.batch as u64);
        trained_images += l.steps(epoch, &mut st, &metrics)?;
        // training time only (the last step's readback waited for the device), as the peer measures
        let seconds = t0.elapsed().as_secs_f64();
        let (val_loss, val_accuracy) = l.validate(epoch, &st)?;
        let [loss, hit, rows] = st.acc;
        let m = EpochMetrics {
            epoch: epoch + 1,
            seconds,
            loss: loss / rows,
            accuracy: hit / rows,
            val_loss,
            val_accuracy,
            lr: epoch_lr,
        };
        let scale_now = l.net.loss_scale(l.engine)?;
        let scale = match (scale_before, scale_now) {
            (Some(before), Some(now)) => scale_text(before, now),
            _ => String::new(),
        };
        scale_before = scale_now;
        l.ui.line(&format!("{}{scale}", epoch_line(&m, job.epochs)));
        if reached.is_none() && val_accuracy.is_some_and(|a| a >= TARGET) {
            reached = Some((started.elapsed().as_secs_f64(), epoch + 1));
        }
        st = TrainState { epoch: epoch + 1, batch: 0, acc: [0.0; 3], ..st };
        metrics.push(m);
        save_all(l.engine, &l.net, l.run, &st, &metrics)?;
        if metrics.last().is_some_and(|m| l.ui.epoch_done(m).is_break()) {
            break;
        }
        if l.stop.load(Ordering::SeqCst) && epoch + 1 < job.epochs {
            let dir = l.run.dir().display();
            l.ui.line(&format!(
                "interrupted after epoch {}; state saved in {dir}; continue with --resume {dir}",
                epoch + 1
            ));
            return Err(Error::Interrupted);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some((secs, epoch)) = reached {
        l.ui.line(&format!(
            "validation accuracy first reached {:.0}% after {secs:.1} s of this run (epoch {epoch}, validation included)",
            TARGET * 100.0
        ));
    }
    let test = l.test()?;
    // through the generation: a pointer file (the portable fallback) is no directory
    let current = run::generation_dir(l.run.dir())?.unwrap_or_else(|| l.run.dir().to_path_buf());
    l.ui.line(&format!("saved {}", current.join(run::MODEL).display()));
    Ok(Report {
        epochs: metrics,
        test,
        out: l.run.dir().to_path_buf(),
        images_per_s: trained_images as f64 / elapsed.max(1e-9),
    })
}

/// How many images each set of a run holds.
struct Sizes {
    train: usize,
    val: usize,
    test: usize,
}

/// The net for settings `s`, its store uploaded (`data` is dropped once it is).
fn build(engine: &mut dyn Engine, s: &Settings, data: Data, sizes: &Sizes) -> Result<Net> {
    let spec = data.spec(&s.arch)?;
    let norm = s.norm(&data.train)?;
    let store = data.store(0);
    drop(data);
    let cfg = NetConfig {
        batch: s.batch.min(sizes.train.max(sizes.val).max(1)),
        norm,
        optim: Some(s.optim()?),
        seed: s.seed as u32,
    };
    let mut net = Net::new(engine, spec, &store, cfg)?;
    net.set_augment(s.augment);
    net.set_label_smoothing(s.label_smoothing);
    Ok(net)
}

/// The run's first lines: the net, the engine, the sets, and whatever departs from
/// the blog's training (augmentation, a schedule, Adam's rates).
fn announce(ui: &mut dyn Progress, s: &Settings, engine: String, net: &Net, sizes: &Sizes) {
    ui.line(&format!(
        "{} on {engine}: {} parameters, {} train / {} validation{} images, batch {}, {:.0} MiB of buffers",
        s.arch,
        net.spec.param_count(),
        sizes.train,
        sizes.val,
        if sizes.test > 0 { format!(" / {} test", sizes.test) } else { String::new() },
        net.cfg.batch,
        net.bytes() as f64 / (1 << 20) as f64
    ));
    if net.cfg.norm.standard.is_some() {
        ui.line(&format!("input: {} (measured on the training rows, kept with the model)", net.cfg.norm.text()));
    }
    let betas = s.optimizer.starts_with("adam") && s.adam_betas != crate::optim::ADAM_BETAS;
    let decay = s.weight_decay > 0.0;
    let smooth = s.label_smoothing > 0.0;
    let tools = decay || smooth || s.ema.is_some();
    if s.augment.is_some() || s.lr_schedule != crate::schedule::Schedule::Const || betas || tools {
        ui.line(&format!(
            "augment: {}; lr: {} from {}{}{}{}{}",
            crate::augment::Augment::text(s.augment),
            s.lr_schedule.text(),
            s.lr,
            if betas { format!("; adam betas {}", crate::settings::betas_text(s.adam_betas)) } else { String::new() },
            if decay { format!("; {} weight decay {}", s.optimizer, s.weight_decay) } else { String::new() },
            if smooth { format!("; label smoothing {}", s.label_smoothing) } else { String::new() },
            match s.ema {
                Some(d) => format!("; weights averaged (EMA {d}) for validation, test and the saved model"),
                None => String::new(),
            }
        ));
    }
}

/// The state a run starts from: fresh weights, or the resumed checkpoint's weights,
/// optimizer state and metrics.
fn start(
    engine: &mut dyn Engine,
    net: &mut Net,
    job: &TrainJob,
    ui: &mut dyn Progress,
) -> Result<(TrainState, Vec<EpochMetrics>)> {
    let s = &job.settings;
    let Some(model_path) = &job.resume else {
        let init = net.init_params(s.seed);
        net.write_params(engine, &init)?;
        if let Some(decay) = s.ema {
            net.set_ema(engine, decay, &init)?;
        }
        return Ok((TrainState { settings: s.to_map(), epochs: Some(job.epochs), ..Default::default() }, Vec::new()));
    };
    let g = run::Generation::of(model_path)?;
    let model = g.model()?;
    if model.norm != net.cfg.norm {
        return Err(Error::input(
            model_path,
            0,
            format!("checkpoint takes {}, the run's data gives {}", model.norm.text(), net.cfg.norm.text()),
        ));
    }
    if model.spec != net.spec {
        return Err(Error::input(
            model_path,
            0,
            format!(
                "checkpoint is '{}' on {} images, the data gives '{}' on {} images",
                model.spec.text(),
                data::shape_text(model.spec.input),
                net.spec.text(),
                data::shape_text(net.spec.input)
            ),
        ));
    }
    let optim_path = &g.optim.path;
    let saved = checkpoint::load_state(&g.optim, &net.slots, net.param_words, net.has_v())?;
    match (s.ema, &saved.live) {
        (None, _) => net.write_params(engine, &model.params)?,
        // the model file holds the average; the optimizer file the weights
        (Some(decay), Some(live)) => {
            net.write_params(engine, live)?;
            net.set_ema(engine, decay, &model.params)?;
        }
        (Some(_), None) => {
            return Err(Error::input(
                optim_path,
                0,
                "the run averages its weights (--ema), but this optimizer file lacks the weights themselves (tensor 'live')",
            ))
        }
    }
    net.write_state(engine, &saved.m, saved.v.as_deref())?;
    if let Some(scale) = saved.state.loss_scale {
        net.set_loss_scale(engine, scale)?;
    }
    let saved = saved.state;
    let mut metrics = g.metrics;
    metrics.truncate(saved.epoch);
    let st = TrainState { settings: s.to_map(), epochs: Some(job.epochs), ..saved };
    ui.line(&format!(
        "resuming {} at epoch {}, batch {} (step {})",
        model_path.display(),
        st.epoch + 1,
        st.batch,
        st.step
    ));
    Ok((st, metrics))
}

/// "Epoch E/N - Ts - loss: … - accuracy: …", Keras' line, validation where there is one.
fn epoch_line(m: &EpochMetrics, epochs: usize) -> String {
    let val = match (m.val_loss, m.val_accuracy) {
        (Some(vl), Some(va)) => format!(" - val_loss: {vl:.4} - val_accuracy: {va:.4}"),
        _ => String::new(),
    };
    format!("Epoch {}/{epochs} - {:.1}s - loss: {:.4} - accuracy: {:.4}{val}", m.epoch, m.seconds, m.loss, m.accuracy)
}

/// A mixed-precision epoch's loss scale, where it ended and the steps it skipped.
fn scale_text(before: LossScale, now: LossScale) -> String {
    let skipped = now.skipped - before.skipped;
    match skipped {
        0 => format!(" - loss scale: 2^{}", now.exp),
        n => format!(
            " - loss scale: 2^{} ({n} step{} skipped: gradients overflowed)",
            now.exp,
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// What a run's epochs share.
struct Loop<'a> {
    engine: &'a mut dyn Engine,
    net: Net,
    s: &'a Settings,
    epochs: usize,
    sizes: Sizes,
    run: &'a mut RunDir,
    ui: &'a mut dyn Progress,
    stop: &'a AtomicBool,
}

impl Loop<'_> {
    fn batches(&self) -> usize {
        batches(self.sizes.train, self.net.cfg.batch)
    }

    /// The rate of step `step` (from 0) under the run's schedule.
    fn lr(&self, step: u64) -> f32 {
        self.s.lr_schedule.lr(self.s.lr, step, self.batches() as u64, self.epochs as u64)
    }

    /// Stops training on a non-finite value, naming where and what to try.
    fn non_finite(&self, what: String) -> Error {
        Error::Numeric(format!(
            "{what}; try a lower --lr than {:e} (the last good checkpoint, if any, is in {})",
            self.s.lr,
            self.run.dir().display()
        ))
    }

    /// The rest of epoch `epoch`'s steps, from batch `st.batch`; the images
    /// trained. Once `stop` is set the state is saved and this returns
    /// `Error::Interrupted`.
    fn steps(&mut self, epoch: usize, st: &mut TrainState, metrics: &[EpochMetrics]) -> Result<usize> {
        let (b, n_train, nb) = (self.net.cfg.batch, self.sizes.train, self.batches());
        let log_every = (nb / 20).max(1);
        self.net.set_index(self.engine, 0, &epoch_order(n_train, self.s.seed, epoch))?;
        self.net.set_acc(self.engine, Acc::Train, st.acc)?;
        self.ui.epoch_start(epoch, self.epochs, nb, st.batch);
        let mut images = 0;
        for bi in st.batch..nb {
            let n = b.min(n_train - bi * b);
            let lr = self.lr(st.step);
            self.net.train_step(self.engine, bi * b, n, st.step, lr)?;
            st.step += 1;
            st.batch = bi + 1;
            images += n;
            let logged = (bi + 1) % log_every == 0 || bi + 1 == nb;
            let mut status = None;
            if logged {
                let (l, h, r) = self.net.read_acc(self.engine, Acc::Train)?;
                if !l.is_finite() {
                    let at = format!("in epoch {}, by step {} (batch {} of {nb})", epoch + 1, st.step, bi + 1);
                    return Err(self.non_finite(format!("the training loss became non-finite {at}")));
                }
                st.acc = [l, h, r];
                status = Some(format!("loss {:.4} acc {:.4}", l / r, h / r));
            }
            self.ui.step(status.as_deref());
            if self.stop.load(Ordering::SeqCst) && bi + 1 < nb {
                if !logged {
                    let (l, h, r) = self.net.read_acc(self.engine, Acc::Train)?;
                    st.acc = [l, h, r];
                }
                save_all(self.engine, &self.net, self.run, st, metrics)?;
                self.ui.epoch_end();
                let dir = self.run.dir().display();
                self.ui.line(&format!(
                    "interrupted in epoch {} after batch {}/{nb} (step {}); state saved in {dir}; continue with --resume {dir}",
                    epoch + 1,
                    bi + 1,
                    st.step,
                ));
                return Err(Error::Interrupted);
            }
        }
        self.ui.epoch_end();
        Ok(images)
    }

    /// (loss, accuracy) of held-out rows, with the weights' average where the run keeps one.
    fn held_out(&mut self, first: usize, rows: usize) -> Result<(f64, f64)> {
        self.net.swap_ema(self.engine)?;
        let r = evaluate(self.engine, &mut self.net, first, rows);
        self.net.swap_ema(self.engine)?;
        r
    }

    /// (loss, accuracy) on the validation rows after epoch `epoch`, if the run has any.
    fn validate(&mut self, epoch: usize, st: &TrainState) -> Result<(Option<f64>, Option<f64>)> {
        if self.sizes.val == 0 {
            return Ok((None, None));
        }
        let (loss, accuracy) = self.held_out(self.sizes.train, self.sizes.val)?;
        if !loss.is_finite() {
            let at = format!("after epoch {} (step {})", epoch + 1, st.step);
            return Err(self.non_finite(format!("the validation loss became non-finite {at}")));
        }
        Ok((Some(loss), Some(accuracy)))
    }

    /// (loss, accuracy) on the test rows, printed, if the run has them.
    fn test(&mut self) -> Result<Option<(f64, f64)>> {
        if self.sizes.test == 0 {
            return Ok(None);
        }
        let n = self.sizes.test;
        let (loss, accuracy) = self.held_out(self.sizes.train + self.sizes.val, n)?;
        let from = match (&self.s.test, &self.s.train) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(dir)) if dir.join("test").is_dir() => dir.join("test").display().to_string(),
            // a CIFAR archive, or a folder of CIFAR batches
            (None, Some(p)) if !p.is_dir() || p.join("test_batch.bin").is_file() || p.join("test.bin").is_file() => {
                format!("{}'s test batch", p.display())
            }
            (None, Some(dir)) => format!("{}'s t10k", dir.display()),
            (None, None) => "embedded t10k".into(),
        };
        self.ui.line(&format!("test ({from}, {n} images): loss {loss:.4} - accuracy {accuracy:.4}"));
        Ok(Some((loss, accuracy)))
    }
}
