//! Each registry entry's twin on raw buffers: outputs (read-write) then inputs,
//! as the kernel binds them. The reference engine runs plans through this table.

use super::*;
use crate::kernels::{Dims, Kernel, Params};

/// Runs the CPU twin on raw buffers: outputs (read-write) then inputs, as bound.
pub type CpuTwin = fn(&mut [&mut [u32]], &[&[u32]], &Params);

fn f(s: &[u32]) -> &[f32] {
    bytemuck::cast_slice(s)
}
fn fm(s: &mut [u32]) -> &mut [f32] {
    bytemuck::cast_slice_mut(s)
}

/// The twin of kernel `k`.
pub fn twin(k: Kernel) -> CpuTwin {
    match k {
        Kernel::Matmul => |o, i, p| matmul(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), i[3], &Dims::from_params(p)),
        Kernel::MatmulGrad => |o, i, p| matmul(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), i[3], &Dims::from_params(p)),
        Kernel::BiasGrad => |o, i, p| bias_grad(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::SumSplits => |o, i, p| sum_splits(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::SumSegments => |o, i, p| sum_segments(fm(o[0]), f(i[0]), i[1], &Dims::from_params(p)),
        Kernel::Conv2dForward => |o, i, p| conv2d_forward(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p)),
        Kernel::Conv2dBackwardInput => {
            |o, i, p| conv2d_backward_input(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), i[3], &Dims::from_params(p))
        }
        Kernel::Conv2dBackwardWeight => {
            |o, i, p| conv2d_backward_weight(fm(o[0]), f(i[0]), f(i[1]), &Dims::from_params(p))
        }
        Kernel::MaxpoolForward => |o, i, p| {
            let (y, arg) = o.split_at_mut(1);
            maxpool_forward(fm(y[0]), arg[0], f(i[0]), &Dims::from_params(p))
        },
        Kernel::MaxpoolBackward => |o, i, p| maxpool_backward(fm(o[0]), f(i[0]), i[1], &Dims::from_params(p)),
        Kernel::ReluForward => |o, i, p| relu_forward(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::ReluBackward => |o, i, p| relu_backward(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::SoftmaxXent => |o, i, p| {
            let [dl, loss, hit, _] = o else { unreachable!() };
            softmax_xent(fm(dl), fm(loss), fm(hit), f(i[0]), i[1], &Dims::from_params(p))
        },
        Kernel::XentSums => |o, i, p| {
            let [dl, loss, hit, acc] = o else { unreachable!() };
            let d = Dims::from_params(p);
            softmax_xent(fm(dl), fm(loss), fm(hit), f(i[0]), i[1], &d);
            xent_accumulate(fm(acc), f(loss), f(hit), &d)
        },
        Kernel::XentAccumulate => |o, i, p| xent_accumulate(fm(o[0]), f(i[0]), f(i[1]), &Dims::from_params(p)),
        Kernel::Softmax => |o, i, p| softmax(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::DropoutForward => |o, i, p| dropout_forward(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::DropoutBackward => |o, i, p| dropout_backward(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::Adam => |o, i, p| {
            let [w, m, v] = o else { unreachable!() };
            adam(fm(w), fm(m), fm(v), f(i[0]), &Dims::from_params(p))
        },
        Kernel::Sgd => |o, i, p| {
            let [w, vel] = o else { unreachable!() };
            sgd(fm(w), fm(vel), f(i[0]), &Dims::from_params(p))
        },
        Kernel::Ema => |o, i, p| ema(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::ScaleLoss => |o, _, p| {
            let [dl, scale] = o else { unreachable!() };
            scale_loss(fm(dl), scale, &Dims::from_params(p))
        },
        Kernel::GradsFinite => |o, i, p| grads_finite(o[0], f(i[0]), &Dims::from_params(p)),
        Kernel::AdamScaled => |o, i, p| {
            let [w, m, v] = o else { unreachable!() };
            adam_scaled(fm(w), fm(m), fm(v), f(i[0]), i[1], &Dims::from_params(p))
        },
        Kernel::SgdScaled => |o, i, p| {
            let [w, vel] = o else { unreachable!() };
            sgd_scaled(fm(w), fm(vel), f(i[0]), i[1], &Dims::from_params(p))
        },
        Kernel::ScaleUpdate => |o, _, p| scale_update(o[0], &Dims::from_params(p)),
        Kernel::Gather => |o, i, p| {
            let [x, y] = o else { unreachable!() };
            gather(fm(x), y, i[0], i[1], i[2], &Dims::from_params(p))
        },
        Kernel::BnStats => |o, i, p| {
            let [stats, running] = o else { unreachable!() };
            bn_stats(fm(stats), fm(running), f(i[0]), &Dims::from_params(p))
        },
        Kernel::BnForward => |o, i, p| bn_forward(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p)),
        Kernel::BnBackwardParams => {
            |o, i, p| bn_backward_params(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p))
        }
        Kernel::BnBackwardInput => {
            |o, i, p| bn_backward_input(fm(o[0]), f(i[0]), f(i[1]), f(i[2]), f(i[3]), f(i[4]), &Dims::from_params(p))
        }
        Kernel::GapForward => |o, i, p| gap_forward(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::GapBackward => |o, i, p| gap_backward(fm(o[0]), f(i[0]), &Dims::from_params(p)),
        Kernel::Normalize => |o, _, p| normalize(fm(o[0]), &Dims::from_params(p)),
    }
}
