//! The native engine's kernels other than conv: dense GEMMs, reductions and
//! element-wise work, split into chunks across the thread pool. Where a twin is
//! already a straight loop over independent rows or elements, a chunk runs the
//! twin itself on its sub-range, so both engines share one formula.

use super::gemm::{gemm_parallel, Strides};
use crate::cpu;
use crate::kernels;
use rayon::prelude::*;

/// Elements per task for memory-bound loops.
const CHUNK: usize = 1 << 14;
/// Rows per task for row-wise kernels (softmax, gather).
const ROWS: usize = 64;

pub fn matmul(c: &mut [f32], a: &[f32], b: &[f32], bias: &[f32], d: &kernels::MatmulDims) {
    let (m, n, k) = (d.m as usize, d.n as usize, d.k as usize);
    let (as_, bs) =
        (Strides { rs: d.a_rs as usize, cs: d.a_cs as usize }, Strides { rs: d.b_rs as usize, cs: d.b_cs as usize });
    gemm_parallel(m, n, k, c, a, as_, b, bs);
    let (with_bias, relu) = (d.flags & kernels::FLAG_BIAS != 0, d.flags & kernels::FLAG_RELU != 0);
    if with_bias || relu {
        let rows = (CHUNK / n.max(1)).max(1);
        c[..m * n].par_chunks_mut(rows * n).for_each(|block| {
            for row in block.chunks_mut(n) {
                for (v, bv) in row.iter_mut().zip(bias.iter().chain(std::iter::repeat(&0.0))) {
                    let s = if with_bias { *v + bv } else { *v };
                    *v = if relu { s.max(0.0) } else { s };
                }
            }
        });
    }
}

/// dbias (splits, channels), as the twin cuts the rows.
pub fn bias_grad(dbias: &mut [f32], dy: &[f32], d: &kernels::BiasGradDims) {
    let (outer, ch, inner) = (d.outer as usize, d.channels as usize, d.inner as usize);
    let chunk = d.chunk();
    dbias[..ch * d.splits.max(1) as usize].par_iter_mut().enumerate().for_each(|(zc, out)| {
        let (z, c) = (zc / ch, zc % ch);
        *out = channel_sum(dy, c, ch, inner, (z * chunk).min(outer)..((z + 1) * chunk).min(outer))
    });
}

/// Σ of channel c of dy (rows, ch, inner) over `rows`, then inner positions, in 16
/// interleaved partial sums (one add chain would wait on each add's latency).
pub fn channel_sum(dy: &[f32], c: usize, ch: usize, inner: usize, rows: std::ops::Range<usize>) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut tail = 0.0f32;
    for i in rows {
        let run = &dy[(i * ch + c) * inner..(i * ch + c + 1) * inner];
        let mut blocks = run.chunks_exact(16);
        for b in &mut blocks {
            lanes.iter_mut().zip(b).for_each(|(l, v)| *l += v);
        }
        tail += blocks.remainder().iter().sum::<f32>();
    }
    lanes.iter().sum::<f32>() + tail
}

pub fn sum_splits(total: &mut [f32], part: &[f32], d: &kernels::SplitDims) {
    let len = d.len as usize;
    total[..len].par_chunks_mut(CHUNK).enumerate().for_each(|(t, out)| {
        out.fill(0.0);
        for s in 0..d.splits as usize {
            let p = &part[s * len + t * CHUNK..][..out.len()];
            out.iter_mut().zip(p).for_each(|(o, v)| *o += v);
        }
    });
}

/// One (n, c) plane per task. Each window scans rows then columns as the twin
/// does, so ties resolve to the same first maximum; the comparisons are selects,
/// not branches, which random data would mispredict half the time. argmax keeps
/// flat indices into the whole input.
pub fn maxpool_forward(y: &mut [f32], argmax: &mut [u32], x: &[f32], d: &kernels::PoolDims) {
    let (h, w, k) = (d.h as usize, d.w as usize, d.k as usize);
    let (oh, ow) = (h / k, w / k);
    let planes = (d.n * d.c) as usize;
    if oh * ow == 0 {
        return;
    }
    let (y, argmax) = (&mut y[..planes * oh * ow], &mut argmax[..planes * oh * ow]);
    y.par_chunks_mut(oh * ow).zip(argmax.par_chunks_mut(oh * ow)).enumerate().for_each(|(p, (yp, ap))| {
        let base = p * h * w;
        pool_plane(yp, ap, &x[base..base + h * w], w, k, base);
    });
}

