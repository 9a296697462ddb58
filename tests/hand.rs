//! One tiny hand-computed case per op, checked on the CPU twin, the native engine
//! and the GPU.

mod common;

use gpunet::cpu;
use gpunet::kernels;
use gpunet::kernels::op::{self, Op, View};
use gpunet::kernels::Dims;
use gpunet::selftest::{self, Case, TOL_EXACTISH};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Output `out` of `op` over `bufs` (views index them) as raw words, on the CPU
/// twin, the native engine and, where an adapter exists, the GPU: (engine, words).
/// Each output buffer gains guard words on both sides, which must survive, and
/// outputs a kernel overwrites start NaN-filled, so a skipped write cannot pass.
fn outputs(mut op: Op, mut bufs: Vec<Vec<u32>>, out: usize) -> Vec<(String, Vec<u32>)> {
    let outs = op.kernel.info().outputs;
    for k in 0..outs {
        let b = op.views[k].buf;
        bufs[b] = if op.kernel.updates_in_place(k) {
            selftest::between_guards(bufs[b].iter().copied())
        } else {
            selftest::between_guards(std::iter::repeat_n(selftest::UNWRITTEN, bufs[b].len()))
        };
        op.views.iter_mut().filter(|v| v.buf == b).for_each(|v| v.offset += selftest::GUARD_WORDS);
    }
    let case = Case { kernel: op.kernel, shape: "hand".into(), bufs, op, tol: TOL_EXACTISH, exact: vec![] };
    common::every_engine()
        .iter_mut()
        .map(|e| {
            let (contents, hit) = selftest::run_guarded(e.as_mut(), &case).unwrap();
            assert!(hit.is_none(), "{} on {}: wrote outside its output view at {hit:?}", case.kernel.name(), e.name());
            (e.name(), contents[out].clone())
        })
        .collect()
}

/// Asserts output `out` equals `want` on every engine.
fn expect(op: Op, bufs: Vec<Vec<u32>>, out: usize, want: &[f32]) {
    let kernel = op.kernel.name();
    for (engine, words) in outputs(op, bufs, out) {
        let got: Vec<f32> = words.iter().map(|&b| f32::from_bits(b)).collect();
        let cmp = selftest::compare(&got, want, TOL_EXACTISH);
        assert!(cmp.first_bad.is_none(), "{kernel} on {engine}: got {got:?}, want {want:?}");
    }
}

fn v(buf: usize, len: usize) -> View {
    View::whole(buf, len)
}

#[test]
fn matmul_with_bias_and_relu() {
    // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]; + [1,-100]; relu
    let d = kernels::MatmulDims::plain(2, 2, 2).with_epilogue(true, true);
    let bufs = vec![vec![0; 4], bits(&[1., 2., 3., 4.]), bits(&[5., 6., 7., 8.]), bits(&[1., -100.])];
    expect(op::matmul(v(0, 4), v(1, 4), v(2, 4), Some(v(3, 2)), d), bufs, 0, &[20., 0., 44., 0.]);
}

#[test]
fn bias_grad_sums_each_channel() {
    // (outer 2, channels 2, inner 2): channel 0 = 1+2+5+6, channel 1 = 3+4+7+8
    let bufs = vec![vec![0; 2], bits(&[1., 2., 3., 4., 5., 6., 7., 8.])];
    expect(op::bias_grad(v(0, 2), v(1, 8), kernels::BiasGradDims::new(2, 2, 2)), bufs, 0, &[14., 22.]);
}

#[test]
fn conv2d_same_even_kernel_pads_after() {
    // k=2 pads 0 before, 1 after (Keras/PyTorch 'same'): identity-diagonal kernel
    // y[i,j] = x[i,j] + x[i+1,j+1] → [[1+4, 2], [3, 4]]
    let d = kernels::ConvDims::new(1, 1, 1, 2, 2, 2);
    let bufs = vec![vec![0; 4], bits(&[1., 2., 3., 4.]), bits(&[1., 0., 0., 1.])];
    expect(op::conv2d_forward(v(0, 4), v(1, 4), v(2, 4), None, d), bufs, 0, &[5., 2., 3., 4.]);
}

