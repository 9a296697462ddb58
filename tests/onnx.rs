//! `export-onnx` read back by an independent runtime (tract): for every named
//! arch and a batch-norm, strided, 'valid' net, the graph's probabilities on t10k
//! digits equal gpunet's own (`infer::predict` on the reference engine) within 1e-5.

use gpunet::cpu::CpuEngine;
use gpunet::data::norm::Standard;
use gpunet::model::checkpoint::Model;
use gpunet::model::{net, Spec};
use tract_onnx::prelude::*;

/// A model with weights from the init and running statistics away from 0 and 1,
/// so batch norm's inference form is exercised.
fn model(spec: Spec) -> Model {
    let (slots, words) = net::layout(&spec);
    let cfg = gpunet::model::NetConfig { batch: 1, norm: gpunet::data::norm::Norm::default(), optim: None, seed: 1 };
    let images =
        gpunet::data::Images { shape: spec.input, classes: 0, pixels: vec![0; spec.input_size()], labels: None };
    let mut params = gpunet::model::Net::new(&mut CpuEngine::new(), spec.clone(), &images, cfg).unwrap().init_params(9);
    params.resize(words, 0.0);
    for s in &slots {
        if let Some(r) = s.running {
            for i in 0..s.bias_len() {
                params[r + i] = 0.1 * (i as f32 % 7.0) - 0.3;
                params[r + s.bias_len() + i] = 0.5 + 0.1 * (i as f32 % 5.0);
                params[s.weight + i] = 0.8 + 0.05 * (i as f32 % 4.0);
            }
        }
    }
    Model { spec, norm: gpunet::data::norm::Norm::default(), params }
}

fn onnx_probs(bytes: &[u8], images: &gpunet::data::Images) -> Vec<f32> {
    let (n, (c, h, w)) = (images.len(), images.shape);
    let runnable = tract_onnx::onnx()
        .model_for_read(&mut std::io::Cursor::new(bytes))
        .unwrap()
        .with_input_fact(0, f32::fact([n, c, h, w]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let x: Vec<f32> = images.pixels.iter().map(|&p| p as f32).collect();
    let input: Tensor = tract_ndarray::Array4::from_shape_vec((n, c, h, w), x).unwrap().into();
    let out = runnable.run(tvec!(input.into())).unwrap();
    out[0].to_array_view::<f32>().unwrap().iter().copied().collect()
}

#[test]
fn every_arch_reads_the_same_in_an_independent_runtime() {
    let t10k = gpunet::data::mnist_test().unwrap().truncate(16);
    let mut archs: Vec<&str> = gpunet::model::spec::NAMED.iter().map(|n| n.1).collect();
    archs.push("conv8k3validlin,bn,relu,conv16k5s2,bn,pool2,conv16k4s3,drop0.3,fc32lin,bn,relu,out10");
    // global average pooling: GlobalAveragePool then Flatten, before a dense layer and the output
    archs.push("conv8k3,pool2,conv16k3,bn,gap,drop0.2,fc16,out10");
    archs.push("conv8k3s2,conv16k3,gap,out10");
    for arch in archs {
        check(Spec::parse(arch).unwrap(), &t10k);
    }
    // colour, not square, 47 classes: the input's shape and the classes travel into the graph
    let (shape, classes) = ((3, 30, 17), 47);
    let pixels = (0..16 * 3 * 30 * 17).map(|i| (i * 7919 % 256) as u8).collect();
    let rgb = gpunet::data::Images { shape, classes, pixels, labels: None };
    for arch in ["cnn4", "conv8k3,bn,pool2,conv16k3s2,gap,fc16,out47"] {
        check(Spec::for_data(arch, shape, classes).unwrap(), &rgb);
    }
    // standardised input: Sub and Div after the scale, per channel, as the engines' normalize op
    let mut m = model(Spec::for_data("conv8k3,pool2,gap,fc16,out47", shape, classes).unwrap());
    m.norm.standard = Some(Standard::of(&rgb, 255.0).unwrap());
    compare(&m, &rgb);
    let mut m = model(Spec::parse("cnn4").unwrap());
    m.norm.standard = Some(Standard { mean: vec![0.1307], std: vec![0.3081] });
    compare(&m, &t10k);
}

/// The graph of model `m` on `images` against the reference engine's
/// probabilities (within 1e-5); returns the latter.
fn compare(m: &Model, images: &gpunet::data::Images) -> Vec<f32> {
    let what = format!("{} ({})", m.spec.text(), m.norm.text());
    let bytes = gpunet::onnx::export(m);
    let got = onnx_probs(&bytes, images);
    let want = gpunet::infer::predict(&mut CpuEngine::new(), m, images, 16).unwrap();
    assert_eq!(got.len(), want.len(), "{what}");
    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("{what}: max |onnx - gpunet| = {worst:.2e}");
    assert!(worst <= 1e-5, "{what}: probabilities differ by {worst}");
    want
}

/// The graph of a model of `spec` on `images` against the reference engine's probabilities.
fn check(spec: Spec, images: &gpunet::data::Images) {
    let arch = spec.text();
    let classes = spec.classes();
    {
        let m = model(spec);
        let want = compare(&m, images);
        // not a degenerate net: the rows differ
        assert!(want[..classes] != want[classes..2 * classes], "{arch}");
    }
}
