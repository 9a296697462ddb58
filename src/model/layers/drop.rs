//! Dropout: `drop{P}`, P in [0, 1). Its masks are a function of (seed, step,
//! layer, element), so backward recomputes them; outside training it is the identity.

use super::{Emit, Kind, OnnxAt};
use crate::kernels::op;
use crate::kernels::DropoutDims;
use crate::model::onnx::Graph;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drop {
    pub p: f32,
}

impl Drop {
    pub const SYNTAX: &str = "drop{P}";

    pub fn parse(tok: &str) -> Option<Drop> {
        let p: f32 = tok.strip_prefix("drop")?.parse().ok()?;
        (0.0..1.0).contains(&p).then_some(Drop { p })
    }
}

impl std::fmt::Display for Drop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "drop{}", self.p)
    }
}

impl Kind for Drop {
    fn forward(&self, e: &mut Emit) -> bool {
        if !e.train {
            return false;
        }
        let d = DropoutDims::new(e.y.len, self.p, e.seed, 0, e.layer as u32);
        e.dropouts.push((e.ops.len(), d));
        e.push(op::dropout_forward(e.y, e.x, d));
        true
    }

    /// The forward's mask again: the same dims, salted with the layer.
    fn backward(&self, e: &mut Emit) {
        if let Some(dx) = e.dx {
            let salt = e.layer as u32;
            let fwd = e.dropouts.iter().find(|(_, d)| d.salt == salt).expect("dropout backward without forward").1;
            e.dropouts.push((e.ops.len(), fwd));
            e.push(op::dropout_backward(dx, e.dy(), fwd));
        }
    }

    /// Nothing: the identity at inference.
    fn onnx(&self, _g: &mut Graph, _at: &OnnxAt, _flat: &mut bool) {}
}
