//! The kernels' parameter blocks: one struct per WGSL uniform struct, field for
//! field (64 bytes: eight u32 words, then eight f32 words, or more u32 where a
//! kernel needs them, as conv's stride and padding), so the host writes it as is.

use super::abi::{flags, Dims};

// shaders/matmul.wgsl

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
    /// The fused epilogues' words: FLAG_UNPOOL's `Unpool` (k, full h, full w,
    /// then the pooled C, H, W of a row of C); FLAG_GRAD_BIAS's bias offset at `[0]`.
    pub epi: [u32; 8],
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
            epi: [0; 8],
        }
    }
    pub fn with_epilogue(mut self, bias: bool, relu: bool) -> Self {
        self.flags = flags(bias, relu);
        self
    }
}

/// `out[ch] = Σ x[(i · channels + ch) · inner + j]`; mirrors `struct BiasGrad`.
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

/// Mirrors `struct SumSplits`: `splits` slices of `len` values.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SplitDims {
    pub len: u32,
    pub splits: u32,
    /// Sums from `gap_at` on go to `gap_to` on (a weight gradient's bias, past the
    /// padding between them); `gap_at` = `len`: no gap.
    pub gap_at: u32,
    pub gap_to: u32,
    pub _u: [u32; 4],
    pub _f: [f32; 8],
}

impl Dims for SplitDims {}

impl SplitDims {
    pub fn new(len: usize, splits: usize) -> Self {
        SplitDims {
            len: len as u32,
            splits: splits as u32,
            gap_at: len as u32,
            gap_to: len as u32,
            _u: [0; 4],
            _f: [0.0; 8],
        }
    }
    /// Words from `at` on land `to - at` further on in the total.
    pub fn with_gap(mut self, at: usize, to: usize) -> Self {
        (self.gap_at, self.gap_to) = (at as u32, to as u32);
        self
    }
    /// Where sum i lands in the total.
    pub fn dest(&self, i: usize) -> usize {
        if i >= self.gap_at as usize {
            i - self.gap_at as usize + self.gap_to as usize
        } else {
            i
        }
    }
}

/// Mirrors `struct SumSegments`: `count` rows of the table (total_at, part_at,
/// len, splits, gap_at, gap_to), each summed as a `SplitDims` would be.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SegmentsDims {
    pub count: u32,
    pub _u: [u32; 7],
    pub _f: [f32; 8],
}

impl Dims for SegmentsDims {}

impl SegmentsDims {
    pub const ROW: usize = 6;
    pub fn new(count: usize) -> Self {
        SegmentsDims { count: count as u32, _u: [0; 7], _f: [0.0; 8] }
    }
}

// shaders/conv2d.wgsl

/// Mirrors `struct Conv`. X (n, cin, h, w), W (cout, cin, k, k), Y (n, cout, ho, wo).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ConvDims {
    pub n: u32,
    pub cin: u32,
    pub cout: u32,
    pub h: u32,
    pub w: u32,
    pub k: u32,
    pub flags: u32,
    /// Grad weight only: split-K chunks (1: write dW directly).
    pub splits: u32,
    pub stride: u32,
    /// Padding before (top, left); the rest of the padding goes after.
    pub pad_y: u32,
    pub pad_x: u32,
    pub ho: u32,
    pub wo: u32,
    /// The fused epilogues' words: grad input's FLAG_UNPOOL (k, full h, full w);
    /// grad weight's FLAG_GRAD_BIAS bias offset at `[0]`.
    pub epi: [u32; 3],
}

impl Dims for ConvDims {}

