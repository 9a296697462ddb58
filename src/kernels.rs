//! The kernel registry: one entry per kernel = shader file, entry point, binding
//! counts and CPU twin. Pipelines, the tests and the selftest all loop over
//! `Kernel::ALL`, so a new kernel is built and tested the day it is added.

use crate::cpu::{self, Dims, Params};
use crate::gpu::shaders::Shader;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    Matmul,
    BiasGrad,
    SumSplits,
    Conv2dForward,
    Conv2dBackwardInput,
    Conv2dBackwardWeight,
    MaxpoolForward,
    MaxpoolBackward,
    ReluForward,
    ReluBackward,
    SoftmaxXent,
    XentAccumulate,
    Softmax,
    DropoutForward,
    DropoutBackward,
    Adam,
    Sgd,
    Gather,
    BnStats,
    BnForward,
    BnBackwardParams,
    BnBackwardInput,
}

/// Runs the CPU twin on raw buffers: outputs (read-write) then inputs, as bound.
pub type CpuTwin = fn(&mut [&mut [u32]], &[&[u32]], &Params);

pub struct KernelInfo {
    pub shader: Shader,
    pub entry: &'static str,
    /// Read-write storage bindings, bound at 1..=outputs.
    pub outputs: usize,
    /// Read-only storage bindings, bound after the outputs.
    pub inputs: usize,
    pub cpu: CpuTwin,
}

fn f(s: &[u32]) -> &[f32] {
    bytemuck::cast_slice(s)
}
fn fm(s: &mut [u32]) -> &mut [f32] {
    bytemuck::cast_slice_mut(s)
}

impl Kernel {
    pub const ALL: [Kernel; 22] = [
        Kernel::Matmul,
        Kernel::BiasGrad,
        Kernel::SumSplits,
        Kernel::Conv2dForward,
        Kernel::Conv2dBackwardInput,
        Kernel::Conv2dBackwardWeight,
        Kernel::MaxpoolForward,
        Kernel::MaxpoolBackward,
        Kernel::ReluForward,
        Kernel::ReluBackward,
        Kernel::SoftmaxXent,
        Kernel::XentAccumulate,
        Kernel::Softmax,
        Kernel::DropoutForward,
        Kernel::DropoutBackward,
        Kernel::Adam,
        Kernel::Sgd,
        Kernel::Gather,
        Kernel::BnStats,
        Kernel::BnForward,
        Kernel::BnBackwardParams,
        Kernel::BnBackwardInput,
    ];

