//! Adapter choice, device limits, and the device with its pipelines (built as plans need them).

use crate::error::{Error, Result};
use crate::gpu::class::{Class, Overrides, Tuning};
use crate::gpu::pipelines::{Checks, Key, Pipelines};
use crate::gpu::validation;
use crate::kernels::shaders::{Coop, Gemm};
use crate::kernels::Kernel;
use std::sync::{Arc, Mutex};

/// How to pick an adapter (a backend and/or a case-insensitive name substring)
/// and how to run on it (its class and single choices, where asked for).
#[derive(Clone, Debug, Default)]
pub struct AdapterChoice {
    pub backend: Option<String>,
    pub name: Option<String>,
    pub overrides: Overrides,
    /// naga's runtime checks in the shader modules (`GPUNET_SHADER_CHECKS`).
    pub checks: Checks,
    /// The Khronos validation layer on every instance (`GPUNET_VALIDATION=1`).
    pub validation: bool,
}

impl AdapterChoice {
    /// Every GPU variable, read here once: `GPUNET_BACKEND`, `GPUNET_ADAPTER`, the
    /// overrides, `GPUNET_SHADER_CHECKS` and `GPUNET_VALIDATION`.
    pub fn from_env() -> Result<Self> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(AdapterChoice {
            backend: get("GPUNET_BACKEND"),
            name: get("GPUNET_ADAPTER"),
            overrides: Overrides::from_env()?,
            checks: Checks::parse(get("GPUNET_SHADER_CHECKS").as_deref())?,
            validation: get("GPUNET_VALIDATION").as_deref() == Some("1"),
        })
    }
}

pub fn backends(name: Option<&str>) -> Result<wgpu::Backends> {
    Ok(match name.map(|s| s.to_ascii_lowercase()).as_deref() {
        // GL only on request: its EGL probe is noisy and it is the slowest path.
        None => wgpu::Backends::PRIMARY,
        Some("vulkan") => wgpu::Backends::VULKAN,
        Some("metal") => wgpu::Backends::METAL,
        Some("dx12") => wgpu::Backends::DX12,
        Some("gl") => wgpu::Backends::GL,
        Some(other) => {
            return Err(Error::usage(format!("unknown backend '{other}': expected vulkan, metal, dx12 or gl")))
        }
    })
}

/// Every adapter the chosen backends expose.
pub fn adapters(choice: &AdapterChoice) -> Result<Vec<wgpu::Adapter>> {
    let backend = choice.backend.as_deref();
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends(backend)?;
    desc.flags = validation::instance_flags(choice.validation);
    let instance = wgpu::Instance::new(desc);
    Ok(pollster::block_on(instance.enumerate_adapters(backends(backend)?)))
}

/// Higher is better: discrete GPUs first, native APIs before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let ty = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 1,
        wgpu::DeviceType::Other => 0,
    };
    (ty, (info.backend != wgpu::Backend::Gl) as u8)
}

