//! The pipelines, built as plans need them: a run compiles what its plans
//! launch (`train --arch fast` 16 of the adapter's 99 on lavapipe), not every
//! kernel under every GEMM core. Each plan's missing pipelines (and their
//! modules) are built together, on every core, and the pipeline cache is saved
//! after each such build.

use crate::error::{Error, Result};
use crate::gpu::cache::DiskCache;
use crate::kernels::shaders::{Coop, Gemm, Shader};
use crate::kernels::Kernel;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// A pipeline's key: the kernel, the GEMM core its file pastes, subgroup sums.
pub type Key = (Kernel, Gemm, bool);
/// A module's key: the file, its GEMM core, subgroup sums.
type ModuleKey = (Shader, Gemm, bool);

/// The pipelines built so far, the modules they came from, and the cache.
pub struct Pipelines {
    runtime: wgpu::ShaderRuntimeChecks,
    subgroups: bool,
    coop: Option<Coop>,
    built: Mutex<Built>,
}

#[derive(Default)]
struct Built {
    modules: HashMap<ModuleKey, wgpu::ShaderModule>,
    pipelines: HashMap<Key, wgpu::ComputePipeline>,
    /// Time spent building (modules and pipelines), in ms.
    ms: f64,
    cache: Option<DiskCache>,
}

