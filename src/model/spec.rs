//! Network specs: a comma-separated layer list on a 1x28x28 input, and the named
//! architectures of the blog's progression.

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    /// conv2d + bias + ReLU: `conv{C}k{K}`, 'same' and stride 1; `s{S}` sets a
    /// stride, `valid` no padding, `lin` drops the ReLU: `conv{C}k{K}[s{S}][valid][lin]`
    Conv { channels: usize, k: usize, stride: usize, same: bool, relu: bool },
    /// max-pool K×K, stride K: `pool{K}`
    Pool { k: usize },
    /// dropout: `drop{P}`
    Drop { p: f32 },
    /// dense + bias + ReLU (flattens C,H,W first): `fc{N}`; without the ReLU: `fc{N}lin`
    Fc { units: usize, relu: bool },
    /// dense + bias, softmax cross-entropy: `out{N}`
    Out { classes: usize },
    /// batch normalisation per channel (per feature after a dense layer): `bn`
    Bn,
    /// ReLU on its own (after a `lin` layer and a `bn`, say): `relu`
    Relu,
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layer::Conv { channels, k, stride, same, relu } => {
                write!(f, "conv{channels}k{k}")?;
                if *stride > 1 {
                    write!(f, "s{stride}")?;
                }
                write!(f, "{}{}", if *same { "" } else { "valid" }, if *relu { "" } else { "lin" })
            }
            Layer::Pool { k } => write!(f, "pool{k}"),
            Layer::Drop { p } => write!(f, "drop{p}"),
            Layer::Fc { units, relu } => write!(f, "fc{units}{}", if *relu { "" } else { "lin" }),
            Layer::Out { classes } => write!(f, "out{classes}"),
            Layer::Bn => write!(f, "bn"),
            Layer::Relu => write!(f, "relu"),
        }
    }
}

/// (channels, height, width) of an activation; dense outputs are (n, 1, 1).
pub type Shape = (usize, usize, usize);
pub const INPUT: Shape = (1, 28, 28);

/// A validated network: layers and the output shape of each.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub layers: Vec<Layer>,
    pub shapes: Vec<Shape>,
}

/// The named architectures: (name, spec, epochs the blog ran, description).
pub const NAMED: [(&str, &str, usize, &str); 8] = [
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
];

/// Epochs the blog ran a named arch for (10 for specs).
pub fn default_epochs(arch: &str) -> usize {
    NAMED.iter().find(|n| n.0 == arch).map(|n| n.2).unwrap_or(10)
}

/// The most values one layer may output per image (the largest net here: 25,088).
const MAX_ACTIVATION: usize = 1 << 24;
/// The most parameters a net may have (4 GiB of f32).
const MAX_PARAMS: usize = 1 << 30;

fn parse_layer(tok: &str) -> Option<Layer> {
    // widths, kernels and strides up to 2^24: larger ones fail the size checks, never overflow
    let num = |s: &str| s.parse::<usize>().ok().filter(|&v| v > 0 && v <= MAX_ACTIVATION);
    match tok {
        "bn" => return Some(Layer::Bn),
        "relu" => return Some(Layer::Relu),
        _ => {}
    }
    // a `lin` suffix drops a conv's or dense layer's ReLU
    let (tok, relu) = match tok.strip_suffix("lin") {
        Some(t) if t.starts_with("conv") || t.starts_with("fc") => (t, false),
        _ => (tok, true),
    };
    if let Some(rest) = tok.strip_prefix("conv") {
        let (rest, same) = match rest.strip_suffix("valid") {
            Some(r) => (r, false),
            None => (rest, true),
        };
        let (c, k) = rest.split_once('k')?;
        let (k, stride) = match k.split_once('s') {
            Some((k, s)) => (k, num(s)?),
            None => (k, 1),
        };
        return Some(Layer::Conv { channels: num(c)?, k: num(k)?, stride, same, relu });
    }
    if let Some(k) = tok.strip_prefix("pool") {
        return Some(Layer::Pool { k: num(k)? });
    }
    if let Some(p) = tok.strip_prefix("drop") {
        let p: f32 = p.parse().ok()?;
        return (0.0..1.0).contains(&p).then_some(Layer::Drop { p });
    }
    if let Some(n) = tok.strip_prefix("fc") {
        return Some(Layer::Fc { units: num(n)?, relu });
    }
    if let Some(n) = tok.strip_prefix("out") {
        return Some(Layer::Out { classes: num(n)? });
    }
    None
}

impl Spec {
    /// A name from `NAMED`, `mlp:H1,H2,...`, or a layer list.
    pub fn parse(arch: &str) -> Result<Spec> {
        let arch = arch.trim();
        if let Some(named) = NAMED.iter().find(|n| n.0 == arch) {
            return Spec::parse_layers(named.1);
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
            layers.push("out10".into());
            return Spec::parse_layers(&layers.join(","));
        }
        Spec::parse_layers(arch)
    }

