//! The whole network's wiring, checked independently of any engine comparison: on
//! the reference engine, the gradient a training step computes for each layer must
//! match central finite differences of the full loss along a random direction in
//! that layer's parameters. A wrong view, a missing ReLU backward or a dropout mask
//! that differs between forward and backward would agree with itself across
//! engines, but not with the loss. Dropout is fixed by running every evaluation as
//! the same training step (same step number, so the same masks) with a zero
//! learning rate.

use gpunet::cpu::CpuEngine;
use gpunet::data;
use gpunet::engine::Engine;
use gpunet::model::{Acc, Net, NetConfig, Spec};
use gpunet::optim::Optim;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BATCH: usize = 4;

/// The mean loss of one zero-learning-rate training step at `params`.
fn loss(engine: &mut CpuEngine, net: &mut Net, params: &[f32]) -> f64 {
    net.write_params(engine, params).unwrap();
    net.set_acc(engine, Acc::Train, [0.0; 3]).unwrap();
    net.train_step(engine, 0, BATCH, 5, 0.0).unwrap();
    let (sum, _, rows) = net.read_acc(engine, Acc::Train).unwrap();
    sum / rows
}

fn check(arch: &str) {
    let spec = Spec::parse(arch).unwrap();
    let images = data::mnist_train().unwrap().truncate(BATCH);
    let mut engine = CpuEngine::new();
    let cfg = NetConfig {
        batch: BATCH,
        norm: gpunet::data::norm::Norm::default(),
        optim: Some(Optim::sgd(0.0, 0.0, false)),
        seed: 9,
    };
    let mut net = Net::new(&mut engine, spec, &images, cfg).unwrap();
    net.set_index(&mut engine, 0, &(0..BATCH as u32).collect::<Vec<_>>()).unwrap();
    // Glorot weights, and biases away from zero: with zero biases every background
    // pixel's pre-activation is exactly 0, on ReLU's kink, where finite differences
    // see one side only
    let mut rng = StdRng::seed_from_u64(17);
    let mut params = net.init_params(4);
    for s in &net.slots {
        for b in &mut params[s.bias..s.bias + s.bias_len()] {
            *b = rng.random_range(0.05..0.15) * if rng.random::<bool>() { 1.0 } else { -1.0 };
        }
    }
    loss(&mut engine, &mut net, &params);
    let grads = engine.read_f32(net.grads_view().unwrap()).unwrap();
    let slots = net.slots.clone();
    assert!(slots.len() >= 4, "{arch}: only {} layers with parameters", slots.len());
    for s in &slots {
        // along the step's own gradient over the layer's weights and biases, scaled to
        // unit RMS: a random direction would sum thousands of terms of either sign into
        // a small number that finite differences cannot resolve. A gradient g' wrong in
        // any part still fails: the loss then changes by g·g', not |g'|².
        let idx: Vec<usize> = (s.weight..s.weight + s.weight_len()).chain(s.bias..s.bias + s.bias_len()).collect();
        let rms = (idx.iter().map(|&i| (grads[i] as f64).powi(2)).sum::<f64>() / idx.len() as f64).sqrt();
        assert!(rms > 0.0, "{arch} layer {}: zero gradient", s.layer);
        let dir: Vec<f32> = idx.iter().map(|&i| (grads[i] as f64 / rms) as f32).collect();
        let analytic: f64 = idx.iter().zip(&dir).map(|(&i, &d)| grads[i] as f64 * d as f64).sum();
        // the step changes the loss by about 2e-4: well above f32 rounding of a loss near
        // 2.3 (~2e-7), small enough to cross few ReLU and max-pool switches (measured:
        // the error shrinks with the step down to here, then f32 noise takes over)
        let eps = (1e-4 / analytic) as f32;
        let shifted = |sign: f32| {
            let mut p = params.clone();
            idx.iter().zip(&dir).for_each(|(&i, &d)| p[i] += sign * eps * d);
            p
        };
        let (up, down) = (shifted(1.0), shifted(-1.0));
        let numeric = (loss(&mut engine, &mut net, &up) - loss(&mut engine, &mut net, &down)) / (2.0 * eps as f64);
        let err = (numeric - analytic).abs();
        println!("{arch} layer {}: analytic {analytic:.6} numeric {numeric:.6}", s.layer);
        // f32 losses and the few kinks the step crosses: 3% at most (seen: under 2%)
        assert!(
            err <= 0.03 * analytic,
            "{arch} layer {}: the step's gradient gives {analytic:.6} along itself, finite differences {numeric:.6}",
            s.layer
        );
    }
}

#[test]
fn cnn6_gradients_match_finite_differences_of_the_loss() {
    check("cnn6");
}

#[test]
fn cnn8_dropout_gradients_match_finite_differences_of_the_loss() {
    check("cnn8-dropout");
}

#[test]
fn batchnorm_net_gradients_match_finite_differences_of_the_loss() {
    // batch norm after convs and after a dense layer (its statistics are the batch's
    // own in a training step, so they move with the parameters too). This test found
    // the twins' f32 running sums too coarse there: the first conv's loss was noisy
    // enough to scatter its finite differences by ±30%; with f64 sums, within 0.1%
    check("conv8k3,bn,pool2,conv16k3,bn,pool2,fc32,bn,drop0.3,out10");
}

#[test]
fn linear_layers_with_batchnorm_then_relu_match_finite_differences_of_the_loss() {
    // conv and dense layers without their ReLU, batch norm, then a standalone ReLU
    // (whose backward shares its gradient buffer with the layer below)
    check("conv8k3lin,bn,relu,pool2,conv16k3,pool2,fc32lin,bn,relu,out10");
}

#[test]
fn global_average_pooling_matches_finite_differences_of_the_loss() {
    // a 'gap' head read by a dense layer, and one read by the output layer directly
    check("conv8k3,pool2,conv16k3,gap,fc32,out10");
    check("conv8k3,bn,conv16k3s2,bn,gap,out10");
}

#[test]
fn strided_and_valid_convs_match_finite_differences_of_the_loss() {
    // 28 -> 26 (valid) -> 13 (5x5 stride 2, 'same') -> 11 (valid) -> 6 (stride 2)
    check("conv8k3valid,bn,conv8k5s2,conv16k3valid,bn,conv16k3s2,fc32,out10");
}
