//! The gpunet command line: parse, call the library, print.

use clap::{Parser, Subcommand};
use gpunet::gpu::{context, AdapterChoice, Gpu, GpuEngine};
use gpunet::{selftest, Error, Result};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "gpunet", version, about = "Train CNNs on any Vulkan/Metal/DX12 adapter with hand-written WGSL kernels")]
struct Cli {
    /// Pick the adapter whose name contains this (case-insensitive)
    #[arg(long, global = true, env = "GPUNET_ADAPTER")]
    adapter: Option<String>,
    /// Restrict to one backend: vulkan, metal, dx12 or gl
    #[arg(long, global = true, env = "GPUNET_BACKEND")]
    backend: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List adapters with backend, type, driver and key limits
    Info,
    /// Run every kernel against its CPU twin on random shapes; exit 0 only if all pass
    Selftest {
        /// Seed for the random shapes' contents
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Add larger shapes (slow on CPU adapters)
        #[arg(long)]
        full: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let choice = AdapterChoice { backend: cli.backend, name: cli.adapter };
    match cli.cmd {
        Cmd::Info => info(&choice),
        Cmd::Selftest { seed, full } => {
            let gpu = Gpu::new(&choice)?;
            println!("adapter: {}", gpu.describe());
            let mut engine = GpuEngine::new(gpu.clone());
            let (mut passed, mut failed) = (0, 0);
            for case in selftest::cases(seed, !full) {
                let outcome = selftest::check(&mut engine, &case)?;
                println!("{}  {}", gpu.info.name, outcome.line());
                if outcome.pass() { passed += 1 } else { failed += 1 }
            }
            println!("{passed} passed, {failed} failed");
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

fn info(choice: &AdapterChoice) -> Result<ExitCode> {
    let adapters = context::adapters(choice.backend.as_deref())?;
    if adapters.is_empty() {
        return Err(Error::Gpu("no adapter found".into()));
    }
    for a in adapters {
        let (i, l) = (a.get_info(), a.limits());
        println!("{}", context::describe(&i));
        println!(
            "    max_buffer_size {} MiB, max_storage_buffer_binding_size {} MiB, workgroups/dim {}, invocations/workgroup {}, workgroup storage {} KiB, timestamps {}",
            l.max_buffer_size >> 20,
            l.max_storage_buffer_binding_size >> 20,
            l.max_compute_workgroups_per_dimension,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_storage_size >> 10,
            a.features().contains(wgpu::Features::TIMESTAMP_QUERY)
        );
    }
    Ok(ExitCode::SUCCESS)
}
