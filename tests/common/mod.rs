//! What several test crates share: running the gpunet binary as a user would.
#![allow(dead_code)] // each test crate uses its part

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

/// `gpunet ARGS` in `dir` on the native engine (GPUNET_DEVICE=cpu), which must
/// succeed; its stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args, &[("GPUNET_DEVICE", "cpu")]);
    assert!(o.status.success(), "gpunet {args:?} failed:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// stdout then stderr.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