#[test]
fn conv2d_same_odd_kernel_counts_neighbours() {
    // ones (3x3) * ones kernel (3x3), bias 1: 4 at corners, 6 at edges, 9 at the centre, +1
    let d = kernels::ConvDims::new(1, 1, 1, 3, 3, 3).with_epilogue(true, false);
    let bufs = vec![vec![0; 9], bits(&[1.; 9]), bits(&[1.; 9]), bits(&[1.])];
    let want = [5., 7., 5., 7., 10., 7., 5., 7., 5.];
    expect(op::conv2d_forward(v(0, 9), v(1, 9), v(2, 9), Some(v(3, 1)), d), bufs, 0, &want);
    // grad wrt input of the same conv with dY = ones is the same neighbour count
    let bufs = vec![vec![0; 9], bits(&[1.; 9]), bits(&[1.; 9])];
    let want = [4., 6., 4., 6., 9., 6., 4., 6., 4.];
    expect(op::conv2d_backward_input(v(0, 9), v(1, 9), v(2, 9), d), bufs, 0, &want);
    // and grad wrt weight: tap (ky, kx) sees as many in-bounds pixels
    let bufs = vec![vec![0; 9], bits(&[1.; 9]), bits(&[1.; 9])];
    expect(op::conv2d_backward_weight(v(0, 9), v(1, 9), v(2, 9), d), bufs, 0, &want);
}

#[test]
fn maxpool_floors_and_routes_gradient() {
    // 3x3 input, k=2: one window (the last row and column are dropped)
    let x = [1., 9., 0., 3., 2., 100., 50., 60., 70.];
    let d = kernels::PoolDims::new(1, 1, 3, 3, 2);
    let bufs = vec![vec![0], vec![0], bits(&x)];
    expect(op::maxpool_forward(v(0, 1), v(1, 1), v(2, 9), d), bufs.clone(), 0, &[9.]);
    let bufs = vec![vec![0; 9], bits(&[5.]), vec![1]];
    expect(op::maxpool_backward(v(0, 9), v(1, 1), v(2, 1), d), bufs, 0, &[0., 5., 0., 0., 0., 0., 0., 0., 0.]);
}

#[test]
fn global_average_pooling_means_each_plane_and_shares_its_gradient() {
    // two planes of 2x2: means 2.5 and -1; gradients 8 and -4 spread as quarters
    let d = kernels::GapDims::new(1, 2, 4);
    let x = bits(&[1., 2., 3., 4., -1., -3., 0., 0.]);
    expect(op::gap_forward(v(0, 2), v(1, 8), d), vec![vec![0; 2], x], 0, &[2.5, -1.]);
    let bufs = vec![vec![0; 8], bits(&[8., -4.])];
    expect(op::gap_backward(v(0, 8), v(1, 2), d), bufs, 0, &[2., 2., 2., 2., -1., -1., -1., -1.]);
}

#[test]
fn relu_forward_and_backward() {
    let d = kernels::ElemDims::new(3);
    expect(op::relu_forward(v(0, 3), v(1, 3), d), vec![vec![0; 3], bits(&[-1., 0., 2.])], 0, &[0., 0., 2.]);
    let bufs = vec![bits(&[7., 7., 7.]), bits(&[0., -1., 3.])];
    expect(op::relu_backward(v(0, 3), v(1, 3), d), bufs, 0, &[0., 0., 7.]);
}

