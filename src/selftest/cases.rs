//! The kernel cases: every kernel on seeded random shapes (odd sizes, views at
//! offsets, split-K and folded grids) and one tiny hand-checkable case each.

use super::*;
use crate::cpu;
use crate::kernels;
use crate::kernels::op;
use rand::Rng;

/// Every kernel on seeded random shapes; `quick` keeps the shapes small enough for
/// a CPU adapter. The list covers every entry of `Kernel::ALL` (tested).
pub fn cases(seed: u64, quick: bool) -> Vec<Case> {
    let mut b = Builder::new(seed);
    let mut out = Vec::new();
    // one family after another, in this order: the seeded draws follow it
    matmul(&mut b, &mut out, quick);
    conv(&mut b, &mut out, quick);
    pool(&mut b, &mut out);
    elementwise(&mut b, &mut out);
    optim(&mut b, &mut out);
    data(&mut b, &mut out);
    batchnorm(&mut b, &mut out);
    augmented(&mut b, &mut out);
    super::fused::cases(&mut b, &mut out);
    loss_scale(&mut b, &mut out);
    out
}

/// The dynamic loss scale's kernels, each way a step can go: a loss gradient
/// scaled up and down; gradients all finite, or one ±∞ or NaN among them (first,
/// last, past a workgroup); updates of the unscaled gradients and skipped ones;
/// the scale halved, held, doubled, and kept within its range.
fn loss_scale(b: &mut Builder, out: &mut Vec<Case>) {
    use crate::optim::LossScale;
    let words = |exp: i32, good: u32, flag: u32| {
        let mut w = LossScale { exp, good, skipped: 3 }.words();
        w[3] = flag;
        w[4] = (exp - 1) as u32; // as a step that just doubled the scale left it
        w
    };
    for &(n, exp) in &[(1, 16), (257, -3), (5000, 0)] {
        let (dl, scale) = (b.randn(n), b.push(words(exp, 5, 1)));
        out.push(b.case(format!("n={n} times 2^{exp}"), op::scale_loss(dl, scale), TOL_EXACTISH, vec![1]));
    }
    for &(n, bad, value) in &[(7, None, 0.0), (300, Some(0), f32::INFINITY), (5000, Some(4999), f32::NAN)] {
        let grads = b.randn(n);
        if let Some(at) = bad {
            b.set(grads, at, value.to_bits());
        }
        let scale = b.push(words(12, 40, 0));
        let shape = match bad {
            None => format!("n={n} all finite"),
            Some(at) => format!("n={n} {value} at {at}"),
        };
        out.push(b.case(shape, op::grads_finite(scale, grads), TOL_EXACTISH, vec![0]));
    }
    for &(n, flag) in &[(257, 0), (257, 1), (10_000, 0)] {
        let d = kernels::AdamDims::new(n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
        let (w, m, v) = (b.randn(n), b.randn(n), b.floats(n, 0.0, 1.0));
        let (g, scale) = (b.floats(n, -3e4, 3e4), b.push(words(15, 0, flag)));
        let shape = format!("n={n} {}", if flag == 0 { "unscaled by 2^14" } else { "skipped" });
        out.push(b.case(shape, op::adam_scaled(w, m, v, g, scale, d), TOL_TRANSCENDENTAL, vec![]));
        let d = kernels::SgdDims::new(n, 0.01, 0.9, n % 2 == 1, 1e-4);
        let (w, vel, g, scale) = (b.randn(n), b.randn(n), b.floats(n, -3e4, 3e4), b.push(words(15, 0, flag)));
        let shape = format!("n={n} {}", if flag == 0 { "unscaled by 2^14" } else { "skipped" });
        out.push(b.case(shape, op::sgd_scaled(w, vel, g, scale, d), TOL_EXACTISH, vec![]));
    }
    let (lo, hi) = LossScale::RANGE;
    let rule = LossScale::rule();
    for &(exp, good, flag) in
        &[(16, 7, 1), (16, 7, 0), (16, LossScale::INTERVAL - 1, 0), (lo, 0, 1), (hi, LossScale::INTERVAL - 1, 0)]
    {
        let scale = b.push(words(exp, good, flag));
        let shape = format!("2^{exp} after {good} finite steps, {}", if flag == 0 { "finite" } else { "overflowed" });
        out.push(b.case(shape, op::scale_update(scale, rule), TOL_EXACTISH, vec![0]));
    }
}

/// Matmul in its three layouts (forward with the epilogue, both gradients), and bias gradients, split or not.
fn matmul(b: &mut Builder, out: &mut Vec<Case>, quick: bool) {
    // (3, 600, 7): N past 512 reaches a second column tile on every core
    let mut mm = vec![(1, 1, 1), (7, 33, 5), (33, 7, 257), (130, 65, 33), (3, 600, 7)];
    if !quick {
        mm.push((257, 300, 300));
    }
    for &(m, n, k) in &mm {
        // forward, dense-layer layout: Y (m, n) = X (m, k) · Wᵀ, W (n, k) at an offset
        let (y, x, w, bias) = (b.output(m * n), b.randn(m * k), b.randn(n * k), b.randn(n));
        let d = kernels::MatmulDims::strided(m, n, k, (k, 1), (1, k)).with_epilogue(true, true);
        out.push(b.case(
            format!("Y=relu(X·Wᵀ+b) {m}x{k}·({n}x{k})ᵀ"),
            op::matmul(y, x, w, Some(bias), d),
            TOL_SUM,
            vec![],
        ));
        // grad input: dX (m, k) = dY (m, n) · W (n, k)
        let (dx, dy, w) = (b.output(m * k), b.randn(m * n), b.randn(n * k));
        let d = kernels::MatmulDims::plain(m, k, n);
        out.push(b.case(format!("dX=dY·W {m}x{n}·{n}x{k}"), op::matmul(dx, dy, w, None, d), TOL_SUM, vec![]));
        // grad weight: dW (n, k) = dYᵀ (n, m) · X (m, k)
        let (dw, dy, x) = (b.output(n * k), b.randn(m * n), b.randn(m * k));
        let d = kernels::MatmulDims::strided(n, k, m, (1, n), (k, 1));
        out.push(b.case(format!("dW=dYᵀ·X ({m}x{n})ᵀ·{m}x{k}"), op::matmul(dw, dy, x, None, d), TOL_SUM, vec![]));
    }
    // split into chunks of rows (trailing chunks may be empty); inner above, at and
    // below the 256 lanes, which step rows and positions without division
    let bias = [(1, 1, 1, 1), (7, 33, 1, 1), (3, 5, 49, 1), (257, 10, 1, 1), (5, 7, 33, 1), (2, 3, 300, 1)];
    let split_bias = [(7, 3, 49, 3), (257, 10, 1, 16), (5, 2, 256, 4), (3, 2, 700, 2), (9, 4, 7, 5)];
    for &(outer, ch, inner, splits) in bias.iter().chain(&split_bias) {
        let (db, dy) = (b.output(splits * ch), b.randn(outer * ch * inner));
        let d = kernels::BiasGradDims::new(outer, ch, inner).with_splits(splits);
        let shape = format!("({outer},{ch},{inner}) split {splits}");
        out.push(b.case(shape, op::bias_grad(db, dy, d), TOL_SUM, vec![]));
    }
}

/// conv2d forward and both gradients: 'same' at stride 1, then strides and 'valid' padding, then split-K.
fn conv(b: &mut Builder, out: &mut Vec<Case>, quick: bool) {
    let mut convs = vec![
        (1, 1, 1, 1, 1, 1),
        (2, 3, 5, 7, 7, 3),
        (2, 2, 4, 9, 6, 2),
        (1, 3, 2, 8, 8, 5),
        (3, 1, 33, 7, 7, 4),
        (1, 4, 3, 6, 5, 7),
        (2, 8, 7, 5, 5, 6),
        // whole vectors of output channels, rows taken two at a time (odd count), several
        // images a weight-gradient block; a wide row cut into blocks, channels past a vector
        (7, 5, 32, 7, 7, 3),
        (1, 3, 40, 5, 30, 3),
        // enough input channels for the native engine's Winograd path, odd output sizes
        (2, 17, 20, 7, 9, 3),
        (2, 16, 20, 9, 11, 5),
        // colour pictures: 32x32, and one neither square nor even
        (2, 3, 8, 32, 32, 3),
        (2, 3, 6, 30, 17, 5),
    ];
    if !quick {
        convs.push((4, 32, 64, 14, 14, 3));
    }
    for &(n, ci, co, h, w, k) in &convs {
        let shape = format!("N{n} Ci{ci} Co{co} {h}x{w} k{k}");
        let d = kernels::ConvDims::new(n, ci, co, h, w, k);
        let (y, x, wt, bias) =
            (b.output(n * co * h * w), b.randn(n * ci * h * w), b.randn(co * ci * k * k), b.randn(co));
        let op = op::conv2d_forward(y, x, wt, Some(bias), d.with_epilogue(true, true));
        out.push(b.case(shape.clone(), op, TOL_SUM, vec![]));
        let (dx, dy, wt) = (b.output(n * ci * h * w), b.randn(n * co * h * w), b.randn(co * ci * k * k));
        out.push(b.case(shape.clone(), op::conv2d_backward_input(dx, dy, wt, d), TOL_SUM, vec![]));
        let (dw, dy, x) = (b.output(co * ci * k * k), b.randn(n * co * h * w), b.randn(n * ci * h * w));
        out.push(b.case(shape, op::conv2d_backward_weight(dw, dy, x, d), TOL_SUM, vec![]));
    }
    // strides and 'valid' padding: odd and even sizes, kernels wider than the stride,
    // non-square images (different padding per axis), split-K over output pixels
    let strided = [
        (2, 3, 4, 8, 8, 5, 2, true, 1),
        (1, 2, 3, 7, 9, 3, 2, true, 1),
        (2, 2, 5, 9, 7, 3, 1, false, 1),
        (1, 3, 2, 8, 8, 4, 1, false, 1),
        (2, 2, 3, 9, 9, 3, 2, false, 1),
        (1, 1, 2, 6, 7, 2, 3, true, 1),
        (3, 2, 4, 8, 8, 5, 2, true, 3),
        (2, 3, 32, 13, 14, 5, 2, true, 1),
        (1, 16, 16, 8, 9, 3, 1, false, 1),
        (1, 16, 17, 9, 8, 5, 1, false, 1),
        // 'valid' 5×5 with two vectors of input channels: the native engine's scatter input gradient
        (2, 24, 32, 12, 12, 5, 1, false, 1),
        // its stride-2 scatter: deotte's 5×5 'same' (two vectors of input channels), and a
        // 'valid' one whose last input row and column no tap reaches
        (2, 32, 24, 24, 24, 5, 2, true, 1),
        (1, 17, 8, 12, 14, 5, 2, false, 1),
    ];
    for &(n, ci, co, h, w, k, stride, same, splits) in &strided {
        let d = kernels::ConvDims::strided(n, ci, co, h, w, k, stride, same);
        let (ho, wo) = d.out_hw();
        let pad = if same { "same" } else { "valid" };
        let shape = format!("N{n} Ci{ci} Co{co} {h}x{w} k{k} s{stride} {pad} -> {ho}x{wo}");
        let (y, x, wt, bias) =
            (b.output(n * co * ho * wo), b.randn(n * ci * h * w), b.randn(co * ci * k * k), b.randn(co));
        let op = op::conv2d_forward(y, x, wt, Some(bias), d.with_epilogue(true, true));
        out.push(b.case(shape.clone(), op, TOL_SUM, vec![]));
        let (dx, dy, wt) = (b.output(n * ci * h * w), b.randn(n * co * ho * wo), b.randn(co * ci * k * k));
        out.push(b.case(shape.clone(), op::conv2d_backward_input(dx, dy, wt, d), TOL_SUM, vec![]));
        let dws = b.output(splits * co * ci * k * k);
        let (dy, x) = (b.randn(n * co * ho * wo), b.randn(n * ci * h * w));
        let shape = format!("{shape} split-K {splits}");
        out.push(b.case(shape, op::conv2d_backward_weight(dws, dy, x, d.with_splits(splits)), TOL_SUM, vec![]));
    }
    // split-K grad weight: partial slices per chunk of pixels (trailing chunks may be empty)
    for &(n, ci, co, h, w, k, splits) in
        &[(2, 3, 5, 7, 7, 3, 3), (3, 2, 4, 9, 6, 2, 4), (1, 1, 2, 5, 5, 5, 7), (8, 2, 32, 7, 7, 2, 3)]
    {
        let d = kernels::ConvDims::new(n, ci, co, h, w, k).with_splits(splits);
        let (dw, dy, x) = (b.output(splits * co * ci * k * k), b.randn(n * co * h * w), b.randn(n * ci * h * w));
        let shape = format!("N{n} Ci{ci} Co{co} {h}x{w} k{k} split-K {splits}");
        out.push(b.case(shape, op::conv2d_backward_weight(dw, dy, x, d), TOL_SUM, vec![]));
    }
    for &(len, splits) in &[(1, 1), (7, 3), (800, 5)] {
        let (total, part) = (b.output(len), b.randn(len * splits));
        let op = op::sum_splits(total, part, kernels::SplitDims::new(len, splits));
        out.push(b.case(format!("{splits} x {len}"), op, TOL_SUM, vec![]));
    }
}

/// Max-pool forward, and backward through a valid argmax; global average pooling.
fn pool(b: &mut Builder, out: &mut Vec<Case>) {
    for &(n, c, h, w, k) in &[(1, 1, 1, 1, 1), (2, 3, 7, 7, 2), (1, 33, 4, 6, 2), (2, 2, 9, 9, 3)] {
        let shape = format!("N{n} C{c} {h}x{w} k{k}");
        let d = kernels::PoolDims::new(n, c, h, w, k);
        let outs = n * c * (h / k) * (w / k);
        let (y, arg, x) = (b.output(outs), b.output(outs), b.randn(n * c * h * w));
        out.push(b.case(shape.clone(), op::maxpool_forward(y, arg, x, d), TOL_EXACTISH, vec![1]));
        // a valid argmax: the reference forward on fresh data
        let xs: Vec<f32> = (0..n * c * h * w).map(|_| b.rng().random_range(-1.0..1.0)).collect();
        let (mut ys, mut args) = (vec![0f32; outs], vec![0u32; outs]);
        cpu::maxpool_forward(&mut ys, &mut args, &xs, &d);
        let (dx, dy, arg) = (b.output(n * c * h * w), b.randn(outs), b.push(args));
        out.push(b.case(shape, op::maxpool_backward(dx, dy, arg, d), TOL_EXACTISH, vec![]));
    }
    // global average pooling: planes past one workgroup, a 1x1 plane, a long one
    for &(n, c, hw) in &[(1, 1, 1), (2, 3, 49), (3, 100, 7), (1, 5, 784)] {
        let shape = format!("N{n} C{c} HW{hw}");
        let d = kernels::GapDims::new(n, c, hw);
        let (y, x) = (b.output(n * c), b.randn(n * c * hw));
        out.push(b.case(shape.clone(), op::gap_forward(y, x, d), TOL_SUM, vec![]));
        let (dx, dy) = (b.output(n * c * hw), b.randn(n * c));
        out.push(b.case(shape, op::gap_backward(dx, dy, d), TOL_EXACTISH, vec![]));
    }
}

/// ReLU (with a folded grid), the softmax family, dropout.
fn elementwise(b: &mut Builder, out: &mut Vec<Case>) {
    for &n in &[1, 7, 257, 10_000] {
        let d = kernels::ElemDims::new(n);
        let (y, x) = (b.output(n), b.randn(n));
        out.push(b.case(format!("n={n}"), op::relu_forward(y, x, d), TOL_EXACTISH, vec![]));
        let (dy, y) = (b.randn(n), b.floats(n, -1.0, 1.0));
        out.push(b.case(format!("n={n}"), op::relu_backward(dy, y, d), TOL_EXACTISH, vec![]));
    }
    // past 65,535 workgroups of 256: a 1-D launch folds into y (op::groups_1d). The
    // input repeats with a prime period, which keeps the web selftest page's
    // deflated copy of these 17 million values small; a misplaced element is still
    // caught unless it is off by a multiple of 4093, which no grid size is.
    let n = 65_535 * 256 + 77;
    let (y, x) = (b.output(n), b.periodic(n, 4093));
    out.push(b.case(
        format!("n={n} (folded grid)"),
        op::relu_forward(y, x, kernels::ElemDims::new(n)),
        TOL_EXACTISH,
        vec![],
    ));
    for &(n, c) in &[(1, 10), (7, 10), (33, 3), (257, 10), (500, 10), (5, 47), (3, 100)] {
        let d = kernels::XentDims::new(n, c);
        let shape = format!("N{n} C{c}");
        // the running sums, which the plain launch leaves alone
        let (dl, loss, hit, acc) = (b.output(n * c), b.output(n), b.output(n), b.floats(4, 0.0, 10.0));
        let (logits, labels) = (b.floats(n * c, -8.0, 8.0), b.ints(n, c as u32));
        let op = op::softmax_xent(dl, loss, hit, acc, logits, labels, d);
        out.push(b.case(shape.clone(), op, TOL_TRANSCENDENTAL, vec![]));
        let (acc, loss, hit) = (b.floats(4, 0.0, 10.0), b.floats(n, 0.0, 3.0), b.ints(n, 2));
        // correct flags are 0.0/1.0 floats
        b.bufs[hit.buf][hit.offset..hit.offset + hit.len].iter_mut().for_each(|v| *v = (*v as f32).to_bits());
        out.push(b.case(shape.clone(), op::xent_accumulate(acc, loss, hit, d), TOL_SUM, vec![]));
        let (probs, logits) = (b.output(n * c), b.floats(n * c, -8.0, 8.0));
        out.push(b.case(shape, op::softmax(probs, logits, d), TOL_TRANSCENDENTAL, vec![]));
    }
    // label smoothing: the target (1 - s)·onehot + s/C
    for &(n, c, s) in &[(7, 10, 0.1), (257, 10, 0.2)] {
        let d = kernels::XentDims::new(n, c).smoothed(s);
        let (dl, loss, hit, acc) = (b.output(n * c), b.output(n), b.output(n), b.floats(4, 0.0, 10.0));
        let (logits, labels) = (b.floats(n * c, -8.0, 8.0), b.ints(n, c as u32));
        let op = op::softmax_xent(dl, loss, hit, acc, logits, labels, d);
        out.push(b.case(format!("N{n} C{c} smoothing {s}"), op, TOL_TRANSCENDENTAL, vec![]));
    }
    for &(n, p) in &[(1, 0.5), (7, 0.25), (1000, 0.25), (8481, 0.5)] {
        let d = kernels::DropoutDims::new(n, p, 42, 7, 3);
        let shape = format!("n={n} p={p}");
        let (y, x) = (b.output(n), b.randn(n));
        out.push(b.case(shape.clone(), op::dropout_forward(y, x, d), TOL_EXACTISH, vec![]));
        let (dx, dy) = (b.output(n), b.randn(n));
        out.push(b.case(shape, op::dropout_backward(dx, dy, d), TOL_EXACTISH, vec![]));
    }
}

/// Adam and SGD updates.
fn optim(b: &mut Builder, out: &mut Vec<Case>) {
    for &n in &[1, 7, 257, 10_000] {
        let d = kernels::AdamDims::new(n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3);
        let (w, m, v, g) = (b.randn(n), b.randn(n), b.floats(n, 0.0, 1.0), b.randn(n));
        out.push(b.case(format!("n={n}"), op::adam(w, m, v, g, d), TOL_TRANSCENDENTAL, vec![]));
        let nesterov = n % 2 == 1;
        let d = kernels::SgdDims::new(n, 0.01, 0.9, nesterov, 1e-4);
        let (w, vel, g) = (b.randn(n), b.randn(n), b.randn(n));
        out.push(b.case(format!("n={n} nesterov={nesterov}"), op::sgd(w, vel, g, d), TOL_EXACTISH, vec![]));
    }
    // the weights' moving average
    for &n in &[7, 10_000] {
        let (avg, w) = (b.randn(n), b.randn(n));
        out.push(b.case(
            format!("n={n} decay 0.999"),
            op::ema(avg, w, kernels::EmaDims::new(n, 0.999)),
            TOL_EXACTISH,
            vec![],
        ));
    }
    // AdamW: the decay on the weights, not in the moments
    for &n in &[257, 10_000] {
        let d = kernels::AdamDims::new(n, 1e-2, 0.9, 0.999, 1e-8, 0.1, 5).decoupled(true);
        let (w, m, v, g) = (b.randn(n), b.randn(n), b.floats(n, 0.0, 1.0), b.randn(n));
        out.push(b.case(format!("n={n} adamw"), op::adam(w, m, v, g, d), TOL_TRANSCENDENTAL, vec![]));
    }
}

/// The batch gather from the packed store, without augmentation.
fn data(b: &mut Builder, out: &mut Vec<Case>) {
    // MNIST's rows, rows of odd length, colour rows of 3x32x32 and 3x30x17 (not whole words)
    for &(rows, n, pixels) in &[(1, 1, 1), (50, 7, 784), (20, 13, 5), (6, 4, 3072), (9, 5, 1530)] {
        let d = kernels::GatherDims::new(n, 3, pixels, 255.0);
        let words = pixels.div_ceil(4);
        let (x, y) = (b.output(n * pixels), b.output(n));
        let (store, labels) = (b.ints(rows * words, u32::MAX), b.ints(rows, 10));
        let index = b.ints(n + 3, rows as u32);
        let shape = format!("{n} of {rows} rows x {pixels} px");
        out.push(b.case(shape, op::gather(x, y, store, labels, index, d), TOL_EXACTISH, vec![1]));
    }
    // standardisation in place: grey, colour (planes of odd lengths), four channels
    for &(n, (c, h, w)) in &[(3, (1, 5, 5)), (4, (3, 32, 32)), (5, (3, 30, 17)), (2, (4, 3, 7))] {
        let s = crate::data::norm::Standard {
            mean: (0..c).map(|i| 0.2 + 0.15 * i as f32).collect(),
            std: (0..c).map(|i| 0.3 - 0.05 * i as f32).collect(),
        };
        let x = b.floats(n * c * h * w, 0.0, 1.0);
        let d = kernels::NormalizeDims::new(n, (c, h, w), &s);
        out.push(b.case(format!("standardise {n}x{c}x{h}x{w}"), op::normalize(x, d), TOL_EXACTISH, vec![]));
    }
}

/// Batch norm: statistics, forward in both modes, both gradients.
fn batchnorm(b: &mut Builder, out: &mut Vec<Case>) {
    // batch norm: per channel after a conv (hw > 1), per feature after a dense layer
    // (hw = 1), and a channel longer than one workgroup's stride
    for &(n, c, hw) in &[(1, 1, 1), (5, 3, 7), (4, 33, 1), (3, 2, 300)] {
        let len = n * c * hw;
        let train = kernels::BnDims::new(n, c, hw, true);
        // inputs off-centre, so a wrong mean shows
        let (stats, running, x) = (b.output(2 * c), b.floats(2 * c, 0.5, 1.5), b.floats(len, -0.5, 1.5));
        out.push(b.case(format!("stats {n}x{c}x{hw}"), op::bn_stats(stats, running, x, train), TOL_SUM, vec![]));
        for (mode, d) in [("train", train), ("eval", kernels::BnDims::new(n, c, hw, false))] {
            // [mean; invstd] or [mean; var]: both positive in their second half
            let (y, x, st, affine) = (b.output(len), b.randn(len), b.floats(2 * c, 0.2, 1.5), b.randn(2 * c));
            out.push(b.case(
                format!("{mode} {n}x{c}x{hw}"),
                op::bn_forward(y, x, st, affine, d),
                TOL_TRANSCENDENTAL,
                vec![],
            ));
        }
        let (dp, dy, x, st) = (b.output(2 * c), b.randn(len), b.randn(len), b.floats(2 * c, 0.2, 1.5));
        out.push(b.case(format!("{n}x{c}x{hw}"), op::bn_backward_params(dp, dy, x, st, train), TOL_SUM, vec![]));
        let (dx, dy, x, st) = (b.output(len), b.randn(len), b.randn(len), b.floats(2 * c, 0.2, 1.5));
        let (affine, dp) = (b.randn(2 * c), b.randn(2 * c));
        let bwd = op::bn_backward_input(dx, dy, x, st, affine, dp, train);
        out.push(b.case(format!("{n}x{c}x{hw}"), bwd, TOL_SUM, vec![]));
    }
}

/// The batch gather with random affine maps.
fn augmented(b: &mut Builder, out: &mut Vec<Case>) {
    // augmented: bilinear resampling, continuous in the sample point, which fused
    // multiply-adds and WGSL's 2.5-ulp division may move by ~1e-5 pixel (the
    // rotation's cos and sin are polynomials, the same bits everywhere)
    for &(rows, n, step) in &[(9, 5, 0u32), (40, 33, 7)] {
        let d = kernels::GatherDims::new(n, 2, 784, 255.0).augmented((28, 28), 0.35, 0.15, 3.0, 11, step);
        let (x, y) = (b.output(n * 784), b.output(n));
        let (store, labels) = (b.ints(rows * 196, u32::MAX), b.ints(rows, 10));
        let index = b.ints(n + 2, rows as u32);
        let shape = format!("{n} of {rows} rows, affine, step {step}");
        out.push(b.case(shape, op::gather(x, y, store, labels, index, d), TOL_RESAMPLE, vec![1]));
    }
    // colour and not square: crop and flip alone (exact), then with the affine map and a warp
    for &(rows, n, (c, h, w), affine) in &[(10, 7, (3, 9, 13), false), (8, 6, (3, 12, 10), true)] {
        let pixels = c * h * w;
        let (rotate, shift) = if affine { (0.3, 1.5) } else { (0.0, 0.0) };
        let d = kernels::GatherDims::new(n, 1, pixels, 255.0)
            .augmented((h, w), rotate, 0.1 * affine as u8 as f32, shift, 13, 4)
            .warped(if affine { 1.5 } else { 0.0 })
            .cropped(3, true);
        let (x, y) = (b.output(n * pixels), b.output(n));
        let (store, labels) = (b.ints(rows * pixels.div_ceil(4), u32::MAX), b.ints(rows, 10));
        let index = b.ints(n + 1, rows as u32);
        let what = if affine { "crop, flip, affine, elastic" } else { "crop, flip" };
        let shape = format!("{n} of {rows} rows of {c}x{h}x{w}, {what}");
        out.push(b.case(shape, op::gather(x, y, store, labels, index, d), TOL_RESAMPLE, vec![1]));
    }
    // elastic: a smooth random warp before the affine map (alone, and with it)
    for &(rotate, step) in &[(0.0, 3u32), (0.35, 8)] {
        let (rows, n) = (12, 9);
        let d = kernels::GatherDims::new(n, 1, 784, 255.0).augmented((28, 28), rotate, 0.1, 2.0, 5, step).warped(2.5);
        let (x, y) = (b.output(n * 784), b.output(n));
        let (store, labels) = (b.ints(rows * 196, u32::MAX), b.ints(rows, 10));
        let index = b.ints(n + 1, rows as u32);
        let shape = format!("{n} of {rows} rows, elastic, step {step}");
        out.push(b.case(shape, op::gather(x, y, store, labels, index, d), TOL_RESAMPLE, vec![1]));
    }
}
