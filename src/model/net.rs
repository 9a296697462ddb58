//! A network on an engine: its buffers (sized once for the largest batch), its
//! flat parameter layout, and the cache of its plans — op lists for a training
//! step, an evaluation batch and a prediction batch, one per batch size, which
//! plan.rs builds and launch.rs runs (neither imported here).
//!
//! One training step is one plan: gather the batch from the on-device image
//! store, forward, softmax cross-entropy, backward, optimizer update.

use super::spec::Spec;
use crate::augment::Augment;
use crate::data::{shape_text, Images};
use crate::engine::{Engine, PlanId, SplitK};
use crate::error::{Error, Result};
use crate::kernels::op::{BufId, View};
use crate::kernels::DropoutDims;
use crate::optim::{Kind, LossScale, Optim};
use rand::rngs::StdRng;
use rand::SeedableRng;
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

pub(super) struct Plan {
    pub(super) id: PlanId,
    pub(super) dropouts: Vec<(usize, DropoutDims)>,
    pub(super) optim: Option<usize>,
}

pub(super) struct Bufs {
    pub(super) store: BufId,
    pub(super) store_labels: BufId,
    pub(super) index: BufId,
    pub(super) x: BufId,
    pub(super) y: BufId,
    pub(super) acts: Vec<BufId>,
    /// Each layer's own buffer (`Kind::aux`: pool's argmax, batch norm's statistics).
    pub(super) aux: Vec<Option<BufId>>,
    /// Gradient w.r.t. each layer's output (only the last without training).
    pub(super) grads: Vec<Option<BufId>>,
    pub(super) params: BufId,
    pub(super) pgrads: Option<BufId>,
    /// Split-K partial weight or bias gradients of one layer at a time.
    pub(super) splits_scratch: Option<BufId>,
    /// Its length in words (0 without one).
    pub(super) scratch_words: usize,
    /// Adam's m and v, or SGD's velocity (in `m`).
    pub(super) m: Option<BufId>,
    pub(super) v: Option<BufId>,
    /// The dynamic loss scale's words (`optim::LossScale`): training in mixed precision only.
    pub(super) scale: Option<BufId>,
    pub(super) loss: BufId,
    pub(super) correct: BufId,
    pub(super) acc: [BufId; 2],
    pub(super) probs: BufId,
}

/// How a net is built: its largest batch, input normalisation, optimizer (None
/// for inference only) and the seed of its dropout masks.
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub batch: usize,
    pub norm: crate::data::norm::Norm,
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
    pub(super) split_k: Option<SplitK>,
    /// Random affine maps on training batches (none by default).
    pub(super) augment: Option<Augment>,
    /// Label smoothing of the training loss (validation and test losses are plain).
    pub(super) label_smoothing: f32,
    /// The weights' moving average (its buffer, its decay), stepped after each update.
    pub(super) ema: Option<(BufId, f32)>,
    bytes: u64,
    pub(super) b: Bufs,
    pub(super) plans: HashMap<(Mode, usize), Plan>,
}

/// Each parameterised layer's slot in the flat parameter buffer, and its length.
/// The trained weights and biases come first (`trainable_words`: what the
/// optimizer updates and weight decay shrinks), batch norm's running statistics
/// after all of them.
pub fn layout(spec: &Spec) -> (Vec<Slot>, usize) {
    let mut slots = Vec::new();
    let mut words = 0;
    for i in 0..spec.layers.len() {
        if let Some(p) = spec.param_shapes(i) {
            let wlen: usize = p.weight.iter().product();
            let weight = words;
            // a layer with running statistics binds [weight; bias] as one view
            let bias = if p.running { weight + wlen } else { (weight + wlen).next_multiple_of(ALIGN_WORDS) };
            words = (bias + p.bias).next_multiple_of(ALIGN_WORDS);
            slots.push(Slot { layer: i, weight_shape: p.weight, weight, bias, running: p.running.then_some(0) });
        }
    }
    for s in slots.iter_mut().filter(|s| s.running.is_some()) {
        s.running = Some(words);
        words = (words + 2 * s.bias_len()).next_multiple_of(ALIGN_WORDS);
    }
    (slots, words)
}

