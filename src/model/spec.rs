//! Network specs: a comma-separated layer list (each token a layer kind of
//! model/layers/) on an input of some (C, H, W), and the named architectures of
//! the blog's progression, which take any input and end in as many outputs as
//! the data has classes.

use super::layers::{Layer, ParamShape, Place};
use crate::data::MNIST;
use crate::error::{Error, Result};

pub use super::layers::Shape;

/// A validated network: its input, its layers and the output shape of each.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub input: Shape,
    pub layers: Vec<Layer>,
    pub shapes: Vec<Shape>,
    /// The classes' names where the data has them (a folder's class folders),
    /// one per output; empty: the classes are their numbers.
    pub names: Vec<String>,
}

/// The named architectures: (name, spec, epochs the blog ran, description).
pub const NAMED: [(&str, &str, usize, &str); 9] = [
    ("mlp", "fc1024,fc512,fc256,fc128,fc32,out10", 10, "the blog's Keras MLP, 784-1024-512-256-128-32-10"),
    ("cnn4", "conv32k5,conv32k5,pool2,conv64k3,conv64k3,pool2,fc256,out10", 10, "four 'same' convolutions"),
    (
        "cnn6",
        "conv32k5,conv32k5,pool2,conv64k3,conv64k3,pool2,conv128k2,conv128k2,pool2,fc256,out10",
        10,
        "cnn4 + two 128-channel 2x2 convolutions",
    ),
    (
        "cnn8",
        "conv32k5,conv32k5,pool2,conv64k3,conv64k3,pool2,conv128k2,conv128k2,pool2,conv256k2,conv256k2,pool2,fc256,out10",
        10,
        "cnn6 + two 256-channel 2x2 convolutions",
    ),
    (
        "cnn8-dropout",
        "conv32k5,conv32k5,pool2,drop0.25,conv64k3,conv64k3,pool2,drop0.25,conv128k2,conv128k2,pool2,drop0.25,conv256k2,conv256k2,pool2,drop0.25,fc256,out10",
        30,
        "cnn8 with dropout 0.25 after every pool (the blog's 0.99185)",
    ),
    (
        "cnn8-deepfc",
        "conv32k5,conv32k5,pool2,drop0.25,conv64k3,conv64k3,pool2,drop0.25,conv128k2,conv128k2,pool2,drop0.25,conv256k2,conv256k2,pool2,drop0.25,fc1024,drop0.5,fc512,drop0.5,fc256,drop0.5,fc128,drop0.5,fc32,out10",
        30,
        "cnn8-dropout with a deep dropout head (the blog's best, 0.99271)",
    ),
    (
        "deotte",
        "conv32k3valid,bn,conv32k3valid,bn,conv32k5s2,bn,drop0.4,conv64k3valid,bn,conv64k3valid,bn,conv64k5s2,bn,drop0.4,conv128k4valid,bn,drop0.4,out10",
        45,
        "Chris Deotte's best single Kaggle CNN (99.64% there); trains at batch 64 with --augment rotate=10,zoom=0.1,shift=0.1 and --lr-schedule exp:0.95 unless told otherwise",
    ),
    (
        "fast",
        "conv24k5valid,pool2,conv32k5valid,pool2,fc256,out10",
        1,
        "the least time to 99% on t10k: one epoch of all 60,000 images at batch 256, --lr 0.01 --lr-schedule onecycle --adam-betas 0.7,0.9 --val-split 0 unless told otherwise",
    ),
    (
        "cifar",
        "conv32k3lin,bn,relu,conv32k3lin,bn,relu,pool2,conv64k3lin,bn,relu,conv64k3lin,bn,relu,pool2,conv128k3lin,bn,relu,conv128k3lin,bn,relu,pool2,gap,out10",
        20,
        "small colour photos (CIFAR-10's 32x32) in the style of the fast CIFAR recipes: conv-bn-relu pairs, max-pool between, global average pooling; trains at batch 256 with --augment crop=4,flip --normalize standard --label-smoothing 0.2 --lr 0.005 --lr-schedule onecycle unless told otherwise",
    ),
];

/// Epochs the blog ran a named arch for (10 for specs).
pub fn default_epochs(arch: &str) -> usize {
    NAMED.iter().find(|n| n.0 == arch).map(|n| n.2).unwrap_or(10)
}

/// The most values one layer may output per image (the largest net here: 25,088).
const MAX_ACTIVATION: usize = 1 << 24;
/// The most parameters a net may have (4 GiB of f32).
const MAX_PARAMS: usize = 1 << 30;

impl Spec {
    /// A name from `NAMED`, `mlp:H1,H2,...`, or a layer list, on MNIST's digits
    /// (a named arch or an mlp ending in out10, a list in its own out{N}).
    pub fn parse(arch: &str) -> Result<Spec> {
        Spec::on(arch, MNIST, None)
    }

    /// `arch` for data of `input` shape and `classes` classes: a named arch or an
    /// mlp ends in out{classes}; a layer list must end so already.
    pub fn for_data(arch: &str, input: Shape, classes: usize) -> Result<Spec> {
        Spec::on(arch, input, Some(classes))
    }