/// One plane's k×k windows: y (h/k, w/k) and the flat index (plus `base`) of each
/// window's first maximum in scan order, as the twin finds it.
pub fn pool_plane(yp: &mut [f32], ap: &mut [u32], plane: &[f32], w: usize, k: usize, base: usize) {
    let (oh, ow) = (plane.len() / w / k, w / k);
    if k == 2 && super::direct::available() {
        return super::direct::maxpool2(yp, ap, plane, w, oh, ow, base);
    }
    for (oy, (yr, ar)) in yp[..oh * ow].chunks_exact_mut(ow).zip(ap.chunks_exact_mut(ow)).enumerate() {
        for (ox, (yo, ao)) in yr.iter_mut().zip(ar.iter_mut()).enumerate() {
            let first = oy * k * w + ox * k;
            let (mut bv, mut bi) = (plane[first], first);
            for dy in 0..k {
                let row = first + dy * w;
                for (dx, &v) in plane[row..row + k].iter().enumerate() {
                    let gt = v > bv;
                    bv = if gt { v } else { bv };
                    bi = if gt { row + dx } else { bi };
                }
            }
            *yo = bv;
            *ao = (base + bi) as u32;
        }
    }
}

/// Overwrites dx one plane per task: each window's gradient to its argmax, 0 elsewhere,
/// and 0 where `mask` is ≤ 0: a ReLU's output laid out as dx, or with `pooled` the
/// pool's output (its value at the argmax), laid out as dy.
pub fn maxpool_backward(
    dx: &mut [f32],
    dy: &[f32],
    argmax: &[u32],
    mask: Option<&[f32]>,
    pooled: bool,
    d: &kernels::PoolDims,
) {
    let (h, w, k) = (d.h as usize, d.w as usize, d.k as usize);
    let outs = (h / k) * (w / k);
    dx[..(d.n * d.c) as usize * h * w].par_chunks_mut(h * w).enumerate().for_each(|(p, dxp)| {
        dxp.fill(0.0);
        for o in p * outs..(p + 1) * outs {
            // a window's argmax lies in its own plane (maxpool_forward wrote it)
            let at = argmax[o] as usize;
            let keep = mask.is_none_or(|m| passes(if pooled { m[o] } else { m[at] }));
            dxp[at - p * h * w] = if keep { dy[o] } else { 0.0 };
        }
    });
}

/// The twin's sums, planes in parallel.
pub fn gap_forward(y: &mut [f32], x: &[f32], d: &kernels::GapDims) {
    let (planes, hw) = (d.planes as usize, d.hw as usize);
    let rows = CHUNK.div_ceil(hw);
    y[..planes].par_chunks_mut(rows).zip(x[..planes * hw].par_chunks(rows * hw)).for_each(|(y, x)| {
        y.iter_mut().zip(x.chunks_exact(hw)).for_each(|(y, x)| *y = x.iter().fold(0.0, |s, v| s + v) / hw as f32);
    });
}

pub fn gap_backward(dx: &mut [f32], dy: &[f32], d: &kernels::GapDims) {
    let (planes, hw) = (d.planes as usize, d.hw as usize);
    let rows = CHUNK.div_ceil(hw);
    dx[..planes * hw].par_chunks_mut(rows * hw).zip(dy[..planes].par_chunks(rows)).for_each(|(dx, dy)| {
        dx.chunks_exact_mut(hw).zip(dy).for_each(|(dx, g)| dx.fill(g / hw as f32));
    });
}

pub fn relu_forward(y: &mut [f32], x: &[f32], d: &kernels::ElemDims) {
    let n = d.n as usize;
    y[..n].par_chunks_mut(CHUNK).zip(x[..n].par_chunks(CHUNK)).for_each(|(y, x)| {
        y.iter_mut().zip(x).for_each(|(y, x)| *y = x.max(0.0));
    });
}

pub fn relu_backward(dy: &mut [f32], y: &[f32], d: &kernels::ElemDims) {
    let n = d.n as usize;
    dy[..n].par_chunks_mut(CHUNK).zip(y[..n].par_chunks(CHUNK)).for_each(|(dy, y)| relu_mask(dy, y));
}

/// Whether a ReLU whose output is `y` passes its gradient: y > 0, or NaN (as the
/// twin, which zeroes only where y ≤ 0).
pub fn passes(y: f32) -> bool {
    y > 0.0 || y.is_nan()
}

