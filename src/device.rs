//! Which engine runs the plans: `--device auto|gpu|cpu` (`GPUNET_DEVICE`) and
//! `--threads` (`GPUNET_THREADS`). `auto` takes the GPU engine on a real GPU
//! adapter and the native CPU engine where the only adapters run on the CPU
//! (llvmpipe/lavapipe, SwiftShader, WARP) or there is none: on those, the same
//! cores run tuned native code far faster than emulated shaders.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::gpu::class::is_cpu_adapter;
use crate::gpu::{context, AdapterChoice, Gpu, GpuEngine};
use crate::native::{self, NativeEngine};
use std::sync::Arc;

/// Everything that chooses and sets up an engine, read once at the edge (the
/// flags, and every `GPUNET_*` variable through `AdapterChoice::from_env` and
/// `native::Options::from_env`); engines and adapters read no variable.
#[derive(Clone, Debug)]
pub struct Choice {
    pub device: Device,
    pub adapter: AdapterChoice,
    /// Native engine threads (0: one per core).
    pub threads: usize,
    pub native: native::Options,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Auto,
    Gpu,
    Cpu,
}

impl std::str::FromStr for Device {
    type Err = Error;
    fn from_str(s: &str) -> Result<Device> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Device::Auto),
            "gpu" => Ok(Device::Gpu),
            "cpu" => Ok(Device::Cpu),
            other => Err(Error::usage(format!("unknown device '{other}': expected auto, gpu or cpu"))),
        }
    }
}

/// What `auto` resolves to, and why, from the adapters the backends list.
pub fn resolve(device: Device, choice: &AdapterChoice) -> Result<(Device, String)> {
    match device {
        Device::Cpu if choice.overrides.mixed => {
            return Err(Error::usage(
                "--precision mixed runs the GEMMs on an adapter's cooperative matrices; the native CPU engine computes in fp32 (give --device gpu, or --precision fp32)",
            ))
        }
        Device::Auto if choice.overrides.mixed => {
            return Ok((Device::Gpu, "auto: --precision mixed runs on an adapter's cooperative matrices".into()))
        }
        _ => {}
    }
    if device != Device::Auto {
        return Ok((device, format!("--device {}", if device == Device::Gpu { "gpu" } else { "cpu" })));
    }
    if let Some(name) = &choice.name {
        return Ok((Device::Gpu, format!("auto: --adapter '{name}' asks for an adapter")));
    }
    let infos: Vec<wgpu::AdapterInfo> = context::adapters(choice)?.iter().map(|a| a.get_info()).collect();
    if let Some(real) = infos.iter().find(|i| !is_cpu_adapter(i)) {
        return Ok((Device::Gpu, format!("auto: {} is a {:?} adapter", real.name, real.device_type)));
    }
    let why = if infos.is_empty() {
        "auto: no GPU adapter found".to_string()
    } else {
        let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
        format!(
            "auto: the only adapter{} ({}) run{} on the CPU, where native code is faster; --device gpu runs the WGSL kernels there",
            if names.len() > 1 { "s" } else { "" },
            names.join("; "),
            if names.len() > 1 { "" } else { "s" }
        )
    };
    Ok((Device::Cpu, why))
}

/// An engine ready to plan, with the line that says which it is and why.
pub struct Opened {
    pub engine: Box<dyn Engine>,
    pub why: String,
}

impl Opened {
    /// `engine: <name> — <why>`, the first line commands print.
    pub fn line(&self) -> String {
        format!("engine: {} — {}", self.engine.name(), self.why)
    }
}

/// Where a command runs, as `resolve` decides: the native engine, or an adapter
/// (whose engines the selftest makes itself, one per class).
pub enum Target {
    Cpu(Box<NativeEngine>),
    Gpu(Arc<Gpu>),
}

/// The target `c` asks for, and why.
pub fn target(c: &Choice) -> Result<(Target, String)> {
    let (device, why) = resolve(c.device, &c.adapter)?;
    Ok(match device {
        Device::Cpu => (Target::Cpu(Box::new(NativeEngine::with_options(c.threads, c.native)?)), why),
        _ => (Target::Gpu(Gpu::new(&c.adapter)?), why),
    })
}

/// The engine `c` asks for.
pub fn open(c: &Choice) -> Result<Opened> {
    let (target, why) = target(c)?;
    let engine: Box<dyn Engine> = match target {
        Target::Cpu(e) => e,
        Target::Gpu(gpu) => Box::new(GpuEngine::new(gpu)),
    };
    Ok(Opened { engine, why })
}

/// The engines `gpunet bench` weighs against each other: the native engine
/// always, and the GPU engine unless `--device cpu`; under `auto`, on any
/// adapter at all (one on the CPU included), none only where there is none.
pub fn compared(c: &Choice) -> Result<(Option<GpuEngine>, NativeEngine)> {
    let cpu = NativeEngine::with_options(c.threads, c.native)?;
    let gpu = match c.device {
        Device::Cpu => None,
        Device::Gpu => Some(Gpu::new(&c.adapter)?),
        Device::Auto => match Gpu::new(&c.adapter) {
            Err(Error::NoAdapter) => None,
            other => Some(other?),
        },
    };
    Ok((gpu.map(GpuEngine::new), cpu))
}
