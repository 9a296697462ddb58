//! `current` and `best`: which generation of a run each names. On Unix a symlink
//! to the generation, made beside and renamed over the old one; elsewhere (and
//! under `GPUNET_PORTABLE_FS=1`) a small file holding the generation's name,
//! written atomically. Either way the switch is one rename, and readers take both.

use super::generation_number;
use crate::error::{Error, Result};
use crate::io::{sync_dir, unix_fs, write_atomic};
use std::path::{Path, PathBuf};

/// Makes `dir/name` name `generation`.
pub fn set(dir: &Path, name: &str, generation: &str) -> Result<()> {
    let path = dir.join(name);
    if !unix_fs() {
        return write_atomic(&path, |w| writeln!(w, "{generation}"));
    }
    swap_symlink(Path::new(generation), &path, &dir.join(format!("{name}.tmp")))?;
    sync_dir(dir).map_err(|e| Error::io(dir, e))
}

/// The generation `dir/name` names (`gen-NNNNNN`), if it is a pointer.
pub fn get(dir: &Path, name: &str) -> Result<Option<String>> {
    let path = dir.join(name);
    let Ok(meta) = std::fs::symlink_metadata(&path) else { return Ok(None) };
    let target = if meta.file_type().is_symlink() {
        std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?.to_string_lossy().to_string()
    } else if meta.is_file() {
        std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?.trim_end().to_string()
    } else {
        return Ok(None);
    };
    if generation_number(&target).is_none() {
        return Err(Error::input(&path, 0, format!("names '{target}', not a generation (gen-NNNNNN) of its run")));
    }
    Ok(Some(target))
}

/// `dir/file` made a link to `current/file`, so the current model sits at the
/// run's top as well (Unix only: elsewhere readers find it through `current`).
pub fn link_through_current(dir: &Path, file: &str) -> Result<()> {
    let path = dir.join(file);
    if !unix_fs() || std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Ok(());
    }
    swap_symlink(&PathBuf::from(super::CURRENT).join(file), &path, &dir.join(format!("{file}.link.tmp")))
}

/// `path` made a symlink to `target` in one step: the link made at `tmp`, then
/// renamed over whatever `path` was.
fn swap_symlink(target: &Path, path: &Path, tmp: &Path) -> Result<()> {
    let _ = std::fs::remove_file(tmp);
    symlink(target, tmp)?;
    std::fs::rename(tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).map_err(|e| Error::io(link, e))
}

#[cfg(not(unix))]
fn symlink(_: &Path, link: &Path) -> Result<()> {
    Err(Error::io(link, "symlinks are made only on Unix (io::unix_fs)"))
}
