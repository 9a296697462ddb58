//! Which engine runs the plans: `--device auto|gpu|cpu` (`GPUNET_DEVICE`) and
//! `--threads` (`GPUNET_THREADS`). `auto` takes the GPU engine on a real GPU
//! adapter and the native CPU engine where the only adapters run on the CPU
//! (llvmpipe/lavapipe, SwiftShader, WARP) or there is none: on those, the same
//! cores run tuned native code far faster than emulated shaders.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::gpu::class::is_cpu_adapter;
use crate::gpu::{context, AdapterChoice, Gpu, GpuEngine};
use crate::native::NativeEngine;

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
    if device != Device::Auto {
        return Ok((device, format!("--device {}", if device == Device::Gpu { "gpu" } else { "cpu" })));
    }
    if let Some(name) = &choice.name {
        return Ok((Device::Gpu, format!("auto: --adapter '{name}' asks for an adapter")));
    }
    let infos: Vec<wgpu::AdapterInfo> =
        context::adapters(choice.backend.as_deref())?.iter().map(|a| a.get_info()).collect();
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
    /// "engine: <name> — <why>", the first line commands print.
    pub fn line(&self) -> String {
        format!("engine: {} — {}", self.engine.name(), self.why)
    }
}

pub fn open(device: Device, choice: &AdapterChoice, threads: usize) -> Result<Opened> {
    let (device, why) = resolve(device, choice)?;
    Ok(match device {
        Device::Cpu => Opened { engine: Box::new(NativeEngine::new(threads)?), why },
        _ => Opened { engine: Box::new(GpuEngine::new(Gpu::new(choice)?)), why },
    })
}