#[test]
fn softmax_xent_on_two_equal_logits() {
    // logits [0, 0], label 0: p = [0.5, 0.5], loss ln 2, dlogits [-0.5, 0.5], correct (first max)
    let d = kernels::XentDims::new(1, 2);
    let bufs = || vec![vec![0; 2], vec![0], vec![0], bits(&[1., 2., 3., 0.]), bits(&[0., 0.]), vec![0]];
    let mk = || op::softmax_xent(v(0, 2), v(1, 1), v(2, 1), v(3, 4), v(4, 2), v(5, 1), d);
    expect(mk(), bufs(), 0, &[-0.5, 0.5]);
    expect(mk(), bufs(), 1, &[std::f32::consts::LN_2]);
    expect(mk(), bufs(), 2, &[1.]);
    expect(mk(), bufs(), 3, &[1., 2., 3., 0.]);
    // with the running sums fused in (kernels::fuse): xent_accumulate's work too
    let mk = op::xent_sums(mk());
    expect(mk, bufs(), 3, &[1. + std::f32::consts::LN_2, 3., 4., 0.]);
    let acc = vec![bits(&[1., 2., 3., 0.]), bits(&[0.5]), bits(&[1.])];
    expect(op::xent_accumulate(v(0, 4), v(1, 1), v(2, 1), d), acc, 0, &[1.5, 3., 4., 0.]);
    let bufs = vec![vec![0; 2], bits(&[0., 0.])];
    expect(op::softmax(v(0, 2), v(1, 2), d), bufs, 0, &[0.5, 0.5]);
}

#[test]
fn dropout_keeps_about_one_minus_p_and_scales() {
    let n = 100_000;
    let d = kernels::DropoutDims::new(n, 0.25, 42, 0, 0);
    let mut y = vec![0f32; n];
    cpu::dropout_forward(&mut y, &vec![1.0; n], &d);
    let kept = y.iter().filter(|&&x| x != 0.0).count() as f64 / n as f64;
    assert!((kept - 0.75).abs() < 0.01, "kept fraction {kept}");
    assert!(y.iter().all(|&x| x == 0.0 || x == 1.0 / 0.75));
    // another step draws another mask
    let mut y2 = vec![0f32; n];
    cpu::dropout_forward(&mut y2, &vec![1.0; n], &kernels::DropoutDims::new(n, 0.25, 42, 1, 0));
    assert_ne!(y, y2);
    // p = 0 keeps everything unscaled, on both engines
    let d0 = kernels::DropoutDims::new(3, 0.0, 1, 2, 3);
    expect(op::dropout_forward(v(0, 3), v(1, 3), d0), vec![vec![0; 3], bits(&[1., -2., 3.])], 0, &[1., -2., 3.]);
    assert_eq!(kernels::DropoutDims::from_params(&d0.params()), d0);
}

#[test]
fn adam_first_step_moves_by_lr() {
    // from m = v = 0, step 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps)
    let d = kernels::AdamDims::new(2, 0.1, 0.9, 0.999, 1e-8, 0.0, 1);
    let bufs = vec![bits(&[1., 1.]), vec![0; 2], vec![0; 2], bits(&[0.5, -2.])];
    expect(op::adam(v(0, 2), v(1, 2), v(2, 2), v(3, 2), d), bufs, 0, &[0.9, 1.1]);
}

#[test]
fn sgd_momentum_and_nesterov() {
    // p=1, g=0.5, vel=0: vel=0.5; plain p -= 0.1·0.5; Nesterov p -= 0.1·(0.5 + 0.9·0.5)
    for (nesterov, want) in [(false, 0.95), (true, 0.905)] {
        let d = kernels::SgdDims::new(1, 0.1, 0.9, nesterov, 0.0);
        let bufs = vec![bits(&[1.]), vec![0], bits(&[0.5])];
        expect(op::sgd(v(0, 1), v(1, 1), v(2, 1), d), bufs, 0, &[want]);
    }
}

/// Asserts output `out` is `want`, word for word, on every engine (integer state).
fn expect_words(op: Op, bufs: Vec<Vec<u32>>, out: usize, want: &[u32]) {
    let kernel = op.kernel.name();
    for (engine, words) in outputs(op, bufs, out) {
        assert_eq!(words, want, "{kernel} on {engine}");
    }
}

/// A loss scale's words: exponent, finite steps in a row, skipped steps, the
/// step's flag, the exponent its gradients carry (three words of padding).
fn scale(exp: i32, good: u32, skipped: u32, flag: u32, used: i32) -> Vec<u32> {
    vec![exp as u32, good, skipped, flag, used as u32, 0, 0, 0]
}

