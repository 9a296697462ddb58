//! What `--model`, `--resume`, `plot` and `check` name, resolved to one
//! generation: a run's `current` or `best` is read once, and every file is then
//! read from that generation's directory, never through the links again, so a
//! reader never mixes the files of two generations. A generation that a
//! training run pruned between the look-up and the read is looked up once more.

use super::generation::Generation;
use super::metrics::EpochMetrics;
use super::{is_generation, pointer, BEST, CURRENT, METRICS, MODEL, OPTIM};
use crate::error::{Error, Result};
use crate::model::checkpoint::{self, Model};
use std::path::{Path, PathBuf};

/// The run directory `target` lies in: the target, or the one holding the
/// generation, pointer or file it names.
pub(super) fn run_dir_of(target: &Path) -> PathBuf {
    let within = if target.is_dir() { target } else { parent(target) };
    let named =
        within.file_name().and_then(|n| n.to_str()).is_some_and(|n| n == CURRENT || n == BEST || is_generation(n));
    let dir = if named { parent(within) } else { within };
    dir.to_path_buf()
}

fn parent(p: &Path) -> &Path {
    p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The generation directory `target` names, `current` and `best` read once: a
/// run directory (its current generation), `RUN/current`, `RUN/best` or a file
/// in them, a generation, a run of the flat layout, or a file at a run's top
/// (through `current`). None for a file of its own.
pub fn generation_dir(target: &Path) -> Result<Option<PathBuf>> {
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name == CURRENT || name == BEST {
        if let Some(g) = pointer::get(parent(target), name)? {
            return Ok(Some(parent(target).join(g)));
        }
    }
    if target.is_dir() {
        return Ok(Some(match pointer::get(target, CURRENT)? {
            Some(g) => target.join(g),
            None => target.to_path_buf(),
        }));
    }
    // `RUN/current/FILE` and `RUN/best/FILE`: the pointer read here, so the form
    // works where the pointer is a file and not a link
    let within = parent(target);
    let pointer_name = within.file_name().and_then(|n| n.to_str()).filter(|n| *n == CURRENT || *n == BEST);
    if let Some(p) = pointer_name.filter(|_| [MODEL, OPTIM, METRICS].contains(&name)) {
        if let Some(g) = pointer::get(parent(within), p)? {
            return Ok(Some(parent(within).join(g)));
        }
    }
    // the links at a run's top, or where a run keeps none, the names themselves
    let link_or_none = std::fs::symlink_metadata(target).map_or(true, |m| m.file_type().is_symlink());
    if [MODEL, OPTIM, METRICS].contains(&name) && link_or_none {
        if let Some(g) = pointer::get(parent(target), CURRENT)? {
            return Ok(Some(parent(target).join(g)));
        }
    }
    Ok(None)
}

/// The model file `target` names for `predict`, `eval`, `export-*` and
/// `--resume`: a model file itself, or the model of the generation it names.
pub fn model_path(target: &Path) -> Result<PathBuf> {
    match generation_dir(target)? {
        Some(g) if g.join(MODEL).exists() => Ok(g.join(MODEL)),
        Some(_) => Err(Error::input(
            target,
            0,
            format!(
                "is a directory without a {MODEL}: not a gpunet run or generation (or its first save never finished)"
            ),
        )),
        None if target.exists() => Ok(target.to_path_buf()),
        None => Err(Error::io(target, "no such file or directory: expected a run directory or a model.safetensors")),
    }
}

/// The model file `target` names, read whole and checked.
pub fn read_model(target: &Path) -> Result<checkpoint::Checked> {
    let path = model_path(target)?;
    match checkpoint::Checked::read(&path) {
        // its generation pruned between the look-up and the read: a run saved meanwhile
        Err(_) if path != target && !path.exists() => checkpoint::Checked::read(&model_path(target)?),
        read => read,
    }
}

/// The model `target` names, read and checked.
pub fn load_model(target: &Path) -> Result<Model> {
    Ok(checkpoint::model_from(&read_model(target)?)?.0)
}

/// The models `--model` names: model files, or run and generation directories.
pub fn load_models(targets: &[PathBuf]) -> Result<Vec<Model>> {
    targets.iter().map(|t| load_model(t)).collect()
}

impl Generation {
    /// The generation `target` names (a file of its own: the one it lies in),
    /// read and checked.
    pub fn of(target: &Path) -> Result<Generation> {
        let dir = |t: &Path| -> Result<PathBuf> { Ok(generation_dir(t)?.unwrap_or_else(|| parent(t).to_path_buf())) };
        let first = dir(target)?;
        match Generation::read(&first) {
            Err(_) if !first.exists() => Generation::read(&dir(target)?),
            read => read,
        }
    }
}

/// The metrics of the run or generation `target` names (for `plot`), checked
/// against the generation's records; a metrics.csv alone in a directory (no
/// generation's records beside it to check it by) is read as it is.
pub fn metrics_of(target: &Path) -> Result<Vec<EpochMetrics>> {
    let path = generation_dir(target)?.unwrap_or_else(|| target.to_path_buf()).join(METRICS);
    if !path.is_file() {
        return Err(Error::io(
            target.join(METRICS),
            "no metrics.csv here: expected a run directory written by `gpunet train`",
        ));
    }
    if !path.with_file_name(OPTIM).exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        return super::parse_metrics(&text, &path);
    }
    Ok(Generation::of(target)?.metrics)
}
