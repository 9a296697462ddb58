//! Every kernel, forward and backward, against its CPU twin on the test adapter
//! (lavapipe in CI), on seeded random shapes including odd sizes.

use gpunet::gpu::{for_tests, GpuEngine};
use gpunet::kernels::shaders::Gemm;
use gpunet::kernels::Kernel;
use gpunet::selftest;

#[test]
fn cases_cover_every_kernel() {
    let cases = selftest::cases(1, true);
    for k in Kernel::ALL {
        assert!(cases.iter().any(|c| c.kernel == k), "no selftest case for {}", k.name());
    }
}

#[test]
fn every_kernel_matches_its_cpu_twin() {
    let Some(gpu) = for_tests() else { return };
    let mut engine = GpuEngine::new(gpu.clone());
    let mut failures = Vec::new();
    let mut ran = 0;
    // every GEMM core (and Auto's per-shape choice), whichever this adapter picks by default
    for (seed, gemm) in std::iter::once(Gemm::Auto).chain(Gemm::ALL).enumerate() {
        let seed = seed as u64 + 1;
        engine.tuning.gemm = gemm;
        for case in selftest::cases(seed, true) {
            // every case under the adapter's own core, the GEMM cases under the others
            if gemm != gpu.tuning.gemm && !case.kernel.info().shader.uses_gemm() {
                continue;
            }
            let outcome = selftest::check(&mut engine, &case).unwrap();
            println!("[{}] {}", gemm.name(), outcome.line());
            ran += 1;
            if !outcome.pass() {
                failures.push(format!("[{} gemm] {}", gemm.name(), outcome.line()));
            }
        }
    }
    // every kernel under the adapter's core, and at least the GEMM kernels under the other
    assert!(ran > Kernel::ALL.len(), "only {ran} cases ran");
    assert!(failures.is_empty(), "on {}:\n{}", gpu.describe(), failures.join("\n"));
}

/// The kernels that sum over a workgroup, with the shared-memory tree and, where
/// the adapter has subgroups (lavapipe has), with subgroup operations.
#[test]
fn workgroup_sums_match_their_twins_with_and_without_subgroups() {
    let Some(gpu) = for_tests() else { return };
    let mut engine = GpuEngine::new(gpu.clone());
    let mut failures = Vec::new();
    let mut ran = 0;
    for subgroups in [false, true] {
        if subgroups && !gpu.has_subgroups {
            println!("{} offers no subgroups: the tree sums only", gpu.describe());
            continue;
        }
        engine.tuning.subgroups = subgroups;
        for case in selftest::cases(7, true).into_iter().filter(|c| c.kernel.info().shader.uses_reduce()) {
            let outcome = selftest::check(&mut engine, &case).unwrap();
            println!("[subgroups {subgroups}] {}", outcome.line());
            ran += 1;
            if !outcome.pass() {
                failures.push(format!("[subgroups {subgroups}] {}", outcome.line()));
            }
        }
    }
    assert!(ran >= 4, "only {ran} cases ran");
    assert!(failures.is_empty(), "on {}:\n{}", gpu.describe(), failures.join("\n"));
}
