//! gpunet trains CNNs on any Vulkan, Metal or DX12 adapter. Every numeric kernel
//! is a hand-written WGSL compute shader (`shaders/`) with a plain-Rust twin in
//! [`cpu`]; [`kernels`] registers them, and the tests prove each pair equal.
//!
//! A tour, floor by floor (DESIGN.md draws it): [`kernels`] holds the registry,
//! the parameter blocks and the launches over buffer views ([`kernels::op`]); an
//! [`engine::Engine`] runs lists of them: on the device ([`gpu::GpuEngine`]),
//! natively on all CPU cores ([`native::NativeEngine`]), or through the twins
//! ([`cpu::CpuEngine`]); [`model`] builds a network's plans; [`device`] picks
//! the engine; [`selftest`] checks each engine against the twins.

pub mod augment;
pub mod bench;
pub mod cpu;
pub mod data;
pub mod device;
pub mod engine;
pub mod error;
pub mod fuzz;
pub mod gpu;
pub mod infer;
pub mod io;
pub mod kernels;
pub mod model;
pub mod native;
pub mod onnx;

pub mod optim;
pub mod plot;
pub mod run;
pub mod schedule;
pub mod selftest;
pub mod settings;
pub mod train;
pub mod web;

pub use error::{Error, Result};
