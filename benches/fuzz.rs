//! `cargo bench --bench fuzz [-- CASES]`: every user-facing parser under
//! `gpunet::fuzz`, a million mutated inputs each by default: panics, inputs that
//! allocated beyond 16 times their size + 1 MiB, and the time it took.

#[global_allocator]
static ALLOC: gpunet::fuzz::Counting = gpunet::fuzz::Counting;

fn main() {
    let cases: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    println!(
        "{:<28} {:>10} {:>9} {:>8} {:>7} {:>6} {:>11} {:>15}",
        "parser", "cases", "accepted", "seconds", "panics", "over", "peak alloc", "alloc/input"
    );
    let mut bad = false;
    for (i, t) in gpunet::fuzz::targets().iter().enumerate() {
        let f = gpunet::fuzz::run(t, cases, 1000 + i as u64);
        println!(
            "{:<28} {:>10} {:>9} {:>8.1} {:>7} {:>6} {:>9} KiB {:>14.2}x",
            t.name,
            f.cases,
            f.accepted,
            f.seconds,
            f.panics.len(),
            f.over.len(),
            f.peak >> 10,
            f.worst_ratio
        );
        for p in f.panics.iter().chain(&f.over) {
            println!("    {p}");
            bad = true;
        }
    }
    std::process::exit(bad as i32);
}
