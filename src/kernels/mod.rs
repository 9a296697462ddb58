//! The kernels, the ground floor every engine stands on: the registry (one entry
//! per kernel = shader file, entry point, binding counts), what host and shader
//! agree on ([`abi`], [`dims`]), the WGSL sources ([`shaders`]) and the launches
//! built over buffer views ([`op`]). Nothing here imports an engine. Pipelines,
//! the tests and the selftest all loop over `Kernel::ALL`, so a new kernel is
//! built and tested the day it is added; its CPU twin is `cpu::twin`.

pub mod abi;
pub mod dims;
pub mod fuse;
pub mod op;
pub mod shaders;

pub use abi::{Dims, Params, FLAG_BIAS, FLAG_GRAD_BIAS, FLAG_MASK, FLAG_RELU, FLAG_UNPOOL};
pub use dims::*;
use shaders::Shader;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    Matmul,
    MatmulGrad,
    BiasGrad,
    SumSplits,
    SumSegments,
    Conv2dForward,
    Conv2dBackwardInput,
    Conv2dBackwardWeight,
    MaxpoolForward,
    MaxpoolBackward,
    ReluForward,
    ReluBackward,
    SoftmaxXent,
    XentSums,
    XentAccumulate,
    Softmax,
    DropoutForward,
    DropoutBackward,
    Adam,
    Sgd,
    Ema,
    ScaleLoss,
    GradsFinite,
    AdamScaled,
    SgdScaled,
    ScaleUpdate,
    Gather,
    BnStats,
    BnForward,
    BnBackwardParams,
    BnBackwardInput,
    GapForward,
    GapBackward,
    Normalize,
}

pub struct KernelInfo {
    pub shader: Shader,
    pub entry: &'static str,
    /// Read-write storage bindings, bound at 1..=outputs.
    pub outputs: usize,
    /// Read-only storage bindings, bound after the outputs.
    pub inputs: usize,
}

impl Kernel {
    pub const ALL: [Kernel; 34] = [
        Kernel::Matmul,
        Kernel::MatmulGrad,
        Kernel::BiasGrad,
        Kernel::SumSplits,
        Kernel::SumSegments,
        Kernel::Conv2dForward,
        Kernel::Conv2dBackwardInput,
        Kernel::Conv2dBackwardWeight,
        Kernel::MaxpoolForward,
        Kernel::MaxpoolBackward,
        Kernel::ReluForward,
        Kernel::ReluBackward,
        Kernel::SoftmaxXent,
        Kernel::XentSums,
        Kernel::XentAccumulate,
        Kernel::Softmax,
        Kernel::DropoutForward,
        Kernel::DropoutBackward,
        Kernel::Adam,
        Kernel::Sgd,
        Kernel::Ema,
        Kernel::ScaleLoss,
        Kernel::GradsFinite,
        Kernel::AdamScaled,
        Kernel::SgdScaled,
        Kernel::ScaleUpdate,
        Kernel::Gather,
        Kernel::BnStats,
        Kernel::BnForward,
        Kernel::BnBackwardParams,
        Kernel::BnBackwardInput,
        Kernel::GapForward,
        Kernel::GapBackward,
        Kernel::Normalize,
    ];

    pub fn name(self) -> &'static str {
        self.info().entry
    }

    /// Whether the kernel reads its output `output` (updates it in place) rather
    /// than overwriting it: ReLU backward, the running sums (xent_sums' too),
    /// the optimizers, the weights' moving average, batch norm's running statistics,
    /// the loss scale and what it scales.
    pub fn updates_in_place(self, output: usize) -> bool {
        match self {
            Kernel::ReluBackward | Kernel::XentAccumulate | Kernel::Adam | Kernel::Sgd | Kernel::Ema => true,
            k if k.is_loss_scale() => true,
            Kernel::BnStats => output == 1,
            Kernel::SoftmaxXent | Kernel::XentSums => output == 3,
            _ => false,
        }
    }

    /// The dynamic loss scale's kernels (mixed-precision training plans only),
    /// each updating its outputs in place.
    pub fn is_loss_scale(self) -> bool {
        matches!(
            self,
            Kernel::ScaleLoss | Kernel::GradsFinite | Kernel::AdamScaled | Kernel::SgdScaled | Kernel::ScaleUpdate
        )
    }

    pub fn info(self) -> KernelInfo {
        use Shader as S;
        let k = |shader, entry, outputs, inputs| KernelInfo { shader, entry, outputs, inputs };
        match self {
            Kernel::Matmul => k(S::Matmul, "matmul", 1, 4),
            Kernel::MatmulGrad => k(S::Matmul, "matmul_grad", 1, 4),
            Kernel::BiasGrad => k(S::Matmul, "bias_grad", 1, 1),
            Kernel::SumSplits => k(S::Matmul, "sum_splits", 1, 1),
            Kernel::SumSegments => k(S::Matmul, "sum_segments", 1, 2),
            Kernel::Conv2dForward => k(S::Conv2d, "conv2d_forward", 1, 3),
            Kernel::Conv2dBackwardInput => k(S::Conv2d, "conv2d_backward_input", 1, 4),
            Kernel::Conv2dBackwardWeight => k(S::Conv2d, "conv2d_backward_weight", 1, 3),
            Kernel::MaxpoolForward => k(S::Maxpool, "maxpool_forward", 2, 1),
            Kernel::MaxpoolBackward => k(S::Maxpool, "maxpool_backward", 1, 2),
            Kernel::ReluForward => k(S::Relu, "relu_forward", 1, 1),
            Kernel::ReluBackward => k(S::Relu, "relu_backward", 1, 1),
            Kernel::SoftmaxXent => k(S::SoftmaxXent, "softmax_xent", 4, 2),
            Kernel::XentSums => k(S::SoftmaxXent, "xent_sums", 4, 2),
            Kernel::XentAccumulate => k(S::SoftmaxXent, "xent_accumulate", 1, 2),
            Kernel::Softmax => k(S::SoftmaxXent, "softmax", 1, 1),
            Kernel::DropoutForward => k(S::Dropout, "dropout_forward", 1, 1),
            Kernel::DropoutBackward => k(S::Dropout, "dropout_backward", 1, 1),
            Kernel::Adam => k(S::Optim, "adam", 3, 1),
            Kernel::Sgd => k(S::Optim, "sgd", 2, 1),
            Kernel::Ema => k(S::Optim, "ema", 1, 1),
            Kernel::ScaleLoss => k(S::Optim, "scale_loss", 2, 0),
            Kernel::GradsFinite => k(S::Optim, "grads_finite", 1, 1),
            Kernel::AdamScaled => k(S::Optim, "adam_scaled", 3, 2),
            Kernel::SgdScaled => k(S::Optim, "sgd_scaled", 2, 2),
            Kernel::ScaleUpdate => k(S::Optim, "scale_update", 1, 0),
            Kernel::Gather => k(S::Data, "gather", 2, 3),
            Kernel::BnStats => k(S::Batchnorm, "bn_stats", 2, 1),
            Kernel::BnForward => k(S::Batchnorm, "bn_forward", 1, 3),
            Kernel::BnBackwardParams => k(S::Batchnorm, "bn_backward_params", 1, 3),
            Kernel::BnBackwardInput => k(S::Batchnorm, "bn_backward_input", 1, 5),
            Kernel::GapForward => k(S::Gap, "gap_forward", 1, 1),
            Kernel::GapBackward => k(S::Gap, "gap_backward", 1, 1),
            Kernel::Normalize => k(S::Normalize, "normalize", 1, 0),
        }
    }
}
