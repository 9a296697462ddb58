//! `export-onnx`: a model as an ONNX graph (opset 17), for the runtimes people
//! deploy with (ONNX Runtime, TensorRT, OpenVINO, onnxruntime-web, tract).
//!
//! Input `pixels`, float (N, 1, 28, 28), the images as gpunet reads them: values
//! 0..255, divided by the model's scale first (a `Div` node); output `probs`,
//! float (N, 10), the softmax of the last layer. Each layer as PyTorch would
//! export it: conv as `Conv` with explicit pads (Keras' 'same' puts the odd pixel
//! of an even total after: pads [top, left, bottom, right] say so), `Relu`
//! where the layer has one, batch norm in inference form (`BatchNormalization`
//! on the running statistics, epsilon 1e-5), max-pool as `MaxPool` (floor: a
//! trailing odd row is dropped, as here), dropout as nothing (the identity),
//! dense layers as `Flatten` (C, H, W order) then `Gemm` with transB. Tensor
//! names follow the checkpoint's (`layers.3.weight`).
//!
//! The protobuf is written here by hand: a few message types, varints and
//! length-delimited fields.

use crate::model::checkpoint::Model;
use crate::model::net::{layout, Slot};
use crate::model::spec::{Layer, Spec};

const OPSET: u64 = 17;
const IR_VERSION: u64 = 8;
const FLOAT: u64 = 1;

/// A protobuf message under construction.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u64, wire: u64) {
        self.varint(field << 3 | wire);
    }
    fn int(&mut self, field: u64, v: u64) -> &mut Self {
        self.key(field, 0);
        self.varint(v);
        self
    }
    fn bytes(&mut self, field: u64, b: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, field: u64, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(&mut self, field: u64, m: &Msg) -> &mut Self {
        self.bytes(field, &m.0)
    }
    fn float(&mut self, field: u64, v: f32) -> &mut Self {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
}

/// AttributeProto: name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7).
enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

fn attribute(name: &str, a: &Attr) -> Msg {
    let mut m = Msg::default();
    m.str(1, name);
    match a {
        Attr::Float(f) => {
            m.float(2, *f).int(20, 1);
        }
        Attr::Int(i) => {
            m.int(3, *i as u64).int(20, 2);
        }
        Attr::Ints(v) => {
            for &i in v {
                m.int(8, i as u64);
            }
            m.int(20, 7);
        }
    }
    m
}

/// The graph as it is built: nodes, initializers, and the name of the value the next layer reads.
struct Graph {
    nodes: Vec<Msg>,
    inits: Vec<Msg>,
    last: String,
    count: usize,
}

impl Graph {
    /// A node (NodeProto: input 1, output 2, name 3, op_type 4, attribute 5) reading
    /// `last`, then `inputs`, and writing a new value, which becomes `last`.
    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) {
        self.count += 1;
        let out = format!("{}_{}", op.to_ascii_lowercase(), self.count);
        self.node_to(op, inputs, attrs, out);
    }

    /// As `node`, writing the value named `out`.
    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], out: String) {
        let mut n = Msg::default();
        n.str(1, &self.last);
        for i in inputs {
            n.str(1, i);
        }
        n.str(2, &out).str(3, &out).str(4, op);
        for (name, a) in attrs {
            n.msg(5, &attribute(name, a));
        }
        self.nodes.push(n);
        self.last = out;
    }

    /// An initializer (TensorProto: dims 1, data_type 2, name 8, raw_data 9).
    fn tensor(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let mut t = Msg::default();
        for &d in dims {
            t.int(1, d as u64);
        }
        t.int(2, FLOAT).str(8, name);
        t.bytes(9, &data.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
        self.inits.push(t);
        name.to_string()
    }
}

/// ValueInfoProto (name 1, type 2) of a float tensor; None in `dims` is the batch.
fn value_info(name: &str, dims: &[Option<usize>]) -> Msg {
    let mut shape = Msg::default();
    for d in dims {
        let mut dim = Msg::default();
        match d {
            Some(v) => dim.int(1, *v as u64),
            None => dim.str(2, "N"),
        };
        shape.msg(1, &dim);
    }
    let mut tensor = Msg::default();
    tensor.int(1, FLOAT).msg(2, &shape);
    let mut ty = Msg::default();
    ty.msg(1, &tensor);
    let mut v = Msg::default();
    v.str(1, name).msg(2, &ty);
    v
}

/// The model as an ONNX file's bytes.
pub fn export(model: &Model) -> Vec<u8> {
    let spec = &model.spec;
    let mut g = Graph { nodes: Vec::new(), inits: Vec::new(), last: "pixels".into(), count: 0 };
    let scale = g.tensor("scale", &[], &[model.scale]);
    g.node("Div", &[&scale], &[]);
    let (slots, _) = layout(spec);
    let mut flat = false;
    for i in 0..spec.layers.len() {
        let slot = slots.iter().find(|s| s.layer == i);
        layer_nodes(&mut g, spec, i, slot, &model.params, &mut flat);
    }
    // the last node writes the graph's output
    g.node_to("Softmax", &[], &[("axis", Attr::Int(1))], "probs".into());
    file(&g, spec, model.scale)
}

