//! `gpunet check`: a run (every generation), a generation or a checkpoint file
//! checked as a load would check it, each a line; and `--repair`: the sums of a
//! file or generation the user vouches for written anew.

use super::generation::{self, Generation};
use super::resolve::{generation_dir, run_dir_of};
use super::{generation_number, generations, layout, lock, pointer, Layout, BEST, CURRENT, METRICS, MODEL, OPTIM};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use crate::model::checkpoint::{self, Checked};
use crate::model::checksum;
use std::path::{Path, PathBuf};

/// What was checked and what was found: a sentence, or why it fails.
pub struct Finding {
    pub path: PathBuf,
    pub found: Result<String>,
}

/// Every generation of a run (and where `current` and `best` point), one
/// generation, or one file.
pub fn check(target: &Path) -> Result<Vec<Finding>> {
    // (a file at a run's top is found through `current` where the run keeps no links)
    if std::fs::symlink_metadata(target).is_err() && generation_dir(target)?.is_none() {
        let found =
            Err(Error::io(target, "no such file or directory: expected a run, a generation or a .safetensors file"));
        return Ok(vec![Finding { path: target.to_path_buf(), found }]);
    }
    if target.is_dir() && layout(target) == Some(Layout::Generations) {
        return check_run(target);
    }
    if target.file_name().is_some_and(|n| n == METRICS) || generation_dir(target)?.is_some() {
        let (path, found) = match Generation::of(target) {
            // what a pointer or link resolved to
            Ok(g) if g.dir != target => {
                (format!("{} -> {}", target.display(), g.dir.display()).into(), Ok(describe(&g)))
            }
            read => (target.to_path_buf(), read.map(|g| describe(&g))),
        };
        return Ok(vec![Finding { path, found }]);
    }
    let found = Checked::read(target).map(|f| match &f.sum {
        Some(sum) => format!("sound: header sha256 {}…, every tensor and header byte covered", &sum[..16]),
        None => earlier(target, "its header is"),
    });
    Ok(vec![Finding { path: target.to_path_buf(), found }])
}

fn check_run(dir: &Path) -> Result<Vec<Finding>> {
    let mut numbers = generations(dir)?;
    numbers.sort_unstable();
    let mut out = Vec::new();
    for link in [CURRENT, BEST] {
        let found = match pointer::get(dir, link) {
            Ok(Some(g)) if dir.join(&g).is_dir() => continue,
            Ok(Some(g)) => Err(Error::input(dir.join(link), 0, format!("names {g}, which is not in the run"))),
            Ok(None) if link == BEST => continue,
            Ok(None) => Err(Error::input(dir.join(link), 0, "missing: the run's first save never finished")),
            Err(e) => Err(e),
        };
        out.push(Finding { path: dir.join(link), found });
    }
    for n in numbers {
        let gen = dir.join(super::generation_name(n));
        match Generation::read(&gen) {
            // pruned by the run while it was checked: gone, not damaged
            Err(_) if !gen.exists() => {}
            read => out.push(Finding { path: gen, found: read.map(|g| describe(&g)) }),
        }
    }
    Ok(out)
}

/// A sound generation in words.
fn describe(g: &Generation) -> String {
    let what = match (g.model(), g.state()) {
        (Ok(m), Ok(s)) => format!("{} at epoch {} batch {} (step {})", m.spec.text(), s.epoch, s.batch, s.step),
        (Err(e), _) | (_, Err(e)) => return format!("its sums hold, but it cannot be loaded: {e}"),
    };
    if g.sealed() {
        let n = g.metrics.len();
        format!("sound: {what}, {n} epoch{} of metrics; every byte covered", if n == 1 { "" } else { "s" })
    } else {
        format!("{what}: {}", earlier(&g.dir, "its headers and metrics.csv are"))
    }
}

fn earlier(path: &Path, uncovered: &str) -> String {
    format!(
        "tensor sums sound, but written before header sums, so {uncovered} not covered; \
         `gpunet check --repair {}` covers them",
        path.display()
    )
}

/// Writes anew the sums of the file or generation `target` names, which the
/// user vouches for: each tensor's, the header's, and for an optimizer file the
/// records binding it to the model and metrics.csv beside it. Holds the run's
/// lock while it writes. Returns a line per file rewritten.
pub fn repair(target: &Path) -> Result<Vec<String>> {
    if target.file_name().is_some_and(|n| n == METRICS) {
        return Err(Error::usage(format!(
            "{} has no sums of its own: the optim.safetensors beside it records its sha256; \
             repair its generation (`gpunet check --repair {}`)",
            target.display(),
            target.parent().map_or(".".into(), |p| p.display().to_string())
        )));
    }
    if target.is_dir() && layout(target) == Some(Layout::Generations) {
        let current = pointer::get(target, CURRENT)?.unwrap_or_else(|| "gen-NNNNNN".into());
        return Err(Error::usage(format!(
            "{} is a whole run; --repair takes one file or one generation (its current one is {})",
            target.display(),
            target.join(current).display()
        )));
    }
    let (files, within) = match generation_dir(target)? {
        Some(g) => (vec![g.join(MODEL), g.join(OPTIM)], g),
        None => (vec![target.to_path_buf()], target.parent().unwrap_or(Path::new(".")).to_path_buf()),
    };
    let run = run_dir_of(&within);
    let _lock = if run != within && layout(&run) == Some(Layout::Generations) {
        lock::take(&run)?.ok_or_else(|| Error::io(&run, "its lock file was removed meanwhile; try again"))?.into()
    } else {
        None
    };
    files.iter().map(|f| reseal(f)).collect()
}

/// One file's sums written anew.
fn reseal(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let records = if path.file_name().is_some_and(|n| n == OPTIM) && dir.join(MODEL).exists() {
        bound_to(dir)?
    } else {
        Vec::new()
    };
    let (out, sum) = checkpoint::resealed(path, &bytes, &records)?;
    if out == bytes {
        return Ok(format!("{}: its sums were already right (header sha256 {}…)", path.display(), &sum[..16]));
    }
    write_atomic(path, |w| w.write_all(&out))?;
    Ok(format!("{}: sums written anew (header sha256 {}…)", path.display(), &sum[..16]))
}

/// The records that bind an optimizer file in `dir` to the model and metrics.csv beside it.
fn bound_to(dir: &Path) -> Result<Vec<(&'static str, String)>> {
    let model = Checked::read(&dir.join(MODEL))?;
    let Some(model_sum) = model.sum else {
        return Err(Error::input(
            &model.path,
            0,
            "has no header sum to record: repair it first (or its whole generation at once)",
        ));
    };
    let metrics_path = dir.join(METRICS);
    let metrics = std::fs::read(&metrics_path).map_err(|e| Error::io(&metrics_path, e))?;
    let number = dir.file_name().and_then(|n| n.to_str()).and_then(generation_number).unwrap_or(0);
    Ok(generation::records(number, model_sum, checksum::hex(&metrics)))
}
