//! Every kernel, forward and backward, against its CPU twin on the test adapter
//! (lavapipe in CI), on seeded random shapes including odd sizes.

use gpunet::gpu::{for_tests, GpuEngine};
use gpunet::kernels::Kernel;
use gpunet::selftest;

#[test]
fn cases_cover_every_kernel() {
    let cases = selftest::cases(1, true);
    for k in Kernel::ALL {
        assert!(
            cases.iter().any(|c| c.kernel == k),
            "no selftest case for {}",
            k.name()
        );
    }
}

#[test]
fn every_kernel_matches_its_cpu_twin() {
    let Some(gpu) = for_tests() else { return };
    let mut engine = GpuEngine::new(gpu.clone());
    let mut failures = Vec::new();
    for seed in [1, 2] {
        for case in selftest::cases(seed, true) {
            let outcome = selftest::check(&mut engine, &case).unwrap();
            println!("{}", outcome.line());
            if !outcome.pass() {
                failures.push(outcome.line());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "on {}:\n{}",
        gpu.describe(),
        failures.join("\n")
    );
}
