//! One run per directory: an exclusive advisory lock (flock) on `run.lock`, held
//! for the run's life and released by the OS however the process ends, so a
//! stale lock file never blocks. The file names its holder for the message a
//! second run gets.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

pub const FILE: &str = "run.lock";

/// Takes `dir`'s lock, or fails at once naming the process that holds it.
pub fn take(dir: &Path) -> Result<File> {
    let path = dir.join(FILE);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Error::usage(format!(
                "{} is in use by another gpunet run ({}); wait for it to finish, or choose another --out",
                dir.display(),
                if holder.is_empty() { "its pid is not recorded".to_string() } else { holder.to_string() }
            )));
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
    }
    let me = format!("pid {} since unix time {}", std::process::id(), unix_now());
    (|| {
        f.set_len(0)?;
        f.rewind()?;
        f.write_all(me.as_bytes())?;
        f.sync_all()
    })()
    .map_err(|e| Error::io(&path, e))?;
    Ok(f)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