    /// The layer list a spec text and a stored input shape give (what a checkpoint holds).
    pub fn stored(text: &str, input: Shape) -> Result<Spec> {
        Spec::parse_layers(text, input, None)
    }

    fn on(arch: &str, input: Shape, classes: Option<usize>) -> Result<Spec> {
        let arch = arch.trim();
        let out = format!("out{}", classes.unwrap_or(10));
        if let Some(named) = NAMED.iter().find(|n| n.0 == arch) {
            let text = named.1.strip_suffix("out10").expect("named archs end in out10");
            return Spec::parse_layers(&format!("{text}{out}"), input, classes);
        }
        if let Some(hidden) = arch.strip_prefix("mlp:") {
            let mut layers = Vec::new();
            for h in hidden.split(',') {
                match h.trim().parse::<usize>() {
                    Ok(n) if n > 0 => layers.push(format!("fc{n}")),
                    _ => {
                        return Err(Error::usage(format!(
                            "bad arch '{arch}': '{h}' is not a positive hidden size (mlp:H1,H2,...)"
                        )))
                    }
                }
            }
            layers.push(out);
            return Spec::parse_layers(&layers.join(","), input, classes);
        }
        Spec::parse_layers(arch, input, classes)
    }

    fn parse_layers(text: &str, input: Shape, classes: Option<usize>) -> Result<Spec> {
        let names: Vec<&str> = NAMED.iter().map(|n| n.0).collect();
        let err = |msg: String| {
            Error::usage(format!(
                "bad arch '{text}': {msg}\n  expected a name ({}, mlp:H1,H2,...) or layers {}",
                names.join(", "),
                Layer::SYNTAX.join(", ")
            ))
        };
        let mut layers = Vec::new();
        for (i, tok) in text.split(',').enumerate() {
            let tok = tok.trim();
            layers.push(Layer::parse(tok).ok_or_else(|| err(format!("layer {} '{tok}' is not understood", i + 1)))?);
        }
        let mut shapes = Vec::new();
        let mut at = Place { input, flat: false, last: false };
        for (i, l) in layers.iter().enumerate() {
            at.last = i + 1 == layers.len();
            at.input = l.kind().out_shape(&at).map_err(|e| err(format!("layer {} '{l}': {e}", i + 1)))?;
            at.flat |= l.kind().flattens();
            shapes.push(at.input);
        }
        match (layers.last(), classes) {
            (Some(Layer::Out(o)), Some(c)) if o.classes != c => {
                return Err(err(format!("the last layer must be out{c}: the data has {c} classes, not {}", o.classes)))
            }
            (Some(Layer::Out(_)), _) => {}
            (_, Some(c)) => return Err(err(format!("the last layer must be out{c} (the data has {c} classes)"))),
            (_, None) => return Err(err("the last layer must be out{N}, N the number of classes".into())),
        }
        let spec = Spec { input, layers, shapes, names: Vec::new() };
        spec.check_sizes().map_err(err)?;
        Ok(spec)
    }

    /// Sizes a buffer, a binding and a checkpoint can hold (and no arithmetic overflows).
    fn check_sizes(&self) -> std::result::Result<(), String> {
        let too_wide =
            self.shapes.iter().position(|&(c, h, w)| c as u128 * h as u128 * w as u128 > MAX_ACTIVATION as u128);
        if let Some(i) = too_wide {
            return Err(format!(
                "layer {} '{}' outputs more than {MAX_ACTIVATION} values an image",
                i + 1,
                self.layers[i]
            ));
        }
        let params: u128 = (0..self.layers.len())
            .filter_map(|i| self.param_shapes(i))
            .map(|p| p.weight.iter().map(|&d| d as u128).product::<u128>() + p.bias as u128)
            .sum();
        if params > MAX_PARAMS as u128 {
            return Err(format!("{params} parameters, more than the {MAX_PARAMS} a net may have"));
        }
        Ok(())
    }

    /// The classes its last layer tells apart.
    pub fn classes(&self) -> usize {
        self.shapes.last().expect("a spec has layers").0
    }

    /// Class `k`'s name: its folder's, or its number.
    pub fn name(&self, k: usize) -> String {
        self.names.get(k).cloned().unwrap_or_else(|| k.to_string())
    }

    /// Values of one input image (C·H·W).
    pub fn input_size(&self) -> usize {
        self.input.0 * self.input.1 * self.input.2
    }

    /// The canonical spec string (what checkpoints store, with the input shape beside it).
    pub fn text(&self) -> String {
        self.layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(",")
    }

    /// Input shape of layer i.
    pub fn input_shape(&self, i: usize) -> Shape {
        if i == 0 {
            self.input
        } else {
            self.shapes[i - 1]
        }
    }

    /// Layer i's parameters, if it has any.
    pub fn param_shapes(&self, i: usize) -> Option<ParamShape> {
        self.layers[i].kind().params(self.input_shape(i))
    }

    pub fn param_count(&self) -> usize {
        (0..self.layers.len())
            .filter_map(|i| self.param_shapes(i))
            .map(|p| p.weight.iter().product::<usize>() + p.bias)
            .sum()
    }
}
