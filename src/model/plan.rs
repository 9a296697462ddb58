//! The op list of one launch over `n` rows, built layer by layer: the gather,
//! each layer's forward ops, the loss (or the softmax), then in training each
//! layer's backward ops in reverse and the optimizer's update (in mixed
//! precision with the dynamic loss scale's: the loss gradient scaled, the
//! gradients checked, the update unscaling or skipped, the scale moved). What a layer
//! emits is its kind's (model/layers/); this file gives it its views.

use super::layers::{Emit, ParamViews};
use super::net::{Acc, Bufs, Mode, Net, Plan};
use crate::kernels::op::{self, BufId, Op, View};
use crate::kernels::{AdamDims, Dims, DropoutDims, EmaDims, GatherDims, NormalizeDims, SgdDims, XentDims};
use crate::optim::{Kind, LossScale};

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
    let mut input = View::whole(l.b.x, n * net.spec.input_size());
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
    let (ops, mut dropouts) = (l.ops, l.dropouts);
    if !engine.fuses() {
        return Ok(Plan { id: engine.plan(ops)?, dropouts, optim });
    }
    // the ops a run sets parameters of keep their own launches; their places move
    let mut fused = crate::kernels::fuse::fuse(ops, net.b.scratch_words);
    if let Some((i, table)) = &fused.table {
        let buf = engine.buffer(table.len(), "split-K sums' table")?;
        engine.write(buf, 0, table)?;
        *fused.ops[*i].views.last_mut().expect("the sum's table slot") = View::whole(buf, table.len());
    }
    let at = |i: usize| fused.at[i].expect("the fusion pass keeps the gather, dropout and optimizer ops");
    dropouts.iter_mut().for_each(|d| d.0 = at(d.0));
    let optim = optim.map(at);
    Ok(Plan { id: engine.plan(fused.ops)?, dropouts, optim })
}

impl<'a> Builder<'a> {
    fn size(&self, s: (usize, usize, usize)) -> usize {
        self.n * s.0 * s.1 * s.2
    }
    /// Layer i's output.
    fn act(&self, i: usize) -> View {
        View::whole(self.b.acts[i], self.size(self.net.spec.shapes[i]))
    }
    /// The loss gradient with respect to layer i's output.
    fn grad(&self, i: usize) -> View {
        View::whole(self.b.grads[i].unwrap(), self.size(self.net.spec.shapes[i]))
    }
    /// Layer i's parameters and their gradients, where it has them.
    fn params(&self, i: usize) -> Option<ParamViews> {
        let s = self.net.slots.iter().find(|s| s.layer == i)?;
        let (params, grads) = (self.b.params, self.b.pgrads);
        let at = |buf: BufId, offset: usize, len: usize| View { buf, offset, len };
        Some(ParamViews {
            w: at(params, s.weight, s.weight_len()),
            b: at(params, s.bias, s.bias_len()),
            gw: grads.map(|g| at(g, s.weight, s.weight_len())),
            gb: grads.map(|g| at(g, s.bias, s.bias_len())),
            running: s.running.map(|r| at(params, r, 2 * s.bias_len())),
        })
    }

