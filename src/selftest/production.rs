//! cnn6's GEMM and reduction launches at batch 500, exactly as one training step
//! plans them under a split-K policy (a discrete GPU's: 95-256 chunks, over 3,000
//! workgroups in a launch): the sizes where an index could overflow or a split
//! count misbehave, which the small cases never reach. Each launch gets fresh
//! random inputs and NaN-filled outputs between guard words, like every case, and
//! the twins check it; their tolerance grows with the length of the sums.

use super::{Builder, Case, Tol};
use crate::data::{Images, PIXELS};
use crate::engine::Recorder;
use crate::engine::SplitK;
use crate::error::Result;
use crate::kernels::op::{Grid, Op};
use crate::kernels::Kernel;
use crate::kernels::{BiasGradDims, ConvDims, Dims, MatmulDims, SplitDims};
use crate::model::{Mode, Net, NetConfig, Spec};
use crate::optim::Optim;

pub const ARCH: &str = "cnn6";
pub const BATCH: usize = 500;

/// The launches of a cnn6 training step at batch 500 that run a GEMM core or sum
/// over a workgroup (convs, dense layers, bias gradients, split-K sums), in plan
/// order, planned for the split-K policy `split` (an engine's `split_k()`).
pub fn cases(seed: u64, split: Option<SplitK>) -> Result<Vec<Case>> {
    let mut rec = Recorder::for_split(split);
    let images = Images::digits(vec![0; BATCH * PIXELS], Some(vec![0; BATCH]));
    let cfg =
        NetConfig { batch: BATCH, norm: crate::data::norm::Norm::default(), optim: Some(Optim::adam(1e-3)), seed: 0 };
    let mut net = Net::new(&mut rec, Spec::parse(ARCH)?, &images, cfg)?;
    let plan = net.plan(&mut rec, Mode::Train, BATCH)?;
    let mut b = Builder::new(seed);
    let mut out = Vec::new();
    for (i, op) in rec.host.ops(plan).iter().enumerate() {
        use Kernel::*;
        if !matches!(
            op.kernel,
            Matmul | Conv2dForward | Conv2dBackwardInput | Conv2dBackwardWeight | BiasGrad | SumSplits
        ) {
            continue;
        }
        let outputs = op.kernel.info().outputs;
        let views = op
            .views
            .iter()
            .enumerate()
            .map(|(j, v)| if j < outputs { b.output(v.len) } else { b.randn(v.len) })
            .collect();
        let (shape, k) = describe(op);
        let case_op = Op { views, ..op.clone() };
        out.push(b.case(format!("{ARCH} b{BATCH} op {i}: {shape}"), case_op, sum_tol(k), vec![]));
    }
    Ok(out)
}

/// f32 sums of k products of values in [-1, 1) drift apart by about k·2^-24 in
/// the worst order (the twins sum in sequence, the GPU in split chunks of
/// tiles); 1e-7·k allows that against outputs of order √k/3, where a wrong
/// index is off by the whole output.
fn sum_tol(k: usize) -> Tol {
    Tol { atol: (1e-7 * k as f32).max(1e-4), rtol: 1e-4 }
}

/// A launch's shape as the cases print it, and the length of each of its sums.
fn describe(op: &Op) -> (String, usize) {
    let p = &op.params;
    let splits = match op.grid {
        Grid::Gemm { splits, .. } => splits,
        Grid::Groups(_) => 1,
    };
    match op.kernel {
        Kernel::Matmul => {
            let d = MatmulDims::from_params(p);
            (format!("{}x{} = {}x{} · {}x{}", d.m, d.n, d.m, d.k, d.k, d.n), d.k as usize)
        }
        Kernel::BiasGrad => {
            let d = BiasGradDims::from_params(p);
            let k = (d.outer.div_ceil(d.splits) * d.inner) as usize;
            (format!("({},{},{}) split {}", d.outer, d.channels, d.inner, d.splits), k)
        }
        Kernel::SumSplits => {
            let d = SplitDims::from_params(p);
            (format!("{} x {}", d.splits, d.len), d.splits as usize)
        }
        kernel => {
            let d = ConvDims::from_params(p);
            let taps = (d.k * d.k) as usize;
            let k = match kernel {
                Kernel::Conv2dForward => d.cin as usize * taps,
                Kernel::Conv2dBackwardInput => d.cout as usize * taps,
                _ => (d.n * d.ho * d.wo).div_ceil(d.splits) as usize,
            };
            let what = format!("N{} Ci{} Co{} {}x{} k{}", d.n, d.cin, d.cout, d.h, d.w, d.k);
            (if splits > 1 { format!("{what} split-K {splits}") } else { what }, k)
        }
    }
}
