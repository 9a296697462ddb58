//! Atomic file output: write beside the target, flush and fsync, rename into
//! place, fsync the directory; so a crash, a kill or a power cut leaves the old
//! file or the new one, never half of either, and no partial output behind.
//! Also the one switch between the Unix file-system calls (symlinks, directory
//! fsync, statvfs, a lock file removed while held) and their portable fallbacks.

use crate::error::{Error, Result};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Runs `fill` into a temporary file next to `path` and renames it into place.
/// On any error the temporary file is removed and `path` is left untouched.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = BufWriter::new(FaultyDisk { file, fail: injected_fault() });
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?.finish()?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Flushes a directory's entries (a rename or a new file in it) to disk. Only
/// Unix opens a directory as a file; elsewhere the OS gives no such call, and a
/// rename is as durable as the file system makes it.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    if !unix_fs() {
        return Ok(());
    }
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    std::fs::File::open(dir)?.sync_all()
}

/// Whether the Unix file-system calls are used: symlinks for a run's `current`
/// and `best`, directory fsync, statvfs, and a run lock file removed while held
/// (safe only with the inode check `run::lock` makes). False on other platforms,
/// and on Unix under `GPUNET_PORTABLE_FS=1`, the tests' way to run the portable
/// fallbacks on the machines they have.
pub fn unix_fs() -> bool {
    static UNIX: OnceLock<bool> = OnceLock::new();
    *UNIX.get_or_init(|| cfg!(unix) && std::env::var_os("GPUNET_PORTABLE_FS").is_none_or(|v| v != "1"))
}

/// A file that, where a test asks for it, fills up like a full disk.
struct FaultyDisk {
    file: std::fs::File,
    /// Bytes it takes before failing with ENOSPC.
    fail: Option<usize>,
}

impl FaultyDisk {
    /// The file, once written whole; a file too short to reach the injected
    /// fault meets it here, as the disk fills while it is flushed.
    fn finish(self) -> std::io::Result<std::fs::File> {
        match self.fail {
            Some(_) => Err(full_disk()),
            None => Ok(self.file),
        }
    }
}

fn full_disk() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device")
}

impl Write for FaultyDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.fail {
            Some(0) => Err(full_disk()),
            Some(left) => {
                let n = self.file.write(&buf[..buf.len().min(left)])?;
                self.fail = Some(left - n);
                Ok(n)
            }
            None => self.file.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Fault injection for the tests: `GPUNET_INJECT_ENOSPC=N` makes the N-th atomic
/// write of this process (from 1) fail as a full disk would, after 100 bytes (or
/// at its end, if shorter).
fn injected_fault() -> Option<usize> {
    static AT: OnceLock<Option<usize>> = OnceLock::new();
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let at = (*AT.get_or_init(|| std::env::var("GPUNET_INJECT_ENOSPC").ok().and_then(|v| v.parse().ok())))?;
    (WRITES.fetch_add(1, Ordering::SeqCst) + 1 == at).then_some(100)
}