/// A limit: its name, how to read it, the least the kernels need.
type Need = (&'static str, fn(&wgpu::Limits) -> u64, u64);

/// What the kernels need beyond the WebGPU defaults' floor.
const NEEDS: [Need; 4] = [
    ("max_storage_buffers_per_shader_stage", |l| l.max_storage_buffers_per_shader_stage as u64, 5),
    ("max_compute_invocations_per_workgroup", |l| l.max_compute_invocations_per_workgroup as u64, 256),
    ("max_compute_workgroup_size_x", |l| l.max_compute_workgroup_size_x as u64, 256),
    // the wide core's two stages of 128 x 8 tiles of A and B (WebGPU's default)
    ("max_compute_workgroup_storage_size", |l| l.max_compute_workgroup_storage_size as u64, 16384),
];

/// An open device, and its pipelines as plans need them.
pub struct Gpu {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub timestamps: bool,
    /// What engines on this adapter choose by default: its class's choices, or
    /// those of the class asked for, under the single overrides.
    pub tuning: Tuning,
    /// The single choices asked for over any class (`GPUNET_GEMM`, ...).
    pub overrides: Overrides,
    /// naga's runtime checks in the shader modules (`GPUNET_SHADER_CHECKS`).
    pub checks: Checks,
    /// Whether instances ask for the Khronos validation layer (`GPUNET_VALIDATION=1`).
    pub validation: bool,
    /// Whether the adapter offers subgroups (and pipelines with them were built).
    pub has_subgroups: bool,
    /// The cooperative-matrix core the adapter runs, where it offers f16 x f16 ->
    /// f32 fragments (its pipelines are built under `--precision mixed` only).
    pub coop: Option<Coop>,
    /// The compute units the driver says the device has, and the extension that
    /// said (`gpu::units`); None where it says nothing and the class guesses.
    pub units: Option<(u32, &'static str)>,
    /// By (kernel, GEMM core, subgroup sums); Tiled and false where a kernel's file has none.
    pipelines: Pipelines,
    /// The first uncaptured device error or loss, if any; checked after each wait.
    fault: Arc<Mutex<Option<String>>>,
    /// How the start went: the time to list adapters and open the device.
    opened: String,
}

impl Gpu {
    pub fn new(choice: &AdapterChoice) -> Result<Arc<Gpu>> {
        let t = std::time::Instant::now();
        let all = adapters(choice)?;
        if all.is_empty() {
            return Err(Error::NoAdapter);
        }
        let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
        let adapter = all
            .into_iter()
            .filter(|a| match &choice.name {
                Some(n) => a.get_info().name.to_lowercase().contains(&n.to_lowercase()),
                None => true,
            })
            .max_by_key(|a| rank(&a.get_info()))
            .ok_or_else(|| {
                Error::Gpu(format!(
                    "no adapter matches '{}'; available: {}",
                    choice.name.as_deref().unwrap_or(""),
                    names.join(", ")
                ))
            })?;
        Self::open(adapter, choice, t)
    }

    /// Opens `adapter`'s device (pipelines are built as plans need them); `t` when the start began.
    fn open(adapter: wgpu::Adapter, choice: &AdapterChoice, t: std::time::Instant) -> Result<Arc<Gpu>> {
        let listed = t.elapsed();
        let overrides = &choice.overrides;
        let info = adapter.get_info();
        let offered = adapter.limits();
        for (name, get, need) in NEEDS {
            if get(&offered) < need {
                return Err(Error::Limit {
                    what: format!("gpunet's kernels on {}", info.name),
                    name,
                    asked: need,
                    limit: get(&offered),
                    hint: "this adapter is too small for gpunet",
                });
            }
        }
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let has_subgroups = adapter.features().contains(wgpu::Features::SUBGROUP);
        let coop = coop_shape(&adapter, &info);
        let mut wanted = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP | wgpu::Features::PIPELINE_CACHE;
        if coop.is_some() {
            wanted |= COOP_FEATURES;
        }
        let features = wanted & adapter.features();
        let desc = wgpu::DeviceDescriptor {
            label: Some("gpunet"),
            required_features: features,
            // Everything the adapter offers: buffer sizes above all bound the batch.
            required_limits: offered.clone(),
            // SAFETY: the one experimental feature asked for is cooperative
            // matrices, whose every kernel the selftest proves on the adapter
            // against its twin (`--precision mixed`); none is asked for without them.
            experimental_features: match coop {
                Some(_) => unsafe { wgpu::ExperimentalFeatures::enabled() },
                None => wgpu::ExperimentalFeatures::disabled(),
            },
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| Error::Gpu(format!("{}: cannot open device: {e}", info.name)))?;
        let fault = Arc::new(Mutex::new(None));
        let f = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            f.lock().unwrap().get_or_insert_with(|| e.to_string());
        }));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            f.lock().unwrap().get_or_insert_with(|| format!("device lost ({reason:?}): {msg}"));
        });
        let (checks, validation) = (choice.checks, choice.validation);
        let units = super::units::compute_units(&adapter);
        let tuning = overrides.apply(&info, has_subgroups, units.map(|u| u.0), coop)?;
        let opened = t.elapsed();
        // the cooperative-matrix pipelines only where mixed precision will run them
        let pipelines = Pipelines::new(&device, &info, checks, has_subgroups, coop.filter(|_| tuning.mixed()));
        let opened = format!(
            "adapters listed in {:.0} ms, device opened in {:.0} ms",
            listed.as_secs_f64() * 1e3,
            (opened - listed).as_secs_f64() * 1e3,
        );
        let limits = device.limits();
        let overrides = Overrides { class: None, ..*overrides };
        let gpu = Gpu {
            info,
            limits,
            device,
            queue,
            timestamps,
            tuning,
            overrides,
            checks,
            validation,
            has_subgroups,
            coop,
            units,
            pipelines,
            fault,
            opened,
        };
        gpu.check()?;
        Ok(Arc::new(gpu))
    }

    /// The choices engines on this adapter make when it is taken for `class`
    /// (the single overrides still apply).
    pub fn tuning_for(&self, class: Class) -> Result<Tuning> {
        Overrides { class: Some(class), ..self.overrides }.apply(
            &self.info,
            self.has_subgroups,
            self.units.map(|u| u.0),
            self.coop,
        )
    }

    /// The pipelines of launches of (kernel, GEMM core, subgroup sums where
    /// asked for), each built where it is not yet.
    pub fn pipelines(&self, launches: &[(Kernel, Gemm, bool)]) -> Result<Vec<wgpu::ComputePipeline>> {
        let keys: Vec<Key> = launches.iter().map(|&(k, g, sg)| Pipelines::key(k, g, sg)).collect();
        self.pipelines.get(&self.device, &keys)
    }

    /// How the start went (`GPUNET_PROFILE` prints it): listing adapters,
    /// opening the device, the pipelines built so far and the pipeline cache.
    pub fn startup(&self) -> String {
        format!("start-up: {}, {}", self.opened, self.pipelines.describe())
    }

    /// Fails with the first device error seen so far (validation, out of memory, loss).
    pub fn check(&self) -> Result<()> {
        match self.fault.lock().unwrap().clone().or_else(validation::first_fault) {
            Some(msg) => Err(Error::Gpu(format!("{}: {msg}", self.info.name))),
            None => Ok(()),
        }
    }

    /// Blocks until all submitted work is done.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("{}: {e}", self.info.name)))?;
        self.check()
    }

    /// One line naming the adapter, as every report prints it.
    pub fn describe(&self) -> String {
        describe(&self.info)
    }

    /// The adapter's line, with the validation layer's where GPUNET_VALIDATION asks for it.
    pub fn describe_validated(&self) -> Result<String> {
        Ok(match validation::describe(self.validation)? {
            Some(v) => format!("{}; {v}", self.describe()),
            None => self.describe(),
        })
    }
}

