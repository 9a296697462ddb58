//! A short run of the fuzz harness (`cargo bench --bench fuzz` runs a million
//! cases a parser): every parser of user input, fed mutated inputs, returns
//! without a panic and allocates at most 16 times its input + 1 MiB.

#[global_allocator]
static ALLOC: gpunet::fuzz::Counting = gpunet::fuzz::Counting;

#[test]
fn every_parser_survives_mutated_inputs() {
    let mut report = Vec::new();
    for (i, t) in gpunet::fuzz::targets().iter().enumerate() {
        assert!(!t.seeds.is_empty(), "{} has no seed inputs", t.name);
        // the unmutated seeds parse: the harness starts from valid inputs
        for s in &t.seeds {
            assert!((t.parse)(s), "{}: a seed input does not parse", t.name);
        }
        let f = gpunet::fuzz::run(t, 20_000, 7 + i as u64);
        println!(
            "{}: {} cases, {} accepted, {:.1} s, peak {} KiB",
            t.name,
            f.cases,
            f.accepted,
            f.seconds,
            f.peak >> 10
        );
        report.extend(f.panics.iter().chain(&f.over).map(|p| format!("{}: {p}", t.name)));
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}
