//! The GPU runtime: adapter and device, embedded shaders, and the engine.

pub mod context;
pub mod engine;
pub mod shaders;

pub use context::{for_tests, AdapterChoice, Gpu};
pub use engine::GpuEngine;
