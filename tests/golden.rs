//! One Adam step of cnn6 and of the mlp against PyTorch: tests/golden/make_golden.py
//! ran the same networks from the same formula-given weights on the same 8 images
//! and stored the loss, sampled gradients and sampled updated parameters in
//! tests/golden/golden.safetensors. Every engine here must reproduce them.

use gpunet::cpu::CpuEngine;
use gpunet::data;
use gpunet::engine::Engine;
use gpunet::gpu::{for_tests, GpuEngine};
use gpunet::model::{Acc, Net, NetConfig, Spec};
use gpunet::native::NativeEngine;
use gpunet::optim::Optim;
use safetensors::SafeTensors;

const BATCH: usize = 8;

/// make_golden.py's hash(i, j) / 2^32.
fn u(i: usize, j: usize) -> f64 {
    let mut h = (i as u32).wrapping_mul(2654435761).wrapping_add((j as u32).wrapping_mul(40503)).wrapping_add(12345);
    h ^= h >> 16;
    h = h.wrapping_mul(0x45d9f3b);
    h ^= h >> 16;
    h = h.wrapping_mul(0x45d9f3b);
    h ^= h >> 16;
    h as f64 / 4294967296.0
}

/// The weights make_golden.py gives layer j (its docstring has the formula).
fn formula_params(net: &Net) -> Vec<f32> {
    let mut p = vec![0f32; net.param_words];
    for (j, s) in net.slots.iter().enumerate() {
        let area: usize = s.weight_shape[2..].iter().product();
        let limit = (6.0 / ((s.weight_shape[1] * area + s.weight_shape[0] * area) as f64)).sqrt();
        for i in 0..s.weight_len() {
            p[s.weight + i] = (limit * (2.0 * u(i, 2 * j) - 1.0)) as f32;
        }
        for i in 0..s.bias_len() {
            p[s.bias + i] = (0.1 * (2.0 * u(i, 2 * j + 1) - 1.0)) as f32;
        }
    }
    p
}

fn floats(t: &SafeTensors, name: &str) -> Vec<f32> {
    let v = t.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    v.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

fn indices(t: &SafeTensors, name: &str) -> Vec<usize> {
    let v = t.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    v.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as usize).collect()
}

/// (loss, gradients, parameters after the step) of one Adam step on `engine`.
fn one_step(engine: &mut dyn Engine, arch: &str) -> (f64, Vec<f32>, Vec<f32>, Net) {
    let images = data::mnist_train().unwrap().truncate(BATCH);
    let cfg = NetConfig { batch: BATCH, scale: 255.0, optim: Some(Optim::adam(1e-3)), seed: 1 };
    let mut net = Net::new(engine, Spec::parse(arch).unwrap(), &images, cfg).unwrap();
    net.write_params(engine, &formula_params(&net)).unwrap();
    net.set_index(engine, 0, &(0..BATCH as u32).collect::<Vec<_>>()).unwrap();
    net.set_acc(engine, Acc::Train, [0.0; 3]).unwrap();
    net.train_step(engine, 0, BATCH, 0).unwrap();
    let (sum, _, rows) = net.read_acc(engine, Acc::Train).unwrap();
    let grads = engine.read_f32(net.grads_view().unwrap()).unwrap();
    let after = engine.read_f32(net.params_view()).unwrap();
    (sum / rows, grads, after, net)
}

fn check(engine: &mut dyn Engine, arch: &str) {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/golden.safetensors")).unwrap();
    let golden = SafeTensors::deserialize(&bytes).unwrap();
    let name = engine.name();
    let (loss, grads, after, net) = one_step(engine, arch);
    let want_loss = floats(&golden, &format!("{arch}.loss"))[0] as f64;
    assert!((loss - want_loss).abs() <= 1e-5 * want_loss, "{arch} on {name}: loss {loss}, PyTorch {want_loss}");
    let mut compared = 0;
    for (j, s) in net.slots.iter().enumerate() {
        for (kind, offset) in [("weight", s.weight), ("bias", s.bias)] {
            let key = |what: &str| format!("{arch}.{j}.{kind}.{what}");
            let (idx, g_t, p_t) =
                (indices(&golden, &key("index")), floats(&golden, &key("grad")), floats(&golden, &key("after")));
            for ((&i, &gt), &pt) in idx.iter().zip(&g_t).zip(&p_t) {
                let (g, p) = (grads[offset + i], after[offset + i]);
                // sums of thousands of products in another order: within 1e-4 of the tensor's
                // largest gradient (seen: about 1e-6), far below any wiring error
                let scale = g_t.iter().fold(0f32, |m, v| m.max(v.abs()));
                assert!(
                    (g - gt).abs() <= 1e-4 * scale,
                    "{arch} on {name}: layer {j} {kind}[{i}] grad {g}, PyTorch {gt}"
                );
                // Adam's first step moves by lr·g/(|g| + eps): exact unless |g| is near eps
                if gt.abs() > 1e-6 {
                    assert!((p - pt).abs() <= 2e-6, "{arch} on {name}: layer {j} {kind}[{i}] after {p}, PyTorch {pt}");
                }
                compared += 1;
            }
        }
    }
    assert!(compared >= 4 * 256, "{arch}: only {compared} values compared");
    println!("{arch} on {name}: loss {loss:.6} (PyTorch {want_loss:.6}), {compared} gradients and parameters agree");
}

#[test]
fn one_adam_step_matches_pytorch_on_the_reference_and_native_engines() {
    for arch in ["cnn6", "mlp"] {
        check(&mut CpuEngine::new(), arch);
        check(&mut NativeEngine::new(2).unwrap(), arch);
    }
}

#[test]
fn one_adam_step_matches_pytorch_on_the_gpu() {
    let Some(gpu) = for_tests() else { return };
    for arch in ["cnn6", "mlp"] {
        check(&mut GpuEngine::new(gpu.clone()), arch);
    }
}
