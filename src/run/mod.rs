//! The run directory: one run per directory, saved as generations, so that any
//! crash, kill or full disk leaves it resumable from its last complete state.
//!
//!   run.lock            held for the run's life (`lock.rs`); it names the holder's pid
//!   gen-000007/         a generation: model.safetensors, metrics.csv, optim.safetensors
//!   current -> gen-000007    the last complete generation, switched atomically
//!   best -> gen-000005       the generation with the best validation accuracy
//!   model.safetensors -> current/model.safetensors   (and optim.safetensors, metrics.csv; Unix)
//!
//! A save writes every file of a new generation into `gen-N.tmp/`, fsyncs them
//! and the directory, renames it to `gen-N`, and only then points `current` at
//! it (`pointer.rs`: a symlink, or a pointer file where symlinks are not used).
//! Whatever fails, and wherever a process dies, `current` names a complete
//! generation. The older ones beyond `keep` (and beyond `best`) are removed
//! afterwards. Every decision about the directory (is it free, which generation
//! is next, what to prune) is made holding the lock; readers take no lock but
//! resolve `current` once (`resolve.rs`). A run directory of the flat layout
//! earlier versions wrote (the three files themselves) resumes as generation 0.

pub mod check;
mod generation;
mod lock;
pub mod metrics;
mod pointer;
mod resolve;

pub use generation::Generation;
pub use metrics::{parse_metrics, write_metrics, EpochMetrics};
pub use resolve::{generation_dir, load_model, load_models, metrics_of, model_path, read_model};

use crate::error::{Error, Result};
use crate::io::sync_dir;
use crate::model::checkpoint::{self, TrainState};
use crate::model::net::Slot;
use crate::model::Spec;
use std::path::{Path, PathBuf};

pub const MODEL: &str = "model.safetensors";
pub const OPTIM: &str = "optim.safetensors";
pub const METRICS: &str = "metrics.csv";
const CURRENT: &str = "current";
const BEST: &str = "best";
const GEN: &str = "gen-";

/// A run directory, locked for this process.
pub struct RunDir {
    dir: PathBuf,
    /// Generations kept besides the current one and the best.
    keep: usize,
    /// The best validation accuracy saved so far (in `best`).
    best: Option<f64>,
    /// Whether this process made the directory: a new run that ends before its
    /// first save leaves no directory behind.
    created: bool,
    lock: Option<lock::Lock>,
}

impl Drop for RunDir {
    /// A directory left holding no run (nothing was saved) is left as it was
    /// found: without the lock file this process put there, and gone if this
    /// process made it.
    fn drop(&mut self) {
        if layout(&self.dir).is_none() {
            if let Some(lock) = self.lock.take() {
                lock.remove();
            }
            if self.created {
                let _ = std::fs::remove_dir(&self.dir);
            }
        }
    }
}

/// What one generation holds, as the trainer hands it over.
pub struct Snapshot<'a> {
    pub spec: &'a Spec,
    pub norm: &'a crate::data::norm::Norm,
    pub slots: &'a [Slot],
    pub params: &'a [f32],
    /// The optimizer's state: Adam's m and v, or SGD's velocity.
    pub m: &'a [f32],
    pub v: Option<&'a [f32]>,
    /// With `--ema`: the weights themselves (`params` is then their average).
    pub live: Option<&'a [f32]>,
    pub state: &'a TrainState,
    pub metrics: &'a [EpochMetrics],
}

/// Tries at taking a directory's lock whose last holder removes it meanwhile.
const TRIES: usize = 3;

