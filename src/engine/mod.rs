//! The engine interface that graphs run on: buffers, plans (op lists whose
//! bind groups and parameters are built once), and runs. `GpuEngine` records
//! plans into command buffers; `CpuEngine` interprets them with the CPU twins.

mod host;
mod record;

pub use host::{Host, OnHost, Runner};
pub use record::Recorder;

use crate::error::Result;
use crate::kernels::op::{BufId, Op, View};
use crate::kernels::shaders::{Gemm, Shader};
use crate::kernels::Params;

pub type PlanId = usize;

/// An engine's split-K policy: its GEMM choice (whose core, resolved per launch
/// as the launch itself resolves it, sets the tile a workgroup computes) and the
/// workgroups that keep its device busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitK {
    pub gemm: Gemm,
    /// Workgroups a launch should have to fill the device.
    pub workgroups: usize,
}

impl SplitK {
    /// The most chunks a reduction is cut into (its partial sums cost memory).
    pub const MAX: usize = 256;
    /// The shortest chunk worth a workgroup's start-up and a partial sum's traffic.
    pub const MIN_CHUNK: usize = 256;

    /// Chunks for a reduction of length `k` computed by `groups` workgroups
    /// unsplit: enough to reach `workgroups`, within MAX and MIN_CHUNK.
    pub fn splits(&self, groups: usize, k: usize) -> usize {
        self.workgroups.div_ceil(groups.max(1)).min(k / Self::MIN_CHUNK).clamp(1, Self::MAX)
    }

    /// Chunks for an m x n output of `shader`'s GEMM with a long K, from the
    /// workgroups its core by rows makes unsplit (split, the launch keeps that
    /// core unless it still makes too few workgroups: [`Gemm::resolve`]).
    pub fn gemm_splits(&self, shader: Shader, m: usize, n: usize, k: usize) -> usize {
        let [x, y, _] = self.gemm.resolve(shader, m as u32, n as u32, 1, None).groups(m as u32, n as u32, 1);
        self.splits(x as usize * y as usize, k)
    }
}

/// Split-K chunks for a conv's weight gradient, whose K (N·Ho·Wo pixels) is long
/// while its output (Co × Ci·k·k) is small: without splitting, a GPU would run
/// a handful of workgroups each looping over every pixel of the batch.
/// `split` is the engine's `split_k()`.
pub fn weight_grad_splits(split: Option<SplitK>, cout: usize, taps: usize, pixels: usize) -> usize {
    split.map_or(1, |s| s.gemm_splits(Shader::Conv2d, cout, taps, pixels))
}

/// Chunks of rows for a bias gradient of `channels` workgroups (one per channel)
/// summing `outer` rows of `inner` values each.
pub fn bias_grad_splits(split: Option<SplitK>, channels: usize, outer: usize, inner: usize) -> usize {
    split.map_or(1, |s| s.splits(channels, outer * inner).min(outer))
}

pub trait Engine {
    /// The adapter (or "CPU reference") this engine runs on.
    fn name(&self) -> String;
    /// A new zero-filled buffer of `words` 4-byte words.
    fn buffer(&mut self, words: usize, label: &str) -> Result<BufId>;
    fn write(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()>;
    /// Waits for all submitted work, then reads the view.
    fn read(&mut self, view: View) -> Result<Vec<u32>>;
    /// Validates an op list and prepares it to run many times.
    fn plan(&mut self, ops: Vec<Op>) -> Result<PlanId>;
    /// Replaces one op's parameters (e.g. the step number) before the next run.
    fn set_params(&mut self, plan: PlanId, op: usize, params: Params) -> Result<()>;
    /// Runs a plan; on a GPU this submits without waiting.
    fn run(&mut self, plan: PlanId) -> Result<()>;
    /// Blocks until everything submitted has finished.
    fn finish(&mut self) -> Result<()>;
    /// Waits, then frees every buffer and plan: ids handed out before are invalid.
    /// Long-lived users (the bench) call it between unrelated workloads.
    fn clear(&mut self) -> Result<()>;
    /// Runs a plan, waits, and returns its device time in milliseconds measured
    /// by timestamp queries; None where the engine has no such clock.
    fn run_timed(&mut self, _plan: PlanId) -> Result<Option<f64>> {
        Ok(None)
    }
    /// How long reductions should be split across workgroups (split-K): a GPU
    /// needs the parallelism; CPU engines and adapters only pay for the extra pass.
    fn split_k(&self) -> Option<SplitK> {
        None
    }
    /// Whether GEMMs run in mixed precision (f16 operands, f32 sums) on the
    /// cooperative-matrix core: the twins to compare with round the same operands.
    fn mixed(&self) -> bool {
        false
    }
    /// Whether plans made now go through the GPU fusion pass (`kernels::fuse`):
    /// the GPU engine's, and the recorder's for a page.
    fn fuses(&self) -> bool {
        false
    }

    fn write_f32(&mut self, buf: BufId, offset: usize, data: &[f32]) -> Result<()> {
        self.write(buf, offset, bytemuck::cast_slice(data))
    }
    fn read_f32(&mut self, view: View) -> Result<Vec<f32>> {
        Ok(self.read(view)?.into_iter().map(f32::from_bits).collect())
    }
}
