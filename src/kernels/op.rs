//! Ops: one kernel launch over views of engine buffers, with its parameter
//! block and grid. The builders here are the only place grids are computed, so
//! the GPU and CPU engines run exactly the same list.

use crate::kernels;
use crate::kernels::shaders::Gemm;
use crate::kernels::Kernel;
use crate::kernels::{Dims, Params};

pub type BufId = usize;

/// A window of a buffer, in 4-byte words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub buf: BufId,
    pub offset: usize,
    pub len: usize,
}

impl View {
    pub fn whole(buf: BufId, len: usize) -> View {
        View { buf, offset: 0, len }
    }
}

/// How many workgroups a launch needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grid {
    Groups([u32; 3]),
    /// A GEMM-core launch computing an m x n output: its tiles depend on the
    /// core the engine runs (`gpu::shaders::Gemm`), so the engine sizes it.
    Gemm {
        m: u32,
        n: u32,
        /// split-K chunks, one workgroup layer (wid.z) each
        splits: u32,
    },
}

#[derive(Clone, Debug)]
pub struct Op {
    pub kernel: Kernel,
    pub params: Params,
    /// Outputs then inputs, bound at 1, 2, ... in this order.
    pub views: Vec<View>,
    pub grid: Grid,
}

impl Op {
    /// The workgroups of this op's launch and the GEMM core it runs, under the
    /// engine's choice `gemm` and the workgroups that fill its device (`fill`,
    /// [`Gemm::resolve`]); an op without a GEMM runs `Tiled`'s module, the only
    /// one of a file without a core.
    pub fn launch(&self, gemm: Gemm, fill: Option<usize>) -> ([u32; 3], Gemm) {
        match self.grid {
            Grid::Groups(g) => (g, Gemm::Tiled),
            Grid::Gemm { m, n, splits } => {
                let core = gemm.resolve(self.kernel.info().shader, m, n, splits, fill);
                (core.groups(m, n, splits), core)
            }
        }
    }
}

const WG_1D: usize = 256;
const MAX_GROUPS: usize = 65535;

fn gemm(m: usize, n: usize) -> Grid {
    Grid::Gemm { m: m as u32, n: n as u32, splits: 1 }
}

/// A 1-D launch of `count` invocations, folded into y past 65535 groups
/// (the shaders rebuild the flat index from num_workgroups).
fn groups_1d(count: usize) -> [u32; 3] {
    let total = count.div_ceil(WG_1D).max(1);
    if total <= MAX_GROUPS {
        [total as u32, 1, 1]
    } else {
        [MAX_GROUPS as u32, total.div_ceil(MAX_GROUPS) as u32, 1]
    }
}

fn op(kernel: Kernel, params: Params, views: &[View], grid: impl Into<Grid>) -> Op {
    let info = kernel.info();
    debug_assert_eq!(views.len(), info.outputs + info.inputs, "{}", info.entry);
    Op { kernel, params, views: views.to_vec(), grid: grid.into() }
}

impl From<[u32; 3]> for Grid {
    fn from(g: [u32; 3]) -> Grid {
        Grid::Groups(g)
    }
}

/// C = A·B (+bias)(ReLU). Without a bias, `b` is bound again in its slot (unread),
/// and in the argmax slot, which the store shared with `matmul_grad` names but
/// this entry point never reads.
pub fn matmul(c: View, a: View, b: View, bias: Option<View>, d: kernels::MatmulDims) -> Op {
    op(Kernel::Matmul, d.params(), &[c, a, b, bias.unwrap_or(b), b], gemm(d.m as usize, d.n as usize))
}

/// A dense gradient product with the fusion pass's epilogue (`kernels::fuse`):
/// dX times `[mask > 0]` (FLAG_MASK) and/or through a max-pool's argmax
/// (FLAG_UNPOOL); dW with its bias gradient (FLAG_GRAD_BIAS).
pub fn matmul_grad(c: View, a: View, b: View, mask: View, argmax: View, d: kernels::MatmulDims) -> Op {
    op(Kernel::MatmulGrad, d.params(), &[c, a, b, mask, argmax], gemm(d.m as usize, d.n as usize))
}

/// With `d.splits` > 1, `dbias` is the (splits, channels) partial buffer that
/// `sum_splits` then adds up.
pub fn bias_grad(dbias: View, dy: View, d: kernels::BiasGradDims) -> Op {
    op(Kernel::BiasGrad, d.params(), &[dbias, dy], [d.channels, d.splits.max(1), 1])
}

