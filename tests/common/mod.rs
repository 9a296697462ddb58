//! What several test crates share: running the gpunet binary as a user would,
//! and the engines a test body runs on (each body written once, run on all).
#![allow(dead_code)] // each test crate uses its part

use gpunet::cpu::CpuEngine;
use gpunet::engine::Engine;
use gpunet::gpu::{for_tests, GpuEngine};
use gpunet::native::NativeEngine;
use std::path::Path;
use std::process::{Command, Output};

/// `gpunet ARGS` in `dir` with `env` set; its output, whatever its exit.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gpunet"));
    c.args(args).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("gpunet {args:?}: {e}"))
}

/// The dry run of a one-call script for a lent GPU (`scripts/NAME --dry-run`, on
/// this machine's adapter, with the binary under test), which must succeed: its
/// output folder and the files in it, sorted.
pub fn dry_run(script: &str) -> (tempfile::TempDir, Vec<String>) {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(script))
        .arg("--dry-run")
        .env("OUT", out.path())
        .env("GPUNET", env!("CARGO_BIN_EXE_gpunet"))
        .env_remove("GPUNET_ADAPTER")
        .env_remove("GPUNET_ADAPTER_CLASS")
        .env_remove("VK_DRIVER_FILES")
        .output()
        .unwrap();
    assert!(o.status.success(), "{script} --dry-run failed:\n{}", text(&o));
    let mut files: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            assert!(e.file_type().unwrap().is_file(), "{:?} is not a plain file", e.path());
            e.file_name().to_string_lossy().to_string()
        })
        .collect();
    files.sort();
    (out, files)
}

/// `gpunet ARGS` in `dir` on the native engine (GPUNET_DEVICE=cpu), which must
/// succeed; its stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args, &[("GPUNET_DEVICE", "cpu")]);
    assert!(o.status.success(), "gpunet {args:?} failed:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// The engines under test beside the reference: the native engine (2 threads)
/// and, where an adapter exists, the GPU engine on it.
pub fn engines_under_test() -> Vec<Box<dyn Engine>> {
    let mut e: Vec<Box<dyn Engine>> = vec![Box::new(NativeEngine::new(2).unwrap())];
    if let Some(gpu) = for_tests() {
        e.push(Box::new(GpuEngine::new(gpu)));
    }
    e
}

/// Every engine: the reference (the twins), then `engines_under_test`.
pub fn every_engine() -> Vec<Box<dyn Engine>> {
    let mut e: Vec<Box<dyn Engine>> = vec![Box::new(CpuEngine::new())];
    e.extend(engines_under_test());
    e
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// stdout then stderr.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Whether this process runs the run directory's portable fallbacks
/// (`GPUNET_PORTABLE_FS=1`, which `rerun_portable` sets).
pub fn portable() -> bool {
    std::env::var_os("GPUNET_PORTABLE_FS").is_some_and(|v| v == "1")
}

/// Runs every other test of this test binary once more in a child process under
/// `GPUNET_PORTABLE_FS=1`: pointer files for `current` and `best`, no directory
/// fsync, no free-space check, a lock file never removed — what Windows runs,
/// proven on the machines there are. `me` is the calling test's name (skipped
/// in the child). Does nothing in that child itself.
pub fn rerun_portable(me: &str) {
    if portable() {
        return;
    }
    let o = Command::new(std::env::current_exe().unwrap())
        .args(["--skip", me, "--test-threads", "2"])
        .env("GPUNET_PORTABLE_FS", "1")
        .output()
        .unwrap();
    let said = text(&o);
    assert!(o.status.success(), "under GPUNET_PORTABLE_FS=1:\n{said}");
    let passed = said
        .lines()
        .find_map(|l| l.strip_prefix("test result: ok. "))
        .and_then(|r| r.split(' ').next()?.parse::<usize>().ok());
    assert!(passed.is_some_and(|n| n > 0), "no test ran under GPUNET_PORTABLE_FS=1:\n{said}");
    eprintln!("under GPUNET_PORTABLE_FS=1: {} tests passed", passed.unwrap_or(0));
}

/// What a run that saved nothing leaves at `dir`: nothing at all, or under the
/// portable fallback a directory holding only its lock file (which is never
/// removed where the OS cannot tell whether another process holds it).
pub fn assert_no_run_left(dir: &Path, why: &str) {
    let left: Vec<String> = match std::fs::read_dir(dir) {
        Ok(d) => d.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect(),
        Err(_) => return,
    };
    assert!(portable() && left == ["run.lock"], "{why}: {dir:?} is left, holding {left:?}");
}
