//! The kernel cases under mixed precision (`--precision mixed`): the GEMM's two
//! operands rounded to f16 (to nearest even) and their products summed in f32,
//! as the cooperative-matrix core does. The twin is the fp32 twin on operands
//! rounded first, so kernel and twin differ only in the order of their sums:
//! element i may differ by at most 4·K·2⁻²⁴·Σ|aₖbₖ| (K the products it sums),
//! a bound the twin computes from the operands' magnitudes. Everything else a
//! GEMM kernel reads (bias, mask, argmax) and the bias gradient it sums beside
//! dW stay f32, as in the kernel.

use super::{reference, run_guarded, Case, Cmp, Outcome};
use crate::engine::Engine;
use crate::error::Result;
use crate::kernels::{ConvDims, Dims, Kernel, MatmulDims, FLAG_GRAD_BIAS};

/// `x` rounded to the nearest f16 value, ties to even (overflow to ±∞, and
/// f16's subnormals below 2⁻¹⁴), as an f32; NaN and ±∞ unchanged.
pub fn to_f16(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    let a = x.abs();
    // at and past 65520 (halfway from f16's largest, 65504, to the next power) lies ∞
    if a >= 65520.0 {
        return f32::INFINITY.copysign(x);
    }
    // the spacing of f16 values at a: 2^(e - 10) for a in [2^e, 2^(e+1)), e ≥ -14
    let e = ((a.to_bits() >> 23) as i32 - 127).max(-14);
    let step = f32::from_bits(((e - 10 + 127) as u32) << 23);
    ((a / step).round_ties_even() * step).copysign(x)
}

/// Whether the case's kernel is a GEMM (whose operands mixed precision rounds).
pub fn is_gemm(case: &Case) -> bool {
    products(case).is_some()
}

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

/// Where a weight-gradient kernel's output holds the bias gradient it sums in
/// f32 beside dW, as (start, end) (none without FLAG_GRAD_BIAS).
fn bias_slots(case: &Case) -> Vec<(usize, usize)> {
    let p = &case.op.params;
    match case.kernel {
        Kernel::MatmulGrad => {
            let d = MatmulDims::from_params(p);
            let at = d.epi[0] as usize;
            if d.flags & FLAG_GRAD_BIAS == 0 {
                return Vec::new();
            }
            vec![(at, at + d.m as usize)]
        }
        Kernel::Conv2dBackwardWeight => {
            let d = ConvDims::from_params(p);
            if d.flags & FLAG_GRAD_BIAS == 0 {
                return Vec::new();
            }
            let (at, cout) = (d.epi[0] as usize, d.cout as usize);
            (0..d.splits.max(1) as usize).map(|z| (z * (at + cout) + at, z * (at + cout) + at + cout)).collect()
        }
        _ => Vec::new(),
    }
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
pub fn reference_mixed(case: &Case) -> Result<(Outputs, Vec<Vec<f32>>)> {
    let k = products(case).expect("a GEMM kernel's case");
    let rounded = mapped(case, 0..2, to_f16);
    let mut want = reference(&rounded)?;
    let slots = bias_slots(case);
    if !slots.is_empty() {
        // the bias gradient beside dW is summed from the f32 values
        let plain = reference(case)?;
        for (from, to) in slots {
            want[0][from..to].copy_from_slice(&plain[0][from..to]);
        }
    }
    // Σ|aₖbₖ| (and |bias|): every f32 input at its magnitude (argmax, an index, is the fourth)
    let magnitudes = reference(&mapped(&rounded, 0..3, f32::abs))?;
    let scale = 4.0 * k as f32 * 2f32.powi(-24);
    let bound = magnitudes.iter().map(|o| o.iter().map(|&w| scale * f32::from_bits(w).abs()).collect()).collect();
    Ok((want, bound))
}

/// Runs a GEMM case on `engine` (whose GEMMs run on the cooperative-matrix core)
/// and compares each element with the mixed twin's within its bound.
pub fn check_mixed(engine: &mut dyn Engine, case: &Case) -> Result<Outcome> {
    let (want, bound) = reference_mixed(case)?;
    let (got, guard_hit) = run_guarded(engine, case)?;
    let mut total = Cmp { max_abs: 0.0, max_rel: 0.0, first_bad: None };
    let mut bad_output = None;
    for (o, ((g, w), b)) in got.iter().zip(&want).zip(&bound).enumerate() {
        for (i, ((&g, &w), &b)) in g.iter().zip(w).zip(b).enumerate() {
            let (g, w) = (f32::from_bits(g), f32::from_bits(w));
            let d = (g - w).abs();
            total.max_abs = total.max_abs.max(if d.is_nan() { f32::INFINITY } else { d });
            if w != 0.0 {
                total.max_rel = total.max_rel.max(d / w.abs());
            }
            // NaN fails (an unwritten element); equal infinities pass
            if !(d <= b || g == w) && bad_output.is_none() {
                bad_output = Some(o);
                total.first_bad = Some((i, g, w));
            }
        }
    }
    Ok(Outcome {
        what: case.kernel.name().into(),
        shape: format!("{} mixed", case.shape),
        cmp: total,
        bad_output,
        guard_hit,
        detail: None,
    })
}

#[cfg(test)]
mod tests {
    use super::to_f16;

    #[test]
    fn rounding_to_f16_is_to_nearest_even() {
        let ulp1 = 2f32.powi(-10);
        assert_eq!(to_f16(1.0 + ulp1 / 2.0), 1.0, "a tie goes to the even neighbour, down");
        assert_eq!(to_f16(1.0 + 1.5 * ulp1), 1.0 + 2.0 * ulp1, "a tie goes to the even neighbour, up");
        assert_eq!(to_f16(1.0 + 0.51 * ulp1), 1.0 + ulp1);
        assert_eq!(to_f16(-2.9e-8), -0.0, "under half of the smallest subnormal, 2^-24");
        assert_eq!(to_f16(3.0e-8), 2f32.powi(-24), "over half of it");
        assert_eq!(to_f16(4.0e-8), 2f32.powi(-24));
        assert_eq!(to_f16(65504.0), 65504.0);
        assert_eq!(to_f16(65519.0), 65504.0);
        assert_eq!(to_f16(65520.0), f32::INFINITY);
        assert_eq!(to_f16(0.1), 1638.0 / 16384.0);
        assert!(to_f16(f32::NAN).is_nan());
        // every f16 value is its own rounding
        for bits in 0u16..0x7c00 {
            let (e, m) = ((bits >> 10) as i32, (bits & 0x3ff) as f32);
            let v = if e == 0 { m * 2f32.powi(-24) } else { (1.0 + m / 1024.0) * 2f32.powi(e - 15) };
            assert_eq!(to_f16(v), v, "{bits:#x}");
            assert_eq!(to_f16(-v), -v);
        }
    }
}
