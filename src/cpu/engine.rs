//! The CPU reference engine: runs op lists through the CPU twins, one op after
//! another, on buffers in host memory.

use crate::engine::{Host, OnHost, PlanId, Runner};
use crate::error::Result;

/// Runs each op through its twin (`cpu::twin`).
#[derive(Default)]
pub struct Twins;

pub type CpuEngine = OnHost<Twins>;

impl CpuEngine {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Runner for Twins {
    fn name(&self) -> String {
        "CPU reference".into()
    }
    fn run(&mut self, host: &mut Host, plan: PlanId) -> Result<()> {
        host.run(plan, |op, o, i| super::twin(op.kernel)(o, i, &op.params));
        Ok(())
    }
}