/// The words of the flat buffer the optimizer updates: every weight and bias,
/// none of batch norm's running statistics (`layout` puts those last).
pub fn trainable_words(slots: &[Slot], words: usize) -> usize {
    slots.iter().filter_map(|s| s.running).min().unwrap_or(words)
}

/// The store's words: each row's values four to a word, low byte first, a row
/// padded to whole words; and its labels.
pub fn pack(images: &Images) -> (Vec<u32>, Vec<u32>) {
    let size = images.size();
    let row_words = size.div_ceil(4);
    let mut words = Vec::with_capacity(images.len() * row_words);
    for row in images.pixels.chunks_exact(size) {
        let mut chunks = row.chunks_exact(4);
        words.extend(chunks.by_ref().map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        let tail = chunks.remainder();
        if !tail.is_empty() {
            words.push(tail.iter().rev().fold(0u32, |w, &b| w << 8 | b as u32));
        }
    }
    let labels = match &images.labels {
        Some(l) => l.iter().map(|&v| v as u32).collect(),
        None => vec![0; images.len()],
    };
    (words, labels)
}

/// The one rule for `--batch-size`: at least 1, and small enough that conv2d.wgsl's
/// pixel indices (below batch·H·W of the largest image plane a layer reads) divide
/// exactly in f32 (below 2^24).
pub fn check_batch(batch: usize, spec: &Spec) -> Result<()> {
    let plane = (0..spec.layers.len()).map(|i| spec.input_shape(i)).map(|(_, h, w)| h * w).max().unwrap_or(1);
    if batch == 0 || batch * plane >= 1 << 24 {
        return Err(Error::usage(format!("--batch-size must be 1..={}, got {batch}", ((1 << 24) - 1) / plane)));
    }
    Ok(())
}

/// The one rule where a net meets data: its images have the shape the spec
/// takes; an error naming both if not.
pub fn check_input(spec: &Spec, images: &Images) -> Result<()> {
    if images.shape == spec.input {
        return Ok(());
    }
    let (want, have) = (shape_text(spec.input), shape_text(images.shape));
    Err(Error::usage(format!("the model takes {want} images, these are {have}")))
}

/// An engine's buffers, counted as they are made.
struct Alloc<'e> {
    engine: &'e mut dyn Engine,
    bytes: u64,
}

impl Alloc<'_> {
    fn buf(&mut self, words: usize, label: &str) -> Result<BufId> {
        self.bytes += words.max(1) as u64 * 4;
        self.engine.buffer(words, label)
    }
    /// A buffer holding `data`.
    fn filled(&mut self, data: &[u32], label: &str) -> Result<BufId> {
        let id = self.buf(data.len(), label)?;
        self.engine.write(id, 0, data)?;
        Ok(id)
    }
    /// A buffer only where `want` says so.
    fn maybe(&mut self, want: bool, words: usize, label: &str) -> Result<Option<BufId>> {
        want.then(|| self.buf(words, label)).transpose()
    }
}

impl Bufs {
    fn new(a: &mut Alloc, spec: &Spec, store: &Images, cfg: &NetConfig, words: usize) -> Result<Bufs> {
        let (batch, rows) = (cfg.batch, store.len());
        let training = cfg.optim.is_some();
        let adam = matches!(cfg.optim.map(|o| o.kind), Some(Kind::Adam { .. }));
        let (packed, labels) = pack(store);
        let store = a.filled(&packed, "image store")?;
        let store_labels = a.filled(&labels, "store labels")?;
        let index = a.buf(rows, "batch index")?;
        let x = a.buf(batch * spec.input_size(), "x")?;
        let y = a.buf(batch, "y")?;
        let (mut acts, mut aux, mut grads) = (Vec::new(), Vec::new(), Vec::new());
        let last = spec.layers.len() - 1;
        for (i, l) in spec.layers.iter().enumerate() {
            let (c, h, w) = spec.shapes[i];
            let len = batch * c * h * w;
            acts.push(a.buf(len, &format!("layer {i} {l} output"))?);
            let own = l.kind().aux(batch, spec.input_shape(i), spec.shapes[i]);
            aux.push(own.map(|(what, words)| a.buf(words, &format!("layer {i} {what}"))).transpose()?);
            grads.push(match l.kind().grad_in_place() {
                true if training && i > 0 => grads[i - 1],
                _ => a.maybe(training || i == last, len, &format!("layer {i} gradient"))?,
            });
        }
        let scratch = scratch_len(spec, a.engine.split_k(), batch, a.engine.fuses()).filter(|_| training);
        let scale = match training && a.engine.mixed() {
            true => Some(a.filled(&LossScale::default().words(), "loss scale")?),
            false => None,
        };
        Ok(Bufs {
            store,
            store_labels,
            index,
            x,
            y,
            acts,
            aux,
            grads,
            params: a.buf(words, "parameters")?,
            pgrads: a.maybe(training, words, "parameter gradients")?,
            m: a.maybe(training, words, "optimizer state m")?,
            v: a.maybe(adam, words, "optimizer state v")?,
            scale,
            splits_scratch: scratch.map(|len| a.buf(len, "split-K partial weight gradients")).transpose()?,
            scratch_words: scratch.unwrap_or(0),
            loss: a.buf(batch, "row loss")?,
            correct: a.buf(batch, "row correct")?,
            acc: [a.buf(4, "train sums")?, a.buf(4, "eval sums")?],
            probs: a.buf(batch * spec.classes(), "probabilities")?,
        })
    }
}

