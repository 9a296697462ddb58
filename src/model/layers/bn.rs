//! Batch normalisation per channel (per feature after a dense layer): `bn`.
//! Its γ and β are trained; its running mean and variance (momentum 0.1,
//! epsilon 1e-5, as PyTorch's) are kept beside them and used outside training.

use super::{Emit, Kind, OnnxAt, ParamShape, Shape};
use crate::kernels::op;
use crate::kernels::{BnDims, BN_EPS};
use crate::model::onnx::{Attr, Graph};
use rand::rngs::StdRng;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bn;

impl Bn {
    pub const SYNTAX: &str = "bn";

    pub fn parse(tok: &str) -> Option<Bn> {
        (tok == "bn").then_some(Bn)
    }

    fn dims(e: &Emit) -> BnDims {
        let (c, h, w) = e.input;
        BnDims::new(e.n, c, h * w, e.train)
    }
}

impl std::fmt::Display for Bn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("bn")
    }
}

impl Kind for Bn {
    /// γ and β, one per channel.
    fn params(&self, (c, _, _): Shape) -> Option<ParamShape> {
        Some(ParamShape { weight: vec![c], bias: c, running: true })
    }

    /// The identity: γ 1, β 0, running mean 0 and variance 1.
    fn init(&self, _shape: &ParamShape, w: &mut [f32], running: &mut [f32], _rng: &mut StdRng) {
        w.fill(1.0);
        let c = w.len();
        running[c..].fill(1.0);
    }

    /// This batch's [mean; invstd] per channel, kept for backward.
    fn aux(&self, _n: usize, (c, _, _): Shape, _output: Shape) -> Option<(&'static str, usize)> {
        Some(("batch statistics", 2 * c))
    }

    fn forward(&self, e: &mut Emit) -> bool {
        let (d, p) = (Bn::dims(e), e.params());
        let running = p.running.expect("batch norm keeps running statistics");
        if !e.train {
            e.push(op::bn_forward(e.y, e.x, running, p.joint(), d));
        } else {
            let stats = e.aux.expect("batch norm without its statistics");
            e.push(op::bn_stats(stats, running, e.x, d));
            e.push(op::bn_forward(e.y, e.x, stats, p.joint(), d));
        }
        true
    }

    fn backward(&self, e: &mut Emit) {
        let (d, p, dy) = (Bn::dims(e), e.params(), e.dy());
        let (stats, g) = (e.aux.expect("batch norm without its statistics"), p.gjoint());
        e.push(op::bn_backward_params(g, dy, e.x, stats, d));
        if let Some(dx) = e.dx {
            e.push(op::bn_backward_input(dx, dy, e.x, stats, p.joint(), g, d));
        }
    }

    /// Inference form: `BatchNormalization` on the running statistics.
    fn onnx(&self, g: &mut Graph, at: &OnnxAt, _flat: &mut bool) {
        let n = at.b.len();
        let gamma = g.tensor(&at.name("weight"), &[n], at.w);
        let beta = g.tensor(&at.name("bias"), &[n], at.b);
        let mean = g.tensor(&at.name("running_mean"), &[n], &at.running[..n]);
        let var = g.tensor(&at.name("running_var"), &[n], &at.running[n..]);
        g.node("BatchNormalization", &[&gamma, &beta, &mean, &var], &[("epsilon", Attr::Float(BN_EPS))]);
    }
}
