//! Every kernel on seeded random shapes (odd sizes included), run on an engine and
//! on the CPU twins, compared element by element; training steps of whole nets
//! against the reference engine; cnn6's GEMMs at production size. `gpunet
//! selftest` prints these, the tests assert them, and the web export carries them
//! to the browser.
//!
//!   cases       the kernel cases
//!   fused       the fusion pass's kernels
//!   production  the GEMM and reduction launches of a real training step
//!   steps       training steps on an engine vs the reference engine
//!   sweep       which of them run under which adapter class, and the tally

mod cases;
mod fused;
pub mod mixed;
pub mod production;
pub mod steps;
pub mod sweep;

pub use cases::cases;

use crate::cpu::CpuEngine;
use crate::engine::{Engine, PlanId};
use crate::error::Result;
use crate::kernels::op::{BufId, Op, View};
use crate::kernels::Kernel;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tolerance: |gpu - cpu| <= atol + rtol·|cpu|.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub atol: f32,
    pub rtol: f32,
}

/// Sums of up to a few hundred products: f32 rounding differs with summation order.
pub const TOL_SUM: Tol = Tol { atol: 1e-4, rtol: 1e-4 };
/// exp/log/sqrt may differ by a few ulps between the device and libm.
pub const TOL_TRANSCENDENTAL: Tol = Tol { atol: 1e-6, rtol: 1e-5 };
/// Bilinear samples (values up to 1) at points a few roundings apart.
pub const TOL_RESAMPLE: Tol = Tol { atol: 2e-5, rtol: 1e-5 };
/// Same arithmetic in the same order: only contraction into fma may differ.
pub const TOL_EXACTISH: Tol = Tol { atol: 1e-7, rtol: 1e-6 };

/// What output views hold before a kernel runs: a quiet NaN, which fails any
/// comparison, so an element a kernel forgets to write cannot pass.
pub const UNWRITTEN: u32 = 0x7fc0_0000;
/// The words around output views, which no kernel may change.
const GUARD: u32 = 0x7fa5_a5a5;
/// 256 bytes: the strictest storage-binding offset alignment.
pub const GUARD_WORDS: usize = 64;

/// `contents` with `GUARD_WORDS` guard words each side: a view of it starts at
/// offset `GUARD_WORDS`, which every adapter accepts for a binding.
pub fn between_guards(contents: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let mut v = vec![GUARD; GUARD_WORDS];
    v.extend(contents);
    v.extend(std::iter::repeat_n(GUARD, GUARD_WORDS));
    v
}

/// The outcome of one comparison.
#[derive(Clone, Debug)]
pub struct Cmp {
    pub max_abs: f32,
    pub max_rel: f32,
    /// First index outside tolerance: (index, got, want).
    pub first_bad: Option<(usize, f32, f32)>,
}

/// The one comparison function for device vs reference.
pub fn compare(got: &[f32], want: &[f32], tol: Tol) -> Cmp {
    compare_within(got, want, |_, w| tol.atol + tol.rtol * w.abs())
}

/// `compare` with element i's bound `bound(i, want[i])`.
pub fn compare_within(got: &[f32], want: &[f32], bound: impl Fn(usize, f32) -> f32) -> Cmp {
    let mut c = Cmp { max_abs: 0.0, max_rel: 0.0, first_bad: None };
    if got.len() != want.len() {
        c.first_bad = Some((got.len().min(want.len()), f32::NAN, f32::NAN));
        return c;
    }
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        let bad = d.partial_cmp(&bound(i, w)).is_none_or(|o| o.is_gt()); // NaN is bad
        c.max_abs = c.max_abs.max(if d.is_nan() { f32::INFINITY } else { d });
        if w != 0.0 {
            c.max_rel = c.max_rel.max(d / w.abs());
        }
        if bad && c.first_bad.is_none() {
            c.first_bad = Some((i, g, w));
        }
    }
    c
}

/// One kernel launch with its initial buffers; views index `bufs`.
pub struct Case {
    pub kernel: Kernel,
    pub shape: String,
    pub bufs: Vec<Vec<u32>>,
    pub op: Op,
    pub tol: Tol,
    /// Outputs (by position) holding integers, compared exactly.
    pub exact: Vec<usize>,
}