impl ConvDims {
    /// 'same', stride 1.
    pub fn new(n: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize) -> Self {
        ConvDims::strided(n, cin, cout, h, w, k, 1, true)
    }
    /// Stride `s` with 'same' (`same`) or 'valid' padding; 'valid' needs k <= h, w.
    #[allow(clippy::too_many_arguments)]
    pub fn strided(n: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize, s: usize, same: bool) -> Self {
        let u = |x: usize| x as u32;
        // (output length, padding before) along one axis of `len` pixels
        let out = |len: usize| {
            if same {
                let o = len.div_ceil(s);
                (o, ((o - 1) * s + k).saturating_sub(len) / 2)
            } else {
                ((len - k) / s + 1, 0)
            }
        };
        let ((ho, pad_y), (wo, pad_x)) = (out(h), out(w));
        ConvDims {
            n: u(n),
            cin: u(cin),
            cout: u(cout),
            h: u(h),
            w: u(w),
            k: u(k),
            flags: 0,
            splits: 1,
            stride: u(s),
            pad_y: u(pad_y),
            pad_x: u(pad_x),
            ho: u(ho),
            wo: u(wo),
            epi: [0; 3],
        }
    }
    pub fn with_epilogue(mut self, bias: bool, relu: bool) -> Self {
        self.flags = flags(bias, relu);
        self
    }
    /// (n, cin, cout, h, w, k) as usize.
    pub fn unpack(&self) -> (usize, usize, usize, usize, usize, usize) {
        let u = |x: u32| x as usize;
        (u(self.n), u(self.cin), u(self.cout), u(self.h), u(self.w), u(self.k))
    }
    /// Grad weight in `splits` split-K chunks: the output becomes (splits, Co, Ci·k·k).
    pub fn with_splits(mut self, splits: usize) -> Self {
        self.splits = splits as u32;
        self
    }
    /// Output pixels (of N·Ho·Wo) per split-K chunk, as conv2d.wgsl's split_chunk.
    pub fn split_chunk(&self) -> usize {
        let (kdim, s) = ((self.n * self.ho * self.wo) as usize, self.splits as usize);
        kdim.div_ceil(s * 16) * 16
    }
    /// (Ho, Wo) as usize.
    pub fn out_hw(&self) -> (usize, usize) {
        (self.ho as usize, self.wo as usize)
    }
}

// shaders/maxpool.wgsl

/// Mirrors `struct Pool`. X (n, c, h, w) -> Y (n, c, h/k, w/k).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PoolDims {
    pub n: u32,
    pub c: u32,
    pub h: u32,
    pub w: u32,
    pub k: u32,
    pub _u: [u32; 3],
    pub _f: [f32; 8],
}

impl Dims for PoolDims {}

impl PoolDims {
    pub fn new(n: usize, c: usize, h: usize, w: usize, k: usize) -> Self {
        let u = |x: usize| x as u32;
        PoolDims { n: u(n), c: u(c), h: u(h), w: u(w), k: u(k), _u: [0; 3], _f: [0.0; 8] }
    }
}

// shaders/gap.wgsl

/// Mirrors `struct Gap`: X (n, c, h, w) -> Y (n, c), planes = n·c, hw = h·w.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GapDims {
    pub planes: u32,
    pub hw: u32,
    pub _u: [u32; 6],
    pub _f: [f32; 8],
}

impl Dims for GapDims {}

impl GapDims {
    pub fn new(n: usize, c: usize, hw: usize) -> Self {
        GapDims { planes: (n * c) as u32, hw: hw as u32, _u: [0; 6], _f: [0.0; 8] }
    }
}

// shaders/normalize.wgsl

/// Mirrors `struct Normalize`: n values of (N, C, H, W) images, plane = H·W,
/// C ≤ 4 channels, each value x -> `(x - mean[c]) · inv_std[c]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NormalizeDims {
    pub n: u32,
    pub plane: u32,
    pub channels: u32,
    pub _u: [u32; 5],
    pub mean: [f32; 4],
    pub inv_std: [f32; 4],
}

impl Dims for NormalizeDims {}

impl NormalizeDims {
    /// `rows` images of `shape` standardised as `s` says (its mean and deviation of
    /// pixels / scale, which is what the gather wrote).
    pub fn new(rows: usize, (c, h, w): crate::data::Shape, s: &crate::data::norm::Standard) -> Self {
        assert!(c <= 4 && s.mean.len() == c && s.std.len() == c, "standardisation of {c} channels");
        let (mut mean, mut inv_std) = ([0.0; 4], [1.0; 4]);
        for i in 0..c {
            mean[i] = s.mean[i];
            inv_std[i] = 1.0 / s.std[i];
        }
        NormalizeDims {
            n: (rows * c * h * w) as u32,
            plane: (h * w) as u32,
            channels: c as u32,
            _u: [0; 5],
            mean,
            inv_std,
        }
    }
}

// shaders/relu.wgsl

/// Mirrors `struct Relu`: an element count.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ElemDims {
    pub n: u32,
    pub _u: [u32; 7],
    pub _f: [f32; 8],
}

impl Dims for ElemDims {}

impl ElemDims {
    pub fn new(n: usize) -> Self {
        ElemDims { n: n as u32, _u: [0; 7], _f: [0.0; 8] }
    }
}

// shaders/softmax_xent.wgsl

