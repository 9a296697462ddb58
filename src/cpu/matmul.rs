//! Twins of shaders/matmul.wgsl: strided matmul with bias/ReLU epilogue and the
//! fused gradient epilogues (mask, unpooling, the bias gradient beside dW), bias_grad.

use crate::kernels::{
    BiasGradDims, MatmulDims, SegmentsDims, SplitDims, FLAG_BIAS, FLAG_GRAD_BIAS, FLAG_MASK, FLAG_RELU, FLAG_UNPOOL,
};
use num_traits::Float;

/// `bias` is the mask (laid out as C) under FLAG_MASK; `argmax` is read under FLAG_UNPOOL.
pub fn matmul<T: Float>(c: &mut [T], a: &[T], b: &[T], bias: &[T], argmax: &[u32], d: &MatmulDims) {
    if d.flags & FLAG_UNPOOL != 0 {
        // the product, masked, then sent through the pool's argmax
        let mut g = vec![T::zero(); (d.m * d.n) as usize];
        matmul(&mut g, a, b, bias, argmax, &MatmulDims { flags: d.flags & !FLAG_UNPOOL, ..*d });
        let [k, full_h, full_w, ch, h, w, ..] = d.epi.map(|v| v as usize);
        debug_assert!(k > 0 && ch * h * w == d.n as usize);
        return super::unpool(c, &g, argmax, d.m as usize * ch, h * w, full_h * full_w);
    }
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
            if d.flags & FLAG_MASK != 0 && bias[i * n + j].partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater)
            {
                s = T::zero();
            }
            c[i * n + j] = s;
        }
    }
    if d.flags & FLAG_GRAD_BIAS != 0 {
        // the sums of A's rows, from epi[0] on
        for i in 0..m {
            c[d.epi[0] as usize + i] = (0..k).fold(T::zero(), |s, l| s + a[i * ars + l * acs]);
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

/// total[dest(i)] = Σ_s part[s · len + i] (dest skips the gap, `SplitDims::dest`)
pub fn sum_splits(total: &mut [f32], part: &[f32], d: &SplitDims) {
    let len = d.len as usize;
    for i in 0..len {
        total[d.dest(i)] = (0..d.splits as usize).map(|s| part[s * len + i]).sum();
    }
}

/// Each row (total_at, part_at, len, splits, gap_at, gap_to) of `table`, as `sum_splits`.
pub fn sum_segments(total: &mut [f32], part: &[f32], table: &[u32], d: &SegmentsDims) {
    for row in table.chunks_exact(SegmentsDims::ROW).take(d.count as usize) {
        let [total_at, part_at, len, splits, gap_at, gap_to] = [0, 1, 2, 3, 4, 5].map(|i| row[i] as usize);
        let s = SplitDims::new(len, splits).with_gap(gap_at, gap_to);
        sum_splits(&mut total[total_at..], &part[part_at..], &s);
    }
}
