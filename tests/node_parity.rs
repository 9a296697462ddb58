//! The page's host logic (web/host.js) under plain node against its Rust twins,
//! over thousands of inputs: the counter hash `cpu::pcg` and the epoch order
//! `train::epoch_order`. No browser: a drift shows here in a second, not only
//! in the Chromium tests. Needs `node` on PATH (CI installs it); without it the
//! test fails where GPUNET_REQUIRE_BROWSER=1, else it says why and skips.
use gpunet::cpu::pcg;
use gpunet::train::epoch_order;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What node computes for `cases` with web/host.js loaded: its stdout as JSON.
fn node(cases: &Value) -> Option<Value> {
    let host = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/host.js");
    let script = format!(
        "const fs = require('fs');\n\
         const host = new Function(fs.readFileSync({host:?}, 'utf8') + '; return {{ pcg, epochOrder }};')();\n\
         const cases = JSON.parse(fs.readFileSync(0, 'utf8'));\n\
         const out = {{\n\
           pcg: cases.pcg.map((v) => host.pcg(v)),\n\
           orders: cases.orders.map(([n, seed, epoch]) => Array.from(host.epochOrder(n, seed, epoch))),\n\
         }};\n\
         process.stdout.write(JSON.stringify(out));\n",
        host = host.display().to_string()
    );
    let child = Command::new("node").arg("-e").arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let required = std::env::var("GPUNET_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
            assert!(!required, "node is needed for the page's parity tests (GPUNET_REQUIRE_BROWSER=1): {e}");
            eprintln!("skipped: no node on PATH ({e})");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(cases.to_string().as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "node failed:\n{}", String::from_utf8_lossy(&o.stderr));
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

#[test]
fn host_js_computes_what_the_rust_computes() {
    // pcg: small numbers, every bit alone, and a spread over all of u32
    let mut inputs: Vec<u32> = (0..2000).collect();
    inputs.extend((0..32).map(|b| 1u32 << b));
    inputs.extend((0..4000u32).map(|i| i.wrapping_mul(2_654_435_761) ^ (i << 7)));
    inputs.push(u32::MAX);
    // epoch orders: sizes from 1 to a full MNIST split, seeds past 2^32 (but
    // within 2^53, what the settings' JSON number carries exactly), many epochs
    let mut orders: Vec<(usize, u64, usize)> = vec![(1, 0, 0), (2, 42, 0), (3, 42, 1), (48_000, 42, 0), (60_000, 7, 9)];
    for e in 0..40 {
        orders.push((100 + 37 * e, 42 + e as u64 * 1_000_003, e));
    }
    orders.push((1000, (1u64 << 40) + 5, 3));
    orders.push((999, (1u64 << 53) - 1, 123));
    let Some(out) = node(&json!({ "pcg": inputs, "orders": orders })) else { return };

    let got: Vec<u32> = serde_json::from_value(out["pcg"].clone()).unwrap();
    let want: Vec<u32> = inputs.iter().map(|&v| pcg(v)).collect();
    let wrong: Vec<_> = inputs.iter().zip(want.iter().zip(&got)).filter(|(_, (w, g))| w != g).take(5).collect();
    assert!(wrong.is_empty() && got.len() == want.len(), "pcg differs (input, (rust, js)): {wrong:?}");

    let got: Vec<Vec<u32>> = serde_json::from_value(out["orders"].clone()).unwrap();
    assert_eq!(got.len(), orders.len());
    for (&(n, seed, epoch), js) in orders.iter().zip(&got) {
        let rust = epoch_order(n, seed, epoch);
        let first = rust.iter().zip(js).position(|(a, b)| a != b);
        assert!(
            rust.len() == js.len() && first.is_none(),
            "epoch order of n {n}, seed {seed}, epoch {epoch} differs from row {first:?}"
        );
    }
}
