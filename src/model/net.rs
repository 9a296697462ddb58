//! A network on an engine: its buffers (sized once for the largest batch), its
//! flat parameter layout, and the plans — op lists for a training step, an
//! evaluation batch and a prediction batch — built once per batch size.
//!
//! One training step is one plan: gather the batch from the on-device image
//! store, forward, softmax cross-entropy, backward, optimizer update.

use super::spec::{Layer, Spec};
use crate::augment::Augment;
use crate::data::{Images, CLASSES, PIXELS};
use crate::engine::{Engine, PlanId, SplitK};
use crate::error::{Error, Result};
use crate::kernels;
use crate::kernels::op::{self, BufId, Op, View};
use crate::kernels::{
    BiasGradDims, BnDims, ConvDims, Dims, DropoutDims, ElemDims, GatherDims, MatmulDims, Params, PoolDims, SplitDims,
    XentDims,
};
use crate::optim::{Kind, Optim};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// Parameter tensors start on 64-word (256-byte) boundaries: the strictest
/// storage-offset alignment adapters ask for.
const ALIGN_WORDS: usize = 64;

/// Where one layer's weight and bias live in the flat parameter buffer.
#[derive(Clone, Debug)]
pub struct Slot {
    pub layer: usize,
    pub weight_shape: Vec<usize>,
    pub weight: usize, // offset, words
    pub bias: usize,   // offset, words; length = weight_shape[0]
    /// Batch norm only: [running mean; running var] (2C words), kept in the
    /// parameter buffer (so checkpoints, exports and every engine carry them)
    /// but never given a gradient: the optimizers leave them as they are.
    pub running: Option<usize>,
}

impl Slot {
    pub fn weight_len(&self) -> usize {
        self.weight_shape.iter().product()
    }
    pub fn bias_len(&self) -> usize {
        self.weight_shape[0]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Train,
    Eval,
    Predict,
}

/// Which running (loss, correct, rows) sums an evaluation adds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acc {
    Train,
    Eval,
}

/// A launch's plan and the parameters it runs with, by op.
pub struct LaunchInfo {
    pub plan: PlanId,
    pub gather: (usize, Params),
    pub dropouts: Vec<(usize, Params)>,
    pub optim: Option<(usize, Params)>,
}

/// The gather is always a plan's first op.
const GATHER_OP: usize = 0;

struct Plan {
    id: PlanId,
    dropouts: Vec<(usize, DropoutDims)>,
    optim: Option<usize>,
}

struct Bufs {
    store: BufId,
    store_labels: BufId,
    index: BufId,
    x: BufId,
    y: BufId,
    acts: Vec<BufId>,
    argmax: Vec<Option<BufId>>,
    /// Batch norm: this batch's [mean; invstd] per channel, kept for backward.
    bn_stats: Vec<Option<BufId>>,
    /// Gradient w.r.t. each layer's output (only the last without training).
    grads: Vec<Option<BufId>>,
    params: BufId,
    pgrads: Option<BufId>,
    /// Split-K partial weight or bias gradients of one layer at a time.
    splits_scratch: Option<BufId>,
    /// Adam's m and v, or SGD's velocity (in `m`).
    m: Option<BufId>,
    v: Option<BufId>,
    loss: BufId,
    correct: BufId,
    acc: [BufId; 2],
    probs: BufId,
}

/// How a net is built: its largest batch, pixel divisor, optimizer (None for
/// inference only) and the seed of its dropout masks.
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    pub batch: usize,
    pub scale: f32,
    pub optim: Option<Optim>,
    /// Dropout masks are a function of (seed, step, layer, element).
    pub seed: u32,
}

pub struct Net {
    pub spec: Spec,
    pub cfg: NetConfig,
    pub slots: Vec<Slot>,
    pub param_words: usize,
    pub store_rows: usize,
    /// How this net's plans split weight and bias gradients (the engine's choice).
    split_k: Option<SplitK>,
    /// Random affine maps on training batches (none by default).
    augment: Option<Augment>,
    bytes: u64,
    b: Bufs,
    plans: HashMap<(Mode, usize), Plan>,
}

