//! The run directory: one run per directory, saved as generations, so that any
//! crash, kill or full disk leaves it resumable from its last complete state.
//!
//!   run.lock            held (flock) for the run's life; it names the holder's pid
//!   gen-000007/         a generation: model.safetensors, optim.safetensors, metrics.csv
//!   current -> gen-000007    the last complete generation, switched atomically
//!   best -> gen-000005       the generation with the best validation accuracy
//!   model.safetensors -> current/model.safetensors   (and optim.safetensors, metrics.csv)
//!
//! A save writes every file of a new generation into `gen-N.tmp/`, fsyncs them
//! and the directory, renames it to `gen-N`, and only then points `current` at
//! it (a symlink renamed over the old one). Whatever fails, and wherever a
//! process dies, `current` names a complete generation. The older ones beyond
//! `keep` (and beyond `best`) are removed afterwards. A run directory of the
//! flat layout earlier versions wrote (the three files themselves) resumes as
//! generation 0.

mod lock;
pub mod metrics;

pub use metrics::{parse_metrics, read_metrics, write_metrics, EpochMetrics};

use crate::error::{Error, Result};
use crate::io::sync_dir;
use crate::model::checkpoint::{self, TrainState};
use crate::model::net::Slot;
use crate::model::Spec;
use std::fs::File;
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
    /// Whether this process made the directory, and whether it saved into it:
    /// a new run that ends before its first save leaves no directory behind.
    created: bool,
    saved: bool,
    _lock: File,
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.created && !self.saved {
            let _ = std::fs::remove_file(self.dir.join(lock::FILE));
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// What one generation holds, as the trainer hands it over.
pub struct Snapshot<'a> {
    pub spec: &'a Spec,
    pub scale: f32,
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

impl RunDir {
    /// A new run into `dir`, checked before any work: refused if it is a file, if
    /// it cannot be written, if it already holds a run (resume it instead) or
    /// anything else; made and locked otherwise.
    pub fn create(dir: &Path, keep: usize) -> Result<RunDir> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::usage(format!("--out {} is a file; give a directory for the run", dir.display())));
        }
        if dir.is_dir() {
            if layout(dir).is_some() {
                return Err(Error::usage(format!(
                    "{} already holds a run; choose another --out, or continue it with --resume {}",
                    dir.display(),
                    dir.display()
                )));
            }
            let mut others = std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|name| name != lock::FILE && !name.starts_with(GEN));
            if let Some(name) = others.next() {
                return Err(Error::usage(format!(
                    "{} is not empty ({name}, ...) and holds no gpunet run; choose a new or empty directory",
                    dir.display()
                )));
            }
        }
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = lock::take(dir)?;
        let run = RunDir { dir: dir.to_path_buf(), keep, best: None, created, saved: false, _lock: lock };
        run.clean()?;
        Ok(run)
    }

    /// The run `target` names, to continue it: a run directory (its current
    /// generation), a generation in one (`best`, `gen-N`), or a model file in
    /// either. Locked; returns the run and the model file to continue from.
    pub fn resume(target: &Path, keep: usize) -> Result<(RunDir, PathBuf)> {
        // the run directory: the target, or the one holding the generation or file it names
        let within = if target.is_dir() { target } else { target.parent().unwrap_or(Path::new(".")) };
        let dir = if within.file_name().is_some_and(|n| n == CURRENT || n == BEST || is_generation(n)) {
            within.parent().unwrap_or(Path::new("."))
        } else {
            within
        };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let lock = lock::take(dir)?;
        let mut run = RunDir { dir: dir.to_path_buf(), keep, best: None, created: false, saved: false, _lock: lock };
        run.clean()?;
        match layout(&run.dir) {
            Some(Layout::Flat) => run.adopt_flat()?,
            // a first save cut short between its rename and `current`: its generation is whole
            None => {
                if let Some(n) = run.last_generation()? {
                    run.point(CURRENT, &format!("{GEN}{n:06}"))?;
                    run.link_files()?;
                }
            }
            Some(Layout::Generations) => {}
        }
        let model = model_path(target)?;
        run.best =
            read_metrics(&run.dir.join(BEST).join(METRICS))?.iter().filter_map(|m| m.val_accuracy).reduce(f64::max);
        // read through the generation it names now (a flat run's files have just moved)
        let model = std::fs::canonicalize(&model).unwrap_or(model);
        Ok((run, model))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a new generation and makes it current; then `best` where its
    /// validation accuracy is the best so far, then prunes old generations.
    pub fn save(&mut self, s: &Snapshot) -> Result<()> {
        let name = format!("{GEN}{:06}", self.last_generation()?.map_or(0, |n| n + 1));
        let tmp = self.dir.join(format!("{name}.tmp"));
        let done = (|| {
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
            checkpoint::save_model(&tmp.join(MODEL), s.spec, s.scale, s.slots, s.params, s.state.step)?;
            checkpoint::save_state(&tmp.join(OPTIM), s.slots, s.m, s.v, s.live, s.state)?;
            write_metrics(&tmp.join(METRICS), s.metrics)?;
            sync_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, self.dir.join(&name)).map_err(|e| Error::io(&tmp, e))?;
            sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
        })();
        if let Err(e) = done {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        self.point(CURRENT, &name)?;
        self.saved = true;
        self.link_files()?;
        let val = s.metrics.last().and_then(|m| m.val_accuracy);
        if let Some(v) = val.filter(|&v| self.best.is_none_or(|b| v > b)) {
            self.point(BEST, &name)?;
            self.best = Some(v);
        }
        self.prune()
    }

    /// `current` or `best` made to name `generation`: a new symlink renamed over the old.
    fn point(&self, link: &str, generation: &str) -> Result<()> {
        let path = self.dir.join(link);
        let tmp = self.dir.join(format!("{link}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(generation, &tmp).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// model.safetensors, optim.safetensors and metrics.csv at the top, through `current`.
    fn link_files(&self) -> Result<()> {
        for f in [MODEL, OPTIM, METRICS] {
            let path = self.dir.join(f);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                continue;
            }
            let tmp = self.dir.join(format!("{f}.link.tmp"));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(Path::new(CURRENT).join(f), &tmp).map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        }
        sync_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))
    }

    /// The flat layout of earlier versions moved into generation 0: the files
    /// linked into it (the originals stay until `current` names it), so a crash
    /// at any point leaves one complete copy.
    fn adopt_flat(&mut self) -> Result<()> {
        let name = format!("{GEN}{:06}", 0);
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
        self.point(CURRENT, &name)?;
        for f in [MODEL, OPTIM, METRICS] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        self.link_files()
    }

    /// The newest generation's number, if any.
    fn last_generation(&self) -> Result<Option<u64>> {
        Ok(self.generations()?.into_iter().max())
    }

    fn generations(&self) -> Result<Vec<u64>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        Ok(entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().to_str().and_then(generation_number)).collect())
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
        let target = |link: &str| std::fs::read_link(self.dir.join(link)).ok();
        let (current, best) = (target(CURRENT), target(BEST));
        let mut older: Vec<u64> = self.generations()?;
        older.sort_unstable_by(|a, b| b.cmp(a));
        let mut kept = 0;
        for n in older {
            let name = PathBuf::from(format!("{GEN}{n:06}"));
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Generations and `current`.
    Generations,
    /// The three files themselves, as versions before generations wrote.
    Flat,
}

