//! `export-web --selftest`: one page that runs every kernel case of `gpunet
//! selftest` on the browser's WebGPU adapter, so a second WGSL compiler (Tint in
//! Chromium, or whatever the browser has) and a second runtime check the very
//! kernels the CLI runs, on any GPU a visitor has. The page carries each case's
//! buffers (inputs between NaN guard words, outputs NaN-filled: `selftest::Builder`'s)
//! and the twins' outputs, deflated into one blob, and the shader variants each
//! adapter class runs; its runtime (web/selftest.js) replays each case's launch
//! under every class's kernel choices the adapter supports and compares as the
//! CLI does (`selftest::check_against`).

use super::Blob;
use crate::error::Result;
use crate::kernels::shaders::Gemm;
use crate::selftest::{self, Case};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const PAGE: &str = include_str!("../../web/selftest.html");
const UI: &str = include_str!("../../web/selftest.js");

/// A class's kernel choices as the page runs them: a GEMM core (Auto resolved per
/// launch by rows: a page does not know its device's size) and whether workgroup sums use subgroups; `when` says on which adapters.
struct Config {
    label: &'static str,
    gemm: Gemm,
    subgroups: bool,
    /// "always", "subgroups" (the adapter offers them) or "no-subgroups".
    when: &'static str,
}

/// The cpu class everywhere; the GPU classes (integrated and discrete choose the
/// same kernels) with subgroup sums where the adapter offers subgroups, else the tree.
const CONFIGS: [Config; 3] = [
    Config { label: "cpu: register gemm, tree sums", gemm: Gemm::Register, subgroups: false, when: "always" },
    Config {
        label: "integrated and discrete: auto gemm, subgroup sums",
        gemm: Gemm::Auto,
        subgroups: true,
        when: "subgroups",
    },
    Config {
        label: "integrated and discrete: auto gemm, tree sums (no subgroups offered)",
        gemm: Gemm::Auto,
        subgroups: false,
        when: "no-subgroups",
    },
];

/// The whole page for the selftest's cases of `seed`.
pub fn page(seed: u64) -> Result<String> {
    let cases = selftest::cases(seed, true);
    let mut blob = Blob::default();
    let mut shaders = BTreeMap::new();
    let mut out = Vec::new();
    for case in &cases {
        let want = selftest::reference(case)?;
        let bufs: Vec<[usize; 2]> = case.bufs.iter().map(|b| blob.put(b)).collect();
        let wants: Vec<[usize; 2]> = want.iter().map(|w| blob.put(w)).collect();
        out.push(case_json(case, bufs, wants, &mut shaders));
    }
    let configs: Vec<Value> =
        CONFIGS.iter().map(|c| json!({ "label": c.label, "subgroups": c.subgroups, "when": c.when })).collect();
    let doc = json!({
        "generator": format!("gpunet {}", env!("CARGO_PKG_VERSION")),
        "seed": seed,
        "configs": configs,
        "shaders": shaders,
        "cases": out,
        "words": blob.words.len(),
        "blob": blob.deflated()?,
    });
    Ok(super::assemble(PAGE, UI, &format!("{} kernel cases", cases.len()), &doc))
}

/// A case as the page runs it: its op (as the other pages' ops: entry, `reduce`,
/// parameters, views), where its buffers and the twins' outputs lie in the blob,
/// and per configuration its module (file|core; the page adds the kind of sums,
/// `moduleOf`) and workgroups.
fn case_json(
    case: &Case,
    bufs: Vec<[usize; 2]>,
    want: Vec<[usize; 2]>,
    shaders: &mut BTreeMap<String, String>,
) -> Value {
    let info = case.kernel.info();
    let runs: Vec<Value> = CONFIGS
        .iter()
        .map(|c| {
            let (groups, core) = case.op.launch(c.gemm, None);
            super::add_module(shaders, info.shader, core, c.subgroups);
            json!({ "module": super::module_name(info.shader, core), "groups": groups })
        })
        .collect();
    let views: Vec<[usize; 3]> = case.op.views.iter().map(|v| [v.buf, v.offset, v.len]).collect();
    json!({
        "kernel": info.entry,
        "reduce": info.shader.uses_reduce(),
        "shape": case.shape,
        "params": case.op.params.to_vec(),
        "views": views,
        "outputs": info.outputs,
        "exact": case.exact,
        "tol": [case.tol.atol, case.tol.rtol],
        "bufs": bufs,
        "want": want,
        "runs": runs,
    })
}