impl RunDir {
    /// A new run into `dir`, checked before any work: refused if it is a file, if
    /// it cannot be written, if it already holds a run (resume it instead) or
    /// anything else; made and locked otherwise. The decision is made holding
    /// the lock (a look before it only spares a foreign directory a lock file).
    pub fn create(dir: &Path, keep: usize) -> Result<RunDir> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::usage(format!("--out {} is a file; give a directory for the run", dir.display())));
        }
        if let Some(e) = refusal(dir)? {
            return Err(e);
        }
        held_between_look_and_lock();
        for _ in 0..TRIES {
            let created = make_dir(dir)?;
            let Some(lock) = lock::take(dir)? else { continue };
            let run = RunDir { dir: dir.to_path_buf(), keep, best: None, created, lock: Some(lock) };
            if let Some(e) = refusal(dir)? {
                return Err(e);
            }
            run.clean()?;
            return Ok(run);
        }
        Err(Error::io(dir, "its lock file kept being removed by runs ending there; try again"))
    }

    /// The run `target` names, to continue it: a run directory (its current
    /// generation), a generation in one (`best`, `gen-N`), or a model file in
    /// either. Locked; returns the run and the model file to continue from,
    /// inside the one generation it continues.
    pub fn resume(target: &Path, keep: usize) -> Result<(RunDir, PathBuf)> {
        let dir = resolve::run_dir_of(target);
        if !dir.is_dir() {
            return Err(Error::io(
                target,
                "no such file or directory: expected a run directory or a model.safetensors",
            ));
        }
        let mut lock = None;
        for _ in 0..TRIES {
            lock = lock::take(&dir)?;
            if lock.is_some() {
                break;
            }
        }
        let Some(lock) = lock else {
            return Err(Error::io(&dir, "its lock file kept being removed by runs ending there; try again"));
        };
        let mut run = RunDir { dir, keep, best: None, created: false, lock: Some(lock) };
        run.clean()?;
        match layout(&run.dir) {
            Some(Layout::Flat) => run.adopt_flat()?,
            // a first save cut short between its rename and `current`: its generation is whole
            Some(Layout::Generations) if pointer::get(&run.dir, CURRENT)?.is_none() => {
                if let Some(n) = run.last_generation()? {
                    pointer::set(&run.dir, CURRENT, &generation_name(n))?;
                    run.link_files()?;
                }
            }
            _ => {}
        }
        let model = model_path(target)?;
        run.find_best()?;
        Ok((run, model))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Generations to keep besides the current one and the best, from the next save on.
    pub fn set_keep(&mut self, keep: usize) {
        self.keep = keep;
    }

    /// The best validation accuracy so far, from the generation `best` names;
    /// and `best` moved to `current` where a save was cut short between the two
    /// (its epoch beat the best, but `best` was never pointed at it).
    fn find_best(&mut self) -> Result<()> {
        let val = |name: &str| -> Result<Option<f64>> {
            let metrics = Generation::read(&self.dir.join(name))?.metrics;
            Ok(metrics.iter().filter_map(|m| m.val_accuracy).reduce(f64::max))
        };
        if let Some(best) = pointer::get(&self.dir, BEST)? {
            self.best = val(&best)?;
        }
        let Some(current) = pointer::get(&self.dir, CURRENT)? else { return Ok(()) };
        let last = Generation::read(&self.dir.join(&current))?.metrics.last().and_then(|m| m.val_accuracy);
        if let Some(v) = last.filter(|&v| self.best.is_none_or(|b| v > b)) {
            pointer::set(&self.dir, BEST, &current)?;
            self.best = Some(v);
        }
        Ok(())
    }

    /// Writes a new generation and makes it current; then `best` where its
    /// validation accuracy is the best so far, then prunes old generations.
    /// A failed save names what the directory still holds and how to go on.
    pub fn save(&mut self, s: &Snapshot) -> Result<()> {
        self.write_generation(s).map_err(|e| match e {
            Error::Io { path, msg } => {
                let kept = match self.last_generation() {
                    Ok(Some(n)) => format!(
                        "{} still holds {} whole: make room, then continue with --resume {}",
                        self.dir.display(),
                        generation_name(n),
                        self.dir.display()
                    ),
                    _ => "nothing had been saved yet".into(),
                };
                Error::Io { path, msg: format!("{msg}; this save failed, {kept}") }
            }
            e => e,
        })
    }

    fn write_generation(&mut self, s: &Snapshot) -> Result<()> {
        let number = self.last_generation()?.map_or(0, |n| n + 1);
        let name = generation_name(number);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let done = (|| {
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
            let model = checkpoint::save_model(&tmp.join(MODEL), s.spec, s.norm, s.slots, s.params, s.state.step)?;
            let metrics = write_metrics(&tmp.join(METRICS), s.metrics)?;
            let records = generation::records(number, model, metrics);
            checkpoint::save_state(&tmp.join(OPTIM), s.slots, (s.m, s.v, s.live), s.state, &records)?;
            sync_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, self.dir.join(&name)).map_err(|e| Error::io(&tmp, e))?;
            sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
        })();
        if let Err(e) = done {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        pointer::set(&self.dir, CURRENT, &name)?;
        self.link_files()?;
        let val = s.metrics.last().and_then(|m| m.val_accuracy);
        if let Some(v) = val.filter(|&v| self.best.is_none_or(|b| v > b)) {
            pointer::set(&self.dir, BEST, &name)?;
            self.best = Some(v);
        }
        self.prune()
    }

    /// model.safetensors, optim.safetensors and metrics.csv at the top, through `current`.
    fn link_files(&self) -> Result<()> {
        for f in [MODEL, OPTIM, METRICS] {
            pointer::link_through_current(&self.dir, f)?;
        }
        sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// The flat layout of earlier versions moved into generation 0: the files
    /// linked into it (the originals stay until `current` names it), so a crash
    /// at any point leaves one complete copy.
    fn adopt_flat(&mut self) -> Result<()> {
        let name = generation_name(0);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        for f in [MODEL, OPTIM, METRICS] {
            let from = self.dir.join(f);
            if from.exists() {
                std::fs::hard_link(&from, tmp.join(f))
                    .or_else(|_| std::fs::copy(&from, tmp.join(f)).map(|_| ()))
                    .map_err(|e| Error::io(&from, e))?;
            }
        }
        sync_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, self.dir.join(&name)).map_err(|e| Error::io(&tmp, e))?;
        pointer::set(&self.dir, CURRENT, &name)?;
        for f in [MODEL, OPTIM, METRICS] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        self.link_files()
    }

    /// The newest generation's number, if any.
    fn last_generation(&self) -> Result<Option<u64>> {
        Ok(generations(&self.dir)?.into_iter().max())
    }

    /// Removes what a save cut short: half-written generations and links.
    fn clean(&self) -> Result<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().to_string();
            if name.ends_with(".tmp") {
                let p = e.path();
                let _ =
                    if p.is_dir() && !p.is_symlink() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            }
        }
        Ok(())
    }

    /// Keeps the current generation, the best and the `keep` newest others.
    fn prune(&self) -> Result<()> {
        let current = pointer::get(&self.dir, CURRENT)?;
        let best = pointer::get(&self.dir, BEST)?;
        let mut older: Vec<u64> = generations(&self.dir)?;
        older.sort_unstable_by(|a, b| b.cmp(a));
        let mut kept = 0;
        for n in older {
            let name = generation_name(n);
            if Some(&name) == current.as_ref() || Some(&name) == best.as_ref() {
                continue;
            }
            if kept < self.keep {
                kept += 1;
                continue;
            }
            let _ = std::fs::remove_dir_all(self.dir.join(&name));
        }
        Ok(())
    }
}

