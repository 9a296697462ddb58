//! `cargo bench`: the same harness as `gpunet bench` (quick sizes unless
//! GPUNET_BENCH_FULL=1): the GPU engine on the adapter GPUNET_ADAPTER /
//! GPUNET_BACKEND pick (skipped where there is none) beside the native CPU engine
//! on GPUNET_THREADS threads (default: one per core).

use gpunet::engine::Engine;
use gpunet::gpu::{AdapterChoice, Gpu, GpuEngine};
use gpunet::native::NativeEngine;

fn main() {
    let quick = std::env::var("GPUNET_BENCH_FULL").map_or(true, |v| v != "1");
    let threads = std::env::var("GPUNET_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(0);
    let mut gpu = match AdapterChoice::from_env().and_then(|choice| Gpu::new(&choice)) {
        Ok(g) => Some(GpuEngine::new(g)),
        Err(e) => {
            eprintln!("no GPU column: {e}");
            None
        }
    };
    let mut cpu = NativeEngine::new(threads).expect("native engine");
    println!("gpu column: {}", gpu.as_ref().map_or("-".into(), |e| e.name()));
    println!("cpu column: {}", cpu.name());
    println!("{}", gpunet::bench::HEADER);
    let gpu_engine = gpu.as_mut().map(|e| e as &mut dyn Engine);
    if let Err(e) = gpunet::bench::run(gpu_engine, Some(&mut cpu), quick, None, |r| println!("{}", r.row())) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}