/// dy = 0 where the ReLU's output y ≤ 0 (NaN keeps dy, as in the twin): a select,
/// not a branch, since on real activations the sign is a coin toss.
pub fn relu_mask(dy: &mut [f32], y: &[f32]) {
    dy.iter_mut().zip(y).for_each(|(g, y)| *g = if *y <= 0.0 { 0.0 } else { *g });
}

/// Forward and backward alike: out = src · scale where the mask keeps, else 0.
pub fn dropout(out: &mut [f32], src: &[f32], d: &kernels::DropoutDims) {
    let n = d.n as usize;
    let key = cpu::dropout_key(d);
    out[..n].par_chunks_mut(CHUNK).zip(src[..n].par_chunks(CHUNK)).enumerate().for_each(|(t, (out, src))| {
        for (j, (o, s)) in out.iter_mut().zip(src).enumerate() {
            let keep = cpu::pcg((t * CHUNK + j) as u32 ^ key) >= d.threshold;
            *o = if keep { s * d.scale } else { 0.0 };
        }
    });
}

pub fn softmax_xent(
    dlogits: &mut [f32],
    loss: &mut [f32],
    correct: &mut [f32],
    logits: &[f32],
    labels: &[u32],
    d: &kernels::XentDims,
) {
    let (n, c) = (d.n as usize, d.c as usize);
    dlogits[..n * c]
        .par_chunks_mut(ROWS * c)
        .zip(loss[..n].par_chunks_mut(ROWS))
        .zip(correct[..n].par_chunks_mut(ROWS))
        .enumerate()
        .for_each(|(t, ((dl, l), h))| {
            let r0 = t * ROWS;
            let sub = kernels::XentDims { n: l.len() as u32, ..*d };
            cpu::softmax_xent(dl, l, h, &logits[r0 * c..], &labels[r0..], &sub);
        });
}

pub fn softmax(probs: &mut [f32], logits: &[f32], d: &kernels::XentDims) {
    let (n, c) = (d.n as usize, d.c as usize);
    probs[..n * c].par_chunks_mut(ROWS * c).enumerate().for_each(|(t, p)| {
        let sub = kernels::XentDims { n: (p.len() / c) as u32, ..*d };
        cpu::softmax(p, &logits[t * ROWS * c..], &sub);
    });
}

pub fn adam(w: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], d: &kernels::AdamDims) {
    let n = d.n as usize;
    w[..n]
        .par_chunks_mut(CHUNK)
        .zip(m[..n].par_chunks_mut(CHUNK))
        .zip(v[..n].par_chunks_mut(CHUNK))
        .zip(g[..n].par_chunks(CHUNK))
        .for_each(|(((w, m), v), g)| cpu::adam(w, m, v, g, &kernels::AdamDims { n: w.len() as u32, ..*d }));
}

pub fn ema(avg: &mut [f32], w: &[f32], d: &kernels::EmaDims) {
    let n = d.n as usize;
    avg[..n]
        .par_chunks_mut(CHUNK)
        .zip(w[..n].par_chunks(CHUNK))
        .for_each(|(a, w)| cpu::ema(a, w, &kernels::EmaDims { n: a.len() as u32, ..*d }));
}

pub fn sgd(w: &mut [f32], vel: &mut [f32], g: &[f32], d: &kernels::SgdDims) {
    let n = d.n as usize;
    w[..n]
        .par_chunks_mut(CHUNK)
        .zip(vel[..n].par_chunks_mut(CHUNK))
        .zip(g[..n].par_chunks(CHUNK))
        .for_each(|((w, vel), g)| cpu::sgd(w, vel, g, &kernels::SgdDims { n: w.len() as u32, ..*d }));
}

pub fn gather(x: &mut [f32], y: &mut [u32], store: &[u32], labels: &[u32], index: &[u32], d: &kernels::GatherDims) {
    let (n, px) = (d.n as usize, d.pixels as usize);
    if px == 0 {
        return cpu::gather(x, y, store, labels, index, d);
    }
    x[..n * px].par_chunks_mut(ROWS * px).zip(y[..n].par_chunks_mut(ROWS)).enumerate().for_each(|(t, (x, y))| {
        let sub = kernels::GatherDims { n: y.len() as u32, offset: 0, ..*d };
        cpu::gather(x, y, store, labels, &index[d.offset as usize + t * ROWS..], &sub);
    });
}