/// Test hook: `GPUNET_TEST_CREATE_WAIT=FILE` holds `create` between its first
/// look and the lock until FILE exists (at most a minute), saying so by making
/// FILE.held, so tests/rundir.rs can finish a whole run in that window and show
/// the decision is made again under the lock.
fn held_between_look_and_lock() {
    let Some(flag) = std::env::var_os("GPUNET_TEST_CREATE_WAIT") else { return };
    let mut held = flag.clone();
    held.push(".held");
    let _ = std::fs::write(&held, "");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !Path::new(&flag).exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Makes `dir` (and its parents); whether this call made `dir` itself.
fn make_dir(dir: &Path) -> Result<bool> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(true),
        // (or removed again before the lock is taken: `lock::take` says so)
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Why a new run may not go into `dir`: it holds a run, or anything else.
fn refusal(dir: &Path) -> Result<Option<Error>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    if layout(dir).is_some() {
        return Ok(Some(Error::usage(format!(
            "{} already holds a run; choose another --out, or continue it with --resume {}",
            dir.display(),
            dir.display()
        ))));
    }
    // what a first save cut short leaves (gen-N.tmp) is cleaned once the lock is held
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // removed meanwhile by a run that saved nothing: free
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let others = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .find(|name| name != lock::FILE && !(name.starts_with(GEN) && name.ends_with(".tmp")));
    Ok(others.map(|name| {
        Error::usage(format!(
            "{} is not empty ({name}, ...) and holds no gpunet run; choose a new or empty directory",
            dir.display()
        ))
    }))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Generations, with `current` (or a first save cut short before it).
    Generations,
    /// The three files themselves, as versions before generations wrote.
    Flat,
}

/// Whether `dir` holds a gpunet run, and of which layout.
fn layout(dir: &Path) -> Option<Layout> {
    if std::fs::symlink_metadata(dir.join(CURRENT)).is_ok() || generations(dir).is_ok_and(|g| !g.is_empty()) {
        Some(Layout::Generations)
    } else if std::fs::symlink_metadata(dir.join(MODEL)).is_ok_and(|m| m.is_file()) {
        Some(Layout::Flat)
    } else {
        None
    }
}

/// The numbers of the (complete) generations in `dir`.
fn generations(dir: &Path) -> Result<Vec<u64>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str().and_then(generation_number)).collect())
}

fn is_generation(name: &str) -> bool {
    generation_number(name).is_some()
}

fn generation_name(n: u64) -> String {
    format!("{GEN}{n:06}")
}

fn generation_number(name: &str) -> Option<u64> {
    name.strip_prefix(GEN)
        .filter(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// A warning where the file system holding `dir` has less room than two
/// generations of a net of `params` parameters take (the weights, the
/// optimizer's one or two states, their checksums and the metrics each); a
/// note where free space cannot be measured (statvfs is Unix only): there the
/// run learns of a full disk when it saves, which leaves the last generation
/// whole all the same.
pub fn space_warning(dir: &Path, params: usize) -> Option<String> {
    let need = (params as u64 * 4 * 3 + (1 << 20)) * 2;
    let Some(free) = free_bytes(dir) else {
        return Some(format!(
            "note: free space in {} not checked on this platform; a full disk would stop the run at a save, its last generation whole",
            dir.display()
        ));
    };
    (free < need).then(|| {
        format!(
            "warning: {} MiB free where the run saves ({}); a checkpoint generation needs about {} MiB: the run may stop when it saves",
            free >> 20,
            dir.display(),
            need.div_ceil(1 << 20)
        )
    })
}

/// Bytes free for unprivileged writers in the file system holding `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    if !crate::io::unix_fs() {
        return None;
    }
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a zeroed statvfs for the call to fill.
    (unsafe { libc::statvfs(path.as_ptr(), &mut st) } == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_bytes(_: &Path) -> Option<u64> {
    None
}