/// Split-K chunks for a conv's weight gradient, whose K (N·Ho·Wo pixels) is long
/// while its output (Co × Ci·k·k) is small: without splitting, a GPU would run
/// a handful of workgroups each looping over every pixel of the batch.
/// `split` is the engine's `split_k()`.
pub fn weight_grad_splits(split: Option<SplitK>, cout: usize, taps: usize, pixels: usize) -> usize {
    split.map_or(1, |s| s.gemm_splits(cout, taps, pixels))
}

/// Chunks of rows for a bias gradient of `channels` workgroups (one per channel)
/// summing `outer` rows of `inner` values each.
pub fn bias_grad_splits(split: Option<SplitK>, channels: usize, outer: usize, inner: usize) -> usize {
    split.map_or(1, |s| s.splits(channels, outer * inner).min(outer))
}

/// The ops of a bias gradient: one, or split into `scratch` and summed.
fn bias_grad_ops(
    ops: &mut Vec<Op>,
    db: View,
    dy: View,
    d: BiasGradDims,
    split: Option<SplitK>,
    scratch: Option<BufId>,
) {
    let (ch, outer, inner) = (d.channels as usize, d.outer as usize, d.inner as usize);
    match bias_grad_splits(split, ch, outer, inner) {
        1 => ops.push(op::bias_grad(db, dy, d)),
        splits => {
            let part = View::whole(scratch.expect("split bias gradient without scratch"), splits * ch);
            ops.push(op::bias_grad(part, dy, d.with_splits(splits)));
            ops.push(op::sum_splits(db, part, SplitDims::new(ch, splits)));
        }
    }
}

/// Each parameterised layer's slot in the flat parameter buffer, and its length.
pub fn layout(spec: &Spec) -> (Vec<Slot>, usize) {
    let mut slots = Vec::new();
    let mut words = 0;
    for i in 0..spec.layers.len() {
        if let Some((wshape, blen)) = spec.param_shapes(i) {
            let wlen: usize = wshape.iter().product();
            let weight = words;
            let bn = spec.layers[i] == Layer::Bn;
            // batch norm binds [γ; β] as one view, so β follows γ directly
            let bias = if bn { weight + wlen } else { (weight + wlen).next_multiple_of(ALIGN_WORDS) };
            words = (bias + blen).next_multiple_of(ALIGN_WORDS);
            let running = bn.then_some(words);
            if bn {
                words = (words + 2 * blen).next_multiple_of(ALIGN_WORDS);
            }
            slots.push(Slot { layer: i, weight_shape: wshape, weight, bias, running });
        }
    }
    (slots, words)
}

fn pack(images: &Images) -> (Vec<u32>, Vec<u32>) {
    let words: Vec<u32> = images
        .pixels
        .chunks(PIXELS)
        .flat_map(|img| img.chunks(4).map(|c| c.iter().rev().fold(0u32, |w, &b| w << 8 | b as u32)).collect::<Vec<_>>())
        .collect();
    let labels = match &images.labels {
        Some(l) => l.iter().map(|&v| v as u32).collect(),
        None => vec![0; images.len()],
    };
    (words, labels)
}

/// The one rule for `--batch-size`: at least 1, and small enough that conv2d.wgsl's
/// pixel indices (< batch·784) divide exactly (below 2^24).
pub fn check_batch(batch: usize) -> Result<()> {
    if batch == 0 || batch * PIXELS >= 1 << 24 {
        return Err(Error::usage(format!("--batch-size must be 1..={}, got {batch}", ((1 << 24) - 1) / PIXELS)));
    }
    Ok(())
}