/// Mirrors `struct Xent`: n rows of c classes; the loss mean is over `denom` rows.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct XentDims {
    pub n: u32,
    pub c: u32,
    pub denom: u32,
    pub _u: [u32; 5],
    /// Label smoothing s: the target is (1 - s)·onehot + s/C
    pub smoothing: f32,
    pub _f: [f32; 7],
}

impl Dims for XentDims {}

impl XentDims {
    pub fn new(n: usize, c: usize) -> Self {
        XentDims { n: n as u32, c: c as u32, denom: n as u32, _u: [0; 5], smoothing: 0.0, _f: [0.0; 7] }
    }
    pub fn smoothed(self, smoothing: f32) -> Self {
        XentDims { smoothing, ..self }
    }
}

// shaders/dropout.wgsl

/// Mirrors `struct Dropout`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct DropoutDims {
    pub n: u32,
    pub seed: u32,
    pub step: u32,
    /// Distinguishes the dropout layers of one network.
    pub salt: u32,
    /// Element kept iff hash >= threshold = ceil(p · 2^32).
    pub threshold: u32,
    pub _u: [u32; 3],
    /// 1 / (1 - p).
    pub scale: f32,
    pub _f: [f32; 7],
}

impl Dims for DropoutDims {}

impl DropoutDims {
    /// p in [0, 1): the probability of dropping a unit.
    pub fn new(n: usize, p: f32, seed: u32, step: u32, salt: u32) -> Self {
        let threshold = ((p as f64) * 4294967296.0).ceil().min(u32::MAX as f64) as u32;
        DropoutDims {
            n: n as u32,
            seed,
            step,
            salt,
            threshold,
            _u: [0; 3],
            scale: (1.0 / (1.0 - p as f64)) as f32,
            _f: [0.0; 7],
        }
    }
}

// shaders/optim.wgsl

/// Mirrors `struct Adam`. c1 = 1/(1-β1^t), c2 = 1/(1-β2^t) for step t (from 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct AdamDims {
    pub n: u32,
    /// 1: AdamW, the decay applied to the weights (lr·decay) rather than added to the gradient
    pub decoupled: u32,
    pub _u: [u32; 6],
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub c1: f32,
    pub c2: f32,
    pub _f: f32,
}

impl Dims for AdamDims {}

impl AdamDims {
    pub fn new(n: usize, lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32, t: u64) -> Self {
        let t = t.max(1) as i32;
        AdamDims {
            n: n as u32,
            decoupled: 0,
            _u: [0; 6],
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            c1: (1.0 / (1.0 - (beta1 as f64).powi(t))) as f32,
            c2: (1.0 / (1.0 - (beta2 as f64).powi(t))) as f32,
            _f: 0.0,
        }
    }
    /// AdamW: the decay shrinks the weights by lr·decay instead of joining the gradient.
    pub fn decoupled(self, on: bool) -> Self {
        AdamDims { decoupled: on as u32, ..self }
    }
}

/// Mirrors `struct Ema`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct EmaDims {
    pub n: u32,
    pub _u: [u32; 7],
    /// avg ← decay·avg + (1 - decay)·w
    pub decay: f32,
    pub _f: [f32; 7],
}

impl Dims for EmaDims {}

impl EmaDims {
    pub fn new(n: usize, decay: f32) -> Self {
        EmaDims { n: n as u32, _u: [0; 7], decay, _f: [0.0; 7] }
    }
}

/// Mirrors `struct Sgd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SgdDims {
    pub n: u32,
    pub nesterov: u32,
    pub _u: [u32; 6],
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    pub _f: [f32; 5],
}

impl Dims for SgdDims {}

impl SgdDims {
    pub fn new(n: usize, lr: f32, momentum: f32, nesterov: bool, weight_decay: f32) -> Self {
        SgdDims { n: n as u32, nesterov: nesterov as u32, _u: [0; 6], lr, momentum, weight_decay, _f: [0.0; 5] }
    }
}

/// Mirrors `struct Scale`: the dynamic loss scale's kernels (`optim::LossScale`
/// holds the state they move).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ScaleDims {
    /// Values: the loss gradient's (scale_loss), the gradients' (grads_finite).
    pub n: u32,
    /// Finite steps in a row after which the scale doubles (scale_update).
    pub interval: u32,
    /// The scale's exponent stays within min_exp..=max_exp (scale_update).
    pub min_exp: i32,
    pub max_exp: i32,
    pub _u: [u32; 4],
    pub _f: [f32; 8],
}

