//! Strided single-precision GEMM on the `gemm` crate (AVX-512/AVX2/NEON kernels
//! chosen at run time). Matrices are slices read through (row, column) strides,
//! as `MatmulDims` describes them; every access range is checked before the
//! unchecked call.

use rayon::prelude::*;

/// A matrix read (or written) through strides: element (i, j) is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Strides {
    pub rs: usize,
    pub cs: usize,
}

impl Strides {
    /// Row-major with `cols` columns.
    pub fn rows(cols: usize) -> Strides {
        Strides { rs: cols, cs: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns (column-major).
    pub fn cols(cols: usize) -> Strides {
        Strides { rs: 1, cs: cols }
    }
    /// Words an (r, c) matrix spans.
    fn span(self, r: usize, c: usize) -> usize {
        if r == 0 || c == 0 {
            0
        } else {
            (r - 1) * self.rs + (c - 1) * self.cs + 1
        }
    }
}

/// C (m, n) = A (m, k) · B (k, n), or C += A · B with `accumulate`, on this thread.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    cs: Strides,
    a: &[f32],
    as_: Strides,
    b: &[f32],
    bs: Strides,
    accumulate: bool,
) {
    assert!(cs.span(m, n) <= c.len() && as_.span(m, k) <= a.len() && bs.span(k, n) <= b.len(), "gemm: view too short");
    // SAFETY: the spans checked above bound every element the call touches, and
    // `c` is borrowed mutably so nothing else reads it meanwhile.
    unsafe { raw(m, n, k, c.as_mut_ptr(), cs, a.as_ptr(), as_, b.as_ptr(), bs, accumulate) }
}

/// # Safety
/// The (m, n), (m, k) and (k, n) spans from `c`, `a` and `b` must be valid, and
/// no other thread may touch the elements of C this call writes.
#[allow(clippy::too_many_arguments)]
unsafe fn raw(
    m: usize,
    n: usize,
    k: usize,
    c: *mut f32,
    cs: Strides,
    a: *const f32,
    as_: Strides,
    b: *const f32,
    bs: Strides,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            (0..m).for_each(|i| (0..n).for_each(|j| *c.add(i * cs.rs + j * cs.cs) = 0.0));
        }
        return;
    }
    let i = |x: usize| x as isize;
    gemm::gemm(
        m,
        n,
        k,
        c,
        i(cs.cs),
        i(cs.rs),
        accumulate,
        a,
        i(as_.cs),
        i(as_.rs),
        b,
        i(bs.cs),
        i(bs.rs),
        if accumulate { 1.0 } else { 0.0 },
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    )
}

/// Row-major C (m, n) = A · B on every thread of the current pool: C is cut into
/// row (or, when m is short, column) blocks, one single-threaded GEMM each, which
/// scales better on few cores than the crate's own threading (measured).
#[allow(clippy::too_many_arguments)]
pub fn gemm_parallel(m: usize, n: usize, k: usize, c: &mut [f32], a: &[f32], as_: Strides, b: &[f32], bs: Strides) {
    let threads = rayon::current_num_threads();
    let c = &mut c[..m * n];
    if threads == 1 || ((m * n * k) as f64) < 4e6 {
        return gemm(m, n, k, c, Strides::rows(n), a, as_, b, bs, false);
    }
    if m >= n || m >= 16 * threads {
        let rows = m.div_ceil(threads).next_multiple_of(8).min(m);
        c.par_chunks_mut(rows * n).enumerate().for_each(|(t, block)| {
            let (r0, r) = (t * rows, block.len() / n);
            gemm(r, n, k, block, Strides::rows(n), &a[r0 * as_.rs..], as_, b, bs, false);
        });
    } else {
        assert!(as_.span(m, k) <= a.len() && bs.span(k, n) <= b.len(), "gemm: view too short");
        let cols = n.div_ceil(threads).next_multiple_of(16).min(n);
        let (cp, ap, bp) = (SendPtr(c.as_mut_ptr()), SendPtr(a.as_ptr() as *mut f32), SendPtr(b.as_ptr() as *mut f32));
        (0..n.div_ceil(cols)).into_par_iter().for_each(|t| {
            let (c0, w) = (t * cols, cols.min(n - t * cols));
            // SAFETY: spans checked above; the column blocks [c0, c0 + w) of C are
            // disjoint across tasks
            unsafe {
                raw(m, w, k, cp.get().add(c0), Strides::rows(n), ap.get(), as_, bp.get().add(c0 * bs.cs), bs, false)
            }
        });
    }
}

/// A raw pointer that may cross threads: its users touch disjoint elements.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}
