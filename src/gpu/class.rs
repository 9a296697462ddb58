//! Adapter classes: every choice the GPU engine makes by the kind of adapter it
//! runs on (GEMM core, split-K target, workgroup sums), in one place, so that any
//! adapter can be told to run exactly what a datacenter GPU or a laptop's would
//! (`GPUNET_ADAPTER_CLASS`), and each choice can still be overridden alone.

use crate::engine::SplitK;
use crate::error::{Error, Result};
use crate::kernels::shaders::{Coop, Gemm};

/// What kind of device an adapter is, as far as the kernels care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// Software adapters on the host's cores (lavapipe, SwiftShader, WARP):
    /// barriers and shared memory are dear, parallelism is a few threads.
    Cpu,
    /// GPUs sharing the host's memory, and virtual or unknown ones: tens of cores.
    Integrated,
    /// Discrete GPUs: a hundred or more cores to fill.
    Discrete,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Cpu, Class::Integrated, Class::Discrete];

    pub fn name(self) -> &'static str {
        match self {
            Class::Cpu => "cpu",
            Class::Integrated => "integrated",
            Class::Discrete => "discrete",
        }
    }

    pub fn parse(s: &str) -> Result<Class> {
        Class::ALL
            .into_iter()
            .find(|c| c.name() == s.to_ascii_lowercase())
            .ok_or_else(|| Error::usage(format!("unknown adapter class '{s}': expected cpu, integrated or discrete")))
    }

    /// The class of an adapter by its type (and, for software adapters that
    /// report another type, by its name).
    pub fn of(info: &wgpu::AdapterInfo) -> Class {
        if is_cpu_adapter(info) {
            return Class::Cpu;
        }
        match info.device_type {
            wgpu::DeviceType::DiscreteGpu => Class::Discrete,
            _ => Class::Integrated,
        }
    }

    /// The class's choices on an adapter that does (or does not) offer subgroups
    /// and whose driver says it has `units` compute units (or does not say).
    pub fn tuning(self, has_subgroups: bool, units: Option<u32>) -> Tuning {
        // Enough workgroups to fill the device several times over: 8 a compute unit
        // where the driver says how many (an H200's 132 SMs: 1,056), else the class's
        // guess: a discrete GPU a hundred or more units, an integrated one a few dozen.
        let fill = |guess: usize| Some(units.map_or(guess, |u| 8 * u as usize));
        match self {
            // Barriers cost a CPU adapter dearly: the register-block core, no split-K
            // (same-run cnn6 step at batch 500 on lavapipe, 36.3 images/s unsplit,
            // 29.6 split), and tree sums (subgroup sums made mlp's steps slower there).
            Class::Cpu => Tuning {
                class: self,
                gemm: Gemm::Register,
                split_workgroups: None,
                fill: None,
                subgroups: false,
                fuse: true,
            },
            Class::Integrated => Tuning {
                class: self,
                gemm: Gemm::Auto,
                split_workgroups: fill(256),
                fill: fill(256),
                subgroups: has_subgroups,
                fuse: true,
            },
            Class::Discrete => Tuning {
                class: self,
                gemm: Gemm::Auto,
                split_workgroups: fill(1024),
                fill: fill(1024),
                subgroups: has_subgroups,
                fuse: true,
            },
        }
    }
}

/// Software adapters that run shaders on the host's own cores.
pub fn is_cpu_adapter(info: &wgpu::AdapterInfo) -> bool {
    let name = info.name.to_ascii_lowercase();
    info.device_type == wgpu::DeviceType::Cpu
        || ["llvmpipe", "lavapipe", "swiftshader", "microsoft basic render", "warp"].iter().any(|s| name.contains(s))
}

/// The GPU engine's choices for the plans it makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// The class these choices started from.
    pub class: Class,
    /// The GEMM core of convs and dense layers (`Auto`: by each launch's shape).
    pub gemm: Gemm,
    /// Workgroups a split-K launch aims for (None: never split).
    pub split_workgroups: Option<usize>,
    /// Workgroups that fill the device: `Auto` takes a smaller tile for a launch
    /// that makes under a quarter of them (None: by rows alone).
    pub fill: Option<usize>,
    /// Workgroup sums on subgroup operations (only where the adapter offers them).
    pub subgroups: bool,
    /// Plans through the fusion pass (`kernels::fuse`): fewer, fused launches.
    pub fuse: bool,
}

impl Tuning {
    /// The split-K policy these choices make (None: never split).
    pub fn split_k(&self) -> Option<SplitK> {
        Some(SplitK { gemm: self.gemm, workgroups: self.split_workgroups? })
    }

    /// Whether GEMMs run in mixed precision (on the cooperative-matrix core).
    pub fn mixed(&self) -> bool {
        matches!(self.gemm, Gemm::Coop(_))
    }