    pub fn name(self) -> &'static str {
        self.info().entry
    }

    /// Whether the kernel reads its outputs (updates them in place) rather than
    /// overwriting them: ReLU backward, the running sums, the optimizers, batch
    /// norm's running statistics.
    pub fn updates_in_place(self) -> bool {
        matches!(self, Kernel::ReluBackward | Kernel::XentAccumulate | Kernel::Adam | Kernel::Sgd | Kernel::BnStats)
    }

    pub fn info(self) -> KernelInfo {
        use Shader as S;
        let k = |shader, entry, outputs, inputs, cpu: CpuTwin| KernelInfo { shader, entry, outputs, inputs, cpu };
        match self {
            Kernel::Matmul => k(S::Matmul, "matmul", 1, 3, |o, i, p| {
                cpu::matmul(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p))
            }),
            Kernel::BiasGrad => {
                k(S::Matmul, "bias_grad", 1, 1, |o, i, p| cpu::bias_grad(fm(o[0]), f(i[0]), &Dims::from_params(p)))
            }
            Kernel::SumSplits => {
                k(S::Matmul, "sum_splits", 1, 1, |o, i, p| cpu::sum_splits(fm(o[0]), f(i[0]), &Dims::from_params(p)))
            }
            Kernel::Conv2dForward => k(S::Conv2d, "conv2d_forward", 1, 3, |o, i, p| {
                cpu::conv2d_forward(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p))
            }),
            Kernel::Conv2dBackwardInput => k(S::Conv2d, "conv2d_backward_input", 1, 2, |o, i, p| {
                cpu::conv2d_backward_input(fm(o[0]), f(i[0]), f(i[1]), &Dims::from_params(p))
            }),
            Kernel::Conv2dBackwardWeight => k(S::Conv2d, "conv2d_backward_weight", 1, 2, |o, i, p| {
                cpu::conv2d_backward_weight(fm(o[0]), f(i[0]), f(i[1]), &Dims::from_params(p))
            }),
            Kernel::MaxpoolForward => k(S::Maxpool, "maxpool_forward", 2, 1, |o, i, p| {
                let (y, arg) = o.split_at_mut(1);
                cpu::maxpool_forward(fm(y[0]), arg[0], f(i[0]), &Dims::from_params(p))
            }),
            Kernel::MaxpoolBackward => k(S::Maxpool, "maxpool_backward", 1, 2, |o, i, p| {
                cpu::maxpool_backward(fm(o[0]), f(i[0]), i[1], &Dims::from_params(p))
            }),
            Kernel::ReluForward => {
                k(S::Relu, "relu_forward", 1, 1, |o, i, p| cpu::relu_forward(fm(o[0]), f(i[0]), &Dims::from_params(p)))
            }
            Kernel::ReluBackward => k(S::Relu, "relu_backward", 1, 1, |o, i, p| {
                cpu::relu_backward(fm(o[0]), f(i[0]), &Dims::from_params(p))
            }),
            Kernel::SoftmaxXent => k(S::SoftmaxXent, "softmax_xent", 3, 2, |o, i, p| {
                let [dl, loss, hit] = o else { unreachable!() };
                cpu::softmax_xent(fm(dl), fm(loss), fm(hit), f(i[0]), i[1], &Dims::from_params(p))
            }),
            Kernel::XentAccumulate => k(S::SoftmaxXent, "xent_accumulate", 1, 2, |o, i, p| {
                cpu::xent_accumulate(fm(o[0]), f(i[0]), f(i[1]), &Dims::from_params(p))
            }),
            Kernel::Softmax => {
                k(S::SoftmaxXent, "softmax", 1, 1, |o, i, p| cpu::softmax(fm(o[0]), f(i[0]), &Dims::from_params(p)))
            }
            Kernel::DropoutForward => k(S::Dropout, "dropout_forward", 1, 1, |o, i, p| {
                cpu::dropout_forward(fm(o[0]), f(i[0]), &Dims::from_params(p))
            }),
            Kernel::DropoutBackward => k(S::Dropout, "dropout_backward", 1, 1, |o, i, p| {
                cpu::dropout_backward(fm(o[0]), f(i[0]), &Dims::from_params(p))
            }),
            Kernel::Adam => k(S::Optim, "adam", 3, 1, |o, i, p| {
                let [w, m, v] = o else { unreachable!() };
                cpu::adam(fm(w), fm(m), fm(v), f(i[0]), &Dims::from_params(p))
            }),
            Kernel::Sgd => k(S::Optim, "sgd", 2, 1, |o, i, p| {
                let [w, vel] = o else { unreachable!() };
                cpu::sgd(fm(w), fm(vel), f(i[0]), &Dims::from_params(p))
            }),
            Kernel::Gather => k(S::Data, "gather", 2, 3, |o, i, p| {
                let [x, y] = o else { unreachable!() };
                cpu::gather(fm(x), y, i[0], i[1], i[2], &Dims::from_params(p))
            }),
            Kernel::BnStats => k(S::Batchnorm, "bn_stats", 2, 1, |o, i, p| {
                let [stats, running] = o else { unreachable!() };
                cpu::bn_stats(fm(stats), fm(running), f(i[0]), &Dims::from_params(p))
            }),
            Kernel::BnForward => k(S::Batchnorm, "bn_forward", 1, 3, |o, i, p| {
                cpu::bn_forward(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p))
            }),
            Kernel::BnBackwardParams => k(S::Batchnorm, "bn_backward_params", 1, 3, |o, i, p| {
                cpu::bn_backward_params(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p))
            }),
            Kernel::BnBackwardInput => k(S::Batchnorm, "bn_backward_input", 1, 5, |o, i, p| {
                cpu::bn_backward_input(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), f(i[3]), f(i[4]), &Dims::from_params(p))
            }),
        }
    }
}