/// Without a bias, `w` is bound again in its slot (unread).
pub fn conv2d_forward(y: View, x: View, w: View, bias: Option<View>, d: kernels::ConvDims) -> Op {
    let grid = gemm(d.cout as usize, (d.n * d.ho * d.wo) as usize);
    op(Kernel::Conv2dForward, d.params(), &[y, x, w, bias.unwrap_or(w)], grid)
}

/// `w` is bound again in the mask and argmax slots, which only the fused
/// epilogues read (`kernels::fuse`).
pub fn conv2d_backward_input(dx: View, dy: View, w: View, d: kernels::ConvDims) -> Op {
    let grid = gemm(d.cin as usize, (d.n * d.h * d.w) as usize);
    op(Kernel::Conv2dBackwardInput, d.params(), &[dx, dy, w, w, w], grid)
}

/// With `d.splits` > 1, `dw` is the (splits, Co, Ci·k·k) partial buffer that
/// `sum_splits` then adds up. `x` is bound again in the bias slot, which the store
/// it shares with the forward names but this entry point never reads.
pub fn conv2d_backward_weight(dw: View, dy: View, x: View, d: kernels::ConvDims) -> Op {
    let grid = Grid::Gemm { m: d.cout, n: d.cin * d.k * d.k, splits: d.splits };
    op(Kernel::Conv2dBackwardWeight, d.params(), &[dw, dy, x, x], grid)
}

pub fn sum_splits(total: View, part: View, d: kernels::SplitDims) -> Op {
    op(Kernel::SumSplits, d.params(), &[total, part], groups_1d(d.len as usize))
}

/// Every segment of `table` (`SegmentsDims::ROW` words each) summed as `sum_splits`
/// would, the longest `max_len` words: one workgroup row per segment.
pub fn sum_segments(total: View, part: View, table: View, d: kernels::SegmentsDims, max_len: usize) -> Op {
    let groups = [max_len.div_ceil(WG_1D).max(1) as u32, d.count, 1];
    op(Kernel::SumSegments, d.params(), &[total, part, table], groups)
}

pub fn maxpool_forward(y: View, argmax: View, x: View, d: kernels::PoolDims) -> Op {
    let outputs = (d.n * d.c * (d.h / d.k) * (d.w / d.k)) as usize;
    op(Kernel::MaxpoolForward, d.params(), &[y, argmax, x], groups_1d(outputs))
}

pub fn maxpool_backward(dx: View, dy: View, argmax: View, d: kernels::PoolDims) -> Op {
    let inputs = (d.n * d.c * d.h * d.w) as usize;
    op(Kernel::MaxpoolBackward, d.params(), &[dx, dy, argmax], groups_1d(inputs))
}

pub fn gap_forward(y: View, x: View, d: kernels::GapDims) -> Op {
    op(Kernel::GapForward, d.params(), &[y, x], groups_1d(d.planes as usize))
}

pub fn gap_backward(dx: View, dy: View, d: kernels::GapDims) -> Op {
    op(Kernel::GapBackward, d.params(), &[dx, dy], groups_1d((d.planes * d.hw) as usize))
}

pub fn relu_forward(y: View, x: View, d: kernels::ElemDims) -> Op {
    op(Kernel::ReluForward, d.params(), &[y, x], groups_1d(d.n as usize))
}

pub fn relu_backward(dy: View, y: View, d: kernels::ElemDims) -> Op {
    op(Kernel::ReluBackward, d.params(), &[dy, y], groups_1d(d.n as usize))
}

fn rows(n: u32) -> [u32; 3] {
    [n.div_ceil(64).max(1), 1, 1]
}

/// `acc` (the running sums) is not touched: xent_sums writes it.
pub fn softmax_xent(
    dlogits: View,
    loss: View,
    correct: View,
    acc: View,
    logits: View,
    labels: View,
    d: kernels::XentDims,
) -> Op {
    op(Kernel::SoftmaxXent, d.params(), &[dlogits, loss, correct, acc, logits, labels], rows(d.n))
}

/// A softmax_xent launch made `xent_sums`: then xent_accumulate's work into its
/// `acc`, in one workgroup (kernels::fuse).
pub fn xent_sums(softmax_xent: Op) -> Op {
    debug_assert_eq!(softmax_xent.kernel, Kernel::SoftmaxXent);
    Op { kernel: Kernel::XentSums, grid: Grid::Groups([1, 1, 1]), ..softmax_xent }
}

pub fn xent_accumulate(acc: View, loss: View, correct: View, d: kernels::XentDims) -> Op {
    op(Kernel::XentAccumulate, d.params(), &[acc, loss, correct], [1, 1, 1])
}