#[test]
fn the_loss_scale_scales_checks_unscales_and_moves() {
    // 2^3 and 2^-2 times the loss gradient; the step's flag cleared, its exponent noted
    for (e, want) in [(3, [12., -2., 24.]), (-2, [0.375, -0.0625, 0.75])] {
        let bufs = || vec![bits(&[1.5, -0.25, 3.]), scale(e, 7, 1, 1, 9)];
        expect(op::scale_loss(v(0, 3), v(1, 8)), bufs(), 0, &want);
        expect_words(op::scale_loss(v(0, 3), v(1, 8)), bufs(), 1, &scale(e, 7, 1, 0, e));
    }
    // gradients with ∞ or NaN raise the flag, finite ones leave it
    for (g, flag) in
        [([1., 2., 3.], 0), ([1., f32::INFINITY, 3.], 1), ([f32::NAN, 2., 3.], 1), ([1., 2., -f32::INFINITY], 1)]
    {
        let bufs = vec![scale(5, 0, 0, 0, 5), bits(&g)];
        expect_words(op::grads_finite(v(0, 8), v(1, 3)), bufs, 0, &scale(5, 0, 0, flag, 5));
    }
    // the update divides the exponent the gradients carry out (Adam's first step
    // moves by lr·g/|g|; SGD by lr·g), or is skipped where the flag is up
    for (flag, adam, sgd) in [(0, [0.9, 1.1], [0.95, 1.2]), (1, [1., 1.], [1., 1.])] {
        let d = kernels::AdamDims::new(2, 0.1, 0.9, 0.999, 1e-8, 0.0, 1);
        let bufs = vec![bits(&[1., 1.]), vec![0; 2], vec![0; 2], bits(&[4., -16.]), scale(2, 0, 0, flag, 3)];
        expect(op::adam_scaled(v(0, 2), v(1, 2), v(2, 2), v(3, 2), v(4, 8), d), bufs, 0, &adam);
        let d = kernels::SgdDims::new(2, 0.1, 0.0, false, 0.0);
        let bufs = vec![bits(&[1., 1.]), vec![0; 2], bits(&[4., -16.]), scale(2, 0, 0, flag, 3)];
        expect(op::sgd_scaled(v(0, 2), v(1, 2), v(2, 2), v(3, 8), d), bufs, 0, &sgd);
    }
    // a skipped step halves the scale; a finite one counts, the interval's last doubles;
    // the range holds at both ends
    let rule = kernels::ScaleDims::rule(10, (-2, 20));
    for (before, after) in [
        (scale(16, 4, 2, 1, 16), scale(15, 0, 3, 1, 16)),
        (scale(16, 4, 2, 0, 16), scale(16, 5, 2, 0, 16)),
        (scale(16, 9, 2, 0, 16), scale(17, 0, 2, 0, 16)),
        (scale(-2, 3, 2, 1, -2), scale(-2, 0, 3, 1, -2)),
        (scale(20, 9, 2, 0, 20), scale(20, 0, 2, 0, 20)),
    ] {
        expect_words(op::scale_update(v(0, 8), rule), vec![before], 0, &after);
    }
}

/// One Adam step as PyTorch's `torch.optim.Adam` documents it (L2 weight decay added
/// to the gradient), in f64 from the formula itself, not from AdamDims' constants.
fn adam_reference(p: f64, m: f64, v: f64, g: f64, t: i32, lr: f64, wd: f64) -> (f64, f64, f64) {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let g = g + wd * p;
    let m = b1 * m + (1.0 - b1) * g;
    let v = b2 * v + (1.0 - b2) * g * g;
    let (m_hat, v_hat) = (m / (1.0 - b1.powi(t)), v / (1.0 - b2.powi(t)));
    (p - lr * m_hat / (v_hat.sqrt() + eps), m, v)
}