    fn parse_layers(text: &str) -> Result<Spec> {
        let names: Vec<&str> = NAMED.iter().map(|n| n.0).collect();
        let err = |msg: String| {
            Error::usage(format!(
                "bad arch '{text}': {msg}\n  expected a name ({}, mlp:H1,H2,...) or layers conv{{C}}k{{K}}[s{{S}}][valid][lin], pool{{K}}, drop{{P}}, bn, relu, fc{{N}}[lin], out{{N}}",
                names.join(", ")
            ))
        };
        let mut layers = Vec::new();
        for (i, tok) in text.split(',').enumerate() {
            let tok = tok.trim();
            layers.push(parse_layer(tok).ok_or_else(|| err(format!("layer {} '{tok}' is not understood", i + 1)))?);
        }
        let mut shapes = Vec::new();
        let mut s = INPUT;
        let mut flat = false;
        for (i, l) in layers.iter().enumerate() {
            let last = i + 1 == layers.len();
            s = match *l {
                Layer::Conv { .. } | Layer::Pool { .. } if flat => {
                    return Err(err(format!("layer {} '{l}' follows a dense layer", i + 1)))
                }
                Layer::Conv { k, .. } if k > 7 => {
                    return Err(err(format!("layer {} '{l}': kernel sizes are 1..7", i + 1)))
                }
                Layer::Conv { k, same: false, .. } if k > s.1 || k > s.2 => {
                    return Err(err(format!(
                        "layer {} '{l}': a 'valid' conv needs its kernel within the {}x{} input",
                        i + 1,
                        s.1,
                        s.2
                    )))
                }
                Layer::Conv { stride, .. } if stride > 7 => {
                    return Err(err(format!("layer {} '{l}': strides are 1..7", i + 1)))
                }
                Layer::Conv { channels, k, stride, same, .. } => {
                    let d = crate::kernels::ConvDims::strided(1, s.0, channels, s.1, s.2, k, stride, same);
                    let (ho, wo) = d.out_hw();
                    (channels, ho, wo)
                }
                Layer::Pool { k } if k <= s.1 && k <= s.2 => (s.0, s.1 / k, s.2 / k),
                Layer::Pool { .. } => {
                    return Err(err(format!("layer {} '{l}' is larger than its {}x{} input", i + 1, s.1, s.2)))
                }
                Layer::Drop { .. } | Layer::Bn | Layer::Relu => s,
                Layer::Fc { units, .. } => {
                    flat = true;
                    (units, 1, 1)
                }
                Layer::Out { classes } if last => (classes, 1, 1),
                Layer::Out { .. } => {
                    return Err(err(format!("layer {} '{l}': out{{N}} must be the last layer", i + 1)))
                }
            };
            shapes.push(s);
        }
        match layers.last() {
            Some(Layer::Out { classes: 10 }) => {}
            _ => return Err(err("the last layer must be out10 (ten digit classes)".into())),
        }
        // sizes a buffer, a binding and a checkpoint can hold (and no arithmetic overflows)
        let spec = Spec { layers, shapes };
        let too_wide =
            spec.shapes.iter().position(|&(c, h, w)| c as u128 * h as u128 * w as u128 > MAX_ACTIVATION as u128);
        if let Some(i) = too_wide {
            return Err(err(format!(
                "layer {} '{}' outputs more than {MAX_ACTIVATION} values an image",
                i + 1,
                spec.layers[i]
            )));
        }
        let params: u128 = (0..spec.layers.len())
            .filter_map(|i| spec.param_shapes(i))
            .map(|(w, b)| w.iter().map(|&d| d as u128).product::<u128>() + b as u128)
            .sum();
        if params > MAX_PARAMS as u128 {
            return Err(err(format!("{params} parameters, more than the {MAX_PARAMS} a net may have")));
        }
        Ok(spec)
    }

    /// The canonical spec string (what checkpoints store).
    pub fn text(&self) -> String {
        self.layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(",")
    }

    /// Input shape of layer i.
    pub fn input_shape(&self, i: usize) -> Shape {
        if i == 0 {
            INPUT
        } else {
            self.shapes[i - 1]
        }
    }

    /// (weight shape, bias length) of layer i, in PyTorch layout, if it has parameters.
    pub fn param_shapes(&self, i: usize) -> Option<(Vec<usize>, usize)> {
        let (c, h, w) = self.input_shape(i);
        match self.layers[i] {
            Layer::Conv { channels, k, .. } => Some((vec![channels, c, k, k], channels)),
            Layer::Fc { units, .. } => Some((vec![units, c * h * w], units)),
            Layer::Out { classes } => Some((vec![classes, c * h * w], classes)),
            // γ and β, one per channel (per feature after a dense layer)
            Layer::Bn => Some((vec![c], c)),
            Layer::Pool { .. } | Layer::Drop { .. } | Layer::Relu => None,
        }
    }

    pub fn param_count(&self) -> usize {
        (0..self.layers.len()).filter_map(|i| self.param_shapes(i)).map(|(w, b)| w.iter().product::<usize>() + b).sum()
    }
}