/// Per channel in parallel, one channel a task.
fn per_channel<R: Send>(c: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    (0..c).into_par_iter().map(f).collect()
}

/// Lanes of the channel sums: independent f64 accumulators, so the loops vectorise
/// (the twin's one running f64 sum cannot: each add waits for the last).
const SUM_LANES: usize = 8;

/// The two sums over channel c of an (N, C, HW) tensor pair of f(x, y) = [a, b],
/// in f64 on SUM_LANES lanes added at the end (`y` may be `x` itself).
fn bn_channel_sums(x: &[f32], y: &[f32], d: &kernels::BnDims, c: usize, f: impl Fn(f64, f64) -> [f64; 2]) -> [f64; 2] {
    let (n, ch, hw) = (d.n as usize, d.c as usize, d.hw as usize);
    let mut acc = [[0f64; SUM_LANES]; 2];
    let mut add = |l: usize, a: f32, b: f32| {
        let [u, v] = f(a as f64, b as f64);
        acc[0][l] += u;
        acc[1][l] += v;
    };
    for i in 0..n {
        let at = (i * ch + c) * hw;
        let (xc, yc) = (x[at..at + hw].chunks_exact(SUM_LANES), y[at..at + hw].chunks_exact(SUM_LANES));
        for (a, b) in xc.clone().zip(yc.clone()) {
            for l in 0..SUM_LANES {
                add(l, a[l], b[l]);
            }
        }
        for (l, (a, b)) in xc.remainder().iter().zip(yc.remainder()).enumerate() {
            add(l, *a, *b);
        }
    }
    [acc[0].iter().sum(), acc[1].iter().sum()]
}

/// The twin's two-pass moments (the mean, then the mean squared deviation), on lanes.
pub fn bn_stats(stats: &mut [f32], running: &mut [f32], x: &[f32], d: &kernels::BnDims) {
    let m = (d.n * d.hw) as f64;
    let per = per_channel(d.c as usize, |c| {
        let mean = bn_channel_sums(x, x, d, c, |v, _| [v, 0.0])[0] / m;
        let var = bn_channel_sums(x, x, d, c, |v, _| [(v - mean) * (v - mean), 0.0])[0] / m;
        (mean as f32, var as f32)
    });
    for (c, (mean, var)) in per.into_iter().enumerate() {
        cpu::bn_channel_store(stats, running, d, c, mean, var);
    }
}

/// The twin's dγ = Σ dy·x̂ and dβ = Σ dy per channel, in one pass on lanes.
pub fn bn_backward_params(dparams: &mut [f32], dy: &[f32], x: &[f32], stats: &[f32], d: &kernels::BnDims) {
    let ch = d.c as usize;
    let per = per_channel(ch, |c| {
        let (mean, invstd) = (stats[c] as f64, stats[ch + c] as f64);
        bn_channel_sums(dy, x, d, c, |g, v| [g * (v - mean) * invstd, g])
    });
    for (c, [dg, db]) in per.into_iter().enumerate() {
        (dparams[c], dparams[ch + c]) = (dg as f32, db as f32);
    }
}

/// Whole images per task, each through the twin.
fn per_images(out: &mut [f32], d: &kernels::BnDims, f: impl Fn(&mut [f32], usize, &kernels::BnDims) + Sync + Send) {
    let image = (d.c * d.hw) as usize;
    let per_task = (CHUNK / image.max(1)).max(1);
    out[..d.n as usize * image].par_chunks_mut(per_task * image).enumerate().for_each(|(t, o)| {
        let sub = kernels::BnDims { n: (o.len() / image) as u32, ..*d };
        f(o, t * per_task * image, &sub)
    });
}

pub fn bn_forward(y: &mut [f32], x: &[f32], stats: &[f32], affine: &[f32], d: &kernels::BnDims) {
    per_images(y, d, |y, at, sub| cpu::bn_forward(y, &x[at..], stats, affine, sub));
}

pub fn bn_backward_input(
    dx: &mut [f32],
    dy: &[f32],
    x: &[f32],
    stats: &[f32],
    affine: &[f32],
    dparams: &[f32],
    d: &kernels::BnDims,
) {
    // each chunk of images divides by the whole batch's m = N·HW
    let m = (d.n * d.hw) as f32;
    per_images(dx, d, |dx, at, sub| {
        cpu::bn_backward_input_over(dx, &dy[at..], &x[at..], stats, affine, dparams, sub, m)
    });
}
