//! Twins of shaders/matmul.wgsl: strided matmul with bias/ReLU epilogue, bias_grad.

use super::{flags, Dims, FLAG_BIAS, FLAG_RELU};
use num_traits::Float;

/// C (m, n) = A (m, k) · B (k, n) read through strides; mirrors `struct Matmul`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MatmulDims {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub a_rs: u32,
    pub a_cs: u32,
    pub b_rs: u32,
    pub b_cs: u32,
    pub flags: u32,
    pub _f: [f32; 8],
}
impl Dims for MatmulDims {}

impl MatmulDims {
    /// Row-major A (m, k) times row-major B (k, n).
    pub fn plain(m: usize, n: usize, k: usize) -> Self {
        Self::strided(m, n, k, (k, 1), (n, 1))
    }
    /// A[i, l] = a[i * a.0 + l * a.1], B[l, j] = b[l * b.0 + j * b.1].
    pub fn strided(m: usize, n: usize, k: usize, a: (usize, usize), b: (usize, usize)) -> Self {
        let u = |x: usize| x as u32;
        MatmulDims {
            m: u(m),
            n: u(n),
            k: u(k),
            a_rs: u(a.0),
            a_cs: u(a.1),
            b_rs: u(b.0),
            b_cs: u(b.1),
            flags: 0,
            _f: [0.0; 8],
        }
    }
    pub fn with_epilogue(mut self, bias: bool, relu: bool) -> Self {
        self.flags = flags(bias, relu);
        self
    }
}

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

/// out[ch] = Σ x[(i · channels + ch) · inner + j]; mirrors `struct BiasGrad`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BiasGradDims {
    pub outer: u32,
    pub channels: u32,
    pub inner: u32,
    /// Chunks of `outer` summed apart: the output is then (splits, channels).
    pub splits: u32,
    pub _u: [u32; 4],
    pub _f: [f32; 8],
}
impl Dims for BiasGradDims {}

impl BiasGradDims {
    pub fn new(outer: usize, channels: usize, inner: usize) -> Self {
        let (outer, channels, inner) = (outer as u32, channels as u32, inner as u32);
        BiasGradDims { outer, channels, inner, splits: 1, _u: [0; 4], _f: [0.0; 8] }
    }

    /// Sums in `splits` chunks of rows (`sum_splits` adds them up).
    pub fn with_splits(mut self, splits: usize) -> Self {
        self.splits = splits as u32;
        self
    }

    /// The rows of each chunk, as the shader cuts them: ⌈outer / splits⌉.
    pub fn chunk(&self) -> usize {
        (self.outer as usize).div_ceil(self.splits.max(1) as usize)
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

/// Mirrors `struct SumSplits`: `splits` slices of `len` values.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SplitDims {
    pub len: u32,
    pub splits: u32,
    pub _u: [u32; 6],
    pub _f: [f32; 8],
}
impl Dims for SplitDims {}

impl SplitDims {
    pub fn new(len: usize, splits: usize) -> Self {
        SplitDims { len: len as u32, splits: splits as u32, _u: [0; 6], _f: [0.0; 8] }
    }
}

/// total[i] = Σ_s part[s · len + i]
pub fn sum_splits(total: &mut [f32], part: &[f32], d: &SplitDims) {
    let len = d.len as usize;
    for (i, t) in total.iter_mut().enumerate().take(len) {
        *t = (0..d.splits as usize).map(|s| part[s * len + i]).sum();
    }
}