/// Whether `dir` holds a gpunet run, and of which layout.
fn layout(dir: &Path) -> Option<Layout> {
    if std::fs::symlink_metadata(dir.join(CURRENT)).is_ok() {
        Some(Layout::Generations)
    } else if std::fs::symlink_metadata(dir.join(MODEL)).is_ok_and(|m| m.is_file()) {
        Some(Layout::Flat)
    } else {
        None
    }
}

fn generation_number(name: &str) -> Option<u64> {
    name.strip_prefix(GEN).filter(|n| n.len() == 6).and_then(|n| n.parse().ok())
}

fn is_generation(name: &std::ffi::OsStr) -> bool {
    name.to_str().and_then(generation_number).is_some()
}

/// The model file `target` names for `predict`, `eval`, `export-web` and
/// `--resume`: a model file itself, or a run or generation directory (its
/// model.safetensors, through `current` in a run).
pub fn model_path(target: &Path) -> Result<PathBuf> {
    if target.is_dir() {
        let model = target.join(MODEL);
        if model.exists() {
            return Ok(model);
        }
        return Err(Error::input(
            target,
            0,
            format!(
                "is a directory without a {MODEL}: not a gpunet run or generation (or its first save never finished)"
            ),
        ));
    }
    if target.exists() {
        Ok(target.to_path_buf())
    } else {
        Err(Error::io(target, "no such file or directory: expected a run directory or a model.safetensors"))
    }
}

/// The models `--model` names: model files, or run and generation directories.
pub fn load_models(targets: &[PathBuf]) -> Result<Vec<checkpoint::Model>> {
    targets.iter().map(|t| Ok(checkpoint::load_model(&model_path(t)?)?.0)).collect()
}

/// A warning where the file system holding `dir` has less room than two
/// generations of a net of `params` parameters take (the weights, the
/// optimizer's one or two states, their checksums and the metrics each).
pub fn space_warning(dir: &Path, params: usize) -> Option<String> {
    let need = (params as u64 * 4 * 3 + (1 << 20)) * 2;
    let free = free_bytes(dir).filter(|&f| f < need)?;
    Some(format!(
        "{} MiB free where the run saves ({}); a checkpoint generation needs about {} MiB: the run may stop when it saves",
        free >> 20,
        dir.display(),
        need.div_ceil(1 << 20)
    ))
}

/// Bytes free for unprivileged writers in the file system holding `dir` (Unix).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a zeroed statvfs for the call to fill.
    (unsafe { libc::statvfs(path.as_ptr(), &mut st) } == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}
