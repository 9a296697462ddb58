//! The training loop: data, split, epochs of GPU steps, per-epoch metrics and
//! checkpoints, interrupt-safe state, and the final test accuracy.

use crate::cpu::pcg;
use crate::data::{self, Images};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::checkpoint::{self, TrainState};
use crate::model::{Acc, Net, NetConfig, Spec};
use crate::run::{self, read_metrics, EpochMetrics, RunDir, Snapshot};
pub use crate::settings::Settings;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub struct Report {
    pub epochs: Vec<EpochMetrics>,
    /// (loss, accuracy) on the held-out test set (embedded t10k), if there is one.
    pub test: Option<(f64, f64)>,
    pub out: PathBuf,
    pub images_per_s: f64,
}

/// Where progress goes: a line per epoch, and a running status within one.
pub trait Progress {
    fn line(&mut self, text: &str);
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _batches: usize, _done: usize) {}
    fn step(&mut self, _status: Option<&str>) {}
    fn epoch_end(&mut self) {}
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
    /// The embedded t10k set when training on the embedded MNIST.
    pub test: Option<Images>,
}

/// Loads and splits the data the settings name (every row validated).
pub fn load_data(s: &Settings) -> Result<Data> {
    let (all, test) = match &s.train {
        Some(path) => {
            let imgs = data::load(path)?;
            if imgs.labels.is_none() {
                return Err(Error::input(path, 1, "training data needs labels (a 'label' column first)"));
            }
            (imgs, None)
        }
        None => (data::mnist_train()?, Some(data::mnist_test()?)),
    };
    let all = match s.limit {
        Some(n) => all.truncate(n),
        None => all,
    };
    let (train, val) = all.split(s.val_split, s.seed);
    if train.is_empty() {
        return Err(Error::usage(format!(
            "no training rows left after --val-split {} of {} rows",
            s.val_split,
            all.len()
        )));
    }
    Ok(Data { train, val, test })
}