pub struct Outcome {
    /// The kernel's entry point, or "train steps".
    pub what: String,
    pub shape: String,
    pub cmp: Cmp,
    /// The output view that failed, if any.
    pub bad_output: Option<usize>,
    /// A write outside an output view, if any: (output, word index in its buffer).
    pub guard_hit: Option<(usize, usize)>,
    /// What failed, where a first bad element does not say it (training steps).
    pub detail: Option<String>,
}

impl Outcome {
    pub fn pass(&self) -> bool {
        self.bad_output.is_none() && self.guard_hit.is_none()
    }
    /// One line: kernel, shape, errors, verdict (and the first bad element).
    pub fn line(&self) -> String {
        let mut s = format!(
            "{:<24} {:<40} max_abs {:<9.2e} max_rel {:<9.2e} {}",
            self.what,
            self.shape,
            self.cmp.max_abs,
            self.cmp.max_rel,
            if self.pass() { "pass" } else { "FAIL" }
        );
        if let (Some(o), Some((i, g, w))) = (self.bad_output, self.cmp.first_bad) {
            s += &format!("  (output {o}, index {i}: got {g}, want {w})");
        }
        if let Some((o, i)) = self.guard_hit {
            s += &format!("  (output {o}: word {i} of its buffer, outside the view, was overwritten)");
        }
        if let Some(d) = &self.detail {
            s += &format!("  ({d})");
        }
        s
    }
}

/// Uploads a case's buffers to an engine and plans its op; returns the plan and
/// the op's output views (in engine buffer ids).
pub fn load_case(engine: &mut dyn Engine, case: &Case) -> Result<(PlanId, Vec<View>)> {
    let mut ids = Vec::new();
    for (i, b) in case.bufs.iter().enumerate() {
        let id = engine.buffer(b.len(), &format!("case buffer {i}"))?;
        engine.write(id, 0, b)?;
        ids.push(id);
    }
    let mut op = case.op.clone();
    op.views.iter_mut().for_each(|v| v.buf = ids[v.buf]);
    let outputs = op.views[..op.kernel.info().outputs].to_vec();
    Ok((engine.plan(vec![op])?, outputs))
}

/// A changed word outside an output view: (output, index in its buffer).
pub type Guard = (usize, usize);

/// Runs a case's op on an engine and returns its output views' contents.
pub fn run_case(engine: &mut dyn Engine, case: &Case) -> Result<Vec<Vec<u32>>> {
    Ok(run_guarded(engine, case)?.0)
}

/// Runs a case's op and returns its output views' contents, and the first word
/// outside an output view that changed: (output, index in its buffer).
pub fn run_guarded(engine: &mut dyn Engine, case: &Case) -> Result<(Vec<Vec<u32>>, Option<Guard>)> {
    let (plan, outputs) = load_case(engine, case)?;
    engine.run(plan)?;
    let mut contents = Vec::new();
    let mut hit = None;
    for (o, v) in outputs.into_iter().enumerate() {
        let before = &case.bufs[case.op.views[o].buf];
        let after = engine.read(View::whole(v.buf, before.len()))?;
        let outside = (0..before.len()).find(|&i| (i < v.offset || i >= v.offset + v.len) && after[i] != before[i]);
        if hit.is_none() {
            hit = outside.map(|i| (o, i));
        }
        contents.push(after[v.offset..v.offset + v.len].to_vec());
    }
    Ok((contents, hit))
}

/// Runs the case on `engine` and on the CPU twins and compares every output.
/// Outputs made by `Builder::output` start as NaN inside guard words, so an
/// element left unwritten, or a write past the view, fails.
pub fn check(engine: &mut dyn Engine, case: &Case) -> Result<Outcome> {
    let want = reference(case)?;
    check_against(engine, case, &want)
}

/// The case's outputs as the CPU twins compute them.
pub fn reference(case: &Case) -> Result<Vec<Vec<u32>>> {
    run_case(&mut CpuEngine::new(), case)
}

/// Runs the case on `engine` and compares its outputs with `want` (`reference`'s).
pub fn check_against(engine: &mut dyn Engine, case: &Case, want: &[Vec<u32>]) -> Result<Outcome> {
    check_within(engine, case, want, None)
}

