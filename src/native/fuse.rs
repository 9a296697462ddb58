//! Fusions the native engine makes in its own copy of a plan, where an op only
//! re-reads what the op before it wrote: a ReLU's backward mask applied as a conv
//! grad input or a max-pool backward writes; a conv's bias gradient summed beside
//! its weight gradient; on the direct kernels, a conv forward run by the max-pool
//! that alone reads its output (pooled in cache, never written), and a max-pool
//! backward left to the conv grad weight that alone reads its output (scattered
//! straight into that conv's per-image copy of dY). Each saves a pass over a
//! whole activation in memory. The ops keep their places, so `set_params` still
//! addresses them; the ones done elsewhere are marked, and the results equal the
//! unfused ops' within rounding (exactly, but for the bias sums).

use super::shape::Shape;
use super::Conv;
use crate::kernels::op::{BufId, Op};
use crate::kernels::Kernel;
use crate::kernels::{BiasGradDims, ConvDims, Dims, PoolDims};

/// What the native engine does at one op of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fuse {
    /// as planned
    No,
    /// a conv grad input or max-pool backward masked by the next op, a ReLU
    /// backward, whose output (the ReLU's) is appended to this op's inputs
    ReluMask,
    /// a max-pool backward masked likewise by the ReLU before the pool, through the
    /// pool's own output (each window's maximum is the ReLU's output at its argmax),
    /// appended to its inputs: a quarter of the reads
    PooledMask,
    /// a ReLU backward already applied by the op before
    Done,
    /// a conv grad weight: with `bias`, it also sums dY per channel for the next
    /// op; with `pool` k > 0, its dY is the k×k max-pool backward's output, which
    /// it makes itself from that op's inputs (dY pooled, argmax, pooled mask),
    /// appended to its own
    Wgrad { bias: bool, pool: u32 },
    /// a max-pool backward (with its pooled mask) left to the conv grad weight after it
    Unpooled,
    /// a conv forward left to the max-pool after it, the only reader of its output
    PooledLater,
    /// a max-pool forward that runs the conv before it (these its parameters; the
    /// conv's inputs appended to its own) and pools each image's output in cache
    ConvFirst(crate::kernels::Params),
    /// a bias gradient that copies the sums the op before made
    BiasFromBefore,
}

/// The fusions for `ops`, appending the inputs fused ops need, for convs run as
/// `conv` says (the pooled fusions need the direct kernels).
pub fn plan(ops: &mut [Op], conv: Conv) -> Vec<Fuse> {
    let mut fuse = vec![Fuse::No; ops.len()];
    for j in 1..ops.len() {
        if fuse[j - 1] != Fuse::No {
            continue;
        }
        let (a, b) = (&ops[j - 1], &ops[j]);
        match (a.kernel, b.kernel) {
            (Kernel::Conv2dBackwardInput | Kernel::MaxpoolBackward, Kernel::ReluBackward)
                if a.views[0] == b.views[0] =>
            {
                // the forward pool that wrote this backward's argmax, if the plan has it
                let pooled = (a.kernel == Kernel::MaxpoolBackward)
                    .then(|| ops.iter().find(|f| f.kernel == Kernel::MaxpoolForward && f.views[1] == a.views[2]))
                    .flatten()
                    .map(|f| f.views[0]);
                let (mask, how) = match pooled {
                    Some(y) => (y, Fuse::PooledMask),
                    None => (b.views[1], Fuse::ReluMask),
                };
                ops[j - 1].views.push(mask);
                (fuse[j - 1], fuse[j]) = (how, Fuse::Done);
            }
            (Kernel::Conv2dBackwardWeight, Kernel::BiasGrad) if a.views[1] == b.views[1] => {
                let (c, g) = (ConvDims::from_params(&a.params), BiasGradDims::from_params(&b.params));
                if c.splits <= 1 && g.splits <= 1 && (g.outer, g.channels, g.inner) == (c.n, c.cout, c.ho * c.wo) {
                    (fuse[j - 1], fuse[j]) = (Fuse::Wgrad { bias: true, pool: 0 }, Fuse::BiasFromBefore);
                }
            }
            _ => {}
        }
    }
    if conv != Conv::Gemm {
        unpool(ops, &mut fuse);
        pool_in_forward(ops, &mut fuse, conv == Conv::Winograd);
    }
    fuse
}

/// A conv forward (i) whose output only the max-pool after it (i + 1) reads (or
/// ops already done elsewhere): the pool runs the conv and pools in cache, so
/// the conv's output is never written.
fn pool_in_forward(ops: &mut [Op], fuse: &mut [Fuse], winograd: bool) {
    for i in 0..ops.len().saturating_sub(1) {
        let (conv, pool) = (&ops[i], &ops[i + 1]);
        if conv.kernel != Kernel::Conv2dForward
            || pool.kernel != Kernel::MaxpoolForward
            || pool.views[2] != conv.views[0]
        {
            continue;
        }
        if fuse[i] != Fuse::No || fuse[i + 1] != Fuse::No {
            continue;
        }
        let (c, p) = (ConvDims::from_params(&conv.params), PoolDims::from_params(&pool.params));
        if !super::conv::pools_in_forward(&Shape::of(&c), true, winograd)
            || (p.n, p.c, p.h, p.w) != (c.n, c.cout, c.ho, c.wo)
        {
            continue;
        }
        if !used_only_by(ops, conv.views[0].buf, |j| j == i || j == i + 1 || fuse[j] == Fuse::Done) {
            continue;
        }
        let (params, inputs) = (conv.params, conv.views[1..].to_vec());
        ops[i + 1].views.extend(inputs);
        (fuse[i], fuse[i + 1]) = (Fuse::PooledLater, Fuse::ConvFirst(params));
    }
}

/// A masked max-pool backward (i), its ReLU's backward (i + 1, done), then a conv
/// grad weight (i + 2) reading the pool's output as its dY, which nothing else
/// reads but a bias gradient that takes the conv's sums: the conv makes that dY
/// itself, so the pool's dense output is never written.
fn unpool(ops: &mut [Op], fuse: &mut [Fuse]) {
    for i in 0..ops.len().saturating_sub(2) {
        let (pool, conv) = (&ops[i], &ops[i + 2]);
        if fuse[i] != Fuse::PooledMask || conv.kernel != Kernel::Conv2dBackwardWeight || conv.views[1] != pool.views[0]
        {
            continue;
        }
        let bias = match fuse[i + 2] {
            Fuse::No => false,
            Fuse::Wgrad { bias: true, pool: 0 } => true,
            _ => continue,
        };
        let alone = used_only_by(ops, pool.views[0].buf, |j| (i..=i + 2).contains(&j) || (bias && j == i + 3));
        if !alone || ConvDims::from_params(&conv.params).splits > 1 {
            continue;
        }
        let k = PoolDims::from_params(&pool.params).k;
        // dY pooled, argmax, pooled mask: the pool's inputs after its output
        let extra: Vec<_> = pool.views[1..].to_vec();
        ops[i + 2].views.extend(extra);
        (fuse[i], fuse[i + 2]) = (Fuse::Unpooled, Fuse::Wgrad { bias, pool: k });
    }
}

/// Whether buffer `buf` is bound by no op of `ops` but those `allowed` (by index).
fn used_only_by(ops: &[Op], buf: BufId, allowed: impl Fn(usize) -> bool) -> bool {
    ops.iter().enumerate().all(|(j, op)| allowed(j) || op.views.iter().all(|v| v.buf != buf))
}
