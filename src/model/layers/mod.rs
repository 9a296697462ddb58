//! Layer kinds, one file each. A kind says how its token parses, what shape it
//! outputs from its input's (C, H, W), its parameters and their start, the
//! buffers it keeps, the ops it emits into a launch's forward and backward
//! plans, and its ONNX nodes; `Layer` is the registry of the kinds, one line
//! each in `layers!` below. Nothing here fuses across layers: the engines'
//! fusion passes work on the op lists (native/fuse.rs).

mod bn;
mod conv;
mod dense;
mod drop;
mod gap;
mod out;
mod pool;
mod relu;

use super::onnx::Graph;
use crate::engine::{bias_grad_splits, SplitK};
use crate::kernels::op::{self, BufId, Op, View};
use crate::kernels::{BiasGradDims, DropoutDims, SplitDims};
use rand::rngs::StdRng;
use rand::Rng;

/// (channels, height, width) of an activation; dense outputs are (n, 1, 1).
pub use crate::data::Shape;

/// Where a layer sits in its spec, for `Kind::out_shape`.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    /// The shape of one row of its input.
    pub input: Shape,
    /// Whether a layer before it flattened the activation (a dense layer).
    pub flat: bool,
    /// Whether it is the spec's last layer.
    pub last: bool,
}

impl Place {
    /// Refuses a spatial layer (conv, pool, gap) after a flat one.
    pub fn spatial(&self) -> Result<(), String> {
        match self.flat {
            true => Err("follows a layer with a flat output (fc, gap): it needs an image".into()),
            false => Ok(()),
        }
    }
}

/// A layer's parameters: its weight's shape (PyTorch layout), its bias length,
/// and whether it keeps running statistics (2 x bias words beside them, never
/// given a gradient). A layer with running statistics binds [weight; bias] as
/// one view, so its bias follows its weight directly.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamShape {
    pub weight: Vec<usize>,
    pub bias: usize,
    pub running: bool,
}

/// The views of a layer's parameters in one launch, and of their gradients in
/// a training launch.
#[derive(Clone, Copy, Debug)]
pub struct ParamViews {
    pub w: View,
    pub b: View,
    pub gw: Option<View>,
    pub gb: Option<View>,
    /// [running mean; running var], where the layer keeps them.
    pub running: Option<View>,
}

impl ParamViews {
    /// [weight; bias] as one view (a layer with running statistics lays them out so).
    pub fn joint(&self) -> View {
        assert_eq!(self.w.offset + self.w.len, self.b.offset, "weight and bias are not adjacent");
        View { len: self.w.len + self.b.len, ..self.w }
    }
    /// [weight gradient; bias gradient] as one view.
    pub fn gjoint(&self) -> View {
        let gw = self.gw.expect("parameter gradients outside training");
        View { len: gw.len + self.b.len, ..gw }
    }
}

/// One layer's place in a launch: its views, and the op list it adds to.
pub struct Emit<'a> {
    pub ops: &'a mut Vec<Op>,
    /// (op index, dims) of every dropout op so far, forward and backward: the
    /// launch sets their step.
    pub dropouts: &'a mut Vec<(usize, DropoutDims)>,
    /// Its index in the spec (dropout salts its masks with it).
    pub layer: usize,
    /// Rows of the launch.
    pub n: usize,
    pub train: bool,
    /// The seed of dropout masks.
    pub seed: u32,
    /// One row's shape of its input and its output.
    pub input: Shape,
    pub output: Shape,
    /// Its input (n, C, H, W) and its output.
    pub x: View,
    pub y: View,
    /// Backward only: the gradient of its output and (above the first layer) of its input.
    pub dy: Option<View>,
    pub dx: Option<View>,
    /// Its own buffer (`Kind::aux`), sized for this launch.
    pub aux: Option<View>,
    pub params: Option<ParamViews>,
    /// How the engine splits weight and bias gradients, and the scratch of the partial sums.
    pub split_k: Option<SplitK>,
    pub scratch: Option<BufId>,
}

impl Emit<'_> {
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }
    pub fn params(&self) -> ParamViews {
        self.params.expect("a layer without parameters")
    }
    /// The gradient of its output (backward only).
    pub fn dy(&self) -> View {
        self.dy.expect("backward without an output gradient")
    }
    /// A bias gradient: one op, or split into the scratch and summed.
    pub fn bias_grad(&mut self, d: BiasGradDims) {
        let (db, dy) = (self.params().gb.expect("bias gradient outside training"), self.dy());
        let (ch, outer, inner) = (d.channels as usize, d.outer as usize, d.inner as usize);
        match bias_grad_splits(self.split_k, ch, outer, inner) {
            1 => self.push(op::bias_grad(db, dy, d)),
            splits => {
                let part = self.scratch_view(splits * ch);
                self.push(op::bias_grad(part, dy, d.with_splits(splits)));
                self.push(op::sum_splits(db, part, SplitDims::new(ch, splits)));
            }
        }
    }
    /// The first `len` words of the split-K scratch.
    pub fn scratch_view(&self, len: usize) -> View {
        View::whole(self.scratch.expect("split gradient without scratch"), len)
    }
}

