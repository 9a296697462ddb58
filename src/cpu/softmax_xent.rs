//! Twins of shaders/softmax_xent.wgsl.

use crate::kernels::XentDims;
use num_traits::Float;

/// Returns (max, index of the first max, Σ exp(z - max)) of one row.
fn row_stats<T: Float>(z: &[T]) -> (T, usize, T) {
    let mut arg = 0;
    for j in 1..z.len() {
        if z[j] > z[arg] {
            arg = j;
        }
    }
    let mx = z[arg];
    let sum = z.iter().fold(T::zero(), |s, &v| s + (v - mx).exp());
    (mx, arg, sum)
}

pub fn softmax_xent<T: Float>(
    dlogits: &mut [T],
    loss: &mut [T],
    correct: &mut [T],
    logits: &[T],
    labels: &[u32],
    d: &XentDims,
) {
    let c = d.c as usize;
    let inv = T::one() / T::from(d.denom).unwrap();
    for r in 0..d.n as usize {
        let z = &logits[r * c..(r + 1) * c];
        let (mx, arg, sum) = row_stats(z);
        let label = (labels[r] as usize).min(c - 1); // as the shader: a bad label stays in its row
        loss[r] = sum.ln() - (z[label] - mx);
        correct[r] = if arg == label { T::one() } else { T::zero() };
        for j in 0..c {
            let p = (z[j] - mx).exp() / sum;
            let onehot = if j == label { T::one() } else { T::zero() };
            dlogits[r * c + j] = (p - onehot) * inv;
        }
    }
}

/// acc[0] += Σ loss, acc[1] += Σ correct, acc[2] += n.
pub fn xent_accumulate(acc: &mut [f32], loss: &[f32], correct: &[f32], d: &XentDims) {
    let n = d.n as usize;
    acc[0] += loss[..n].iter().sum::<f32>();
    acc[1] += correct[..n].iter().sum::<f32>();
    acc[2] += n as f32;
}

pub fn softmax<T: Float>(probs: &mut [T], logits: &[T], d: &XentDims) {
    let c = d.c as usize;
    for r in 0..d.n as usize {
        let z = &logits[r * c..(r + 1) * c];
        let (mx, _, sum) = row_stats(z);
        for j in 0..c {
            probs[r * c + j] = (z[j] - mx).exp() / sum;
        }
    }
}