    /// "discrete: auto gemm, split-K to 1024 workgroups, subgroup sums, fill 1024".
    pub fn describe(&self) -> String {
        let split = match self.split_workgroups {
            Some(n) => format!("split-K to {n} workgroups"),
            None => "no split-K".into(),
        };
        let fill = match (self.gemm, self.fill) {
            (Gemm::Auto, Some(n)) => format!(", fill {n}"),
            _ => String::new(),
        };
        let sums = if self.subgroups { "subgroup sums" } else { "tree sums" };
        let fused = if self.fuse { "" } else { ", unfused" };
        format!("{}: {} gemm, {split}, {sums}{fill}{fused}", self.class.name(), self.gemm.name())
    }
}

/// What the environment asks of the GPU engine: a class, and single choices
/// over it (`None`: the class's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `GPUNET_ADAPTER_CLASS=cpu|integrated|discrete` (`--adapter-class`).
    pub class: Option<Class>,
    /// `GPUNET_GEMM=auto|wide|mid|narrow|thin|tiled|register`.
    pub gemm: Option<Gemm>,
    /// `GPUNET_SPLIT_K=off|N`.
    pub split_workgroups: Option<Option<usize>>,
    /// `GPUNET_FILL=off|N`.
    pub fill: Option<Option<usize>>,
    /// `GPUNET_SUBGROUPS=on|off`.
    pub subgroups: Option<bool>,
    /// `GPUNET_FUSE=on|off`.
    pub fuse: Option<bool>,
    /// `GPUNET_PRECISION=fp32|mixed` (`--precision`): mixed runs every GEMM on
    /// the cooperative-matrix core, f16 operands and f32 sums.
    pub mixed: bool,
}

impl Overrides {
    /// The six variables; an unset or empty one leaves its choice to the class.
    pub fn from_env() -> Result<Overrides> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let gemm = get("GPUNET_GEMM")
            .map(|v| {
                Gemm::parse(&v).ok_or_else(|| {
                    Error::usage(format!("GPUNET_GEMM={v}: expected auto, wide, mid, narrow, thin, tiled or register"))
                })
            })
            .transpose()?;
        let workgroups = |k: &str| {
            get(k)
                .map(|v| match v.as_str() {
                    "off" => Ok(None),
                    _ => match v.parse::<usize>() {
                        Ok(n) if n > 0 => Ok(Some(n)),
                        _ => Err(Error::usage(format!("{k}={v}: expected off or a number of workgroups"))),
                    },
                })
                .transpose()
        };
        let (split_workgroups, fill) = (workgroups("GPUNET_SPLIT_K")?, workgroups("GPUNET_FILL")?);
        let on_off = |k: &str| {
            get(k)
                .map(|v| match v.as_str() {
                    "on" => Ok(true),
                    "off" => Ok(false),
                    _ => Err(Error::usage(format!("{k}={v}: expected on or off"))),
                })
                .transpose()
        };
        let (subgroups, fuse) = (on_off("GPUNET_SUBGROUPS")?, on_off("GPUNET_FUSE")?);
        let class = get("GPUNET_ADAPTER_CLASS").map(|v| Class::parse(&v)).transpose()?;
        let mixed = match get("GPUNET_PRECISION").as_deref() {
            None | Some("fp32") => false,
            Some("mixed") => true,
            Some(v) => return Err(Error::usage(format!("GPUNET_PRECISION={v}: expected fp32 or mixed"))),
        };
        Ok(Overrides { class, gemm, split_workgroups, fill, subgroups, fuse, mixed })
    }

    /// The choices on an adapter: its class (or the one asked for), then each
    /// override; under mixed precision, the adapter's cooperative-matrix core
    /// (`coop`) for every GEMM, or an error saying why there is none.
    pub fn apply(
        &self,
        info: &wgpu::AdapterInfo,
        has_subgroups: bool,
        units: Option<u32>,
        coop: Option<Coop>,
    ) -> Result<Tuning> {
        let mut t = self.class.unwrap_or_else(|| Class::of(info)).tuning(has_subgroups, units);
        t.gemm = self.gemm.unwrap_or(t.gemm);
        if self.mixed {
            if let Some(g) = self.gemm {
                return Err(Error::usage(format!(
                    "GPUNET_GEMM={} and mixed precision: mixed runs every GEMM on the cooperative-matrix core",
                    g.name()
                )));
            }
            let core = coop.ok_or_else(|| {
                Error::Gpu(format!(
                    "mixed precision needs cooperative matrices (f16 x f16 -> f32 fragments of 8 or 16 a side): {} offers none; --precision fp32 runs on it",
                    info.name
                ))
            })?;
            t.gemm = Gemm::Coop(core);
        }
        t.split_workgroups = self.split_workgroups.unwrap_or(t.split_workgroups);
        t.fill = self.fill.unwrap_or(t.fill);
        t.fuse = self.fuse.unwrap_or(t.fuse);
        match self.subgroups {
            Some(true) if !has_subgroups => {
                return Err(Error::Gpu(format!("GPUNET_SUBGROUPS=on: {} offers no subgroups", info.name)))
            }
            Some(on) => t.subgroups = on,
            None => {}
        }
        Ok(t)
    }
}
