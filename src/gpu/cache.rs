//! A warm start: the driver's pipeline cache (Vulkan's, through wgpu's
//! `PipelineCache`) kept on disk, so a second start of gpunet on the same
//! adapter, driver and binary finds every compiled pipeline instead of
//! compiling it again.
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
    loaded: Option<Vec<u8>>,
    /// Why the file was not used, where it was there but refused.
    refused: Option<String>,
    /// The bytes of an empty cache's data (headers only): a driver whose data is
    /// no longer keeps no compiled pipelines (Mesa 22's lavapipe, SwiftShader).
    empty: usize,
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
    /// The cache for pipelines whose shaders hash to `shaders` on this device,
    /// with the file's data where it is there and the driver takes it; None
    /// where the device has no pipeline cache or the cache is off.
    pub fn open(device: &wgpu::Device, info: &wgpu::AdapterInfo, shaders: &str) -> Option<DiskCache> {
        if !device.features().contains(wgpu::Features::PIPELINE_CACHE) {
            return None;
        }
        let path = dir()?.join(format!("{}-{shaders}.bin", wgpu::util::pipeline_cache_key(info)?));
        let desc = wgpu::PipelineCacheDescriptor { label: Some("gpunet"), data: None, fallback: true };
        // SAFETY: no data is given
        let fresh = || unsafe { device.create_pipeline_cache(&desc) };
        let empty = fresh().get_data().map_or(0, |d| d.len());
        let loaded = std::fs::read(&path).ok();
        let mut refused = None;
        if let Some(data) = &loaded {
            // SAFETY: the data was written by `save` from `get_data` (wgpu checks its
            // header and the driver its own; a damaged file is refused below)
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let desc = wgpu::PipelineCacheDescriptor { label: Some("gpunet"), data: Some(data), fallback: false };
            let cache = unsafe { device.create_pipeline_cache(&desc) };
            match pollster::block_on(scope.pop()) {
                None => return Some(DiskCache { cache, path, loaded, refused, empty }),
                Some(e) => refused = Some(e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")),
            }
        }
        Some(DiskCache { cache: fresh(), path, loaded: None, refused, empty })
    }

    /// Writes the cache's data (atomically) where it differs from what was read,
    /// and removes this adapter's files of other shaders; a line saying what the
    /// start found and did. A failure to write is said, not fatal.
    pub fn save(&self) -> String {
        let mut line = match (&self.loaded, &self.refused) {
            (Some(d), _) => format!("{} ({} bytes) read", self.path.display(), d.len()),
            (None, Some(why)) => format!("{} refused ({why}), started afresh", self.path.display()),
            (None, None) => format!("{} not there yet", self.path.display()),
        };
        let data = self.cache.get_data().unwrap_or_default();
        if data.len() <= self.empty {
            // nothing worth a file; a refused one goes
            if self.refused.is_some() {
                let _ = std::fs::remove_file(&self.path);
            }
            return line
                + &format!(
                    "; the driver keeps no compiled pipelines in it ({} bytes of headers): nothing saved",
                    data.len()
                );
        }
        if self.loaded.as_ref() == Some(&data) {
            return line + ", unchanged: every pipeline came from it";
        }
        let write = || -> crate::Result<()> {
            let dir = self.path.parent().expect("a cache file has a directory");
            std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
            crate::io::write_atomic(&self.path, |w| std::io::Write::write_all(w, &data))?;
            self.prune(dir);
            Ok(())
        };
        match write() {
            Ok(()) => line += &format!("; {} bytes saved", data.len()),
            Err(e) => line += &format!("; not saved: {e}"),
        }
        line
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
