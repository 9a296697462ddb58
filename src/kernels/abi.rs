//! What the host and a shader agree on: a kernel's parameter block as raw words,
//! the dims structs' conversion to and from it, and the epilogue flag bits.

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
/// A gradient store times `[mask > 0]`: the ReLU backward of the layer below,
/// folded in by the GPU fusion pass (kernels::fuse).
pub const FLAG_MASK: u32 = 4;
/// A gradient store that is a max-pool's output gradient, sent on through the
/// pool's argmax into its input gradient (0 elsewhere): the pool's backward, folded in.
pub const FLAG_UNPOOL: u32 = 8;
/// A weight gradient's launch that also sums the bias gradient (the rows of its A).
pub const FLAG_GRAD_BIAS: u32 = 16;

pub(crate) fn flags(bias: bool, relu: bool) -> u32 {
    ((bias as u32) * FLAG_BIAS) | ((relu as u32) * FLAG_RELU)
}