impl Pipelines {
    /// Nothing built yet; the cache opened under the key of every module the
    /// adapter could build (its text and what it is built with), where the
    /// device has one. Cooperative-matrix variants only where `coop` is given.
    pub fn new(
        device: &wgpu::Device,
        info: &wgpu::AdapterInfo,
        checks: Checks,
        subgroups: bool,
        coop: Option<Coop>,
    ) -> Pipelines {
        let runtime = wgpu::ShaderRuntimeChecks {
            bounds_checks: checks.bounds,
            force_loop_bounding: checks.loops,
            ..wgpu::ShaderRuntimeChecks::checked()
        };
        // the key only where a cache opens (it reads every module's text)
        let key = || {
            let mut key = Sha256::new();
            key.update(format!("{checks:?} {}", env!("CARGO_PKG_VERSION")));
            for s in Shader::ALL {
                for (g, sg) in s.variants(subgroups, coop) {
                    key.update(s.source(g, sg).as_bytes());
                }
            }
            key.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let cache = DiskCache::open(device, info, key);
        Pipelines { runtime, subgroups, coop, built: Mutex::new(Built { cache, ..Default::default() }) }
    }

    /// The key a launch of `k` under `gemm` with subgroup sums (where asked)
    /// runs: files without a GEMM core have one, files without sums one kind.
    pub fn key(k: Kernel, gemm: Gemm, subgroups: bool) -> Key {
        let shader = k.info().shader;
        let core = if shader.uses_gemm() { gemm } else { Gemm::Tiled };
        (k, core, subgroups && shader.uses_reduce())
    }

    /// The pipelines of `keys` ([`Pipelines::key`]s), building the missing ones
    /// first; a key the adapter has no variant for is an error.
    pub fn get(&self, device: &wgpu::Device, keys: &[Key]) -> Result<Vec<wgpu::ComputePipeline>> {
        let missing: Vec<Key> = {
            let built = self.built.lock().unwrap();
            let mut seen = HashSet::new();
            keys.iter().filter(|k| !built.pipelines.contains_key(k) && seen.insert(**k)).copied().collect()
        };
        if !missing.is_empty() {
            self.build(device, &missing)?;
        }
        let built = self.built.lock().unwrap();
        Ok(keys.iter().map(|k| built.pipelines[k].clone()).collect())
    }

    /// Builds `missing` (and the modules they need) on every core: a driver
    /// compiles each pipeline on the calling thread. The lock is not held while
    /// building (a rayon worker waiting on it could hold the job that frees it);
    /// a pipeline another thread built meanwhile is kept, the copy dropped.
    fn build(&self, device: &wgpu::Device, missing: &[Key]) -> Result<()> {
        let t = std::time::Instant::now();
        for &(k, g, sg) in missing {
            let shader = k.info().shader;
            if !shader.variants(self.subgroups, self.coop).contains(&(g, sg)) {
                return Err(Error::Gpu(format!("{}: no {} pipeline on this adapter", k.name(), g.name())));
            }
        }
        let mut modules: HashMap<ModuleKey, wgpu::ShaderModule> = {
            let built = self.built.lock().unwrap();
            let have = |&(k, g, sg): &Key| {
                let m = (k.info().shader, g, sg);
                built.modules.get(&m).map(|module| (m, module.clone()))
            };
            missing.iter().filter_map(have).collect()
        };
        let new: HashSet<ModuleKey> =
            missing.iter().map(|&(k, g, sg)| (k.info().shader, g, sg)).filter(|m| !modules.contains_key(m)).collect();
        let made = new.into_par_iter().map(|m| Ok((m, self.module(device, m)?))).collect::<Result<Vec<_>>>()?;
        modules.extend(made.iter().cloned());
        let cache = self.built.lock().unwrap().cache.as_ref().map(|c| c.cache.clone());
        let pipelines: Vec<(Key, wgpu::ComputePipeline)> = missing
            .par_iter()
            .map(|&(k, g, sg)| {
                let info = k.info();
                let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(info.entry),
                    layout: None,
                    module: &modules[&(info.shader, g, sg)],
                    entry_point: Some(info.entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        // Every kernel writes its shared memory before reading it.
                        zero_initialize_workgroup_memory: false,
                        ..Default::default()
                    },
                    cache: cache.as_ref(),
                });
                ((k, g, sg), pipeline)
            })
            .collect();
        let mut built = self.built.lock().unwrap();
        for (m, module) in made {
            built.modules.entry(m).or_insert(module);
        }
        for (key, pipeline) in pipelines {
            built.pipelines.entry(key).or_insert(pipeline);
        }
        built.ms += t.elapsed().as_secs_f64() * 1e3;
        if let Some(c) = built.cache.as_mut() {
            c.save();
        }
        Ok(())
    }

    /// One module: parsed here rather than by wgpu, since a WGSL source makes
    /// wgpu put debug info into the SPIR-V under GPUNET_VALIDATION, whose
    /// WGSL source-language tag older validation layers (Debian 12's 1.3.239)
    /// reject as invalid SPIR-V.
    ///
    /// Modules are trusted by default: naga adds no index clamps and no loop
    /// counters, which otherwise sit in every inner loop and can stop a driver from
    /// unrolling it. That is sound because of the kernels' own logic, which the
    /// selftest proves on every adapter it runs on (inputs and outputs between NaN
    /// guard words, outputs pre-filled with NaN, odd shapes):
    /// - every storage access is behind a bounds test against the op's dims (`ok`
    ///   flags in the GEMM cores, `i < n` in the elementwise kernels), and the host
    ///   checks each view against its dims and its buffer before planning;
    /// - indices read from buffers (labels, gather rows) are validated on load or
    ///   made by the host, and softmax_xent clamps a label to its row anyway;
    /// - every loop counts up to a bound fixed before the loop (shape dims < 2^31).
    fn module(&self, device: &wgpu::Device, (s, g, sg): ModuleKey) -> Result<wgpu::ShaderModule> {
        let text = s.source(g, sg);
        let module = naga::front::wgsl::parse_str(&text)
            .map_err(|e| Error::Gpu(format!("{}: {}", s.file(), e.emit_to_string(&text))))?;
        let source = wgpu::ShaderSource::Naga(std::borrow::Cow::Owned(module));
        let desc = wgpu::ShaderModuleDescriptor { label: Some(s.file()), source };
        // SAFETY: where a check is off, the kernels bound every access and every
        // loop themselves (above).
        Ok(unsafe { device.create_shader_module_trusted(desc, self.runtime) })
    }

    /// What was built so far and what the cache found and did.
    pub fn describe(&self) -> String {
        let built = self.built.lock().unwrap();
        format!(
            "{} pipelines built in {:.0} ms as plans needed them; pipeline cache: {}",
            built.pipelines.len(),
            built.ms,
            built.cache.as_ref().map_or("none on this adapter (or GPUNET_CACHE_DIR=off)".into(), |c| c.describe())
        )
    }
}

/// Which of naga's runtime checks the shader modules carry (none by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checks {
    /// Index clamps on every buffer access.
    pub bounds: bool,
    /// A counter in every loop that ends it after 2^64 iterations.
    pub loops: bool,
}

impl Checks {
    /// `GPUNET_SHADER_CHECKS=on|off|bounds|loops` (both, none, or one); none by
    /// default (on lavapipe, the cnn6 step 1.25x faster without either, same-run
    /// `bench --quick`, 2026-11-29, BENCHMARKS.md).
    pub(crate) fn parse(v: Option<&str>) -> Result<Checks> {
        let (bounds, loops) = match v {
            None | Some("off") => (false, false),
            Some("on") => (true, true),
            Some("bounds") => (true, false),
            Some("loops") => (false, true),
            Some(other) => {
                return Err(Error::usage(format!("GPUNET_SHADER_CHECKS={other}: expected on, off, bounds or loops")))
            }
        };
        Ok(Checks { bounds, loops })
    }

    /// How the engine's name says it ("" for none).
    pub fn describe(self) -> &'static str {
        match (self.bounds, self.loops) {
            (false, false) => "",
            (true, true) => ", runtime checks",
            (true, false) => ", bounds checks",
            (false, true) => ", loop bounds",
        }
    }
}
