//! The op list of one launch over `n` rows, built layer by layer: the gather,
//! each layer's forward ops, the loss (or the softmax), then in training each
//! layer's backward ops in reverse and the optimizer's update. A new layer is
//! one arm in `forward` and one in `backward` (and its buffers in `Bufs::new`).

use super::net::{Acc, Bufs, Mode, Net, Plan, Slot};
use super::spec::Layer;
use crate::data::{CLASSES, PIXELS};
use crate::engine::{bias_grad_splits, weight_grad_splits};
use crate::kernels::op::{self, BufId, Op, View};
use crate::kernels::{
    AdamDims, BiasGradDims, BnDims, ConvDims, Dims, DropoutDims, ElemDims, EmaDims, GatherDims, MatmulDims, PoolDims,
    SgdDims, SplitDims, XentDims,
};
use crate::optim::Kind;

/// A launch being built: the net, its row count, and the ops so far.
struct Builder<'a> {
    net: &'a Net,
    b: &'a Bufs,
    n: usize,
    train: bool,
    ops: Vec<Op>,
    /// (op index, dims) of every dropout op, forward and backward.
    dropouts: Vec<(usize, DropoutDims)>,
    /// The view each layer's forward read (its backward reads it again).
    inputs: Vec<View>,
}

/// The plan of one launch of `mode` over `n` rows, on `engine`.
pub(super) fn build(net: &Net, engine: &mut dyn crate::engine::Engine, mode: Mode, n: usize) -> crate::Result<Plan> {
    let train = mode == Mode::Train;
    let mut l = Builder { net, b: &net.b, n, train, ops: Vec::new(), dropouts: Vec::new(), inputs: Vec::new() };
    l.gather();
    let mut input = View::whole(l.b.x, n * PIXELS);
    for i in 0..net.spec.layers.len() {
        l.inputs.push(input);
        if l.forward(i, input) {
            input = l.act(i);
        }
    }
    l.loss(mode);
    let mut optim = None;
    if train {
        for i in (0..net.spec.layers.len()).rev() {
            l.backward(i);
        }
        optim = Some(l.update());
    }
    let id = engine.plan(l.ops)?;
    Ok(Plan { id, dropouts: l.dropouts, optim })
}

