//! The fusion pass's kernels (kernels::fuse): grad-input GEMMs whose store masks
//! (a ReLU backward) or unpools through a real argmax (a max-pool backward, with
//! trailing rows the pool dropped), weight gradients that sum the bias beside
//! them (split or not, with padding before the bias or none), the split sum
//! that skips that padding, and all of a plan's sums in one launch.

use super::{Builder, Case, TOL_SUM, TOL_TRANSCENDENTAL};
use crate::cpu;
use crate::kernels::op::{self, View};
use crate::kernels::{
    ConvDims, MatmulDims, PoolDims, SegmentsDims, SplitDims, XentDims, FLAG_GRAD_BIAS, FLAG_MASK, FLAG_UNPOOL,
};
use rand::Rng;

pub fn cases(b: &mut Builder, out: &mut Vec<Case>) {
    masked(b, out);
    unpooled(b, out);
    grad_bias(b, out);
    // the loss with the running sums (xent_accumulate's work): rows past one workgroup's 256
    for &(n, c, s) in &[(7, 10, 0.0), (500, 10, 0.1), (3, 100, 0.0)] {
        let d = XentDims::new(n, c).smoothed(s);
        let (dl, loss, hit, acc) = (b.output(n * c), b.output(n), b.output(n), b.floats(4, 0.0, 10.0));
        let (logits, labels) = (b.floats(n * c, -8.0, 8.0), b.ints(n, c as u32));
        let op = op::xent_sums(op::softmax_xent(dl, loss, hit, acc, logits, labels, d));
        out.push(b.case(format!("N{n} C{c} smoothing {s} + sums"), op, TOL_TRANSCENDENTAL, vec![]));
    }
}

/// A max-pool forward on fresh data: its output (the mask a ReLU before it
/// leaves: about half of it ≤ 0) and argmax, pushed as inputs.
fn pooled(b: &mut Builder, d: &PoolDims) -> (View, View) {
    let full = (d.n * d.c * d.h * d.w) as usize;
    let outs = (d.n * d.c * (d.h / d.k) * (d.w / d.k)) as usize;
    let x: Vec<f32> = (0..full).map(|_| b.rng().random_range(-1.0..1.0)).collect();
    let (mut y, mut arg) = (vec![0f32; outs], vec![0u32; outs]);
    cpu::maxpool_forward(&mut y, &mut arg, &x, d);
    (b.push(y.iter().map(|v| v.to_bits()).collect()), b.push(arg))
}

/// Output words that a launch leaves alone (padding before a bias) hold zeros, not
/// the unwritten NaN, which the twin leaves too and would fail the comparison.
fn zeros(b: &mut Builder, n: usize) -> View {
    b.push(vec![0; n])
}

fn masked(b: &mut Builder, out: &mut Vec<Case>) {
    for &(m, n, k) in &[(7, 33, 5), (33, 7, 257), (130, 65, 33)] {
        let (dx, dy, w, mask) = (b.output(m * k), b.randn(m * n), b.randn(n * k), b.randn(m * k));
        let d = MatmulDims { flags: FLAG_MASK, ..MatmulDims::plain(m, k, n) };
        let op = op::matmul_grad(dx, dy, w, mask, w, d);
        out.push(b.case(format!("dX=dY·W·[mask>0] {m}x{n}·{n}x{k}"), op, TOL_SUM, vec![]));
    }
    for &(n, ci, co, h, w, k) in &[(2, 3, 5, 7, 7, 3), (1, 4, 3, 6, 5, 7), (3, 5, 33, 9, 8, 2)] {
        let d = ConvDims { flags: FLAG_MASK, ..ConvDims::new(n, ci, co, h, w, k) };
        let (dx, dy, wt, mask) =
            (b.output(n * ci * h * w), b.randn(n * co * h * w), b.randn(co * ci * k * k), b.randn(n * ci * h * w));
        let mut op = op::conv2d_backward_input(dx, dy, wt, d);
        op.views[3] = mask;
        out.push(b.case(format!("N{n} Ci{ci} Co{co} {h}x{w} k{k} masked"), op, TOL_SUM, vec![]));
    }
}

/// Pools (n, c, full h, full w, k): 7 -> 3 and 9 -> 4 leave trailing rows and
/// columns no window covers, 6 -> 2 with k 3, one pixel.
const POOLS: [(usize, usize, usize, usize, usize); 4] =
    [(3, 4, 7, 7, 2), (2, 3, 6, 6, 3), (2, 2, 9, 8, 2), (1, 1, 2, 2, 2)];

