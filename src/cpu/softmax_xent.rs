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
    let s = T::from(d.smoothing).unwrap();
    let spread = s / T::from(c).unwrap();
    for r in 0..d.n as usize {
        let z = &logits[r * c..(r + 1) * c];
        let (mx, arg, sum) = row_stats(z);
        let label = (labels[r] as usize).min(c - 1); // as the shader: a bad label stays in its row
                                                     // the target: (1 - s)·onehot + s/C
        let target = |j: usize| if j == label { T::one() - s } else { T::zero() } + spread;
        let hit = (0..c).fold(T::zero(), |h, j| h + target(j) * (z[j] - mx));
        loss[r] = sum.ln() - hit;
        correct[r] = if arg == label { T::one() } else { T::zero() };
        for j in 0..c {
            let p = (z[j] - mx).exp() / sum;
            dlogits[r * c + j] = (p - target(j)) * inv;
        }
    }
}

/// `acc[0] += Σ loss`, `acc[1] += Σ correct`, `acc[2] += n`.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Label smoothing against its definition in f64: the loss is -Σ q·log softmax
    /// with q = (1 - s)·onehot + s/C, the gradient its derivative (by central
    /// differences), and s = 0 gives the plain one-hot values bit for bit.
    #[test]
    fn smoothed_loss_and_gradient_match_their_definition() {
        let (n, c, s) = (3usize, 10usize, 0.1f32);
        let logits: Vec<f64> = (0..n * c).map(|i| ((i * 37 % 23) as f64 - 11.0) * 0.4).collect();
        let labels = [2u32, 9, 0];
        let d = XentDims::new(n, c).smoothed(s);
        let (mut dl, mut loss, mut hit) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
        softmax_xent(&mut dl, &mut loss, &mut hit, &logits, &labels, &d);
        let row_loss = |z: &[f64], label: usize| {
            let lse = z.iter().map(|v| v.exp()).sum::<f64>().ln();
            let q = |j: usize| if j == label { 1.0 - s as f64 } else { 0.0 } + s as f64 / c as f64;
            (0..c).map(|j| -q(j) * (z[j] - lse)).sum::<f64>()
        };
        for r in 0..n {
            let z = &logits[r * c..(r + 1) * c];
            let label = labels[r] as usize;
            assert!((loss[r] - row_loss(z, label)).abs() < 1e-12, "row {r}: {} vs {}", loss[r], row_loss(z, label));
            for j in 0..c {
                let h = 1e-6;
                let (mut up, mut down) = (z.to_vec(), z.to_vec());
                up[j] += h;
                down[j] -= h;
                let fd = (row_loss(&up, label) - row_loss(&down, label)) / (2.0 * h) / n as f64;
                assert!((dl[r * c + j] - fd).abs() < 1e-8, "row {r} class {j}: {} vs {fd}", dl[r * c + j]);
            }
        }
        // no smoothing: exactly the one-hot loss and softmax - onehot
        let logits: Vec<f32> = logits.iter().map(|&v| v as f32).collect();
        let d = XentDims::new(n, c);
        let (mut dl, mut loss, mut hit) = (vec![0.0f32; n * c], vec![0.0f32; n], vec![0.0f32; n]);
        softmax_xent(&mut dl, &mut loss, &mut hit, &logits, &labels, &d);
        for r in 0..n {
            let z = &logits[r * c..(r + 1) * c];
            let (mx, _, sum) = row_stats(z);
            let label = labels[r] as usize;
            assert_eq!(loss[r].to_bits(), (sum.ln() - (z[label] - mx)).to_bits());
            for j in 0..c {
                let p = (z[j] - mx).exp() / sum;
                let want = (p - if j == label { 1.0 } else { 0.0 }) * (1.0 / n as f32);
                assert_eq!(dl[r * c + j].to_bits(), want.to_bits(), "row {r} class {j}");
            }
        }
    }
}
