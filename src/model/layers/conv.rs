//! conv2d + bias + ReLU: `conv{C}k{K}[s{S}][valid][lin]`, 'same' and stride 1
//! unless `s{S}` sets a stride, `valid` drops the padding, `lin` the ReLU.

use super::{size, Emit, Kind, OnnxAt, ParamShape, Place, Shape};
use crate::engine::{bias_grad_splits, weight_grad_splits, SplitK};
use crate::kernels::op;
use crate::kernels::{BiasGradDims, ConvDims, ElemDims, SplitDims};
use crate::model::onnx::{Attr, Graph};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conv {
    pub channels: usize,
    pub k: usize,
    pub stride: usize,
    pub same: bool,
    pub relu: bool,
}

impl Conv {
    pub const SYNTAX: &str = "conv{C}k{K}[s{S}][valid][lin]";

    pub fn parse(tok: &str) -> Option<Conv> {
        let rest = tok.strip_prefix("conv")?;
        let (rest, relu) = rest.strip_suffix("lin").map_or((rest, true), |r| (r, false));
        let (rest, same) = rest.strip_suffix("valid").map_or((rest, true), |r| (r, false));
        let (c, k) = rest.split_once('k')?;
        let (k, stride) = match k.split_once('s') {
            Some((k, s)) => (k, size(s)?),
            None => (k, 1),
        };
        Some(Conv { channels: size(c)?, k: size(k)?, stride, same, relu })
    }

    /// Its dims over `n` rows of a (C, H, W) input.
    fn dims(&self, n: usize, (c, h, w): Shape) -> ConvDims {
        ConvDims::strided(n, c, self.channels, h, w, self.k, self.stride, self.same)
    }
}

impl std::fmt::Display for Conv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conv{}k{}", self.channels, self.k)?;
        if self.stride > 1 {
            write!(f, "s{}", self.stride)?;
        }
        write!(f, "{}{}", if self.same { "" } else { "valid" }, if self.relu { "" } else { "lin" })
    }
}

impl Kind for Conv {
    fn out_shape(&self, at: &Place) -> Result<Shape, String> {
        let (_, h, w) = at.input;
        at.spatial()?;
        if self.k > 7 {
            return Err("kernel sizes are 1..7".into());
        }
        if !self.same && (self.k > h || self.k > w) {
            return Err(format!("a 'valid' conv needs its kernel within the {h}x{w} input"));
        }
        if self.stride > 7 {
            return Err("strides are 1..7".into());
        }
        let (ho, wo) = self.dims(1, at.input).out_hw();
        Ok((self.channels, ho, wo))
    }

    fn params(&self, (c, _, _): Shape) -> Option<ParamShape> {
        Some(ParamShape { weight: vec![self.channels, c, self.k, self.k], bias: self.channels, running: false })
    }

    fn scratch(&self, split: SplitK, batch: usize, (c, _, _): Shape, (_, ho, wo): Shape) -> Option<usize> {
        let taps = c * self.k * self.k;
        let weights = weight_grad_splits(Some(split), self.channels, taps, batch * ho * wo);
        let bias = bias_grad_splits(Some(split), self.channels, batch, ho * wo);
        // each slice one bias longer: the fusion pass sums the bias beside dW (kernels::fuse)
        Some((weights * (taps + 1)).max(bias) * self.channels)
    }

    fn forward(&self, e: &mut Emit) -> bool {
        let d = self.dims(e.n, e.input).with_epilogue(true, self.relu);
        let p = e.params();
        e.push(op::conv2d_forward(e.y, e.x, p.w, Some(p.b), d));
        true
    }

    fn backward(&self, e: &mut Emit) {
        let d = self.dims(e.n, e.input);
        let (ho, wo) = d.out_hw();
        let (dy, p) = (e.dy(), e.params());
        if self.relu {
            e.push(op::relu_backward(dy, e.y, ElemDims::new(dy.len)));
        }
        let gw = p.gw.expect("weight gradient outside training");
        let taps = e.input.0 * self.k * self.k;
        match weight_grad_splits(e.split_k, self.channels, taps, e.n * ho * wo) {
            1 => e.push(op::conv2d_backward_weight(gw, dy, e.x, d)),
            splits => {
                let part = e.scratch_view(splits * gw.len);
                e.push(op::conv2d_backward_weight(part, dy, e.x, d.with_splits(splits)));
                e.push(op::sum_splits(gw, part, SplitDims::new(gw.len, splits)));
            }
        }
        e.bias_grad(BiasGradDims::new(e.n, self.channels, ho * wo));
        if let Some(dx) = e.dx {
            e.push(op::conv2d_backward_input(dx, dy, p.w, d));
        }
    }

    /// `Conv` with explicit pads: Keras' 'same' puts the odd pixel of an even
    /// total after, so pads [top, left, bottom, right] say so.
    fn onnx(&self, g: &mut Graph, at: &OnnxAt, _flat: &mut bool) {
        let ((c, h, w), k, stride) = (at.input, self.k, self.stride);
        let d = self.dims(1, at.input);
        let (ho, wo) = d.out_hw();
        // Keras' 'same': (out-1)·s + k - in in all, the smaller half before
        let pad = |o: usize, n: usize| ((o - 1) * stride + k).saturating_sub(n);
        let (py, px) = (d.pad_y as i64, d.pad_x as i64);
        let (ey, ex) = if self.same { (pad(ho, h) as i64 - py, pad(wo, w) as i64 - px) } else { (0, 0) };
        let wt = g.tensor(&at.name("weight"), &[self.channels, c, k, k], at.w);
        let b = g.tensor(&at.name("bias"), &[self.channels], at.b);
        g.node(
            "Conv",
            &[&wt, &b],
            &[
                ("kernel_shape", Attr::Ints(vec![k as i64, k as i64])),
                ("strides", Attr::Ints(vec![stride as i64, stride as i64])),
                ("pads", Attr::Ints(vec![py, px, ey, ex])),
            ],
        );
        if self.relu {
            g.node("Relu", &[], &[]);
        }
    }
}
