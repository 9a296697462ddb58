//! CPU backward kernels against central finite differences of the CPU forward
//! kernels, all in f64. With L = Σ r·forward(inputs) for a fixed random r, each
//! backward kernel fed r must return ∂L/∂input.

use gpunet::cpu;
use gpunet::kernels::{BiasGradDims, BnDims, ConvDims, DropoutDims, ElemDims, GapDims, MatmulDims, PoolDims, XentDims};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn randv(rng: &mut StdRng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Checks `analytic` against central differences of `loss` around `x`.
fn check(what: &str, x: &[f64], analytic: &[f64], loss: impl Fn(&[f64]) -> f64) {
    let eps = 1e-6;
    let mut xp = x.to_vec();
    for i in 0..x.len() {
        xp[i] = x[i] + eps;
        let up = loss(&xp);
        xp[i] = x[i] - eps;
        let down = loss(&xp);
        xp[i] = x[i];
        let numeric = (up - down) / (2.0 * eps);
        let err = (numeric - analytic[i]).abs();
        assert!(err <= 1e-6 + 1e-5 * numeric.abs(), "{what}[{i}]: analytic {} vs numeric {numeric}", analytic[i]);
    }
}

#[test]
fn dense_layer_gradients() {
    let mut rng = StdRng::seed_from_u64(7);
    let (m, n, k) = (5, 7, 3);
    let (x, w, b, r) = (randv(&mut rng, m * k), randv(&mut rng, n * k), randv(&mut rng, n), randv(&mut rng, m * n));
    let fwd = MatmulDims::strided(m, n, k, (k, 1), (1, k)).with_epilogue(true, false);
    let loss = |x: &[f64], w: &[f64], b: &[f64]| {
        let mut y = vec![0.0; m * n];
        cpu::matmul(&mut y, x, w, b, &[], &fwd);
        dot(&y, &r)
    };
    let mut dx = vec![0.0; m * k];
    cpu::matmul(&mut dx, &r, &w, &[], &[], &MatmulDims::plain(m, k, n));
    check("dense dX", &x, &dx, |x| loss(x, &w, &b));
    let mut dw = vec![0.0; n * k];
    cpu::matmul(&mut dw, &r, &x, &[], &[], &MatmulDims::strided(n, k, m, (1, n), (k, 1)));
    check("dense dW", &w, &dw, |w| loss(&x, w, &b));
    let mut db = vec![0.0; n];
    cpu::bias_grad(&mut db, &r, &BiasGradDims::new(m, n, 1));
    check("dense db", &b, &db, |b| loss(&x, &w, b));
}

#[test]
fn conv2d_gradients_odd_and_even_kernels() {
    let mut rng = StdRng::seed_from_u64(8);
    for &(n, ci, co, h, w, k) in &[(2, 2, 3, 5, 4, 3), (1, 2, 2, 4, 5, 2), (1, 1, 2, 6, 6, 5), (2, 1, 1, 3, 3, 4)] {
        let d = ConvDims::new(n, ci, co, h, w, k).with_epilogue(true, false);
        let (x, wt, b) = (randv(&mut rng, n * ci * h * w), randv(&mut rng, co * ci * k * k), randv(&mut rng, co));
        let r = randv(&mut rng, n * co * h * w);
        let loss = |x: &[f64], wt: &[f64], b: &[f64]| {
            let mut y = vec![0.0; n * co * h * w];
            cpu::conv2d_forward(&mut y, x, wt, b, &d);
            dot(&y, &r)
        };
        let mut dx = vec![0.0; x.len()];
        cpu::conv2d_backward_input(&mut dx, &r, &wt, &[], &[], &d);
        check(&format!("conv k{k} dX"), &x, &dx, |x| loss(x, &wt, &b));
        let mut dw = vec![0.0; wt.len()];
        cpu::conv2d_backward_weight(&mut dw, &r, &x, &d);
        check(&format!("conv k{k} dW"), &wt, &dw, |wt| loss(&x, wt, &b));
        let mut db = vec![0.0; co];
        cpu::bias_grad(&mut db, &r, &BiasGradDims::new(n, co, h * w));
        check(&format!("conv k{k} db"), &b, &db, |b| loss(&x, &wt, b));
    }
}

#[test]
fn strided_and_valid_conv2d_gradients() {
    let mut rng = StdRng::seed_from_u64(13);
    // (n, ci, co, h, w, k, stride, same): odd and even sizes, non-square images
    for &(n, ci, co, h, w, k, s, same) in &[
        (2, 2, 3, 8, 7, 5, 2, true),
        (1, 2, 2, 7, 7, 3, 2, true),
        (2, 1, 2, 6, 5, 3, 1, false),
        (1, 2, 2, 9, 8, 3, 2, false),
        (1, 1, 2, 7, 6, 2, 3, true),
    ] {
        let d = ConvDims::strided(n, ci, co, h, w, k, s, same).with_epilogue(true, false);
        let (ho, wo) = d.out_hw();
        let (x, wt, b) = (randv(&mut rng, n * ci * h * w), randv(&mut rng, co * ci * k * k), randv(&mut rng, co));
        let r = randv(&mut rng, n * co * ho * wo);
        let loss = |x: &[f64], wt: &[f64], b: &[f64]| {
            let mut y = vec![0.0; n * co * ho * wo];
            cpu::conv2d_forward(&mut y, x, wt, b, &d);
            dot(&y, &r)
        };
        let what = format!("conv k{k} s{s} {}", if same { "same" } else { "valid" });
        let mut dx = vec![0.0; x.len()];
        cpu::conv2d_backward_input(&mut dx, &r, &wt, &[], &[], &d);
        check(&format!("{what} dX"), &x, &dx, |x| loss(x, &wt, &b));
        let mut dw = vec![0.0; wt.len()];
        cpu::conv2d_backward_weight(&mut dw, &r, &x, &d);
        check(&format!("{what} dW"), &wt, &dw, |wt| loss(&x, wt, &b));
        let mut db = vec![0.0; co];
        cpu::bias_grad(&mut db, &r, &BiasGradDims::new(n, co, ho * wo));
        check(&format!("{what} db"), &b, &db, |b| loss(&x, &wt, b));
    }
}

#[test]
fn keras_same_padding_for_strides() {
    // Keras: out = ceil(in / s), padding max((out - 1)·s + k - in, 0), the smaller half before
    for &(h, k, s, out, before) in
        &[(28, 5, 2, 14, 1), (8, 5, 2, 4, 1), (7, 3, 2, 4, 1), (6, 2, 3, 2, 0), (28, 3, 1, 28, 1), (28, 4, 1, 28, 1)]
    {
        let d = ConvDims::strided(1, 1, 1, h, h, k, s, true);
        assert_eq!((d.out_hw().0, d.pad_y as usize), (out, before), "h{h} k{k} s{s}");
    }
    // valid: (in - k) / s + 1, no padding
    let d = ConvDims::strided(1, 1, 1, 26, 24, 3, 1, false);
    assert_eq!((d.out_hw(), d.pad_y, d.pad_x), ((24, 22), 0, 0));
}

#[test]
fn global_average_pooling_gradients() {
    let mut rng = StdRng::seed_from_u64(12);
    let (n, c, hw) = (2, 3, 7);
    let d = GapDims::new(n, c, hw);
    let (x, r) = (randv(&mut rng, n * c * hw), randv(&mut rng, n * c));
    let mut dx = vec![0.0; x.len()];
    cpu::gap_backward(&mut dx, &r, &d);
    check("gap dX", &x, &dx, |x| {
        let mut y = vec![0.0; n * c];
        cpu::gap_forward(&mut y, x, &d);
        dot(&y, &r)
    });
}

#[test]
fn maxpool_relu_dropout_gradients() {
    let mut rng = StdRng::seed_from_u64(9);
    let d = PoolDims::new(2, 3, 5, 7, 2);
    let outs = 2 * 3 * 2 * 3;
    let (x, r) = (randv(&mut rng, 2 * 3 * 5 * 7), randv(&mut rng, outs));
    let pool_loss = |x: &[f64]| {
        let (mut y, mut arg) = (vec![0.0; outs], vec![0u32; outs]);
        cpu::maxpool_forward(&mut y, &mut arg, x, &d);
        dot(&y, &r)
    };
    let (mut y, mut arg) = (vec![0.0; outs], vec![0u32; outs]);
    cpu::maxpool_forward(&mut y, &mut arg, &x, &d);
    let mut dx = vec![0.0; x.len()];
    cpu::maxpool_backward(&mut dx, &r, &arg, &d);
    check("maxpool dX", &x, &dx, pool_loss);

    let n = 50;
    // keep inputs away from the kink at 0
    let x: Vec<f64> = randv(&mut rng, n).into_iter().map(|v| if v.abs() < 0.01 { 0.5 } else { v }).collect();
    let r = randv(&mut rng, n);
    let e = ElemDims::new(n);
    let mut y = vec![0.0; n];
    cpu::relu_forward(&mut y, &x, &e);
    let mut dy = r.clone();
    cpu::relu_backward(&mut dy, &y, &e);
    check("relu dX", &x, &dy, |x| {
        let mut y = vec![0.0; n];
        cpu::relu_forward(&mut y, x, &e);
        dot(&y, &r)
    });

    let dd = DropoutDims::new(n, 0.3, 5, 11, 2);
    let mut dx = vec![0.0; n];
    cpu::dropout_backward(&mut dx, &r, &dd);
    check("dropout dX", &x, &dx, |x| {
        let mut y = vec![0.0; n];
        cpu::dropout_forward(&mut y, x, &dd);
        dot(&y, &r)
    });
}

#[test]
fn softmax_xent_gradient_is_mean_loss_gradient() {
    let mut rng = StdRng::seed_from_u64(10);
    let (n, c) = (6, 10);
    let d = XentDims::new(n, c);
    let logits: Vec<f64> = randv(&mut rng, n * c).into_iter().map(|v| v * 5.0).collect();
    let labels: Vec<u32> = (0..n).map(|_| rng.random_range(0..c as u32)).collect();
    let mean_loss = |z: &[f64]| {
        let (mut dl, mut loss, mut hit) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
        cpu::softmax_xent(&mut dl, &mut loss, &mut hit, z, &labels, &d);
        loss.iter().sum::<f64>() / n as f64
    };
    let (mut dl, mut loss, mut hit) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
    cpu::softmax_xent(&mut dl, &mut loss, &mut hit, &logits, &labels, &d);
    check("softmax_xent dlogits", &logits, &dl, mean_loss);
}

#[test]
fn split_k_slices_add_up_to_the_weight_gradient() {
    let mut rng = StdRng::seed_from_u64(11);
    let (n, ci, co, h, w, k) = (3, 2, 3, 6, 5, 3);
    let (x, r) = (randv(&mut rng, n * ci * h * w), randv(&mut rng, n * co * h * w));
    let len = co * ci * k * k;
    let d = ConvDims::new(n, ci, co, h, w, k);
    let mut whole = vec![0.0; len];
    cpu::conv2d_backward_weight(&mut whole, &r, &x, &d);
    for splits in [2, 3, 7] {
        let mut part = vec![0.0; splits * len];
        cpu::conv2d_backward_weight(&mut part, &r, &x, &d.with_splits(splits));
        for i in 0..len {
            let sum: f64 = (0..splits).map(|s| part[s * len + i]).sum();
            assert!((sum - whole[i]).abs() < 1e-12, "splits {splits}, weight {i}: {sum} vs {}", whole[i]);
        }
    }
}

#[test]
fn split_bias_gradient_slices_add_up_to_the_bias_gradient() {
    let mut rng = StdRng::seed_from_u64(13);
    for &(outer, ch, inner) in &[(7, 3, 5), (10, 2, 1)] {
        let dy = randv(&mut rng, outer * ch * inner);
        let d = BiasGradDims::new(outer, ch, inner);
        let mut whole = vec![0.0; ch];
        cpu::bias_grad(&mut whole, &dy, &d);
        for splits in [2, 3, 8, 11] {
            let mut part = vec![f64::NAN; splits * ch];
            cpu::bias_grad(&mut part, &dy, &d.with_splits(splits));
            for c in 0..ch {
                let sum: f64 = (0..splits).map(|s| part[s * ch + c]).sum();
                assert!((sum - whole[c]).abs() < 1e-12, "splits {splits}, channel {c}: {sum} vs {}", whole[c]);
            }
        }
    }
}

#[test]
fn batchnorm_gradients_include_the_batch_statistics() {
    let mut rng = StdRng::seed_from_u64(12);
    // per channel after a conv (hw > 1) and per feature after a dense layer (hw = 1)
    for &(n, c, hw) in &[(4, 3, 5), (7, 2, 1), (2, 1, 9)] {
        let d = BnDims::new(n, c, hw, true);
        let len = n * c * hw;
        let (x, r) = (randv(&mut rng, len), randv(&mut rng, len));
        let affine: Vec<f64> = (0..2 * c)
            .map(|i| if i < c { 1.0 + rng.random_range(-0.5..0.5) } else { rng.random_range(-1.0..1.0) })
            .collect();
        let forward = |x: &[f64], affine: &[f64]| {
            let (mut stats, mut running, mut y) = (vec![0.0; 2 * c], vec![0.0; 2 * c], vec![0.0; len]);
            cpu::bn_stats(&mut stats, &mut running, x, &d);
            cpu::bn_forward(&mut y, x, &stats, affine, &d);
            (y, stats)
        };
        let (_, stats) = forward(&x, &affine);
        let mut dparams = vec![0.0; 2 * c];
        cpu::bn_backward_params(&mut dparams, &r, &x, &stats, &d);
        check(&format!("bn {n}x{c}x{hw} dγ,dβ"), &affine, &dparams, |a| dot(&forward(&x, a).0, &r));
        let mut dx = vec![0.0; len];
        cpu::bn_backward_input(&mut dx, &r, &x, &stats, &affine, &dparams, &d);
        check(&format!("bn {n}x{c}x{hw} dX"), &x, &dx, |x| dot(&forward(x, &affine).0, &r));
    }
}
