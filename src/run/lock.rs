//! One run per directory: an exclusive advisory lock on `run.lock` (std's file
//! lock: flock on Unix, LockFileEx on Windows), held for the run's life and
//! released by the OS however the process ends, so a stale lock file never
//! blocks. The file names its holder for the message a second run gets.
//!
//! Only a holder removes the file, and only from a directory that holds no run
//! (a new run that ended before its first save), so that nothing is left behind.
//! That is safe because every taker, once it holds a lock, checks that
//! `run.lock` still names the very file it locked (same device and inode) and
//! starts over if not: a lock on a file removed meanwhile is never taken for the
//! directory's. Where that check cannot be made (no inodes to compare outside
//! Unix, and under `GPUNET_PORTABLE_FS=1`), the file is never removed.

use crate::error::{Error, Result};
use crate::io::unix_fs;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const FILE: &str = "run.lock";

/// A held lock on a directory.
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// Takes `dir`'s lock, or fails at once naming the process that holds it. None
/// where the file it locked was removed by its last holder meanwhile: the
/// caller starts over (the directory itself may be gone too).
pub fn take(dir: &Path) -> Result<Option<Lock>> {
    let path = dir.join(FILE);
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path);
    match file {
        Ok(file) => lock_opened(file, dir),
        // the directory removed by the last holder of its lock, a run that saved nothing
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// `take` once `dir`'s lock file is open: the lock, then the check that the
/// file is still the one `run.lock` names.
fn lock_opened(mut file: File, dir: &Path) -> Result<Option<Lock>> {
    let path = dir.join(FILE);
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::usage(format!(
                "{} is in use by another gpunet run ({}); wait for it to finish, or choose another --out",
                dir.display(),
                if holder.is_empty() { "its pid is not recorded".to_string() } else { holder.to_string() }
            )));
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
    }
    if !still_named(&file, &path) {
        return Ok(None);
    }
    let me = format!("pid {} since unix time {}", std::process::id(), unix_now());
    (|| {
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(me.as_bytes())?;
        file.sync_all()
    })()
    .map_err(|e| Error::io(&path, e))?;
    Ok(Some(Lock { file, path }))
}

impl Lock {
    /// Removes the lock file while still holding it, then releases it (see the
    /// top of the file for why that is safe); where removal is not safe, only
    /// releases it.
    pub fn remove(self) {
        if unix_fs() {
            let _ = std::fs::remove_file(&self.path);
        }
        drop(self.file);
    }
}

/// Whether `path` still names the file `file` has open.
#[cfg(unix)]
fn still_named(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Lock files are never removed here, so the file locked is the one named.
#[cfg(not(unix))]
fn still_named(_: &File, _: &Path) -> bool {
    true
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flock-and-unlink race, step by step: a taker opened the lock file,
    /// then its holder removed it and let go. The taker's lock on the removed
    /// file must not count, or it and a new taker of a fresh file would both
    /// hold the directory.
    #[test]
    fn a_lock_on_a_removed_lock_file_does_not_count() {
        let d = tempfile::tempdir().unwrap();
        let holder = take(d.path()).unwrap().unwrap();
        let opened_before = File::options().read(true).write(true).open(d.path().join(FILE)).unwrap();
        holder.remove();
        let fresh = take(d.path()).unwrap();
        assert!(fresh.is_some(), "a fresh lock file is free");
        let stale = lock_opened(opened_before, d.path());
        match (unix_fs(), stale) {
            (true, Ok(None)) => {}
            // the file was never removed, so the one opened before is the one held now
            (false, Err(e)) => assert!(e.to_string().contains("in use by another gpunet run"), "{e}"),
            (_, got) => panic!("a lock on the lock file opened before its removal: {:?}", got.map(|l| l.is_some())),
        }
    }
}