    /// Layer i's place in this launch, reading `x`; `backward` adds the gradients' views.
    fn emit(&mut self, i: usize, x: View, backward: bool) -> Emit<'_> {
        let spec = &self.net.spec;
        let (input, output) = (spec.input_shape(i), spec.shapes[i]);
        let aux = spec.layers[i].kind().aux(self.n, input, output);
        Emit {
            layer: i,
            n: self.n,
            train: self.train,
            seed: self.net.cfg.seed,
            input,
            output,
            x,
            y: self.act(i),
            dy: backward.then(|| self.grad(i)),
            dx: (backward && i > 0).then(|| self.grad(i - 1)),
            aux: self.b.aux[i].zip(aux).map(|(buf, (_, len))| View::whole(buf, len)),
            params: self.params(i),
            split_k: self.net.split_k,
            scratch: self.b.splits_scratch,
            ops: &mut self.ops,
            dropouts: &mut self.dropouts,
        }
    }

    fn gather(&mut self) {
        let (b, net, n) = (self.b, self.net, self.n);
        self.ops.push(op::gather(
            View::whole(b.x, n * net.spec.input_size()),
            View::whole(b.y, n),
            net.store_view(),
            View::whole(b.store_labels, net.store_rows),
            View::whole(b.index, net.store_rows),
            GatherDims::new(n, 0, net.spec.input_size(), net.cfg.norm.scale),
        ));
        if let Some(s) = &net.cfg.norm.standard {
            let x = View::whole(b.x, n * net.spec.input_size());
            self.ops.push(op::normalize(x, NormalizeDims::new(n, net.spec.input, s)));
        }
    }

    /// Layer i's forward ops reading `input`; false where the layer is the
    /// identity in this launch (dropout outside training) and wrote nothing.
    fn forward(&mut self, i: usize, input: View) -> bool {
        let layer = self.net.spec.layers[i];
        layer.kind().forward(&mut self.emit(i, input, false))
    }

    /// Softmax (prediction), or softmax cross-entropy and the running sums.
    fn loss(&mut self, mode: Mode) {
        let (b, n) = (self.b, self.n);
        let last = self.act(self.net.spec.layers.len() - 1);
        let classes = self.net.spec.classes();
        let xent = XentDims::new(n, classes).smoothed(if self.train { self.net.label_smoothing } else { 0.0 });
        let (loss, correct) = (View::whole(b.loss, n), View::whole(b.correct, n));
        if mode == Mode::Predict {
            self.ops.push(op::softmax(View::whole(b.probs, n * classes), last, xent));
            return;
        }
        let dlast = self.grad(self.net.spec.layers.len() - 1);
        let acc = View::whole(b.acc[if self.train { Acc::Train } else { Acc::Eval } as usize], 4);
        self.ops.push(op::softmax_xent(dlast, loss, correct, acc, last, View::whole(b.y, n), xent));
        self.ops.push(op::xent_accumulate(acc, loss, correct, xent));
        if let Some(scale) = self.scale().filter(|_| self.train) {
            self.ops.push(op::scale_loss(dlast, scale));
        }
    }

    /// The loss scale's words, where the net trains in mixed precision.
    fn scale(&self) -> Option<View> {
        self.b.scale.map(|id| View::whole(id, LossScale::WORDS))
    }

    /// Layer i's backward ops: its parameter gradients, then (below the first
    /// layer) the gradient of its input.
    fn backward(&mut self, i: usize) {
        let (layer, x) = (self.net.spec.layers[i], self.inputs[i]);
        layer.kind().backward(&mut self.emit(i, x, true));
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
        let scale = self.scale();
        if let Some(scale) = scale {
            self.ops.push(op::grads_finite(scale, pg));
        }
        self.ops.push(match (o.kind, scale) {
            (Kind::Adam { .. }, None) => op::adam(w, m, all(b.v.unwrap()), pg, AdamDims::from_params(&p)),
            (Kind::Adam { .. }, Some(s)) => op::adam_scaled(w, m, all(b.v.unwrap()), pg, s, AdamDims::from_params(&p)),
            (Kind::Sgd { .. }, None) => op::sgd(w, m, pg, SgdDims::from_params(&p)),
            (Kind::Sgd { .. }, Some(s)) => op::sgd_scaled(w, m, pg, s, SgdDims::from_params(&p)),
        });
        let at = self.ops.len() - 1;
        if let Some((avg, decay)) = self.net.ema {
            let every = |id: BufId| View::whole(id, words);
            self.ops.push(op::ema(every(avg), every(b.params), EmaDims::new(words, decay)));
        }
        if let Some(scale) = scale {
            self.ops.push(op::scale_update(scale, LossScale::rule()));
        }
        at
    }
}