#[test]
fn adam_bias_correction_and_weight_decay_match_the_formula_at_several_steps() {
    let (p, m, sq, g) = ([0.8f32, -0.3, 1.5], [0.05f32, -0.2, 0.0], [0.01f32, 0.04, 0.002], [0.3f32, 0.1, -0.7]);
    for t in [1u64, 2, 3, 10, 100, 10_000] {
        for wd in [0.0f32, 0.01] {
            let d = kernels::AdamDims::new(3, 1e-3, 0.9, 0.999, 1e-8, wd, t);
            let want: Vec<(f64, f64, f64)> = (0..3)
                .map(|i| adam_reference(p[i] as f64, m[i] as f64, sq[i] as f64, g[i] as f64, t as i32, 1e-3, wd as f64))
                .collect();
            let bufs = || vec![bits(&p), bits(&m), bits(&sq), bits(&g)];
            let mk = || op::adam(v(0, 3), v(1, 3), v(2, 3), v(3, 3), d);
            expect(mk(), bufs(), 0, &want.iter().map(|w| w.0 as f32).collect::<Vec<_>>());
            expect(mk(), bufs(), 1, &want.iter().map(|w| w.1 as f32).collect::<Vec<_>>());
            expect(mk(), bufs(), 2, &want.iter().map(|w| w.2 as f32).collect::<Vec<_>>());
        }
    }
}

#[test]
fn sgd_momentum_from_a_nonzero_velocity() {
    // PyTorch's SGD: buf = μ·buf + g (g with weight decay), step = g + μ·buf (Nesterov) or buf
    let (p, vel, g, lr, mu, wd) = (0.6f64, -0.4f64, 0.25f64, 0.05f64, 0.9f64, 1e-2f64);
    let gd = g + wd * p;
    let buf = mu * vel + gd;
    for (nesterov, step) in [(false, buf), (true, gd + mu * buf)] {
        let d = kernels::SgdDims::new(1, lr as f32, mu as f32, nesterov, wd as f32);
        let bufs = || vec![bits(&[p as f32]), bits(&[vel as f32]), bits(&[g as f32])];
        expect(op::sgd(v(0, 1), v(1, 1), v(2, 1), d), bufs(), 0, &[(p - lr * step) as f32]);
        expect(op::sgd(v(0, 1), v(1, 1), v(2, 1), d), bufs(), 1, &[buf as f32]);
    }
}

#[test]
fn gather_unpacks_bytes_and_scales() {
    // one 4-pixel image packed low byte first: [0, 255, 51, 1]
    let word = 255u32 << 8 | 51 << 16 | 1 << 24;
    let d = kernels::GatherDims::new(1, 1, 4, 255.0);
    let bufs = vec![vec![0; 4], vec![0], vec![0, word], vec![3, 7], vec![9, 1]];
    let mk = || op::gather(v(0, 4), v(1, 1), v(2, 2), v(3, 2), v(4, 2), d);
    expect(mk(), bufs, 0, &[0., 1., 0.2, 1. / 255.]);
}

#[test]
fn evaluation_counts_precision_and_recall_per_class() {
    use gpunet::infer;
    // predictions 0,0,1,2 for labels 0,1,1,2: class 0 precision 1/2 recall 1/1,
    // class 1 precision 1/1 recall 1/2, class 2 both 1, class 3 neither predicted nor present
    let onehot = |c: usize| (0..10).map(|j| if j == c { 0.9 } else { 0.01 }).collect::<Vec<f32>>();
    let probs: Vec<f32> = [0, 0, 1, 2].iter().flat_map(|&c| onehot(c)).collect();
    let e = infer::evaluate(&probs, &[0, 1, 1, 2], 10);
    assert_eq!(e.accuracy, 0.75);
    assert_eq!((e.precision(0), e.recall(0)), (Some(0.5), Some(1.0)));
    assert_eq!((e.precision(1), e.recall(1)), (Some(1.0), Some(0.5)));
    assert_eq!((e.precision(2), e.recall(2)), (Some(1.0), Some(1.0)));
    assert_eq!((e.precision(3), e.recall(3)), (None, None));
    let text = e.to_string();
    let row0 = text.lines().find(|l| l.starts_with("   0 ")).unwrap();
    assert!(row0.ends_with("50.00%   100.00%"), "{row0}");
}

