//! ReLU on its own (after a `lin` layer and a `bn`, say): `relu`.

use super::{Emit, Kind, OnnxAt};
use crate::kernels::op;
use crate::kernels::ElemDims;
use crate::model::onnx::Graph;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Relu;

impl Relu {
    pub const SYNTAX: &str = "relu";

    pub fn parse(tok: &str) -> Option<Relu> {
        (tok == "relu").then_some(Relu)
    }
}

impl std::fmt::Display for Relu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("relu")
    }
}

impl Kind for Relu {
    /// The gradients of its output and its input share one buffer (same shape).
    fn grad_in_place(&self) -> bool {
        true
    }

    fn forward(&self, e: &mut Emit) -> bool {
        e.push(op::relu_forward(e.y, e.x, ElemDims::new(e.y.len)));
        true
    }

    /// In place: the layer below reads the same buffer.
    fn backward(&self, e: &mut Emit) {
        let dy = e.dy();
        e.push(op::relu_backward(dy, e.y, ElemDims::new(dy.len)));
    }

    fn onnx(&self, g: &mut Graph, _at: &OnnxAt, _flat: &mut bool) {
        g.node("Relu", &[], &[]);
    }
}
