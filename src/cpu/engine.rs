//! The CPU engine: runs op lists through the CPU twins, one op after another.

use crate::cpu::Params;
use crate::engine::{Engine, PlanId};
use crate::error::Result;
use crate::op::{BufId, Op, View};

#[derive(Default)]
pub struct CpuEngine {
    bufs: Vec<Vec<u32>>,
    plans: Vec<Vec<Op>>,
}

impl CpuEngine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs one op (checked by `check_op` when its plan was made).
    fn run_op(&mut self, op: &Op) {
        let info = op.kernel.info();
        let (outs, ins) = op.views.split_at(info.outputs);
        let mut taken: Vec<(BufId, Vec<u32>)> =
            outs.iter().map(|v| (v.buf, std::mem::take(&mut self.bufs[v.buf]))).collect();
        {
            let mut out_slices: Vec<&mut [u32]> =
                taken.iter_mut().zip(outs).map(|((_, b), v)| &mut b[v.offset..v.offset + v.len]).collect();
            let in_slices: Vec<&[u32]> = ins.iter().map(|v| &self.bufs[v.buf][v.offset..v.offset + v.len]).collect();
            (info.cpu)(&mut out_slices, &in_slices, &op.params);
        }
        for (id, b) in taken {
            self.bufs[id] = b;
        }
    }
}

impl Engine for CpuEngine {
    fn name(&self) -> String {
        "CPU reference".into()
    }
    fn buffer(&mut self, words: usize, _label: &str) -> Result<BufId> {
        self.bufs.push(vec![0; words]);
        Ok(self.bufs.len() - 1)
    }
    fn write(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()> {
        self.bufs[buf][offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn read(&mut self, v: View) -> Result<Vec<u32>> {
        Ok(self.bufs[v.buf][v.offset..v.offset + v.len].to_vec())
    }
    fn plan(&mut self, ops: Vec<Op>) -> Result<PlanId> {
        for op in &ops {
            check_op(op, |b| self.bufs[b].len());
        }
        self.plans.push(ops);
        Ok(self.plans.len() - 1)
    }
    fn set_params(&mut self, plan: PlanId, op: usize, params: Params) -> Result<()> {
        self.plans[plan][op].params = params;
        Ok(())
    }
    fn run(&mut self, plan: PlanId) -> Result<()> {
        let ops = std::mem::take(&mut self.plans[plan]);
        for op in &ops {
            self.run_op(op);
        }
        self.plans[plan] = ops;
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn clear(&mut self) -> Result<()> {
        self.plans = Vec::new();
        self.bufs = Vec::new();
        Ok(())
    }
}

/// The rules a CPU-side engine relies on: every view lies inside its buffer
/// (`len_of` gives a buffer's words), and outputs lie in buffers that no other
/// view of the op uses, the rule wgpu applies to read-write storage bindings.
pub fn check_op(op: &Op, len_of: impl Fn(BufId) -> usize) {
    let name = op.kernel.name();
    for v in &op.views {
        assert!(v.offset + v.len <= len_of(v.buf), "{name}: view past its buffer");
    }
    for (i, o) in op.views[..op.kernel.info().outputs].iter().enumerate() {
        let clash = op.views.iter().enumerate().any(|(j, v)| j != i && v.buf == o.buf);
        assert!(!clash, "{name}: output view {i} shares its buffer with another binding");
    }
}
