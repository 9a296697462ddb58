//! `export-onnx`: a model as an ONNX graph (opset 17), for the runtimes people
//! deploy with (ONNX Runtime, TensorRT, OpenVINO, onnxruntime-web, tract).
//!
//! Input `pixels`, float (N, C, H, W) of the spec's input, the images as
//! gpunet reads them: values 0..255, divided by the model's scale first (a
//! `Div` node), and for a model that standardises its input, less each
//! channel's mean (`Sub`) over its deviation (`Div`); output `probs`, float (N, classes), the softmax of the last
//! layer. Each layer kind writes its nodes as PyTorch would export it
//! (model/layers/: conv as `Conv` with explicit pads, batch norm in inference
//! form, dropout as nothing, dense layers as `Flatten` then `Gemm` with
//! transB); tensor names follow the checkpoint's (`layers.3.weight`). The
//! protobuf is written by hand (model/onnx.rs).

use crate::model::checkpoint::Model;
use crate::model::layers::OnnxAt;
use crate::model::net::layout;
use crate::model::onnx::{Attr, Graph, Msg, FLOAT};
use crate::model::spec::Spec;

const OPSET: u64 = 17;
const IR_VERSION: u64 = 8;

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
    let mut g = Graph::new("pixels");
    let scale = g.tensor("scale", &[], &[model.norm.scale]);
    g.node("Div", &[&scale], &[]);
    if let Some(s) = &model.norm.standard {
        let channels = [s.mean.len(), 1, 1];
        let mean = g.tensor("input_mean", &channels, &s.mean);
        g.node("Sub", &[&mean], &[]);
        let std = g.tensor("input_std", &channels, &s.std);
        g.node("Div", &[&std], &[]);
    }
    let (slots, _) = layout(spec);
    let mut flat = false;
    let p = &model.params;
    for (i, layer) in spec.layers.iter().enumerate() {
        let (w, b, running) = match slots.iter().find(|s| s.layer == i) {
            Some(s) => (
                &p[s.weight..s.weight + s.weight_len()],
                &p[s.bias..s.bias + s.bias_len()],
                s.running.map_or(&[][..], |r| &p[r..r + 2 * s.bias_len()]),
            ),
            None => (&[][..], &[][..], &[][..]),
        };
        let at = OnnxAt { layer: i, input: spec.input_shape(i), output: spec.shapes[i], w, b, running };
        layer.kind().onnx(&mut g, &at, &mut flat);
    }
    // the last node writes the graph's output
    g.node_to("Softmax", &[], &[("axis", Attr::Int(1))], "probs".into());
    let norm = match &model.norm.standard {
        None => format!("divided by {}", model.norm.scale),
        Some(_) => format!("taken as {}", model.norm.text()),
    };
    file(&g, spec, &norm)
}

/// The ModelProto around graph `g`: inputs, outputs, opset and a description.
fn file(g: &Graph, spec: &Spec, norm: &str) -> Vec<u8> {
    let mut graph = Msg::default();
    for n in &g.nodes {
        graph.msg(1, n);
    }
    graph.str(2, &format!("gpunet {}", spec.text()));
    for t in &g.inits {
        graph.msg(5, t);
    }
    let (c, h, w) = spec.input_shape(0);
    let classes = spec.shapes.last().expect("a spec has layers").0;
    graph.msg(11, &value_info("pixels", &[None, Some(c), Some(h), Some(w)]));
    graph.msg(12, &value_info("probs", &[None, Some(classes)]));
    let mut opset = Msg::default();
    opset.str(1, "").int(2, OPSET);
    let mut m = Msg::default();
    m.int(1, IR_VERSION)
        .str(2, "gpunet")
        .str(3, env!("CARGO_PKG_VERSION"))
        .str(6, &format!("{}; input: pixels 0..255, {norm}; output: class probabilities", spec.text()))
        .msg(7, &graph)
        .msg(8, &opset);
    m.0
}