/// Words of the split-K scratch: the largest split weight or bias gradient of
/// any layer; None where nothing splits.
/// The split-K scratch: the longest layer's, or with the fusion pass, whose one
/// sum keeps every layer's partial slices until it runs, all of them (each
/// rounded up to a view's 64-word alignment) where that fits in 128 MiB, the
/// binding size every WebGPU adapter allows (past it the sums stay apart).
fn scratch_len(spec: &Spec, split: Option<SplitK>, batch: usize, fused: bool) -> Option<usize> {
    let split = split?;
    let lens: Vec<usize> = (0..spec.layers.len())
        .filter_map(|i| spec.layers[i].kind().scratch(split, batch, spec.input_shape(i), spec.shapes[i]))
        .filter(|&len| len > 0)
        .collect();
    let all = lens.iter().map(|len| len.div_ceil(64) * 64).sum::<usize>();
    match fused && all * 4 <= 128 << 20 {
        true => Some(all).filter(|&n| n > 0),
        false => lens.into_iter().max(),
    }
}

impl Net {
    /// Builds buffers for batches of up to `batch` and uploads `store` (every image
    /// the run will touch). `optim` = None builds an inference-only net.
    pub fn new(engine: &mut dyn Engine, spec: Spec, store: &Images, cfg: NetConfig) -> Result<Net> {
        check_batch(cfg.batch, &spec)?;
        check_input(&spec, store)?;
        let (slots, words) = layout(&spec);
        let mut alloc = Alloc { engine, bytes: 0 };
        let b = Bufs::new(&mut alloc, &spec, store, &cfg, words)?;
        let bytes = alloc.bytes;
        Ok(Net {
            spec,
            cfg,
            slots,
            param_words: words,
            store_rows: store.len(),
            split_k: engine.split_k(),
            augment: None,
            label_smoothing: 0.0,
            ema: None,
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

    /// The dynamic loss scale (mixed-precision training only): where it stands.
    pub fn loss_scale(&self, engine: &mut dyn Engine) -> Result<Option<LossScale>> {
        self.scale_words(engine).map(|w| w.as_deref().map(LossScale::from_words))
    }

    /// Sets the loss scale (a resumed run's); nothing where the net has none.
    pub fn set_loss_scale(&self, engine: &mut dyn Engine, scale: LossScale) -> Result<()> {
        match self.b.scale {
            Some(id) => engine.write(id, 0, &scale.words()),
            None => Ok(()),
        }
    }

    fn scale_words(&self, engine: &mut dyn Engine) -> Result<Option<Vec<u32>>> {
        self.b.scale.map(|id| engine.read(View::whole(id, LossScale::WORDS))).transpose()
    }

    /// The parameter gradients of the last training step, as the loss's own:
    /// in mixed precision with the loss scale they carry divided out.
    pub fn read_grads(&self, engine: &mut dyn Engine) -> Result<Vec<f32>> {
        let view = self.grads_view().expect("a training net has gradients");
        let carried = self.scale_words(engine)?.map_or(1.0, |w| LossScale::carried(&w));
        Ok(engine.read_f32(view)?.into_iter().map(|g| g / carried).collect())
    }

    /// Whether the optimizer keeps a second moment (v) beside m.
    pub fn has_v(&self) -> bool {
        self.b.v.is_some()
    }

    /// Optimizer state buffers (m, then v for Adam).
    pub fn state_views(&self) -> Vec<View> {
        [self.b.m, self.b.v].iter().flatten().map(|&id| View::whole(id, self.param_words)).collect()
    }

    /// Every layer's starting parameters from `seed` (`Kind::init`: Glorot-uniform
    /// weights, Keras' default, and zero biases unless a kind says otherwise).
    pub fn init_params(&self, seed: u64) -> Vec<f32> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = vec![0f32; self.param_words];
        for s in &self.slots {
            let shape = self.spec.param_shapes(s.layer).expect("a slot's layer has parameters");
            // the weight, then (after the bias) the running statistics, in one buffer
            let (head, tail) = p.split_at_mut(s.bias);
            let running = match s.running {
                Some(r) => &mut tail[r - s.bias..r - s.bias + 2 * s.bias_len()],
                None => &mut [][..],
            };
            let w = &mut head[s.weight..s.weight + s.weight_len()];
            self.spec.layers[s.layer].kind().init(&shape, w, running, &mut rng);
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

    /// Keeps an exponential moving average of the weights from now on (Polyak
    /// averaging; batch norm's running statistics, which share the parameter
    /// buffer, are averaged with them), starting from `start`: each training step
    /// ends with avg ← d·avg + (1 - d)·w, d = `optim::ema_decay(decay, step)`. Set
    /// before the first training step.
    pub fn set_ema(&mut self, engine: &mut dyn Engine, decay: f32, start: &[f32]) -> Result<()> {
        assert!(!self.has_training_plan(), "EMA set after a training plan was built");
        assert!(self.ema.is_none(), "EMA set twice");
        let id = engine.buffer(self.param_words, "weights' moving average")?;
        self.bytes += self.param_words as u64 * 4;
        engine.write_f32(id, 0, start)?;
        self.ema = Some((id, decay));
        Ok(())
    }

    /// Whether a training plan was built (what it carries is fixed from then on).
    fn has_training_plan(&self) -> bool {
        self.plans.keys().any(|(m, _)| *m == Mode::Train)
    }

    /// The moving average's view, where the net keeps one.
    pub fn ema_view(&self) -> Option<View> {
        self.ema.map(|(id, _)| View::whole(id, self.param_words))
    }

    /// Exchanges the weights and their moving average (evaluation reads the
    /// weights' buffer: swap, evaluate, swap back). Nothing without an average.
    pub fn swap_ema(&self, engine: &mut dyn Engine) -> Result<()> {
        let Some(avg) = self.ema_view() else { return Ok(()) };
        let (w, a) = (engine.read(self.params_view())?, engine.read(avg)?);
        engine.write(self.b.params, 0, &a)?;
        engine.write(avg.buf, 0, &w)
    }

    /// Label smoothing s of the training loss: targets (1 - s)·onehot + s/C. Set
    /// before the first training step (the plans carry it).
    pub fn set_label_smoothing(&mut self, s: f32) {
        assert!(!self.has_training_plan(), "label smoothing set after a training plan was built");
        self.label_smoothing = s;
    }

    /// The packed image store (rows of C·H·W bytes, four to a word, low byte first).
    pub fn store_view(&self) -> View {
        View::whole(self.b.store, self.store_rows * self.spec.input_size().div_ceil(4))
    }

    /// The (n, classes) class probabilities a prediction plan over n rows leaves.
    pub fn probs_view(&self, n: usize) -> View {
        View::whole(self.b.probs, n * self.spec.classes())
    }

    /// The buffer of the running (loss, correct, rows) sums `which` adds to: 4 words.
    pub fn acc_view(&self, which: Acc) -> View {
        View::whole(self.b.acc[which as usize], 4)
    }

    /// The batch index: store row numbers, `store_rows` of them.
    pub fn index_view(&self) -> View {
        View::whole(self.b.index, self.store_rows)
    }
}
