//! The host-memory engines' common ground: `Host` keeps buffers and plans in
//! host memory, and `OnHost` makes an engine of it and a `Runner`, which says
//! only what differs: its name and how a plan runs (the twins, the native
//! kernels, or nothing at all for the recorder).

use super::{Engine, PlanId, SplitK};
use crate::error::Result;
use crate::kernels::op::{BufId, Op, View};
use crate::kernels::Params;

/// Buffers and plans in host memory, for the engines that run on the CPU.
#[derive(Default)]
pub struct Host {
    bufs: Vec<Vec<u32>>,
    plans: Vec<Vec<Op>>,
}

impl Host {
    pub fn buffer(&mut self, words: usize) -> BufId {
        self.bufs.push(vec![0; words]);
        self.bufs.len() - 1
    }
    pub fn write(&mut self, buf: BufId, offset: usize, data: &[u32]) {
        self.bufs[buf][offset..offset + data.len()].copy_from_slice(data);
    }
    pub fn read(&self, v: View) -> Vec<u32> {
        self.bufs[v.buf][v.offset..v.offset + v.len].to_vec()
    }
    pub fn plan(&mut self, ops: Vec<Op>) -> PlanId {
        ops.iter().for_each(|op| self.check(op));
        self.plans.push(ops);
        self.plans.len() - 1
    }
    /// Every buffer's contents, by id.
    pub fn buffers(&self) -> &[Vec<u32>] {
        &self.bufs
    }
    pub fn ops(&self, plan: PlanId) -> &[Op] {
        &self.plans[plan]
    }
    pub fn set_params(&mut self, plan: PlanId, op: usize, params: Params) {
        self.plans[plan][op].params = params;
    }
    pub fn clear(&mut self) {
        *self = Host::default();
    }
    /// The rules `run` relies on: every view lies inside its buffer, and outputs lie
    /// in buffers that no other view of the op uses, the rule wgpu applies to
    /// read-write storage bindings.
    fn check(&self, op: &Op) {
        let name = op.kernel.name();
        for v in &op.views {
            assert!(v.offset + v.len <= self.bufs[v.buf].len(), "{name}: view past its buffer");
        }
        for (i, o) in op.views[..op.kernel.info().outputs].iter().enumerate() {
            let clash = op.views.iter().enumerate().any(|(j, v)| j != i && v.buf == o.buf);
            assert!(!clash, "{name}: output view {i} shares its buffer with another binding");
        }
    }
    /// Runs a plan's ops in order: `f(op, outputs, inputs)` with the op's views as
    /// slices (outputs lent out of their buffers, which `check` proved unshared).
    pub fn run(&mut self, plan: PlanId, mut f: impl FnMut(&Op, &mut [&mut [u32]], &[&[u32]])) {
        let ops = std::mem::take(&mut self.plans[plan]);
        for op in &ops {
            let (outs, ins) = op.views.split_at(op.kernel.info().outputs);
            let mut taken: Vec<(BufId, Vec<u32>)> =
                outs.iter().map(|v| (v.buf, std::mem::take(&mut self.bufs[v.buf]))).collect();
            {
                let mut o: Vec<&mut [u32]> =
                    taken.iter_mut().zip(outs).map(|((_, b), v)| &mut b[v.offset..v.offset + v.len]).collect();
                let i: Vec<&[u32]> = ins.iter().map(|v| &self.bufs[v.buf][v.offset..v.offset + v.len]).collect();
                f(op, &mut o, &i);
            }
            for (id, b) in taken {
                self.bufs[id] = b;
            }
        }
        self.plans[plan] = ops;
    }
}

/// What a host-memory engine adds to `Host`.
pub trait Runner {
    fn name(&self) -> String;
    /// Runs plan `plan` on the host's buffers.
    fn run(&mut self, host: &mut Host, plan: PlanId) -> Result<()>;
    /// Sees each op list before the host keeps it (the native engine fuses there).
    fn planned(&mut self, _ops: &mut Vec<Op>) {}
    /// Sees each new buffer's label.
    fn labelled(&mut self, _label: &str) {}
    /// Drops whatever it keeps per plan or buffer.
    fn cleared(&mut self) {}
    fn split_k(&self) -> Option<SplitK> {
        None
    }
    fn fuses(&self) -> bool {
        false
    }
    /// Whether it computes GEMMs in mixed precision (the reference for such an engine).
    fn mixed(&self) -> bool {
        false
    }
}

/// An engine whose buffers live in host memory.
#[derive(Default)]
pub struct OnHost<R> {
    pub host: Host,
    pub runner: R,
}

impl<R: Runner> Engine for OnHost<R> {
    fn name(&self) -> String {
        self.runner.name()
    }
    fn buffer(&mut self, words: usize, label: &str) -> Result<BufId> {
        self.runner.labelled(label);
        Ok(self.host.buffer(words))
    }
    fn write(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()> {
        self.host.write(buf, offset, data);
        Ok(())
    }
    fn read(&mut self, v: View) -> Result<Vec<u32>> {
        Ok(self.host.read(v))
    }
    fn plan(&mut self, mut ops: Vec<Op>) -> Result<PlanId> {
        self.runner.planned(&mut ops);
        Ok(self.host.plan(ops))
    }
    fn set_params(&mut self, plan: PlanId, op: usize, params: Params) -> Result<()> {
        self.host.set_params(plan, op, params);
        Ok(())
    }
    fn run(&mut self, plan: PlanId) -> Result<()> {
        self.runner.run(&mut self.host, plan)
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn clear(&mut self) -> Result<()> {
        self.host.clear();
        self.runner.cleared();
        Ok(())
    }
    fn split_k(&self) -> Option<SplitK> {
        self.runner.split_k()
    }
    fn fuses(&self) -> bool {
        self.runner.fuses()
    }
    fn mixed(&self) -> bool {
        self.runner.mixed()
    }
}
