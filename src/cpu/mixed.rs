//! The twins under mixed precision (`--precision mixed`): a GEMM kernel's two
//! operands (its first two inputs) rounded to f16, to nearest even, then its
//! fp32 twin, which sums the exact products in f32 as the cooperative-matrix core
//! does. What else the kernel reads (bias, mask, argmax) stays f32, and so does
//! the bias gradient a weight-gradient kernel sums beside dW.

use super::twin;
use crate::kernels::{ConvDims, Dims, Kernel, MatmulDims, Params, FLAG_GRAD_BIAS};

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

/// Whether mixed precision changes kernel `k`: the GEMMs.
pub fn is_gemm(k: Kernel) -> bool {
    matches!(
        k,
        Kernel::Matmul
            | Kernel::MatmulGrad
            | Kernel::Conv2dForward
            | Kernel::Conv2dBackwardInput
            | Kernel::Conv2dBackwardWeight
    )
}

/// Where a weight-gradient kernel's output holds the bias gradient it sums in
/// f32 beside dW, as (start, end) (none without FLAG_GRAD_BIAS).
pub fn bias_slots(k: Kernel, p: &Params) -> Vec<(usize, usize)> {
    match k {
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

/// Runs kernel `k`'s twin under mixed precision on raw buffers (outputs, then
/// inputs, as bound); a kernel other than a GEMM runs as in fp32.
pub fn twin_mixed(k: Kernel, o: &mut [&mut [u32]], i: &[&[u32]], p: &Params) {
    if !is_gemm(k) {
        return twin(k)(o, i, p);
    }
    let round = |v: &[u32]| -> Vec<u32> { v.iter().map(|&w| to_f16(f32::from_bits(w)).to_bits()).collect() };
    let (a, b) = (round(i[0]), round(i[1]));
    let mut inputs = i.to_vec();
    inputs[0] = &a;
    inputs[1] = &b;
    let slots = bias_slots(k, p);
    let plain = (!slots.is_empty()).then(|| {
        let mut out = o[0].to_vec();
        twin(k)(&mut [&mut out], i, p);
        out
    });
    twin(k)(o, &inputs, p);
    if let Some(plain) = plain {
        for (from, to) in slots {
            o[0][from..to].copy_from_slice(&plain[from..to]);
        }
    }
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
