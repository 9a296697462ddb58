//! An engine that runs nothing: it keeps the buffers, their contents and the
//! plans a net builds, so the very op lists the other engines run can be
//! written out for the browser.

use crate::cpu::Host;
use crate::engine::{Engine, PlanId, SplitK};
use crate::error::{Error, Result};
use crate::kernels::op::{BufId, Op, View};
use crate::kernels::Params;

#[derive(Default)]
pub struct Recorder {
    pub host: Host,
    /// Each buffer's label, by id.
    pub labels: Vec<String>,
    /// The split-K policy plans are made for (that of the engine which will run them).
    pub split: Option<SplitK>,
}

impl Engine for Recorder {
    fn name(&self) -> String {
        "plan recorder".into()
    }
    fn buffer(&mut self, words: usize, label: &str) -> Result<BufId> {
        self.labels.push(label.into());
        Ok(self.host.buffer(words))
    }
    fn write(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()> {
        self.host.write(buf, offset, data);
        Ok(())
    }
    fn read(&mut self, v: View) -> Result<Vec<u32>> {
        Ok(self.host.read(v))
    }
    fn plan(&mut self, ops: Vec<Op>) -> Result<PlanId> {
        Ok(self.host.plan(ops))
    }
    fn set_params(&mut self, plan: PlanId, op: usize, params: Params) -> Result<()> {
        self.host.set_params(plan, op, params);
        Ok(())
    }
    fn run(&mut self, _plan: PlanId) -> Result<()> {
        Err(Error::Gpu("the plan recorder records plans; it runs none".into()))
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn clear(&mut self) -> Result<()> {
        self.host.clear();
        self.labels.clear();
        Ok(())
    }
    fn split_k(&self) -> Option<SplitK> {
        self.split
    }
}
