//! Every kernel, forward and backward, against its CPU twin on the test adapter
//! (lavapipe in CI), on seeded random shapes including odd sizes: the sweep
//! `gpunet selftest --full` runs, on the small shapes and without the batch-500
//! launches (tests/adapters.rs runs the CLI's own).

use gpunet::gpu::{for_tests, Class};
use gpunet::kernels::Kernel;
use gpunet::selftest::{self, sweep};

#[test]
fn cases_cover_every_kernel() {
    let cases = selftest::cases(1, true);
    for k in Kernel::ALL {
        assert!(cases.iter().any(|c| c.kernel == k), "no selftest case for {}", k.name());
    }
}

/// Every case under each adapter class's choices (GEMM core, split-K, sums), then
/// the GEMM cases on every core no class picked and the workgroup sums on the
/// kind no class picked (subgroups where the adapter has them, as lavapipe has).
#[test]
fn every_kernel_matches_its_cpu_twin_under_every_core_and_kind_of_sums() {
    let Some(gpu) = for_tests() else { return };
    let opts =
        sweep::Options { seed: 1, classes: Class::ALL.to_vec(), large: false, every_variant: true, production: false };
    let mut failures = Vec::new();
    let mut labels = Vec::new();
    let tally = sweep::on_gpu(&gpu, &opts, &mut |label: &str, o: &selftest::Outcome| {
        println!("{label} {}", o.line());
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
        if !o.pass() {
            failures.push(format!("{label} {}", o.line()));
        }
    })
    .unwrap();
    println!("{}; configurations: {labels:?}", tally.line());
    assert!(failures.is_empty(), "on {}:\n{}", gpu.describe(), failures.join("\n"));
    assert_eq!(tally.failed, 0);
    // each class's kernels, and every core: the class labels plus at least the cores no class picked
    assert!(tally.passed > Class::ALL.len() * Kernel::ALL.len(), "only {} cases ran", tally.passed);
    assert!(labels.len() > Class::ALL.len(), "configurations run: {labels:?}");
}
