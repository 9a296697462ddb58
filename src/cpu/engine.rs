//! The CPU reference engine: runs op lists through the CPU twins, one op after
//! another, on buffers in host memory.

use crate::engine::{Host, OnHost, PlanId, Runner};
use crate::error::Result;

/// Runs each op through its twin (`cpu::twin`), or under mixed precision
/// through the twin that rounds a GEMM's operands (`cpu::mixed`).
#[derive(Default)]
pub struct Twins {
    mixed: bool,
}

pub type CpuEngine = OnHost<Twins>;

impl CpuEngine {
    pub fn new() -> Self {
        Self::default()
    }
    /// The reference for an engine that runs its GEMMs in mixed precision (or not).
    pub fn matching(mixed: bool) -> Self {
        OnHost { host: Default::default(), runner: Twins { mixed } }
    }
}

impl Runner for Twins {
    fn name(&self) -> String {
        if self.mixed {
            "CPU reference, mixed precision".into()
        } else {
            "CPU reference".into()
        }
    }
    fn run(&mut self, host: &mut Host, plan: PlanId) -> Result<()> {
        match self.mixed {
            true => host.run(plan, |op, o, i| super::mixed::twin_mixed(op.kernel, o, i, &op.params)),
            false => host.run(plan, |op, o, i| super::twin(op.kernel)(o, i, &op.params)),
        }
        Ok(())
    }
    fn mixed(&self) -> bool {
        self.mixed
    }
}