/// A layer's part of an ONNX export.
pub struct OnnxAt<'a> {
    /// Its index in the spec (tensor names follow the checkpoint's: `layers.3.weight`).
    pub layer: usize,
    pub input: Shape,
    pub output: Shape,
    /// Its weight, bias and running statistics, where it has them.
    pub w: &'a [f32],
    pub b: &'a [f32],
    pub running: &'a [f32],
}

impl OnnxAt<'_> {
    pub fn name(&self, tensor: &str) -> String {
        format!("layers.{}.{tensor}", self.layer)
    }
}

/// What one layer kind does. Every method but the plan emission has the
/// default of a kind without parameters or buffers that keeps its input's shape.
pub trait Kind {
    /// Its output's shape for one row, or why it cannot sit at `at`.
    fn out_shape(&self, at: &Place) -> Result<Shape, String> {
        Ok(at.input)
    }
    /// Whether its output is a flat vector (no spatial layer may follow).
    fn flattens(&self) -> bool {
        false
    }
    fn params(&self, _input: Shape) -> Option<ParamShape> {
        None
    }
    /// Sets its parameters' starting values: Glorot-uniform weights (Keras'
    /// default) and zero biases unless the kind says otherwise.
    fn init(&self, shape: &ParamShape, w: &mut [f32], _running: &mut [f32], rng: &mut StdRng) {
        glorot(&shape.weight, w, rng);
    }
    /// Its own buffer in a launch of `n` rows: (what it holds, words).
    fn aux(&self, _n: usize, _input: Shape, _output: Shape) -> Option<(&'static str, usize)> {
        None
    }
    /// Whether its backward works in place: its input's gradient is its output's buffer.
    fn grad_in_place(&self) -> bool {
        false
    }
    /// Words of split-K scratch its backward needs at batch `batch`.
    fn scratch(&self, _split: SplitK, _batch: usize, _input: Shape, _output: Shape) -> Option<usize> {
        None
    }
    /// Its forward ops; false where it is the identity in this launch and wrote nothing.
    fn forward(&self, e: &mut Emit) -> bool;
    /// Its backward ops: its parameters' gradients, then (where `e.dx`) its input's.
    fn backward(&self, e: &mut Emit);
    /// Its ONNX nodes; `flat` says whether a Flatten ran already.
    fn onnx(&self, g: &mut Graph, at: &OnnxAt, flat: &mut bool);
}

/// Glorot-uniform weights for a weight of shape (out, in, kernel...).
pub fn glorot(shape: &[usize], w: &mut [f32], rng: &mut StdRng) {
    let receptive: usize = shape[2..].iter().product();
    let fan_in = shape[1] * receptive;
    let fan_out = shape[0] * receptive;
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    for w in w {
        *w = rng.random_range(-limit..limit);
    }
}

/// The words of a positive size in a token: up to 2^24, larger ones fail the
/// size checks, never overflow.
pub(crate) fn size(s: &str) -> Option<usize> {
    s.parse::<usize>().ok().filter(|&v| v > 0 && v <= 1 << 24)
}

/// The registry: one line per kind, `Variant(file::Type)`; each type has
/// `parse(token) -> Option<Self>`, `SYNTAX` (its token's form, for errors),
/// `Display` (its canonical token) and `Kind`.
macro_rules! layers {
    ($($variant:ident($kind:path)),* $(,)?) => {
        /// One layer of a spec.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Layer {
            $($variant($kind)),*
        }

        impl Layer {
            /// The layer a token names, if any kind understands it.
            pub fn parse(tok: &str) -> Option<Layer> {
                None$(.or_else(|| <$kind>::parse(tok).map(Layer::$variant)))*
            }
            /// Every kind's token form, for a message listing what is understood.
            pub const SYNTAX: &[&str] = &[$(<$kind>::SYNTAX),*];
            pub fn kind(&self) -> &dyn Kind {
                match self {
                    $(Layer::$variant(l) => l),*
                }
            }
        }

        impl std::fmt::Display for Layer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $(Layer::$variant(l) => l.fmt(f)),*
                }
            }
        }
    };
}

layers! {
    Conv(conv::Conv),
    Pool(pool::Pool),
    Gap(gap::Gap),
    Drop(drop::Drop),
    Bn(bn::Bn),
    Relu(relu::Relu),
    Fc(dense::Fc),
    Out(out::Out),
}