impl Dims for ScaleDims {}

impl ScaleDims {
    /// Over `n` values (scale_loss, grads_finite).
    pub fn over(n: usize) -> Self {
        ScaleDims { n: n as u32, interval: 0, min_exp: 0, max_exp: 0, _u: [0; 4], _f: [0.0; 8] }
    }
    /// The update's rule: double after `interval` finite steps, within 2^min_exp..=2^max_exp.
    pub fn rule(interval: u32, (min_exp, max_exp): (i32, i32)) -> Self {
        ScaleDims { interval, min_exp, max_exp, ..ScaleDims::over(0) }
    }
}

// shaders/data.wgsl

/// Mirrors `struct Gather`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GatherDims {
    pub n: u32,
    pub offset: u32,
    pub pixels: u32,
    pub row_words: u32,
    /// Image width (augmentation: pixels = channels · side · height).
    pub side: u32,
    pub seed: u32,
    pub step: u32,
    /// 1: a random affine map per image.
    pub augment: u32,
    pub inv_scale: f32,
    /// Largest rotation (radians), relative zoom, and shift (pixels).
    pub rotate: f32,
    pub zoom: f32,
    pub shift: f32,
    /// Largest warp displacement (pixels) at each control point; 0: no warp.
    pub elastic: f32,
    /// Image height.
    pub height: u32,
    /// Largest crop offset (pixels) in x and y; 0: no crop.
    pub crop: u32,
    /// 1: half the images mirrored left to right.
    pub flip: u32,
}

impl Dims for GatherDims {}

impl GatherDims {
    pub fn new(n: usize, offset: usize, pixels: usize, scale: f32) -> Self {
        GatherDims {
            n: n as u32,
            offset: offset as u32,
            pixels: pixels as u32,
            row_words: pixels.div_ceil(4) as u32,
            side: 0,
            seed: 0,
            step: 0,
            augment: 0,
            inv_scale: 1.0 / scale,
            rotate: 0.0,
            zoom: 0.0,
            shift: 0.0,
            elastic: 0.0,
            height: 0,
            crop: 0,
            flip: 0,
        }
    }

    /// Random affine maps for images of (h, w) (pixels a whole number of such
    /// planes: every channel moves alike): angles up to `rotate` radians, zoom
    /// factors within 1 ± `zoom`, shifts up to `shift` pixels, drawn per image
    /// from (seed, step, store row).
    pub fn augmented(self, (h, w): (usize, usize), rotate: f32, zoom: f32, shift: f32, seed: u32, step: u32) -> Self {
        assert!(
            h * w > 0 && (self.pixels as usize).is_multiple_of(h * w),
            "augmentation needs whole planes of {h}x{w}"
        );
        GatherDims { side: w as u32, height: h as u32, seed, step, augment: 1, rotate, zoom, shift, ..self }
    }

    /// With `augmented`: each image first cropped at an integer offset within
    /// ±`crop` pixels (zero outside) and, with `flip`, half of them mirrored.
    pub fn cropped(self, crop: u32, flip: bool) -> Self {
        GatherDims { crop, flip: flip as u32, ..self }
    }

    /// With `augmented`: each image's sample points first moved by a smooth random
    /// warp of up to `elastic` pixels (elastic distortion).
    pub fn warped(self, elastic: f32) -> Self {
        GatherDims { elastic, ..self }
    }
}

// shaders/batchnorm.wgsl

/// Mirrors `struct Bn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct BnDims {
    pub n: u32,
    pub c: u32,
    /// Pixels per channel (1 after a dense layer).
    pub hw: u32,
    /// bn_forward: 1 normalises with the batch's stats, 0 with the running ones.
    pub train: u32,
    pub _u: [u32; 4],
    pub eps: f32,
    pub momentum: f32,
    pub _f: [f32; 6],
}

impl Dims for BnDims {}

/// PyTorch's BatchNorm defaults.
pub const BN_EPS: f32 = 1e-5;

pub const BN_MOMENTUM: f32 = 0.1;

impl BnDims {
    pub fn new(n: usize, c: usize, hw: usize, train: bool) -> Self {
        BnDims {
            n: n as u32,
            c: c as u32,
            hw: hw as u32,
            train: train as u32,
            _u: [0; 4],
            eps: BN_EPS,
            momentum: BN_MOMENTUM,
            _f: [0.0; 6],
        }
    }
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.n as usize, self.c as usize, self.hw as usize)
    }
}