fn unpooled(b: &mut Builder, out: &mut Vec<Case>) {
    for (i, &(n, c, fh, fw, k)) in POOLS.iter().enumerate() {
        let p = PoolDims::new(n, c, fh, fw, k);
        let (h, w) = (fh / k, fw / k);
        let relu = i % 2 == 0;
        let flags = FLAG_UNPOOL | if relu { FLAG_MASK } else { 0 };
        let what = if relu { "unpooled, masked" } else { "unpooled" };
        // dense: dX (n, c·h·w) = dY (n, 17) · W (17, c·h·w), then back through the pool
        let (mask, arg) = pooled(b, &p);
        let (full, dy, wt) = (b.output(n * c * fh * fw), b.randn(n * 17), b.randn(17 * c * h * w));
        let mut d = MatmulDims { flags, ..MatmulDims::plain(n, c * h * w, 17) };
        d.epi[..6].copy_from_slice(&[k, fh, fw, c, h, w].map(|v| v as u32));
        let op = op::matmul_grad(full, dy, wt, mask, arg, d);
        out.push(b.case(format!("dX=dY·W {n}x17·17x{} {what} k{k} to {fh}x{fw}", c * h * w), op, TOL_SUM, vec![]));
        // conv: 3x3 'same' from 5 channels, then back through the pool
        let (mask, arg) = pooled(b, &p);
        let (full, dy, wt) = (b.output(n * c * fh * fw), b.randn(n * 5 * h * w), b.randn(5 * c * 9));
        let d = ConvDims { flags, epi: [k, fh, fw].map(|v| v as u32), ..ConvDims::new(n, c, 5, h, w, 3) };
        let mut op = op::conv2d_backward_input(full, dy, wt, d);
        (op.views[3], op.views[4]) = (mask, arg);
        out.push(b.case(format!("N{n} Ci{c} Co5 {h}x{w} k3 {what} k{k} to {fh}x{fw}"), op, TOL_SUM, vec![]));
    }
}

fn grad_bias(b: &mut Builder, out: &mut Vec<Case>) {
    // dense: dW (units, fan-in) = dYᵀ·X and the bias, right after it or 9 words on
    for &(batch, units, fan_in, gap) in &[(7, 33, 5, 0), (300, 10, 33, 9), (33, 130, 65, 0)] {
        let (len, at) = (units * fan_in, units * fan_in + gap);
        let dw = if gap == 0 { b.output(at + units) } else { zeros(b, at + units) };
        let (dy, x) = (b.randn(batch * units), b.randn(batch * fan_in));
        let mut d = MatmulDims::strided(units, fan_in, batch, (1, units), (fan_in, 1));
        (d.flags, d.epi[0]) = (FLAG_GRAD_BIAS, at as u32);
        let shape = format!("dW=dYᵀ·X ({batch}x{units})ᵀ·{batch}x{fan_in} + bias at {at} of {len}");
        out.push(b.case(shape, op::matmul_grad(dw, dy, x, x, x, d), TOL_SUM, vec![]));
    }
    // conv: unsplit with padding before the bias; split into compact slices, then
    // summed past the padding as the pass plans it
    for &(n, ci, co, h, w, k, splits) in
        &[(2, 3, 5, 7, 7, 3, 1), (3, 2, 33, 9, 6, 2, 1), (2, 3, 5, 7, 7, 3, 3), (8, 2, 32, 7, 7, 2, 4)]
    {
        let len = co * ci * k * k;
        let mut d = ConvDims::new(n, ci, co, h, w, k).with_splits(splits);
        d.flags = FLAG_GRAD_BIAS;
        let (dy, x) = (b.randn(n * co * h * w), b.randn(n * ci * h * w));
        let shape = format!("N{n} Ci{ci} Co{co} {h}x{w} k{k} split-K {splits} + bias");
        if splits == 1 {
            let at = len + 7;
            d.epi[0] = at as u32;
            let dw = zeros(b, at + co);
            out.push(b.case(shape, op::conv2d_backward_weight(dw, dy, x, d), TOL_SUM, vec![]));
        } else {
            d.epi[0] = len as u32;
            let part = b.output(splits * (len + co));
            out.push(b.case(shape, op::conv2d_backward_weight(part, dy, x, d), TOL_SUM, vec![]));
        }
    }
    // the one sum: segments out of order, one past padding, one of a single slice
    let table = [[20, 64, 40, 2, 32, 35], [0, 0, 7, 3, 7, 7], [9, 192, 5, 4, 5, 5], [70, 300, 3, 1, 3, 3]];
    let (total, part) = (zeros(b, 80), b.randn(303));
    let table_view = b.push(table.iter().flatten().map(|&v| v as u32).collect());
    let op = op::sum_segments(total, part, table_view, SegmentsDims::new(table.len()), 40);
    out.push(b.case("4 segments".into(), op, TOL_SUM, vec![]));
    for &(len, bias, gap, splits) in &[(7, 2, 3, 3), (800, 32, 32, 5)] {
        let (total, part) = (zeros(b, len + gap + bias), b.randn((len + bias) * splits));
        let sd = SplitDims::new(len + bias, splits).with_gap(len, len + gap);
        out.push(b.case(
            format!("{splits} x {len}+{bias}, bias {gap} on"),
            op::sum_splits(total, part, sd),
            TOL_SUM,
            vec![],
        ));
    }
}
