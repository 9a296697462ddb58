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
    pub _u: [u32; 5],
    pub _f: [f32; 8],
}
impl Dims for BiasGradDims {}

impl BiasGradDims {
    pub fn new(outer: usize, channels: usize, inner: usize) -> Self {
        BiasGradDims { outer: outer as u32, channels: channels as u32, inner: inner as u32, _u: [0; 5], _f: [0.0; 8] }
    }
}

pub fn bias_grad<T: Float>(dbias: &mut [T], dy: &[T], d: &BiasGradDims) {
    let (outer, ch, inner) = (d.outer as usize, d.channels as usize, d.inner as usize);
    for (c, out) in dbias.iter_mut().enumerate().take(ch) {
        let mut s = T::zero();
        for i in 0..outer {
            for j in 0..inner {
                s = s + dy[(i * ch + c) * inner + j];
            }
        }
        *out = s;
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
