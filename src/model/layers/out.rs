//! The output layer: dense + bias over the classes, `out{N}`; the launch puts
//! softmax cross-entropy (or the softmax) on it. Only the last layer.

use super::{dense, size, Emit, Kind, OnnxAt, ParamShape, Place, Shape};
use crate::engine::SplitK;
use crate::model::onnx::Graph;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Out {
    pub classes: usize,
}

impl Out {
    pub const SYNTAX: &str = "out{N}";

    pub fn parse(tok: &str) -> Option<Out> {
        Some(Out { classes: size(tok.strip_prefix("out")?)? })
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "out{}", self.classes)
    }
}

impl Kind for Out {
    fn out_shape(&self, at: &Place) -> Result<Shape, String> {
        if !at.last {
            return Err("out{N} must be the last layer".into());
        }
        Ok((self.classes, 1, 1))
    }
    fn flattens(&self) -> bool {
        true
    }
    fn params(&self, input: Shape) -> Option<ParamShape> {
        Some(dense::params(self.classes, input))
    }
    fn scratch(&self, split: SplitK, batch: usize, _input: Shape, _output: Shape) -> Option<usize> {
        Some(dense::scratch(self.classes, split, batch))
    }
    fn forward(&self, e: &mut Emit) -> bool {
        dense::forward(e, self.classes, false)
    }
    fn backward(&self, e: &mut Emit) {
        dense::backward(e, self.classes, false)
    }
    fn onnx(&self, g: &mut Graph, at: &OnnxAt, flat: &mut bool) {
        dense::onnx(g, at, flat, self.classes, false)
    }
}