impl Data {
    /// The image store a run's net holds: the training rows, then the validation
    /// rows, then the test rows (`extra` more rows after them, blank).
    pub fn store(&self, extra: usize) -> Images {
        let blank = Images { pixels: vec![0; extra * data::PIXELS], labels: Some(vec![0; extra]) };
        let parts = [Some(&self.train), Some(&self.val), self.test.as_ref(), Some(&blank)];
        let parts: Vec<&Images> = parts.into_iter().flatten().collect();
        Images {
            pixels: parts.iter().flat_map(|p| p.pixels.iter().copied()).collect(),
            labels: Some(parts.iter().flat_map(|p| p.labels.clone().unwrap_or_else(|| vec![0; p.len()])).collect()),
        }
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
    if params.iter().any(|p| !p.is_finite()) {
        let lr = net.cfg.optim.map_or(0.0, |o| o.lr);
        return Err(Error::Numeric(format!(
            "the weights became non-finite by step {} (epoch {}); try a lower --lr than {lr:e} (the last good checkpoint, if any, is in {})",
            st.step,
            st.epoch + (st.batch > 0) as usize,
            run.dir().display()
        )));
    }
    let state: Vec<Vec<f32>> = net.state_views().into_iter().map(|v| engine.read_f32(v)).collect::<Result<_>>()?;
    run.save(&Snapshot {
        spec: &net.spec,
        scale: net.cfg.scale,
        slots: &net.slots,
        params: &params,
        m: &state[0],
        v: state.get(1).map(|v| v.as_slice()),
        state: st,
        metrics,
    })
}

/// The validation accuracy whose first crossing a run reports (the blog's bar).
const TARGET: f64 = 0.99;

/// The optimizer file that sits beside a model checkpoint.
pub fn state_path(model: &Path) -> PathBuf {
    model.with_file_name(run::OPTIM)
}

/// Settings saved beside a checkpoint (for --resume).
pub fn resumed_settings(model: &Path) -> Result<Settings> {
    let path = state_path(model);
    Settings::from_map(&path, &checkpoint::read_metadata(&path)?)
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
    let spec = Spec::parse(&s.arch)?;
    let (n_train, n_val) = (data.train.len(), data.val.len());
    let n_test = data.test.as_ref().map_or(0, |t| t.len());
    let store = data.store(0);
    drop(data);
    let optim = s.optim()?;
    let cfg = NetConfig {
        batch: s.batch.min(n_train.max(n_val).max(1)),
        scale: s.scale,
        optim: Some(optim),
        seed: s.seed as u32,
    };
    let mut net = Net::new(engine, spec, &store, cfg)?;
    net.set_augment(s.augment);
    drop(store);
    ui.line(&format!(
        "{} on {}: {} parameters, {} train / {} validation{} images, batch {}, {:.0} MiB of buffers",
        s.arch,
        engine.name(),
        net.spec.param_count(),
        n_train,
        n_val,
        if n_test > 0 { format!(" / {n_test} test") } else { String::new() },
        net.cfg.batch,
        net.bytes() as f64 / (1 << 20) as f64
    ));
    let betas = s.optimizer == "adam" && s.adam_betas != crate::optim::ADAM_BETAS;
    if s.augment.is_some() || s.lr_schedule != crate::schedule::Schedule::Const || betas {
        ui.line(&format!(
            "augment: {}; lr: {} from {}{}",
            crate::augment::Augment::text(s.augment),
            s.lr_schedule.text(),
            s.lr,
            if betas { format!("; adam betas {}", crate::settings::betas_text(s.adam_betas)) } else { String::new() }
        ));
    }

    let mut st = TrainState { settings: s.to_map(), ..Default::default() };
    let mut metrics = Vec::new();
    match &job.resume {
        Some(model_path) => {
            let (model, _) = checkpoint::load_model(model_path)?;
            if model.spec != net.spec {
                return Err(Error::input(
                    model_path,
                    0,
                    format!("checkpoint is '{}', not '{}'", model.spec.text(), net.spec.text()),
                ));
            }
            net.write_params(engine, &model.params)?;
            let (m, v, saved) =
                checkpoint::load_state(&state_path(model_path), &net.slots, net.param_words, net.has_v())?;
            net.write_state(engine, &m, v.as_deref())?;
            metrics = read_metrics(&model_path.with_file_name(run::METRICS))?;
            metrics.truncate(saved.epoch);
            st = TrainState { settings: s.to_map(), ..saved };
            ui.line(&format!(
                "resuming {} at epoch {}, batch {} (step {})",
                model_path.display(),
                st.epoch + 1,
                st.batch,
                st.step
            ));
        }
        None => {
            net.write_params(engine, &net.init_params(s.seed))?;
        }
    }
    let val_rows: Vec<u32> = (n_train as u32..(n_train + n_val + n_test) as u32).collect();
    net.set_index(engine, n_train, &val_rows)?;

    let b = net.cfg.batch;
    let nb = batches(n_train, b);
    let log_every = (nb / 20).max(1);
    let started = Instant::now();
    // the first time validation accuracy reaches TARGET: (seconds since start, epoch)
    let mut reached: Option<(f64, usize)> = None;
    let mut trained_images = 0usize;
    for epoch in st.epoch..job.epochs {
        let t0 = Instant::now();
        net.set_index(engine, 0, &epoch_order(n_train, s.seed, epoch))?;
        net.set_acc(engine, Acc::Train, st.acc)?;
        ui.epoch_start(epoch, job.epochs, nb, st.batch);
        let epoch_lr = s.lr_schedule.lr(s.lr, st.step - st.batch as u64, nb as u64, job.epochs as u64);
        for bi in st.batch..nb {
            let n = b.min(n_train - bi * b);
            net.set_lr(s.lr_schedule.lr(s.lr, st.step, nb as u64, job.epochs as u64));
            net.train_step(engine, bi * b, n, st.step)?;
            st.step += 1;
            st.batch = bi + 1;
            trained_images += n;
            let logged = (bi + 1) % log_every == 0 || bi + 1 == nb;
            let mut status = None;
            if logged {
                let (l, h, r) = net.read_acc(engine, Acc::Train)?;
                if !(l.is_finite()) {
                    return Err(Error::Numeric(format!(
                        "the training loss became non-finite in epoch {}, by step {} (batch {} of {}); try a lower --lr than {:e} (the last good checkpoint, if any, is in {})",
                        epoch + 1,
                        st.step,
                        bi + 1,
                        nb,
                        s.lr,
                        run.dir().display()
                    )));
                }
                st.acc = [l, h, r];
                status = Some(format!("loss {:.4} acc {:.4}", l / r, h / r));
            }
            ui.step(status.as_deref());
            if stop.load(Ordering::SeqCst) && bi + 1 < nb {
                if !logged {
                    let (l, h, r) = net.read_acc(engine, Acc::Train)?;
                    st.acc = [l, h, r];
                }
                save_all(engine, &net, run, &st, &metrics)?;
                ui.epoch_end();
                ui.line(&format!(
                    "interrupted in epoch {} after batch {}/{} (step {}); state saved in {}; continue with --resume {}",
                    epoch + 1,
                    bi + 1,
                    nb,
                    st.step,
                    run.dir().display(),
                    run.dir().display()
                ));
                return Err(Error::Interrupted);
            }
        }
        ui.epoch_end();
        // training time only (the last step's readback waited for the device), as the peer measures
        let seconds = t0.elapsed().as_secs_f64();
        let (l, h, r) = (st.acc[0], st.acc[1], st.acc[2]);
        let (val_loss, val_acc) = if n_val > 0 {
            let (vl, va) = evaluate(engine, &mut net, n_train, n_val)?;
            (Some(vl), Some(va))
        } else {
            (None, None)
        };
        if val_loss.is_some_and(|v| !v.is_finite()) {
            return Err(Error::Numeric(format!(
                "the validation loss became non-finite after epoch {} (step {}); try a lower --lr than {:e} (the last good checkpoint, if any, is in {})",
                epoch + 1,
                st.step,
                s.lr,
                run.dir().display()
            )));
        }
        let m = EpochMetrics {
            epoch: epoch + 1,
            seconds,
            loss: l / r,
            accuracy: h / r,
            val_loss,
            val_accuracy: val_acc,
            lr: epoch_lr,
        };
        let val_text = match (val_loss, val_acc) {
            (Some(vl), Some(va)) => format!(" - val_loss: {vl:.4} - val_accuracy: {va:.4}"),
            _ => String::new(),
        };
        ui.line(&format!(
            "Epoch {}/{} - {:.1}s - loss: {:.4} - accuracy: {:.4}{val_text}",
            epoch + 1,
            job.epochs,
            m.seconds,
            m.loss,
            m.accuracy
        ));
        if reached.is_none() && val_acc.is_some_and(|a| a >= TARGET) {
            reached = Some((started.elapsed().as_secs_f64(), epoch + 1));
        }
        metrics.push(m);
        st.epoch = epoch + 1;
        st.batch = 0;
        st.acc = [0.0; 3];
        save_all(engine, &net, run, &st, &metrics)?;
        if stop.load(Ordering::SeqCst) && epoch + 1 < job.epochs {
            ui.line(&format!(
                "interrupted after epoch {}; state saved in {}; continue with --resume {}",
                epoch + 1,
                run.dir().display(),
                run.dir().display()
            ));
            return Err(Error::Interrupted);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    if let Some((secs, epoch)) = reached {
        ui.line(&format!(
            "validation accuracy first reached {:.0}% after {secs:.1} s of this run (epoch {epoch}, validation included)",
            TARGET * 100.0
        ));
    }
    let test_result = if n_test > 0 {
        let (tl, ta) = evaluate(engine, &mut net, n_train + n_val, n_test)?;
        ui.line(&format!("test (embedded t10k, {n_test} images): loss {tl:.4} - accuracy {ta:.4}"));
        Some((tl, ta))
    } else {
        None
    };
    ui.line(&format!("saved {}", run.dir().join(run::MODEL).display()));
    Ok(Report {
        epochs: metrics,
        test: test_result,
        out: run.dir().to_path_buf(),
        images_per_s: trained_images as f64 / elapsed.max(1e-9),
    })
}
