//! The page's host logic (web/host.js) under plain node against its Rust twins,
//! over thousands of inputs, bit for bit: the counter hash `cpu::pcg`, the epoch
//! order `train::epoch_order`, the rate schedules `Schedule::lr`, Adam's bias
//! corrections (`AdamDims::new`), the weights' average's decay
//! (`optim::ema_decay`) and MNIST's preparation of a drawing
//! (`data::picture::to_mnist`). No browser: a drift shows here in a second, not only
//! in the Chromium tests. Needs `node` on PATH (CI installs it); without it the
//! test fails where GPUNET_REQUIRE_BROWSER=1, else it says why and skips.
use gpunet::cpu::pcg;
use gpunet::kernels::AdamDims;
use gpunet::schedule::Schedule;
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
         const host = new Function(fs.readFileSync({host:?}, 'utf8') + '; return {{ pcg, epochOrder, parseSchedule, scheduleLr, adamCorrections, emaDecay, toMnist }};')();\n\
         const cases = JSON.parse(fs.readFileSync(0, 'utf8'));\n\
         const out = {{\n\
           pcg: (cases.pcg || []).map((v) => host.pcg(v)),\n\
           orders: (cases.orders || []).map(([n, seed, epoch]) => Array.from(host.epochOrder(n, seed, epoch))),\n\
           rates: (cases.rates || []).map(([text, base, step, per, epochs]) =>\n\
             host.scheduleLr(host.parseSchedule(text), base, step, per, epochs)),\n\
           adam: (cases.adam || []).map(([b1, b2, t]) => host.adamCorrections(b1, b2, t)),\n\
           ema: (cases.ema || []).map(([decay, step]) => host.emaDecay(decay, step)),\n\
           digits: (cases.drawings || []).map(([ink, w, h]) => {{ const d = host.toMnist(ink, w, h); return d && Array.from(d); }}),\n\
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
fn the_hash_and_the_epoch_order_match() {
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

#[test]
fn the_schedules_and_the_optimizers_corrections_match() {
    // rates: every schedule, rates, run lengths, and steps through each run and past its end
    let mut rates: Vec<(String, f32, u64, u64, u64)> = Vec::new();
    for text in ["const", "exp:0.95", "exp:0.5", "exp:1", "cosine", "onecycle"] {
        for base in [1e-3f32, 0.01, 0.005, 3e-4, 0.1] {
            for (per, epochs) in [(1, 1), (7, 3), (96, 10), (188, 45), (235, 1), (3, 2)] {
                let total = per * epochs;
                let steps = (0..total + 3).step_by((total / 40).max(1) as usize);
                rates.extend(steps.map(|step| (text.to_string(), base, step, per, epochs)));
            }
        }
    }
    // Adam's corrections: the betas the CLI offers, from step 1 through long runs
    let mut adam: Vec<(f32, f32, u64)> = Vec::new();
    for (b1, b2) in [(0.9f32, 0.999f32), (0.7, 0.9), (0.95, 0.98), (0.5, 0.5)] {
        adam.extend((1..400).chain((400..200_000).step_by(997)).map(|t| (b1, b2, t)));
    }
    // the average's decay: --ema's usual values and odd ones, through its warm-up and long after
    let mut ema: Vec<(f32, u64)> = Vec::new();
    for decay in [0.9f32, 0.99, 0.999, 0.9999, 0.5, 0.123_456_7] {
        ema.extend((0..3000).chain((3000..10_000_000).step_by(99_991)).map(|step| (decay, step)));
    }
    let Some(out) = node(&json!({ "rates": rates, "adam": adam, "ema": ema })) else { return };
    let got: Vec<f64> = serde_json::from_value(out["rates"].clone()).unwrap();
    assert_eq!(got.len(), rates.len());
    for ((text, base, step, per, epochs), js) in rates.iter().zip(&got) {
        let rust = Schedule::parse(text).unwrap().lr(*base, *step, *per, *epochs);
        assert_eq!(
            rust.to_bits(),
            (*js as f32).to_bits(),
            "{text} from {base}, step {step} of {epochs} x {per}: rust {rust:e}, js {js:e}"
        );
    }

    let got: Vec<[f64; 2]> = serde_json::from_value(out["adam"].clone()).unwrap();
    assert_eq!(got.len(), adam.len());
    for (&(b1, b2, t), js) in adam.iter().zip(&got) {
        let d = AdamDims::new(1, 1e-3, b1, b2, 1e-7, 0.0, t);
        let rust = [d.c1.to_bits(), d.c2.to_bits()];
        assert_eq!(
            rust,
            [(js[0] as f32).to_bits(), (js[1] as f32).to_bits()],
            "betas {b1}, {b2} at step {t}: rust {}, {}; js {js:?}",
            d.c1,
            d.c2
        );
    }

    let got: Vec<f64> = serde_json::from_value(out["ema"].clone()).unwrap();
    assert_eq!(got.len(), ema.len());
    for (&(decay, step), js) in ema.iter().zip(&got) {
        let rust = gpunet::optim::ema_decay(decay, step);
        assert_eq!(rust.to_bits(), (*js as f32).to_bits(), "decay {decay} at step {step}: rust {rust}, js {js}");
    }
}

#[test]
fn drawings_are_prepared_alike() {
    let drawings = drawings();
    let Some(out) = node(&json!({ "drawings": drawings })) else { return };
    let got: Vec<Option<Vec<u8>>> = serde_json::from_value(out["digits"].clone()).unwrap();
    assert_eq!(got.len(), drawings.len());
    for ((ink, w, h), js) in drawings.iter().zip(&got) {
        let rust = gpunet::data::picture::to_mnist(ink, *w, *h);
        assert!(
            &rust == js,
            "the {w}x{h} drawing of {} inked values prepares differently",
            ink.iter().filter(|&&v| v > 0.0).count()
        );
    }
}

/// Drawings of many sizes as the pad and pictures give them: strokes of whole
/// and fractional ink, single dots, thin lines at the edges, and blank ones.
fn drawings() -> Vec<(Vec<f32>, usize, usize)> {
    let mut state = 0x2545_f491u32;
    let mut next = move || {
        state = pcg(state);
        state
    };
    let mut out = Vec::new();
    for (k, &(w, h)) in [(28, 28), (280, 280), (100, 60), (7, 300), (1, 1), (300, 5), (64, 64), (33, 91)]
        .iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        let mut ink = vec![0f32; w * h];
        match k % 5 {
            0 => {} // blank: no digit
            1 => ink[(next() as usize) % (w * h)] = 255.0,
            2 => ink.iter_mut().step_by(w.max(2) - 1).for_each(|v| *v = (next() % 256) as f32),
            _ => {
                // a few random strokes, anti-aliased edges in quarter steps
                for _ in 0..(3 + next() % 5) {
                    let (mut x, mut y) = ((next() as usize) % w, (next() as usize) % h);
                    for _ in 0..(next() % 200) {
                        ink[y * w + x] = if k % 2 == 0 { 255.0 } else { (next() % 1021) as f32 / 4.0 };
                        x = (x + (next() % 3) as usize + w - 1) % w;
                        y = (y + (next() % 3) as usize + h - 1) % h;
                    }
                }
            }
        }
        out.push((ink, w, h));
    }
    out
}
