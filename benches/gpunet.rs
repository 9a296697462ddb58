//! `cargo bench`: the same harness as `gpunet bench` (quick sizes unless
//! GPUNET_BENCH_FULL=1), on the adapter GPUNET_ADAPTER / GPUNET_BACKEND pick.

use gpunet::engine::Engine;
use gpunet::gpu::{AdapterChoice, Gpu, GpuEngine};

fn main() {
    let quick = std::env::var("GPUNET_BENCH_FULL").map_or(true, |v| v != "1");
    let gpu = match Gpu::new(&AdapterChoice::from_env()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("no adapter to benchmark: {e}");
            std::process::exit(1);
        }
    };
    let mut engine = GpuEngine::new(gpu);
    println!("adapter: {}", engine.name());
    println!("{}", gpunet::bench::HEADER);
    if let Err(e) = gpunet::bench::run(&mut engine, quick, |r| println!("{}", r.row())) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}
