//! Twins of shaders/matmul.wgsl: strided matmul with bias/ReLU epilogue, bias_grad.

use crate::kernels::{BiasGradDims, MatmulDims, SplitDims, FLAG_BIAS, FLAG_RELU};
use num_traits::Float;

pub fn matmul<T: Float>(c: &mut [T], a: &[T], b: &[T], bias: &[T], d: &MatmulDims) {
    let (m, n, k) = (d.m as usize, d.n as usize, d.k as usize);
    let (ars, acs, brs, bcs) = (d.a_rs as usize, d.a_cs as usize, d.b_rs as usize, d.b_cs as usize);
    for i in 0..m {
        for j in 0..n {
            let mut s = T::zero();
            for l in 0..k {
                s = s + a[i * ars + l * acs] * b[l * brs + j * bcs];
            }
            if d.flags & FLAG_BIAS != 0 {
                s = s + bias[j];
            }
            if d.flags & FLAG_RELU != 0 {
                s = s.max(T::zero());
            }
            c[i * n + j] = s;
        }
    }
}

/// dbias (splits, channels): chunk z sums rows [z·chunk, (z+1)·chunk) of dy.
pub fn bias_grad<T: Float>(dbias: &mut [T], dy: &[T], d: &BiasGradDims) {
    let (outer, ch, inner) = (d.outer as usize, d.channels as usize, d.inner as usize);
    let chunk = d.chunk();
    for z in 0..d.splits.max(1) as usize {
        let rows = (z * chunk).min(outer)..((z + 1) * chunk).min(outer);
        for c in 0..ch {
            let mut s = T::zero();
            for i in rows.clone() {
                for j in 0..inner {
                    s = s + dy[(i * ch + c) * inner + j];
                }
            }
            dbias[z * ch + c] = s;
        }
    }
}

/// total[i] = Σ_s part[s · len + i]
pub fn sum_splits(total: &mut [f32], part: &[f32], d: &SplitDims) {
    let len = d.len as usize;
    for (i, t) in total.iter_mut().enumerate().take(len) {
        *t = (0..d.splits as usize).map(|s| part[s * len + i]).sum();
    }
}