impl Net {
    /// Builds buffers for batches of up to `batch` and uploads `store` (every image
    /// the run will touch). `optim` = None builds an inference-only net.
    pub fn new(engine: &mut dyn Engine, spec: Spec, store: &Images, cfg: NetConfig) -> Result<Net> {
        let batch = cfg.batch;
        check_batch(batch)?;
        let (slots, words) = layout(&spec);
        let mut bytes = 0u64;
        let mut buf = |e: &mut dyn Engine, n: usize, label: &str| -> Result<BufId> {
            bytes += n.max(1) as u64 * 4;
            e.buffer(n, label)
        };
        let training = cfg.optim.is_some();
        let (packed, labels) = pack(store);
        let rows = store.len();
        let store_id = buf(engine, packed.len(), "image store")?;
        engine.write(store_id, 0, &packed)?;
        let store_labels = buf(engine, rows, "store labels")?;
        engine.write(store_labels, 0, &labels)?;
        let index = buf(engine, rows, "batch index")?;
        let x = buf(engine, batch * PIXELS, "x")?;
        let y = buf(engine, batch, "y")?;
        let n_layers = spec.layers.len();
        let mut acts = Vec::new();
        let mut argmax = Vec::new();
        let mut bn_stats = Vec::new();
        let mut grads = Vec::new();
        for (i, l) in spec.layers.iter().enumerate() {
            let (c, h, w) = spec.shapes[i];
            let len = batch * c * h * w;
            acts.push(buf(engine, len, &format!("layer {i} {l} output"))?);
            argmax.push(match l {
                Layer::Pool { .. } => Some(buf(engine, len, &format!("layer {i} argmax"))?),
                _ => None,
            });
            bn_stats.push(match l {
                Layer::Bn => Some(buf(engine, 2 * c, &format!("layer {i} batch statistics"))?),
                _ => None,
            });
            grads.push(match l {
                // a standalone ReLU's backward works in place, so the gradients of its
                // output and input share one buffer (same shape)
                Layer::Relu if training && i > 0 => grads[i - 1],
                _ if training || i + 1 == n_layers => Some(buf(engine, len, &format!("layer {i} gradient"))?),
                _ => None,
            });
        }
        let params = buf(engine, words, "parameters")?;
        let adam = matches!(cfg.optim.map(|o| o.kind), Some(Kind::Adam { .. }));
        let pgrads = if training { Some(buf(engine, words, "parameter gradients")?) } else { None };
        let m = if training { Some(buf(engine, words, "optimizer state m")?) } else { None };
        let v = if adam { Some(buf(engine, words, "optimizer state v")?) } else { None };
        let scratch_len = (0..spec.layers.len())
            .filter_map(|i| match spec.layers[i] {
                Layer::Conv { channels, k, .. } => {
                    let (c, _, _) = spec.input_shape(i);
                    let (_, ho, wo) = spec.shapes[i];
                    let weights = weight_grad_splits(engine.split_k(), channels, c * k * k, batch * ho * wo);
                    let bias = bias_grad_splits(engine.split_k(), channels, batch, ho * wo);
                    Some((weights * c * k * k).max(bias) * channels)
                }
                Layer::Fc { units, .. } | Layer::Out { classes: units } => {
                    Some(bias_grad_splits(engine.split_k(), units, batch, 1) * units)
                }
                _ => None,
            })
            .filter(|&len| len > 0)
            .max();
        // no layer splits: no scratch
        let scratch_len = scratch_len.filter(|_| engine.split_k().is_some());
        let splits_scratch = match scratch_len {
            Some(len) if training => Some(buf(engine, len, "split-K partial weight gradients")?),
            _ => None,
        };
        let loss = buf(engine, batch, "row loss")?;
        let correct = buf(engine, batch, "row correct")?;
        let acc = [buf(engine, 4, "train sums")?, buf(engine, 4, "eval sums")?];
        let probs = buf(engine, batch * CLASSES, "probabilities")?;
        let b = Bufs {
            store: store_id,
            store_labels,
            index,
            x,
            y,
            acts,
            argmax,
            bn_stats,
            grads,
            params,
            pgrads,
            splits_scratch,
            m,
            v,
            loss,
            correct,
            acc,
            probs,
        };
        let split_k = engine.split_k();
        Ok(Net {
            spec,
            cfg,
            slots,
            param_words: words,
            store_rows: rows,
            split_k,
            augment: None,
            bytes,
            b,
            plans: HashMap::new(),
        })
    }

