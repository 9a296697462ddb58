//! A warm start: the driver's pipeline cache (Vulkan's, through wgpu's
//! `PipelineCache`) kept on disk, so a second start of gpunet on the same
//! adapter, driver and binary finds every compiled pipeline instead of
//! compiling it again. The data is written after each build of a plan's
//! missing pipelines where it changed (pipelines are built as plans need them).
//!
//! The file is `<dir>/<wgpu's key for the adapter>-<key of the shaders>.bin`:
//! wgpu's key names the adapter (vendor and device), the shaders' key is a hash
//! of every module's text and of what the pipelines are built with, and wgpu and
//! the driver check the data's own header (driver version, device) on load. A
//! damaged or foreign file is ignored with a note and replaced, never fatal;
//! where the directory cannot be written the run goes on without saving. A
//! driver whose cache keeps no compiled pipelines (its data no more than an
//! empty cache's headers: Mesa 22's lavapipe, SwiftShader) gets no file.
//! `<dir>` is `GPUNET_CACHE_DIR`, else `$XDG_CACHE_HOME/gpunet`, else
//! `$HOME/.cache/gpunet`; `GPUNET_CACHE_DIR=off` turns the cache off.

use std::path::{Path, PathBuf};

/// An open cache: the driver's object, and what the file held when it was read.
pub struct DiskCache {
    pub cache: wgpu::PipelineCache,
    path: PathBuf,
    /// The bytes of the file when it was read and taken.
    loaded: Option<usize>,
    /// Why the file was not used, where it was there but refused.
    refused: Option<String>,
    /// The bytes of an empty cache's data (headers only): a driver whose data is
    /// no longer keeps no compiled pipelines (Mesa 22's lavapipe, SwiftShader).
    empty: usize,
    /// The data the file holds now (as read, or as last written).
    on_disk: Option<Vec<u8>>,
    /// What the saves did so far.
    saved: Saved,
}

/// What the saves of a run did, the last one that wrote or failed standing.
#[derive(Default)]
enum Saved {
    /// No save yet, or none changed the file: every pipeline came from it.
    #[default]
    Unchanged,
    /// The driver's data was only headers.
    KeptNone(usize),
    Wrote(usize),
    Failed(String),
}

/// The directory caches live in, None where the cache is off or no home is known.
fn dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    match var("GPUNET_CACHE_DIR") {
        Some(d) if d == Path::new("off") => None,
        Some(d) => Some(d),
        None => var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache"))).map(|d| d.join("gpunet")),
    }
}

impl DiskCache {
    /// The cache for pipelines whose shaders hash to `shaders()` (called only
    /// where a file is kept) on this device, with the file's data where it is
    /// there and the driver takes it; None where the device has no pipeline
    /// cache or the cache is off.
    pub fn open(
        device: &wgpu::Device,
        info: &wgpu::AdapterInfo,
        shaders: impl FnOnce() -> String,
    ) -> Option<DiskCache> {
        if !device.features().contains(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let adapter = wgpu::util::pipeline_cache_key(info)?;
        let path = dir()?.join(format!("{adapter}-{}.bin", shaders()));
        let desc = wgpu::PipelineCacheDescriptor { label: Some("gpunet"), data: None, fallback: true };
        // SAFETY: no data is given
        let fresh = || unsafe { device.create_pipeline_cache(&desc) };
        let empty = fresh().get_data().map_or(0, |d| d.len());
        let loaded_data = std::fs::read(&path).ok();
        let mut refused = None;
        if let Some(data) = &loaded_data {
            // SAFETY: the data was written by `save` from `get_data` (wgpu checks its
            // header and the driver its own; a damaged file is refused below)
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let desc = wgpu::PipelineCacheDescriptor { label: Some("gpunet"), data: Some(data), fallback: false };
            let cache = unsafe { device.create_pipeline_cache(&desc) };
            match pollster::block_on(scope.pop()) {
                None => {
                    let (loaded, saved) = (Some(data.len()), Saved::Unchanged);
                    return Some(DiskCache { cache, path, loaded, refused, empty, on_disk: loaded_data, saved });
                }
                Some(e) => refused = Some(e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")),
            }
        }
        let on_disk = None;
        Some(DiskCache { cache: fresh(), path, loaded: None, refused, empty, on_disk, saved: Saved::Unchanged })
    }

    /// Writes the cache's data (atomically) where it differs from the file's,
    /// and removes this adapter's files of other shaders. A failure to write is
    /// kept for [`DiskCache::describe`], not fatal.
    pub fn save(&mut self) {
        let data = self.cache.get_data().unwrap_or_default();
        if data.len() <= self.empty {
            // nothing worth a file; a refused one goes
            if self.refused.is_some() {
                let _ = std::fs::remove_file(&self.path);
            }
            self.saved = Saved::KeptNone(data.len());
            return;
        }
        if self.on_disk.as_ref() == Some(&data) {
            return;
        }
        let write = || -> crate::Result<()> {
            let dir = self.path.parent().expect("a cache file has a directory");
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
            crate::io::write_atomic(&self.path, |w| std::io::Write::write_all(w, &data))?;
            self.prune(dir);
            Ok(())
        };
        self.saved = match write() {
            Ok(()) => Saved::Wrote(data.len()),
            Err(e) => Saved::Failed(e.to_string()),
        };
        if let Saved::Wrote(_) = self.saved {
            self.on_disk = Some(data);
        }
    }

    /// A line saying what the start found and what the saves did.
    pub fn describe(&self) -> String {
        let found = match (self.loaded, &self.refused) {
            (Some(bytes), _) => format!("{} ({bytes} bytes) read", self.path.display()),
            (None, Some(why)) => format!("{} refused ({why}), started afresh", self.path.display()),
            (None, None) => format!("{} not there yet", self.path.display()),
        };
        match &self.saved {
            Saved::Unchanged if self.loaded.is_some() => found + ", unchanged: every pipeline came from it",
            Saved::Unchanged => found,
            Saved::KeptNone(bytes) => {
                found
                    + &format!(
                        "; the driver keeps no compiled pipelines in it ({bytes} bytes of headers): nothing saved"
                    )
            }
            Saved::Wrote(bytes) => found + &format!("; {bytes} bytes saved"),
            Saved::Failed(e) => found + &format!("; not saved: {e}"),
        }
    }

    /// Removes the files of this adapter's other shader keys (older binaries).
    fn prune(&self, dir: &Path) {
        let name = self.path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some((adapter, _)) = name.rsplit_once('-') else { return };
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let other = e.file_name().to_string_lossy().to_string();
            let same_adapter = other.rsplit_once('-').is_some_and(|(a, rest)| a == adapter && rest.ends_with(".bin"));
            if same_adapter && other != name {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}
