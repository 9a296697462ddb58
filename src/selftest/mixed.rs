//! The GEMM cases under mixed precision (`--precision mixed`), against the twin
//! that rounds the same operands to f16 and sums in f32 (`cpu::mixed`): kernel
//! and twin differ only in the order of their sums, so element i may differ by
//! at most 4·K·2⁻²⁴·Σ|aₖbₖ| (K the products it sums), a bound the twins compute
//! from the operands' magnitudes.

use super::{check_against, check_within, reference, run_case, Case, Outcome};
use crate::cpu::mixed::to_f16;
use crate::cpu::CpuEngine;
use crate::engine::Engine;
use crate::error::Result;
use crate::kernels::{ConvDims, Dims, Kernel, MatmulDims};

/// The products each output element of a GEMM kernel sums (None: no GEMM).
fn products(case: &Case) -> Option<usize> {
    let p = &case.op.params;
    let conv = || ConvDims::from_params(p);
    Some(match case.kernel {
        Kernel::Matmul | Kernel::MatmulGrad => MatmulDims::from_params(p).k as usize,
        Kernel::Conv2dForward => (conv().cin * conv().k * conv().k) as usize,
        Kernel::Conv2dBackwardInput => (conv().cout * conv().k * conv().k) as usize,
        Kernel::Conv2dBackwardWeight => (conv().n * conv().ho * conv().wo) as usize,
        _ => return None,
    })
}

/// `case` with the buffers of inputs `inputs` (by position among the inputs)
/// sent through `f`, value by value (guard words, NaN, stay NaN).
fn mapped(case: &Case, inputs: std::ops::Range<usize>, f: impl Fn(f32) -> f32) -> Case {
    let outputs = case.kernel.info().outputs;
    let mut bufs = case.bufs.clone();
    let mut done = Vec::new();
    for i in inputs.filter(|&i| outputs + i < case.op.views.len()) {
        let b = case.op.views[outputs + i].buf;
        if !done.contains(&b) {
            bufs[b].iter_mut().for_each(|w| *w = f(f32::from_bits(*w)).to_bits());
            done.push(b);
        }
    }
    Case {
        kernel: case.kernel,
        shape: case.shape.clone(),
        bufs,
        op: case.op.clone(),
        tol: case.tol,
        exact: case.exact.clone(),
    }
}

/// Each output view's words.
type Outputs = Vec<Vec<u32>>;

/// A GEMM case's outputs under mixed precision, and each element's bound.
fn reference_mixed(case: &Case) -> Result<(Outputs, Vec<Vec<f32>>)> {
    let k = products(case).expect("a GEMM kernel's case");
    let want = run_case(&mut CpuEngine::matching(true), case)?;
    // Σ|aₖbₖ| (and |bias|): the rounded operands and every other f32 input at
    // their magnitudes (argmax, an index, is the fourth input)
    let magnitudes = reference(&mapped(&mapped(case, 0..2, to_f16), 0..3, f32::abs))?;
    let scale = 4.0 * k as f32 * 2f32.powi(-24);
    let bound = magnitudes.iter().map(|o| o.iter().map(|&w| scale * f32::from_bits(w).abs()).collect()).collect();
    Ok((want, bound))
}

/// What a case's outputs are compared with: the fp32 twins' within the case's
/// tolerance, or, for a GEMM on an engine in mixed precision, the mixed twin's
/// within each element's bound.
pub enum Want {
    Plain(Outputs),
    Mixed(Outputs, Vec<Vec<f32>>),
}

impl Want {
    /// The twins' outputs for `case` on an engine in mixed precision (or not).
    pub fn of(case: &Case, mixed: bool) -> Result<Want> {
        Ok(match mixed && crate::cpu::mixed::is_gemm(case.kernel) {
            true => {
                let (want, bound) = reference_mixed(case)?;
                Want::Mixed(want, bound)
            }
            false => Want::Plain(reference(case)?),
        })
    }

    /// Runs `case` on `engine` and compares.
    pub fn check(&self, engine: &mut dyn Engine, case: &Case) -> Result<Outcome> {
        match self {
            Want::Plain(want) => check_against(engine, case, want),
            Want::Mixed(want, bound) => {
                let outcome = check_within(engine, case, want, Some(bound))?;
                Ok(Outcome { shape: format!("{} mixed", case.shape), ..outcome })
            }
        }
    }
}