    /// Device memory this net allocated, in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn params_view(&self) -> View {
        View::whole(self.b.params, self.param_words)
    }

    /// The parameter gradients of the last training step (same layout as the parameters).
    pub fn grads_view(&self) -> Option<View> {
        self.b.pgrads.map(|id| View::whole(id, self.param_words))
    }

    /// Uploads the flat parameters (init, a checkpoint).
    pub fn write_params(&self, engine: &mut dyn Engine, params: &[f32]) -> Result<()> {
        engine.write_f32(self.b.params, 0, params)
    }

    /// Uploads optimizer state: m (Adam's first moment or SGD's velocity) and Adam's v.
    pub fn write_state(&self, engine: &mut dyn Engine, m: &[f32], v: Option<&[f32]>) -> Result<()> {
        for (id, data) in [(self.b.m, Some(m)), (self.b.v, v)] {
            if let (Some(id), Some(data)) = (id, data) {
                engine.write_f32(id, 0, data)?;
            }
        }
        Ok(())
    }

    /// Whether the optimizer keeps a second moment (v) beside m.
    pub fn has_v(&self) -> bool {
        self.b.v.is_some()
    }

    /// Optimizer state buffers (m, then v for Adam).
    pub fn state_views(&self) -> Vec<View> {
        [self.b.m, self.b.v].iter().flatten().map(|&id| View::whole(id, self.param_words)).collect()
    }

    /// Glorot-uniform weights (Keras' default) and zero biases, from `seed`; batch
    /// norm starts as the identity (γ 1, β 0, running mean 0 and variance 1).
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = vec![0f32; self.param_words];
        for s in &self.slots {
            if let Some(r) = s.running {
                let c = s.bias_len();
                p[s.weight..s.weight + c].fill(1.0);
                p[r + c..r + 2 * c].fill(1.0);
                continue;
            }
            let receptive: usize = s.weight_shape[2..].iter().product();
            let fan_in = s.weight_shape[1] * receptive;
            let fan_out = s.weight_shape[0] * receptive;
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
            for w in &mut p[s.weight..s.weight + s.weight_len()] {
                *w = rng.random_range(-limit..limit);
            }
        }
        p
    }

    /// Sets the row order batches are gathered in (store row numbers).
    pub fn set_index(&self, engine: &mut dyn Engine, offset: usize, rows: &[u32]) -> Result<()> {
        engine.write(self.b.index, offset, rows)
    }

    /// Sets running (loss sum, correct, rows) sums: zeros for a fresh epoch, or
    /// where an interrupted one left them.
    pub fn set_acc(&self, engine: &mut dyn Engine, which: Acc, sums: [f64; 3]) -> Result<()> {
        engine.write_f32(self.b.acc[which as usize], 0, &[sums[0] as f32, sums[1] as f32, sums[2] as f32, 0.0])
    }

    /// (loss sum, correct, rows) accumulated since the last reset.
    pub fn read_acc(&self, engine: &mut dyn Engine, which: Acc) -> Result<(f64, f64, f64)> {
        let a = engine.read_f32(View::whole(self.b.acc[which as usize], 4))?;
        Ok((a[0] as f64, a[1] as f64, a[2] as f64))
    }

    /// Augmentation of the training batches from now on.
    pub fn set_augment(&mut self, augment: Option<Augment>) {
        self.augment = augment;
    }

    /// The learning rate of the next training steps (a schedule's, step by step).
    pub fn set_lr(&mut self, lr: f32) {
        if let Some(o) = self.cfg.optim.as_mut() {
            o.lr = lr;
        }
    }

    /// One training step on the `n` rows listed at index[first..first + n].
    /// `step` counts from 0 over the whole run (dropout masks, Adam's bias correction).
    pub fn train_step(&mut self, engine: &mut dyn Engine, first: usize, n: usize, step: u64) -> Result<()> {
        self.launch(engine, Mode::Train, first, n, step)
    }

    /// Forward only, adding loss and hits to the eval sums.
    pub fn eval_batch(&mut self, engine: &mut dyn Engine, first: usize, n: usize) -> Result<()> {
        self.launch(engine, Mode::Eval, first, n, 0)
    }

    /// Class probabilities (n, 10) of the rows at index[first..first + n].
    pub fn predict_batch(&mut self, engine: &mut dyn Engine, first: usize, n: usize) -> Result<Vec<f32>> {
        self.launch(engine, Mode::Predict, first, n, 0)?;
        engine.read_f32(self.probs_view(n))
    }

    /// The plan of one launch of `mode` over `n` rows, built on first use. Its
    /// gather reads index[0..n]; runs move that window with `set_params`.
    pub fn plan(&mut self, engine: &mut dyn Engine, mode: Mode, n: usize) -> Result<PlanId> {
        assert!(n >= 1 && n <= self.cfg.batch, "batch of {n} rows on a net built for {}", self.cfg.batch);
        if !self.plans.contains_key(&(mode, n)) {
            let plan = self.build(engine, mode, n)?;
            self.plans.insert((mode, n), plan);
        }
        Ok(self.plans[&(mode, n)].id)
    }

    /// The packed image store (rows of 784 bytes, four to a word, low byte first).
    pub fn store_view(&self) -> View {
        View::whole(self.b.store, self.store_rows * PIXELS.div_ceil(4))
    }

    /// The (n, 10) class probabilities a prediction plan over n rows leaves.
    pub fn probs_view(&self, n: usize) -> View {
        View::whole(self.b.probs, n * CLASSES)
    }

    fn launch(&mut self, engine: &mut dyn Engine, mode: Mode, first: usize, n: usize, step: u64) -> Result<()> {
        let info = self.launch_info(engine, mode, n, first, step)?;
        for (i, params) in std::iter::once(info.gather).chain(info.dropouts).chain(info.optim) {
            engine.set_params(info.plan, i, params)?;
        }
        engine.run(info.plan)
    }

    /// The plan of a launch of `mode` over the `n` rows at index[first..] at
    /// training step `step`, and the parameters it runs with: its gather's, its
    /// dropout layers' and its optimizer's, by op. What a run sets before it runs;
    /// the web export takes them at (first 0, step 0) and the page patches the
    /// words that move (`GatherDims::OFFSET`, ...).
    pub fn launch_info(
        &mut self,
        engine: &mut dyn Engine,
        mode: Mode,
        n: usize,
        first: usize,
        step: u64,
    ) -> Result<LaunchInfo> {
        self.plan(engine, mode, n)?;
        let plan = &self.plans[&(mode, n)];
        let mut gather = GatherDims::new(n, first, PIXELS, self.cfg.scale);
        if let (Mode::Train, Some(a)) = (mode, self.augment) {
            gather = a.gather(gather, self.cfg.seed, step as u32);
        }
        let dropouts =
            plan.dropouts.iter().map(|&(i, d)| (i, DropoutDims { step: step as u32, ..d }.params())).collect();
        let optim = plan.optim.zip(self.cfg.optim).map(|(i, o)| (i, o.params(self.param_words, step + 1)));
        Ok(LaunchInfo { plan: plan.id, gather: (GATHER_OP, gather.params()), dropouts, optim })
    }

    /// The buffer of the running (loss, correct, rows) sums `which` adds to: 4 words.
    pub fn acc_view(&self, which: Acc) -> View {
        View::whole(self.b.acc[which as usize], 4)
    }

    /// The batch index: store row numbers, `store_rows` of them.
    pub fn index_view(&self) -> View {
        View::whole(self.b.index, self.store_rows)
    }

    /// The op list of one launch: gather, forward, then per mode the loss,
    /// backward and update (Train), the loss sums (Eval) or softmax (Predict).
    fn build(&self, engine: &mut dyn Engine, mode: Mode, n: usize) -> Result<Plan> {
        let b = &self.b;
        let spec = &self.spec;
        let train = mode == Mode::Train;
        let size = |s: (usize, usize, usize)| n * s.0 * s.1 * s.2;
        let mut ops: Vec<Op> = Vec::new();
        let mut dropouts = Vec::new();
        let gather_dims = GatherDims::new(n, 0, PIXELS, self.cfg.scale);
        ops.push(op::gather(
            View::whole(b.x, n * PIXELS),
            View::whole(b.y, n),
            self.store_view(),
            View::whole(b.store_labels, self.store_rows),
            View::whole(b.index, self.store_rows),
            gather_dims,
        ));
        let slot = |i: usize| self.slots.iter().find(|s| s.layer == i).expect("layer without parameters");
        let wview = |s: &Slot| View { buf: b.params, offset: s.weight, len: s.weight_len() };
        let bview = |s: &Slot| View { buf: b.params, offset: s.bias, len: s.bias_len() };
        let gw = |s: &Slot| View { buf: b.pgrads.unwrap(), offset: s.weight, len: s.weight_len() };
        let gb = |s: &Slot| View { buf: b.pgrads.unwrap(), offset: s.bias, len: s.bias_len() };
        let act = |i: usize| View::whole(b.acts[i], size(spec.shapes[i]));
        // batch norm: [γ; β], [running mean; var], this batch's [mean; invstd], [dγ; dβ]
        let affine = |s: &Slot| View { buf: b.params, offset: s.weight, len: 2 * s.bias_len() };
        let running = |s: &Slot| View { buf: b.params, offset: s.running.unwrap(), len: 2 * s.bias_len() };
        let bn_stats = |i: usize| View::whole(b.bn_stats[i].unwrap(), 2 * spec.shapes[i].0);
        let gaffine = |s: &Slot| View { buf: b.pgrads.unwrap(), offset: s.weight, len: 2 * s.bias_len() };
        let grad = |i: usize| View::whole(b.grads[i].unwrap(), size(spec.shapes[i]));

        // forward; inputs[i] is the view layer i reads (dropout is the identity outside training)
        let mut inputs = Vec::new();
        let mut input = View::whole(b.x, n * PIXELS);
        for (i, layer) in spec.layers.iter().enumerate() {
            inputs.push(input);
            let (c, h, w) = spec.input_shape(i);
            match *layer {
                Layer::Conv { channels, k, stride, same, relu } => {
                    let d = ConvDims::strided(n, c, channels, h, w, k, stride, same).with_epilogue(true, relu);
                    ops.push(op::conv2d_forward(act(i), input, wview(slot(i)), Some(bview(slot(i))), d));
                }
                Layer::Pool { k } => {
                    let arg = View::whole(b.argmax[i].unwrap(), size(spec.shapes[i]));
                    ops.push(op::maxpool_forward(act(i), arg, input, PoolDims::new(n, c, h, w, k)));
                }
                Layer::Drop { p } if train => {
                    let d = DropoutDims::new(size(spec.shapes[i]), p, self.cfg.seed, 0, i as u32);
                    dropouts.push((ops.len(), d));
                    ops.push(op::dropout_forward(act(i), input, d));
                }
                Layer::Drop { .. } => continue,
                Layer::Bn => {
                    let s = slot(i);
                    let d = BnDims::new(n, c, h * w, train);
                    if train {
                        ops.push(op::bn_stats(bn_stats(i), running(s), input, d));
                        ops.push(op::bn_forward(act(i), input, bn_stats(i), affine(s), d));
                    } else {
                        ops.push(op::bn_forward(act(i), input, running(s), affine(s), d));
                    }
                }
                Layer::Relu => ops.push(op::relu_forward(act(i), input, ElemDims::new(size(spec.shapes[i])))),
                Layer::Fc { units, .. } | Layer::Out { classes: units } => {
                    let fan_in = c * h * w;
                    let relu = matches!(layer, Layer::Fc { relu: true, .. });
                    let d = MatmulDims::strided(n, units, fan_in, (fan_in, 1), (1, fan_in)).with_epilogue(true, relu);
                    ops.push(op::matmul(act(i), input, wview(slot(i)), Some(bview(slot(i))), d));
                }
            }
            input = act(i);
        }
        let last = spec.layers.len() - 1;
        let xent = XentDims::new(n, CLASSES);
        let (loss, correct) = (View::whole(b.loss, n), View::whole(b.correct, n));
        if mode == Mode::Predict {
            ops.push(op::softmax(View::whole(b.probs, n * CLASSES), act(last), xent));
        } else {
            ops.push(op::softmax_xent(grad(last), loss, correct, act(last), View::whole(b.y, n), xent));
            let acc = b.acc[if train { Acc::Train } else { Acc::Eval } as usize];
            ops.push(op::xent_accumulate(View::whole(acc, 4), loss, correct, xent));
        }
        let mut optim = None;
        if train {
            for i in (0..=last).rev() {
                let (c, h, w) = spec.input_shape(i);
                let dy = grad(i);
                let d_in = (i > 0).then(|| grad(i - 1));
                match spec.layers[i] {
                    Layer::Conv { channels, k, stride, same, relu } => {
                        let d = ConvDims::strided(n, c, channels, h, w, k, stride, same);
                        let (ho, wo) = d.out_hw();
                        let s = slot(i);
                        if relu {
                            ops.push(op::relu_backward(dy, act(i), ElemDims::new(dy.len)));
                        }
                        let splits = weight_grad_splits(self.split_k, channels, c * k * k, n * ho * wo);
                        if splits > 1 {
                            let part = View::whole(b.splits_scratch.unwrap(), splits * s.weight_len());
                            ops.push(op::conv2d_backward_weight(part, dy, inputs[i], d.with_splits(splits)));
                            ops.push(op::sum_splits(gw(s), part, SplitDims::new(s.weight_len(), splits)));
                        } else {
                            ops.push(op::conv2d_backward_weight(gw(s), dy, inputs[i], d));
                        }
                        let db = BiasGradDims::new(n, channels, ho * wo);
                        bias_grad_ops(&mut ops, gb(s), dy, db, self.split_k, b.splits_scratch);
                        if let Some(dx) = d_in {
                            ops.push(op::conv2d_backward_input(dx, dy, wview(s), d));
                        }
                    }
                    Layer::Pool { k } => {
                        if let Some(dx) = d_in {
                            let arg = View::whole(b.argmax[i].unwrap(), dy.len);
                            ops.push(op::maxpool_backward(dx, dy, arg, PoolDims::new(n, c, h, w, k)));
                        }
                    }
                    Layer::Bn => {
                        let s = slot(i);
                        let d = BnDims::new(n, c, h * w, true);
                        ops.push(op::bn_backward_params(gaffine(s), dy, inputs[i], bn_stats(i), d));
                        if let Some(dx) = d_in {
                            let (st, g) = (bn_stats(i), gaffine(s));
                            ops.push(op::bn_backward_input(dx, dy, inputs[i], st, affine(s), g, d));
                        }
                    }
                    Layer::Drop { .. } => {
                        if let Some(dx) = d_in {
                            let fwd = dropouts.iter().find(|(_, d)| d.salt == i as u32).unwrap().1;
                            dropouts.push((ops.len(), fwd));
                            ops.push(op::dropout_backward(dx, dy, fwd));
                        }
                    }
                    // in place: the layer below reads the same buffer (Net::new aliases it)
                    Layer::Relu => ops.push(op::relu_backward(dy, act(i), ElemDims::new(dy.len))),
                    Layer::Fc { units, .. } | Layer::Out { classes: units } => {
                        let fan_in = c * h * w;
                        let s = slot(i);
                        if matches!(spec.layers[i], Layer::Fc { relu: true, .. }) {
                            ops.push(op::relu_backward(dy, act(i), ElemDims::new(dy.len)));
                        }
                        let dw = MatmulDims::strided(units, fan_in, n, (1, units), (fan_in, 1));
                        ops.push(op::matmul(gw(s), dy, inputs[i], None, dw));
                        let d = BiasGradDims::new(n, units, 1);
                        bias_grad_ops(&mut ops, gb(s), dy, d, self.split_k, b.splits_scratch);
                        if let Some(dx) = d_in {
                            ops.push(op::matmul(dx, dy, wview(s), None, MatmulDims::plain(n, fan_in, units)));
                        }
                    }
                }
            }
            let o = self.cfg.optim.expect("training plan without optimizer");
            let all = |id: BufId| View::whole(id, self.param_words);
            let pg = all(b.pgrads.unwrap());
            optim = Some(ops.len());
            ops.push(match o.kind {
                Kind::Adam { .. } => op::adam(
                    all(b.params),
                    all(b.m.unwrap()),
                    all(b.v.unwrap()),
                    pg,
                    kernels::AdamDims::from_params(&o.params(self.param_words, 1)),
                ),
                Kind::Sgd { .. } => op::sgd(
                    all(b.params),
                    all(b.m.unwrap()),
                    pg,
                    kernels::SgdDims::from_params(&o.params(self.param_words, 1)),
                ),
            });
        }
        let id = engine.plan(ops)?;
        Ok(Plan { id, dropouts, optim })
    }
}
