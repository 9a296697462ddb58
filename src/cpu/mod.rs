//! The CPU reference: one plain, readable function per GPU kernel, with the same
//! name and argument order as the shader entry point (outputs, inputs, dims).
//! It is the oracle of every kernel test. Functions that take part in gradient
//! checks are generic over the float type so tests can run them in f64. The
//! parameter blocks they read are the kernels' ([`crate::kernels`]); [`twin`]
//! maps a registry entry to its function on raw buffers.

mod batchnorm;
mod conv2d;
mod data;
mod dropout;
mod engine;
mod gap;
mod matmul;
mod maxpool;
pub mod mixed;
mod normalize;
mod optim;
mod relu;
mod softmax_xent;
mod twin;

pub use batchnorm::*;
pub use conv2d::*;
pub use data::*;
pub use dropout::*;
pub use engine::{CpuEngine, Twins};
pub use gap::*;
pub use matmul::*;
pub use maxpool::*;
pub use normalize::*;
pub use optim::*;
pub use relu::*;
pub use softmax_xent::*;
pub use twin::{twin, CpuTwin};
