//! gpunet trains CNNs on any Vulkan, Metal or DX12 adapter. Every numeric kernel
//! is a hand-written WGSL compute shader (`shaders/`) with a plain-Rust twin in
//! [`cpu`]; [`kernels`] registers them, and the tests prove each pair equal.
//! Where there is no GPU, a native CPU engine runs the same plans on every core.
//!
//! # Train, save, predict
//!
//! A [`Dataset`] (the embedded MNIST, files, or arrays of your own), an engine
//! ([`Device::engine`]), a [`Trainer`] for a named network (`gpunet archs`) or a spec,
//! and the [`Model`] it trains:
//!
//! ```
//! use gpunet::{Dataset, Device, Trainer};
//! # fn main() -> gpunet::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("gpunet-doc-{}", std::process::id()));
//! let data = Dataset::mnist()?.limit(3000);
//! let test = data.test().unwrap().clone().truncate(500);
//! let mut engine = Device::Cpu.engine()?;
//! let trainer = Trainer::new("mlp")?.epochs(2).batch_size(100).out(&dir);
//! let trained = trainer.fit(&mut *engine, data)?;
//! let digits = trained.model.classify(&mut *engine, &test)?;
//! let right = digits.iter().zip(test.labels.as_deref().unwrap()).filter(|(p, l)| p == l).count();
//! assert!(right > 425, "{right} of 500 right");
//! trained.model.save(dir.join("digits.safetensors"))?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(())
//! # }
//! ```
//!
//! [`Trainer::fit_with`] calls back after every epoch with its metrics (and
//! stops where the callback says); [`Dataset::from_arrays`] takes images from
//! memory; [`Model::load`] reads a model file or a run directory that
//! `gpunet train` wrote; [`Trainer::resume`] continues a stopped run to the
//! bytes an unstopped one ends with. `gpunet train` itself is [`Trainer::start_files`]
//! then [`Run::fit`] with a stop flag and a [`Progress`] that prints. The
//! crate's examples/ train MNIST, predict a folder of pictures and train on
//! arrays of your own.
//!
//! # Inside
//!
//! A tour, floor by floor (DESIGN.md draws it): [`kernels`] holds the registry,
//! the parameter blocks and the launches over buffer views ([`kernels::op`]); an
//! [`engine::Engine`] runs lists of them: on the device ([`gpu::GpuEngine`]),
//! natively on all CPU cores ([`native::NativeEngine`]), or through the twins
//! ([`cpu::CpuEngine`]); [`model`] builds a network's plans; [`device`] picks
//! the engine; [`selftest`] checks each engine against the twins; [`train`] is
//! the training loop the front door and the command line share.

pub mod augment;
// the command line's and the benches' tools, not the library's
#[doc(hidden)]
pub mod bench;
pub mod cpu;
pub mod data;
pub mod device;
pub mod engine;
pub mod error;
mod front;
#[doc(hidden)]
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

pub use data::Images;
pub use error::{Error, Result};
pub use front::{Dataset, Device, Epoch, Model, Progress, Run, Stage, Trained, Trainer};