#[test]
fn softmax_xent_at_extreme_equal_and_one_hot_logits() {
    // one row of 10 classes, label 0. Each case: logits -> (loss, dlogits[0], correct)
    let ln10 = 10f32.ln();
    let mut extreme = [0f32; 10];
    (extreme[0], extreme[1]) = (80.0, -80.0);
    let mut against = [0f32; 10];
    against[1] = 80.0;
    let mut hot = [0f32; 10];
    hot[0] = 1.0;
    // with logit 1 against nine 0s: p0 = e / (e + 9)
    let p_hot = std::f32::consts::E / (std::f32::consts::E + 9.0);
    let cases: [(&str, [f32; 10], f32, f32, f32); 4] = [
        ("+80 on the label: certain and right, no overflow", extreme, 0.0, 0.0, 1.0),
        ("+80 elsewhere: loss 80, no overflow", against, 80.0, -1.0, 0.0),
        ("all equal: uniform, ln 10, the first max counts as the prediction", [-5.0; 10], ln10, 0.1 - 1.0, 1.0),
        ("one-hot logits", hot, -p_hot.ln(), p_hot - 1.0, 1.0),
    ];
    let d = kernels::XentDims::new(1, 10);
    for (what, logits, loss, dl0, hit) in cases {
        let bufs = || vec![vec![0; 10], vec![0], vec![0], vec![0; 4], bits(&logits), vec![0]];
        let mk = || op::softmax_xent(v(0, 10), v(1, 1), v(2, 1), v(3, 4), v(4, 10), v(5, 1), d);
        println!("{what}");
        expect(mk(), bufs(), 1, &[loss]);
        expect(mk(), bufs(), 2, &[hit]);
        // the gradient row sums to zero; check its label entry
        let probs = || vec![vec![0; 10], bits(&logits)];
        let sm = op::softmax(v(0, 10), v(1, 10), d);
        let mut want = [0f32; 10];
        let mx = logits.iter().cloned().fold(f32::MIN, f32::max);
        let s: f32 = logits.iter().map(|z| (z - mx).exp()).sum();
        want.iter_mut().zip(&logits).for_each(|(w, z)| *w = (z - mx).exp() / s);
        assert!((want[0] - 1.0 - dl0).abs() < 1e-6, "{what}: reference dlogits[0] {}", want[0] - 1.0);
        expect(sm, probs(), 0, &want);
    }
}

#[test]
fn maxpool_ties_go_to_the_first_element_of_the_window() {
    // all-zero windows (what ReLU leaves): the top-left element is the argmax, so the
    // gradient goes there, on every engine
    let d = kernels::PoolDims::new(1, 1, 4, 4, 2);
    let mut x = [0f32; 16];
    (x[2], x[3]) = (1.0, 1.0); // window (0,1): a tie of two maxima at 2 and 3; the others all zero
    let bufs = || vec![vec![0; 4], vec![0; 4], bits(&x)];
    let mk = || op::maxpool_forward(v(0, 4), v(1, 4), v(2, 16), d);
    expect(mk(), bufs(), 0, &[0., 1., 0., 0.]);
    // argmax: each window's top-left index (0, 2, 8, 10), the tie at 2 and 3 to 2
    for (engine, argmax) in outputs(mk(), bufs(), 1) {
        assert_eq!(argmax, [0, 2, 8, 10], "argmax on {engine}");
    }
}

#[test]
fn non_finite_logits_give_a_non_finite_loss_on_every_engine() {
    // what the trainer's divergence check relies on: a NaN or infinite logit never
    // turns into a finite, plausible-looking loss
    let d = kernels::XentDims::new(1, 3);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for at in 0..3 {
            let mut logits = [0.5f32, -1.0, 2.0];
            logits[at] = bad;
            let bufs = vec![vec![0; 3], vec![0], vec![0], vec![0; 4], bits(&logits), vec![0]];
            let mk = op::softmax_xent(v(0, 3), v(1, 1), v(2, 1), v(3, 4), v(4, 3), v(5, 1), d);
            for (engine, loss) in outputs(mk, bufs, 1) {
                let loss = f32::from_bits(loss[0]);
                // -inf on a class other than the label is a legitimate zero-probability logit
                let finite_ok = bad == f32::NEG_INFINITY && at != 0;
                assert!(finite_ok || !loss.is_finite(), "{engine}: logits {logits:?} gave loss {loss}");
            }
        }
    }
}
