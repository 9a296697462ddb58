//! The GPU runtime: adapter and device, embedded shaders, and the engine.

pub mod cache;
pub mod class;
pub mod context;
pub mod engine;
pub mod pipelines;
pub mod profile;
pub mod stats;
pub mod units;
pub mod validation;

pub use class::{Class, Overrides, Tuning};
pub use context::{for_tests, AdapterChoice, Gpu};
pub use engine::GpuEngine;
