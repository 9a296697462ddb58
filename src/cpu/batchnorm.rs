//! Twins of shaders/batchnorm.wgsl: batch normalisation of (N, C, HW) activations
//! per channel, as PyTorch defines it: in training, the batch's mean and biased
//! variance normalise, and the running statistics move by `momentum` toward the
//! batch mean and unbiased variance; in evaluation the running statistics
//! normalise. y = γ·(x − μ)·invstd + β, invstd = 1/√(var + eps).
//!
//! Buffers of 2C values: stats [mean; invstd] (this batch's, for backward),
//! running [mean; var], affine [γ; β], dparams [dγ; dβ]. Backward OVERWRITES.
//!
//! The per-channel sums accumulate in f64: the input gradient is a small residual
//! of dγ and dβ terms, so their rounding reappears magnified in it, and a plain f32
//! running sum over N·H·W values is the least accurate order there is.

use crate::kernels::BnDims;
use num_traits::Float;

fn cast<T: Float>(v: f32) -> T {
    T::from(v).unwrap()
}

/// Channel c's values, image by image, as f64.
fn channel<'a, T: Float>(x: &'a [T], d: &BnDims, c: usize) -> impl Iterator<Item = f64> + 'a {
    let (n, ch, hw) = d.dims();
    (0..n).flat_map(move |i| x[(i * ch + c) * hw..][..hw].iter().map(|v| v.to_f64().unwrap()))
}

fn back<T: Float>(v: f64) -> T {
    T::from(v).unwrap()
}

/// The batch's [mean; invstd] per channel; running [mean; var] updated in place.
pub fn bn_stats<T: Float>(stats: &mut [T], running: &mut [T], x: &[T], d: &BnDims) {
    for c in 0..d.c as usize {
        let (mean, var) = bn_channel_moments(x, d, c);
        bn_channel_store(stats, running, d, c, mean, var);
    }
}

/// Channel c's batch mean and biased variance, two passes of one running f64 sum
/// each (the native engine sums the same on lanes: `native::ops::bn_stats`).
fn bn_channel_moments<T: Float>(x: &[T], d: &BnDims, c: usize) -> (T, T) {
    let m = (d.n * d.hw) as f64;
    let mean = channel(x, d, c).sum::<f64>() / m;
    let var = channel(x, d, c).map(|v| (v - mean) * (v - mean)).sum::<f64>() / m;
    (back(mean), back(var))
}

/// Writes channel c's [mean; invstd] and moves its running statistics.
pub fn bn_channel_store<T: Float>(stats: &mut [T], running: &mut [T], d: &BnDims, c: usize, mean: T, var: T) {
    let ch = d.c as usize;
    let m = T::from(d.n * d.hw).unwrap();
    stats[c] = mean;
    stats[ch + c] = T::one() / (var + cast(d.eps)).sqrt();
    let unbiased = if d.n * d.hw > 1 { var * m / (m - T::one()) } else { var };
    let mo: T = cast(d.momentum);
    running[c] = (T::one() - mo) * running[c] + mo * mean;
    running[ch + c] = (T::one() - mo) * running[ch + c] + mo * unbiased;
}

/// y = γ·(x − mean)·invstd + β, from `stats` [mean; invstd] (training) or
/// `running` [mean; var] (evaluation), as d.train says.
pub fn bn_forward<T: Float>(y: &mut [T], x: &[T], stats: &[T], affine: &[T], d: &BnDims) {
    let (n, ch, hw) = d.dims();
    for i in 0..n {
        for c in 0..ch {
            let mean = stats[c];
            let invstd = if d.train != 0 { stats[ch + c] } else { T::one() / (stats[ch + c] + cast(d.eps)).sqrt() };
            let (g, b) = (affine[c], affine[ch + c]);
            let base = (i * ch + c) * hw;
            for j in base..base + hw {
                y[j] = g * (x[j] - mean) * invstd + b;
            }
        }
    }
}

/// dparams = [dγ; dβ] = [Σ dy·x̂; Σ dy] per channel, x̂ = (x − mean)·invstd.
pub fn bn_backward_params<T: Float>(dparams: &mut [T], dy: &[T], x: &[T], stats: &[T], d: &BnDims) {
    let ch = d.c as usize;
    for c in 0..ch {
        (dparams[c], dparams[ch + c]) = bn_channel_dparams(dy, x, stats, d, c);
    }
}

/// Channel c's (dγ, dβ).
fn bn_channel_dparams<T: Float>(dy: &[T], x: &[T], stats: &[T], d: &BnDims, c: usize) -> (T, T) {
    let ch = d.c as usize;
    let (mean, invstd) = (stats[c].to_f64().unwrap(), stats[ch + c].to_f64().unwrap());
    let (mut dg, mut db) = (0.0, 0.0);
    for (g, v) in channel(dy, d, c).zip(channel(x, d, c)) {
        dg += g * (v - mean) * invstd;
        db += g;
    }
    (back(dg), back(db))
}

/// dx = γ·invstd·(dy − dβ/m − x̂·dγ/m), m = N·HW: the batch statistics' own
/// dependence on x included.
pub fn bn_backward_input<T: Float>(
    dx: &mut [T],
    dy: &[T],
    x: &[T],
    stats: &[T],
    affine: &[T],
    dparams: &[T],
    d: &BnDims,
) {
    bn_backward_input_over(dx, dy, x, stats, affine, dparams, d, T::from(d.n * d.hw).unwrap());
}

/// bn_backward_input over d.n images of a batch of m values per channel (the
/// native engine runs chunks of images, each with the whole batch's m).
#[allow(clippy::too_many_arguments)]
pub fn bn_backward_input_over<T: Float>(
    dx: &mut [T],
    dy: &[T],
    x: &[T],
    stats: &[T],
    affine: &[T],
    dparams: &[T],
    d: &BnDims,
    m: T,
) {
    let (n, ch, hw) = d.dims();
    for i in 0..n {
        for c in 0..ch {
            let (mean, invstd) = (stats[c], stats[ch + c]);
            let k = affine[c] * invstd;
            let (dg, db) = (dparams[c] / m, dparams[ch + c] / m);
            let base = (i * ch + c) * hw;
            for j in base..base + hw {
                dx[j] = k * (dy[j] - db - (x[j] - mean) * invstd * dg);
            }
        }
    }
}
