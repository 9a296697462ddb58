//! The native CPU engine against the CPU twins: every kernel on the selftest's
//! shapes (odd sizes, split-K, views at offsets, outputs NaN-filled inside guard
//! words) and the training-step checks, on one thread and on several, so every
//! way of cutting the work runs, with each conv algorithm this CPU has (the
//! direct AVX-512 kernels and GEMMs): the sweep `gpunet selftest --device cpu` runs.

use gpunet::native::{Conv, NativeEngine};
use gpunet::selftest::{self, sweep};

#[test]
fn every_kernel_matches_its_cpu_twin_on_the_native_engine() {
    let mut failures = Vec::new();
    let mut ran = 0;
    let convs = Conv::available();
    println!("conv algorithms on this CPU: {convs:?}");
    for conv in &convs {
        for threads in [1, 3] {
            let mut engine = NativeEngine::with_conv(threads, *conv).unwrap();
            let opts = sweep::Options {
                seed: threads as u64,
                classes: vec![],
                large: true,
                every_variant: false,
                production: false,
            };
            let tally = sweep::on_engine(&mut engine, &opts, &mut |label: &str, o: &selftest::Outcome| {
                println!("{label} {conv:?} {}", o.line());
                if !o.pass() {
                    failures.push(format!("{label} {conv:?} {}", o.line()));
                }
            })
            .unwrap();
            ran += tally.passed + tally.failed;
        }
    }
    assert!(ran >= 2 * convs.len() * gpunet::kernels::Kernel::ALL.len(), "only {ran} cases ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn large_gemms_are_cut_across_threads_correctly() {
    // shapes above the parallel threshold, cut by rows (m large) and by columns (m short)
    let mut engine = NativeEngine::new(3).unwrap();
    let mut ran = 0;
    for case in
        gpunet::bench::kernel_cases(5, &[(300, 257, 129), (9, 2000, 301)], None, &|what| what.starts_with("matmul"))
    {
        if case.kernel != gpunet::kernels::Kernel::Matmul {
            continue;
        }
        let outcome = selftest::check(&mut engine, &case).unwrap();
        println!("{}", outcome.line());
        assert!(outcome.pass(), "{}", outcome.line());
        ran += 1;
    }
    assert_eq!(ran, 2);
}