/// What the cooperative-matrix core needs of a device.
pub const COOP_FEATURES: wgpu::Features =
    wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX.union(wgpu::Features::SHADER_F16);

/// The cooperative-matrix core `adapter` can run ([`Coop::choose`] of its
/// square f16 x f16 -> f32 fragments and smallest subgroup size), where it has
/// the features.
pub fn coop_shape(adapter: &wgpu::Adapter, info: &wgpu::AdapterInfo) -> Option<Coop> {
    if !adapter.features().contains(COOP_FEATURES) {
        return None;
    }
    use wgpu::CooperativeScalarType as T;
    let offered = adapter.cooperative_matrix_properties();
    let sides = offered
        .iter()
        .filter(|p| p.m_size == p.n_size && p.n_size == p.k_size)
        .filter(|p| p.ab_type == T::F16 && p.cr_type == T::F32)
        .map(|p| p.m_size);
    Coop::choose(sides, info.subgroup_min_size)
}

pub fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?}, {:?}, driver {} {})", info.name, info.backend, info.device_type, info.driver, info.driver_info)
}

/// The adapter for GPU tests: None (with a printed reason) only where no adapter
/// exists at all, and then a failure under `GPUNET_REQUIRE_GPU=1`. Any other
/// failure to open one (no match for GPUNET_ADAPTER, too small, device refused)
/// fails the test: it is a fault, not a missing GPU.
pub fn for_tests() -> Option<Arc<Gpu>> {
    static GPU: std::sync::OnceLock<Result<Arc<Gpu>, (bool, String)>> = std::sync::OnceLock::new();
    let got = GPU.get_or_init(|| {
        AdapterChoice::from_env()
            .and_then(|choice| Gpu::new(&choice))
            .map_err(|e| (matches!(e, Error::NoAdapter), e.to_string()))
    });
    match got {
        Ok(gpu) => Some(gpu.clone()),
        Err((false, e)) => panic!("an adapter exists but could not be opened: {e}"),
        Err((true, e)) if std::env::var("GPUNET_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("GPUNET_REQUIRE_GPU=1 but {e}")
        }
        Err((true, e)) => {
            eprintln!("skipping GPU test: {e} (set GPUNET_REQUIRE_GPU=1 to make this a failure)");
            None
        }
    }
}