pub fn softmax(probs: View, logits: View, d: kernels::XentDims) -> Op {
    op(Kernel::Softmax, d.params(), &[probs, logits], rows(d.n))
}

pub fn dropout_forward(y: View, x: View, d: kernels::DropoutDims) -> Op {
    op(Kernel::DropoutForward, d.params(), &[y, x], groups_1d(d.n as usize))
}

pub fn dropout_backward(dx: View, dy: View, d: kernels::DropoutDims) -> Op {
    op(Kernel::DropoutBackward, d.params(), &[dx, dy], groups_1d(d.n as usize))
}

pub fn adam(param: View, m: View, v: View, grad: View, d: kernels::AdamDims) -> Op {
    op(Kernel::Adam, d.params(), &[param, m, v, grad], groups_1d(d.n as usize))
}

pub fn sgd(param: View, vel: View, grad: View, d: kernels::SgdDims) -> Op {
    op(Kernel::Sgd, d.params(), &[param, vel, grad], groups_1d(d.n as usize))
}

/// The weights' exponential moving average `avg` taking one step towards `param`.
pub fn ema(avg: View, param: View, d: kernels::EmaDims) -> Op {
    op(Kernel::Ema, d.params(), &[avg, param], groups_1d(d.n as usize))
}

/// The loss gradient `dlogits` times the loss scale (`scale`: `optim::LossScale`'s
/// words), which notes the step's exponent and clears its flag.
pub fn scale_loss(dlogits: View, scale: View) -> Op {
    let d = kernels::ScaleDims::over(dlogits.len);
    op(Kernel::ScaleLoss, d.params(), &[dlogits, scale], groups_1d(dlogits.len))
}

/// Raises the loss scale's flag where a value of `grads` is ±∞ or NaN.
pub fn grads_finite(scale: View, grads: View) -> Op {
    let d = kernels::ScaleDims::over(grads.len);
    op(Kernel::GradsFinite, d.params(), &[scale, grads], groups_1d(grads.len))
}

/// `adam` of the gradients unscaled, or nothing where `scale`'s flag is up.
pub fn adam_scaled(param: View, m: View, v: View, grad: View, scale: View, d: kernels::AdamDims) -> Op {
    op(Kernel::AdamScaled, d.params(), &[param, m, v, grad, scale], groups_1d(d.n as usize))
}

/// `sgd` of the gradients unscaled, or nothing where `scale`'s flag is up.
pub fn sgd_scaled(param: View, vel: View, grad: View, scale: View, d: kernels::SgdDims) -> Op {
    op(Kernel::SgdScaled, d.params(), &[param, vel, grad, scale], groups_1d(d.n as usize))
}

/// The loss scale after a step: halved where it was skipped, doubled after
/// `d.interval` finite steps in a row.
pub fn scale_update(scale: View, d: kernels::ScaleDims) -> Op {
    op(Kernel::ScaleUpdate, d.params(), &[scale], [1, 1, 1])
}

pub fn gather(x: View, y: View, store: View, store_labels: View, index: View, d: kernels::GatherDims) -> Op {
    let groups = groups_1d((d.n * d.pixels) as usize);
    op(Kernel::Gather, d.params(), &[x, y, store, store_labels, index], groups)
}

/// Standardises a gathered batch `x` in place.
pub fn normalize(x: View, d: kernels::NormalizeDims) -> Op {
    op(Kernel::Normalize, d.params(), &[x], groups_1d(d.n as usize))
}

/// One workgroup per channel.
pub fn bn_stats(stats: View, running: View, x: View, d: kernels::BnDims) -> Op {
    op(Kernel::BnStats, d.params(), &[stats, running, x], [d.c, 1, 1])
}

/// `stats` is the batch's [mean; invstd] in training, the running [mean; var] otherwise (d.train).
pub fn bn_forward(y: View, x: View, stats: View, affine: View, d: kernels::BnDims) -> Op {
    op(Kernel::BnForward, d.params(), &[y, x, stats, affine], groups_1d((d.n * d.c * d.hw) as usize))
}

pub fn bn_backward_params(dparams: View, dy: View, x: View, stats: View, d: kernels::BnDims) -> Op {
    op(Kernel::BnBackwardParams, d.params(), &[dparams, dy, x, stats], [d.c, 1, 1])
}

pub fn bn_backward_input(
    dx: View,
    dy: View,
    x: View,
    stats: View,
    affine: View,
    dparams: View,
    d: kernels::BnDims,
) -> Op {
    let groups = groups_1d((d.n * d.c * d.hw) as usize);
    op(Kernel::BnBackwardInput, d.params(), &[dx, dy, x, stats, affine, dparams], groups)
}
