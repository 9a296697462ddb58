//! Global average pooling: `gap`, each channel's mean over its H×W, so
//! (C, H, W) -> (C, 1, 1) and a dense layer after it reads C values, whatever
//! the input's size. No spatial layer may follow it.

use super::{Emit, Kind, OnnxAt, Place, Shape};
use crate::kernels::op;
use crate::kernels::GapDims;
use crate::model::onnx::{Attr, Graph};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gap;

impl Gap {
    pub const SYNTAX: &str = "gap";

    pub fn parse(tok: &str) -> Option<Gap> {
        (tok == "gap").then_some(Gap)
    }

    fn dims(e: &Emit) -> GapDims {
        let (c, h, w) = e.input;
        GapDims::new(e.n, c, h * w)
    }
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("gap")
    }
}

impl Kind for Gap {
    fn out_shape(&self, at: &Place) -> Result<Shape, String> {
        at.spatial()?;
        Ok((at.input.0, 1, 1))
    }

    fn flattens(&self) -> bool {
        true
    }

    fn forward(&self, e: &mut Emit) -> bool {
        e.push(op::gap_forward(e.y, e.x, Gap::dims(e)));
        true
    }

    fn backward(&self, e: &mut Emit) {
        if let Some(dx) = e.dx {
            let d = Gap::dims(e);
            e.push(op::gap_backward(dx, e.dy(), d));
        }
    }

    /// `GlobalAveragePool`, then the `Flatten` to (N, C) the dense layer after it reads.
    fn onnx(&self, g: &mut Graph, _at: &OnnxAt, flat: &mut bool) {
        g.node("GlobalAveragePool", &[], &[]);
        g.node("Flatten", &[], &[("axis", Attr::Int(1))]);
        *flat = true;
    }
}
