//! gpunet trains CNNs on any Vulkan, Metal or DX12 adapter. Every numeric kernel
//! is a hand-written WGSL compute shader (`shaders/`) with a plain-Rust twin in
//! [`cpu`]; [`kernels`] pairs them, and the tests prove each pair equal.
//!
//! A tour: [`op`] builds kernel launches over buffer views; an [`engine::Engine`]
//! runs lists of them: on the device ([`gpu::GpuEngine`]), natively on all CPU
//! cores ([`native::NativeEngine`]), or through the twins ([`cpu::CpuEngine`]);
//! [`selftest`] checks each against the twins, and [`device`] picks one.

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