/// Layer i's nodes and initialisers (`p`: the flat parameters; `flat`: whether a
/// Flatten ran already).
fn layer_nodes(g: &mut Graph, spec: &Spec, i: usize, slot: Option<&Slot>, p: &[f32], flat: &mut bool) {
    let (c, h, w) = spec.input_shape(i);
    let name = |t: &str| format!("layers.{i}.{t}");
    let layer = spec.layers[i];
    match layer {
        Layer::Conv { channels, k, stride, same, relu } => {
            let s = slot.expect("a conv has parameters");
            let d = crate::kernels::ConvDims::strided(1, c, channels, h, w, k, stride, same);
            let (ho, wo) = d.out_hw();
            // Keras' 'same': (out-1)·s + k - in in all, the smaller half before
            let pad = |o: usize, n: usize| ((o - 1) * stride + k).saturating_sub(n);
            let (py, px) = (d.pad_y as i64, d.pad_x as i64);
            let (ey, ex) = if same { (pad(ho, h) as i64 - py, pad(wo, w) as i64 - px) } else { (0, 0) };
            let wt = g.tensor(&name("weight"), &[channels, c, k, k], &p[s.weight..s.weight + s.weight_len()]);
            let b = g.tensor(&name("bias"), &[channels], &p[s.bias..s.bias + s.bias_len()]);
            g.node(
                "Conv",
                &[&wt, &b],
                &[
                    ("kernel_shape", Attr::Ints(vec![k as i64, k as i64])),
                    ("strides", Attr::Ints(vec![stride as i64, stride as i64])),
                    ("pads", Attr::Ints(vec![py, px, ey, ex])),
                ],
            );
            if relu {
                g.node("Relu", &[], &[]);
            }
        }
        Layer::Pool { k } => {
            let k = k as i64;
            g.node("MaxPool", &[], &[("kernel_shape", Attr::Ints(vec![k, k])), ("strides", Attr::Ints(vec![k, k]))]);
        }
        Layer::Drop { .. } => {}
        Layer::Relu => g.node("Relu", &[], &[]),
        Layer::Bn => {
            let s = slot.expect("batch norm has parameters");
            let n = s.bias_len();
            let r = s.running.expect("batch norm keeps running statistics");
            let gamma = g.tensor(&name("weight"), &[n], &p[s.weight..s.weight + n]);
            let beta = g.tensor(&name("bias"), &[n], &p[s.bias..s.bias + n]);
            let mean = g.tensor(&name("running_mean"), &[n], &p[r..r + n]);
            let var = g.tensor(&name("running_var"), &[n], &p[r + n..r + 2 * n]);
            g.node("BatchNormalization", &[&gamma, &beta, &mean, &var], &[("epsilon", Attr::Float(1e-5))]);
        }
        Layer::Fc { .. } | Layer::Out { .. } => {
            let (out, relu) = match layer {
                Layer::Fc { units, relu } => (units, relu),
                _ => (10, false),
            };
            if !*flat {
                g.node("Flatten", &[], &[("axis", Attr::Int(1))]);
                *flat = true;
            }
            let s = slot.expect("a dense layer has parameters");
            let wt = g.tensor(&name("weight"), &[out, c * h * w], &p[s.weight..s.weight + s.weight_len()]);
            let b = g.tensor(&name("bias"), &[out], &p[s.bias..s.bias + s.bias_len()]);
            g.node("Gemm", &[&wt, &b], &[("transB", Attr::Int(1))]);
            if relu {
                g.node("Relu", &[], &[]);
            }
        }
    }
}

/// The ModelProto around graph `g`: inputs, outputs, opset and a description.
fn file(g: &Graph, spec: &Spec, scale: f32) -> Vec<u8> {
    let mut graph = Msg::default();
    for n in &g.nodes {
        graph.msg(1, n);
    }
    graph.str(2, &format!("gpunet {}", spec.text()));
    for t in &g.inits {
        graph.msg(5, t);
    }
    graph.msg(11, &value_info("pixels", &[None, Some(1), Some(28), Some(28)]));
    graph.msg(12, &value_info("probs", &[None, Some(10)]));
    let mut opset = Msg::default();
    opset.str(1, "").int(2, OPSET);
    let mut m = Msg::default();
    m.int(1, IR_VERSION)
        .str(2, "gpunet")
        .str(3, env!("CARGO_PKG_VERSION"))
        .str(6, &format!("{}; input: pixels 0..255, divided by {scale}; output: class probabilities", spec.text()))
        .msg(7, &graph)
        .msg(8, &opset);
    m.0
}