/// `check_against`, each float output's element i within `bounds[output][i]`
/// where bounds are given, else within the case's tolerance.
pub fn check_within(
    engine: &mut dyn Engine,
    case: &Case,
    want: &[Vec<u32>],
    bounds: Option<&[Vec<f32>]>,
) -> Result<Outcome> {
    let (got, guard_hit) = run_guarded(engine, case)?;
    let mut total = Cmp { max_abs: 0.0, max_rel: 0.0, first_bad: None };
    let mut bad_output = None;
    for (o, (g, w)) in got.iter().zip(want).enumerate() {
        let cmp = if case.exact.contains(&o) {
            // an integer output still holding the fill pattern was never written
            let as_f =
                |v: &Vec<u32>| v.iter().map(|&x| if x == UNWRITTEN { f32::NAN } else { x as f32 }).collect::<Vec<_>>();
            compare(&as_f(g), &as_f(w), Tol { atol: 0.0, rtol: 0.0 })
        } else {
            let as_f = |v: &Vec<u32>| v.iter().map(|&x| f32::from_bits(x)).collect::<Vec<_>>();
            match bounds {
                Some(b) => compare_within(&as_f(g), &as_f(w), |i, _| b[o][i]),
                None => compare(&as_f(g), &as_f(w), case.tol),
            }
        };
        total.max_abs = total.max_abs.max(cmp.max_abs);
        total.max_rel = total.max_rel.max(cmp.max_rel);
        if cmp.first_bad.is_some() && bad_output.is_none() {
            bad_output = Some(o);
            total.first_bad = cmp.first_bad;
        }
    }
    Ok(Outcome {
        what: case.kernel.name().into(),
        shape: case.shape.clone(),
        cmp: total,
        bad_output,
        guard_hit,
        detail: None,
    })
}

/// Builds cases: buffers with random contents, views over them.
pub(crate) struct Builder {
    rng: StdRng,
    bufs: Vec<Vec<u32>>,
}

impl Builder {
    pub(crate) fn new(seed: u64) -> Self {
        Builder { rng: StdRng::seed_from_u64(seed), bufs: Vec::new() }
    }
    pub(crate) fn floats(&mut self, n: usize, lo: f32, hi: f32) -> View {
        let v: Vec<u32> = (0..n).map(|_| self.rng.random_range(lo..hi).to_bits()).collect();
        self.push(v)
    }
    pub(crate) fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }
    pub(crate) fn randn(&mut self, n: usize) -> View {
        self.floats(n, -1.0, 1.0)
    }
    /// `n` values in [-1, 1) repeating every `period`.
    pub(crate) fn periodic(&mut self, n: usize, period: usize) -> View {
        let one: Vec<u32> = (0..period.min(n)).map(|_| self.rng.random_range(-1.0f32..1.0).to_bits()).collect();
        self.push(one.iter().copied().cycle().take(n).collect())
    }
    /// Sets word `i` of view `v` (a value planted among random ones).
    pub(crate) fn set(&mut self, v: View, i: usize, word: u32) {
        self.bufs[v.buf][v.offset + i] = word;
    }
    pub(crate) fn ints(&mut self, n: usize, below: u32) -> View {
        let v: Vec<u32> = (0..n).map(|_| self.rng.random_range(0..below)).collect();
        self.push(v)
    }
    /// An output view: NaN-filled (`UNWRITTEN`) between `GUARD_WORDS` guard words
    /// each side, at an offset every adapter accepts for a binding.
    pub(crate) fn output(&mut self, n: usize) -> View {
        self.push(vec![UNWRITTEN; n])
    }
    /// An input view between guard words (NaN as floats, huge as indices), so a
    /// kernel reading past its view, where shader bounds checks are off, poisons
    /// its outputs instead of passing on a neighbour's values.
    pub(crate) fn push(&mut self, v: Vec<u32>) -> View {
        let len = v.len().max(1);
        let buf = self.buffer(between_guards(if v.is_empty() { vec![0] } else { v }));
        View { buf, offset: GUARD_WORDS, len }
    }
    fn buffer(&mut self, v: Vec<u32>) -> BufId {
        self.bufs.push(v);
        self.bufs.len() - 1
    }
    pub(crate) fn case(&mut self, shape: String, op: Op, tol: Tol, exact: Vec<usize>) -> Case {
        Case { kernel: op.kernel, shape, bufs: std::mem::take(&mut self.bufs), op, tol, exact }
    }
}
