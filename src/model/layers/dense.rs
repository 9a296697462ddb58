//! Dense + bias + ReLU, flattening (C, H, W) first: `fc{N}`; without the ReLU:
//! `fc{N}lin`. Its plan and ONNX emission are shared with `out{N}`.

use super::{size, Emit, Kind, OnnxAt, ParamShape, Place, Shape};
use crate::engine::{bias_grad_splits, SplitK};
use crate::kernels::op;
use crate::kernels::{BiasGradDims, ElemDims, MatmulDims};
use crate::model::onnx::{Attr, Graph};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fc {
    pub units: usize,
    pub relu: bool,
}

impl Fc {
    pub const SYNTAX: &str = "fc{N}[lin]";

    pub fn parse(tok: &str) -> Option<Fc> {
        let n = tok.strip_prefix("fc")?;
        let (n, relu) = n.strip_suffix("lin").map_or((n, true), |n| (n, false));
        Some(Fc { units: size(n)?, relu })
    }
}

impl std::fmt::Display for Fc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fc{}{}", self.units, if self.relu { "" } else { "lin" })
    }
}

impl Kind for Fc {
    fn out_shape(&self, _at: &Place) -> Result<Shape, String> {
        Ok((self.units, 1, 1))
    }
    fn flattens(&self) -> bool {
        true
    }
    fn params(&self, input: Shape) -> Option<ParamShape> {
        Some(params(self.units, input))
    }
    fn scratch(&self, split: SplitK, batch: usize, _input: Shape, _output: Shape) -> Option<usize> {
        Some(scratch(self.units, split, batch))
    }
    fn forward(&self, e: &mut Emit) -> bool {
        forward(e, self.units, self.relu)
    }
    fn backward(&self, e: &mut Emit) {
        backward(e, self.units, self.relu)
    }
    fn onnx(&self, g: &mut Graph, at: &OnnxAt, flat: &mut bool) {
        onnx(g, at, flat, self.units, self.relu)
    }
}

/// A dense layer's weight (units, fan-in) and bias.
pub(super) fn params(units: usize, (c, h, w): Shape) -> ParamShape {
    ParamShape { weight: vec![units, c * h * w], bias: units, running: false }
}

/// Its split bias gradient's partial sums.
pub(super) fn scratch(units: usize, split: SplitK, batch: usize) -> usize {
    bias_grad_splits(Some(split), units, batch, 1) * units
}

pub(super) fn forward(e: &mut Emit, units: usize, relu: bool) -> bool {
    let fan_in = e.input.0 * e.input.1 * e.input.2;
    let d = MatmulDims::strided(e.n, units, fan_in, (fan_in, 1), (1, fan_in)).with_epilogue(true, relu);
    let p = e.params();
    e.push(op::matmul(e.y, e.x, p.w, Some(p.b), d));
    true
}

pub(super) fn backward(e: &mut Emit, units: usize, relu: bool) {
    let fan_in = e.input.0 * e.input.1 * e.input.2;
    let (dy, p) = (e.dy(), e.params());
    if relu {
        e.push(op::relu_backward(dy, e.y, ElemDims::new(dy.len)));
    }
    let dw = MatmulDims::strided(units, fan_in, e.n, (1, units), (fan_in, 1));
    e.push(op::matmul(p.gw.expect("weight gradient outside training"), dy, e.x, None, dw));
    e.bias_grad(BiasGradDims::new(e.n, units, 1));
    if let Some(dx) = e.dx {
        e.push(op::matmul(dx, dy, p.w, None, MatmulDims::plain(e.n, fan_in, units)));
    }
}

/// `Flatten` (C, H, W order) where none ran yet, then `Gemm` with transB.
pub(super) fn onnx(g: &mut Graph, at: &OnnxAt, flat: &mut bool, units: usize, relu: bool) {
    if !*flat {
        g.node("Flatten", &[], &[("axis", Attr::Int(1))]);
        *flat = true;
    }
    let (c, h, w) = at.input;
    let wt = g.tensor(&at.name("weight"), &[units, c * h * w], at.w);
    let b = g.tensor(&at.name("bias"), &[units], at.b);
    g.node("Gemm", &[&wt, &b], &[("transB", Attr::Int(1))]);
    if relu {
        g.node("Relu", &[], &[]);
    }
}
