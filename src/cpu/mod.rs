//! The CPU reference: one plain, readable function per GPU kernel, with the same
//! name and argument order as the shader entry point (outputs, inputs, dims).
//! It is the oracle of every kernel test. Functions that take part in gradient
//! checks are generic over the float type so tests can run them in f64.
//!
//! Each kernel's dims struct mirrors its WGSL uniform struct field for field
//! (64 bytes: eight u32 words, then eight f32 words, or more u32 where a kernel
//! needs them, as conv's stride and padding), so the host writes it as is.

mod batchnorm;
mod conv2d;
mod data;
mod dropout;
mod engine;
mod matmul;
mod maxpool;
mod optim;
mod relu;
mod softmax_xent;

pub use batchnorm::*;
pub use conv2d::*;
pub use data::*;
pub use dropout::*;
pub use engine::{CpuEngine, Host};
pub use matmul::*;
pub use maxpool::*;
pub use optim::*;
pub use relu::*;
pub use softmax_xent::*;

/// A kernel's parameter block as the GPU sees it.
pub type Params = [u32; 16];

/// Dims structs convert to and from the raw parameter block.
pub trait Dims: bytemuck::Pod {
    fn params(&self) -> Params {
        bytemuck::cast(*self)
    }
    fn from_params(p: &Params) -> Self {
        bytemuck::cast(*p)
    }
}

pub const FLAG_BIAS: u32 = 1;
pub const FLAG_RELU: u32 = 2;

pub(crate) fn flags(bias: bool, relu: bool) -> u32 {
    ((bias as u32) * FLAG_BIAS) | ((relu as u32) * FLAG_RELU)
}