impl<'a> Builder<'a> {
    fn size(&self, s: (usize, usize, usize)) -> usize {
        self.n * s.0 * s.1 * s.2
    }
    fn slot(&self, i: usize) -> &'a Slot {
        self.net.slots.iter().find(|s| s.layer == i).expect("layer without parameters")
    }
    fn param(&self, offset: usize, len: usize) -> View {
        View { buf: self.b.params, offset, len }
    }
    fn pgrad(&self, offset: usize, len: usize) -> View {
        View { buf: self.b.pgrads.unwrap(), offset, len }
    }
    /// Layer i's output.
    fn act(&self, i: usize) -> View {
        View::whole(self.b.acts[i], self.size(self.net.spec.shapes[i]))
    }
    /// The loss gradient with respect to layer i's output.
    fn grad(&self, i: usize) -> View {
        View::whole(self.b.grads[i].unwrap(), self.size(self.net.spec.shapes[i]))
    }
    /// Batch norm layer i's [mean; invstd] of this batch.
    fn bn_stats(&self, i: usize) -> View {
        View::whole(self.b.bn_stats[i].unwrap(), 2 * self.net.spec.shapes[i].0)
    }
    /// A layer's weight and bias, and their gradients.
    fn weight(&self, s: &Slot) -> View {
        self.param(s.weight, s.weight_len())
    }
    fn bias(&self, s: &Slot) -> View {
        self.param(s.bias, s.bias_len())
    }
    fn gweight(&self, s: &Slot) -> View {
        self.pgrad(s.weight, s.weight_len())
    }
    /// Batch norm's [γ; β] and [running mean; var].
    fn affine(&self, s: &Slot) -> View {
        self.param(s.weight, 2 * s.bias_len())
    }
    fn running(&self, s: &Slot) -> View {
        self.param(s.running.unwrap(), 2 * s.bias_len())
    }

    fn gather(&mut self) {
        let (b, net, n) = (self.b, self.net, self.n);
        self.ops.push(op::gather(
            View::whole(b.x, n * PIXELS),
            View::whole(b.y, n),
            net.store_view(),
            View::whole(b.store_labels, net.store_rows),
            View::whole(b.index, net.store_rows),
            GatherDims::new(n, 0, PIXELS, net.cfg.scale),
        ));
    }

    /// Layer i's forward ops reading `input`; false where the layer is the
    /// identity in this launch (dropout outside training) and wrote nothing.
    fn forward(&mut self, i: usize, input: View) -> bool {
        let (c, h, w) = self.net.spec.input_shape(i);
        let (n, out) = (self.n, self.act(i));
        let layer = self.net.spec.layers[i];
        let op = match layer {
            Layer::Conv { channels, k, stride, same, relu } => {
                let d = ConvDims::strided(n, c, channels, h, w, k, stride, same).with_epilogue(true, relu);
                let s = self.slot(i);
                op::conv2d_forward(out, input, self.weight(s), Some(self.bias(s)), d)
            }
            Layer::Pool { k } => {
                let arg = View::whole(self.b.argmax[i].unwrap(), out.len);
                op::maxpool_forward(out, arg, input, PoolDims::new(n, c, h, w, k))
            }
            Layer::Drop { p } if self.train => {
                let d = DropoutDims::new(out.len, p, self.net.cfg.seed, 0, i as u32);
                self.dropouts.push((self.ops.len(), d));
                op::dropout_forward(out, input, d)
            }
            Layer::Drop { .. } => return false,
            Layer::Bn => {
                let s = self.slot(i);
                let d = BnDims::new(n, c, h * w, self.train);
                if !self.train {
                    op::bn_forward(out, input, self.running(s), self.affine(s), d)
                } else {
                    let stats = self.bn_stats(i);
                    self.ops.push(op::bn_stats(stats, self.running(s), input, d));
                    op::bn_forward(out, input, stats, self.affine(s), d)
                }
            }
            Layer::Relu => op::relu_forward(out, input, ElemDims::new(out.len)),
            Layer::Fc { units, .. } | Layer::Out { classes: units } => {
                let fan_in = c * h * w;
                let relu = matches!(layer, Layer::Fc { relu: true, .. });
                let d = MatmulDims::strided(n, units, fan_in, (fan_in, 1), (1, fan_in)).with_epilogue(true, relu);
                let s = self.slot(i);
                op::matmul(out, input, self.weight(s), Some(self.bias(s)), d)
            }
        };
        self.ops.push(op);
        true
    }

    /// Softmax (prediction), or softmax cross-entropy and the running sums.
    fn loss(&mut self, mode: Mode) {
        let (b, n) = (self.b, self.n);
        let last = self.act(self.net.spec.layers.len() - 1);
        let xent = XentDims::new(n, CLASSES).smoothed(if self.train { self.net.label_smoothing } else { 0.0 });
        let (loss, correct) = (View::whole(b.loss, n), View::whole(b.correct, n));
        if mode == Mode::Predict {
            self.ops.push(op::softmax(View::whole(b.probs, n * CLASSES), last, xent));
            return;
        }
        let dlast = self.grad(self.net.spec.layers.len() - 1);
        self.ops.push(op::softmax_xent(dlast, loss, correct, last, View::whole(b.y, n), xent));
        let acc = b.acc[if self.train { Acc::Train } else { Acc::Eval } as usize];
        self.ops.push(op::xent_accumulate(View::whole(acc, 4), loss, correct, xent));
    }

    /// Layer i's backward ops: its parameter gradients, then (below the first
    /// layer) the gradient of its input.
    fn backward(&mut self, i: usize) {
        let (c, h, w) = self.net.spec.input_shape(i);
        let (n, dy, x) = (self.n, self.grad(i), self.inputs[i]);
        let dx = (i > 0).then(|| self.grad(i - 1));
        let layer = self.net.spec.layers[i];
        match layer {
            Layer::Conv { channels, k, stride, same, relu } => {
                let d = ConvDims::strided(n, c, channels, h, w, k, stride, same);
                let (ho, wo) = d.out_hw();
                let s = self.slot(i);
                if relu {
                    self.ops.push(op::relu_backward(dy, self.act(i), ElemDims::new(dy.len)));
                }
                let gw = self.gweight(s);
                match weight_grad_splits(self.net.split_k, channels, c * k * k, n * ho * wo) {
                    1 => self.ops.push(op::conv2d_backward_weight(gw, dy, x, d)),
                    splits => {
                        let part = View::whole(self.b.splits_scratch.unwrap(), splits * s.weight_len());
                        self.ops.push(op::conv2d_backward_weight(part, dy, x, d.with_splits(splits)));
                        self.ops.push(op::sum_splits(gw, part, SplitDims::new(s.weight_len(), splits)));
                    }
                }
                self.bias_grad(s, dy, BiasGradDims::new(n, channels, ho * wo));
                if let Some(dx) = dx {
                    self.ops.push(op::conv2d_backward_input(dx, dy, self.weight(s), d));
                }
            }
            Layer::Pool { k } => {
                if let Some(dx) = dx {
                    let arg = View::whole(self.b.argmax[i].unwrap(), dy.len);
                    self.ops.push(op::maxpool_backward(dx, dy, arg, PoolDims::new(n, c, h, w, k)));
                }
            }
            Layer::Bn => {
                let s = self.slot(i);
                let d = BnDims::new(n, c, h * w, true);
                let (stats, g) = (self.bn_stats(i), self.pgrad(s.weight, 2 * s.bias_len()));
                self.ops.push(op::bn_backward_params(g, dy, x, stats, d));
                if let Some(dx) = dx {
                    self.ops.push(op::bn_backward_input(dx, dy, x, stats, self.affine(s), g, d));
                }
            }
            Layer::Drop { .. } => {
                if let Some(dx) = dx {
                    let fwd = self.dropouts.iter().find(|(_, d)| d.salt == i as u32).unwrap().1;
                    self.dropouts.push((self.ops.len(), fwd));
                    self.ops.push(op::dropout_backward(dx, dy, fwd));
                }
            }
            // in place: the layer below reads the same buffer (`Bufs::new` aliases it)
            Layer::Relu => self.ops.push(op::relu_backward(dy, self.act(i), ElemDims::new(dy.len))),
            Layer::Fc { units, .. } | Layer::Out { classes: units } => {
                let fan_in = c * h * w;
                let s = self.slot(i);
                if matches!(layer, Layer::Fc { relu: true, .. }) {
                    self.ops.push(op::relu_backward(dy, self.act(i), ElemDims::new(dy.len)));
                }
                let dw = MatmulDims::strided(units, fan_in, n, (1, units), (fan_in, 1));
                self.ops.push(op::matmul(self.gweight(s), dy, x, None, dw));
                self.bias_grad(s, dy, BiasGradDims::new(n, units, 1));
                if let Some(dx) = dx {
                    let d = MatmulDims::plain(n, fan_in, units);
                    self.ops.push(op::matmul(dx, dy, self.weight(s), None, d));
                }
            }
        }
    }

    /// A bias gradient: one op, or split into the scratch and summed.
    fn bias_grad(&mut self, s: &Slot, dy: View, d: BiasGradDims) {
        let db = self.pgrad(s.bias, s.bias_len());
        let (ch, outer, inner) = (d.channels as usize, d.outer as usize, d.inner as usize);
        match bias_grad_splits(self.net.split_k, ch, outer, inner) {
            1 => self.ops.push(op::bias_grad(db, dy, d)),
            splits => {
                let part =
                    View::whole(self.b.splits_scratch.expect("split bias gradient without scratch"), splits * ch);
                self.ops.push(op::bias_grad(part, dy, d.with_splits(splits)));
                self.ops.push(op::sum_splits(db, part, SplitDims::new(ch, splits)));
            }
        }
    }

    /// The optimizer's update of every parameter; returns its op index. Its
    /// parameters (learning rate, step) are set per launch.
    fn update(&mut self) -> usize {
        let (b, words) = (self.b, self.net.param_words);
        let o = self.net.cfg.optim.expect("training plan without optimizer");
        // the optimizer over the weights and biases; the average over batch norm's statistics too
        let trained = super::net::trainable_words(&self.net.slots, words);
        let all = |id: BufId| View::whole(id, trained);
        let (w, pg, m) = (all(b.params), all(b.pgrads.unwrap()), all(b.m.unwrap()));
        let p = o.params(trained, 1);
        self.ops.push(match o.kind {
            Kind::Adam { .. } => op::adam(w, m, all(b.v.unwrap()), pg, AdamDims::from_params(&p)),
            Kind::Sgd { .. } => op::sgd(w, m, pg, SgdDims::from_params(&p)),
        });
        let at = self.ops.len() - 1;
        if let Some((avg, decay)) = self.net.ema {
            let every = |id: BufId| View::whole(id, words);
            self.ops.push(op::ema(every(avg), every(b.params), EmaDims::new(words, decay)));
        }
        at
    }
}
