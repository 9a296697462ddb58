//! `export-web --train`: one page that trains a network in the browser, on the
//! visitor's GPU, with the very kernels and plans the CLI runs. A net is built on
//! a `Recorder` over the run's image store (training, validation and test rows,
//! as `gpunet train` lays them out, plus one blank row for drawings), once per
//! kind of adapter the page may meet: the cpu class's plans (register core, no
//! split-K) for software adapters, the integrated class's (auto core, split-K to
//! 256 workgroups) for GPUs. The page (web/train.js) replays those plans; what a
//! run changes between launches, it patches exactly as `Net::launch_info` says:
//! the gather's first row and step, the dropout layers' step, the optimizer's rate
//! and bias corrections, the weights' average's decay (`--ema`). The epoch order
//! (`train::epoch_order`), the rate schedules (`Schedule::lr`), the bias
//! corrections and the average's decay it computes the CLI's way, in web/host.js
//! (tests/node_parity.rs holds them to the Rust).

use super::Blob;
use crate::engine::Recorder;
use crate::error::{Error, Result};
use crate::gpu::Class;
use crate::kernels::shaders::Gemm;
use crate::kernels::{AdamDims, DropoutDims, EmaDims, GatherDims, SgdDims};
use crate::model::checkpoint;
use crate::model::launch::LaunchInfo;
use crate::model::{Acc, Mode, Net, NetConfig, Spec};
use crate::optim::Kind;
use crate::settings::Settings;
use crate::train::{self, Data};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::mem::offset_of;

/// WebGPU's default maxStorageBufferBindingSize: every browser grants this much.
const STORE_LIMIT: usize = 128 << 20;

const PAGE: &str = include_str!("../../web/train.html");
const UI: &str = include_str!("../../web/train.js");

/// The page for a run of `settings` over `epochs` epochs (the page lets the
/// visitor change both); `test_rows` keeps only that many of the test set.
pub fn page(settings: &Settings, epochs: usize, test_rows: Option<usize>) -> Result<String> {
    settings.validate()?;
    crate::settings::check_epochs(epochs)?;
    let mut data = train::load_data(settings)?;
    let spec = data.spec(&settings.arch)?;
    // the drawing card reads MNIST's digits; other data trains without it
    let digits = super::draws_digits(&spec);
    let what = if settings.train.is_none() {
        "MNIST".to_string()
    } else {
        format!("{} in {} classes", crate::data::shape_text(spec.input), spec.classes())
    };
    if let Some(n) = test_rows {
        data.test = data.test.map(|t| t.truncate(n));
    }
    // the store is one storage binding: past WebGPU's default limit a browser may refuse it
    let rows = data.train.len() + data.val.len() + data.test.as_ref().map_or(0, |t| t.len()) + 1;
    let bytes = rows * spec.input_size().div_ceil(4) * 4;
    if bytes > STORE_LIMIT {
        return Err(Error::usage(format!(
            "the page's images would take {:.0} MiB, past the {} MiB a WebGPU storage binding is sure to hold; bundle fewer with --limit N and --test-limit N",
            bytes as f64 / (1 << 20) as f64,
            STORE_LIMIT >> 20
        )));
    }
    let mut blob = Blob::default();
    let mut shaders = BTreeMap::new();
    let mut programs = serde_json::Map::new();
    let mut layout = None;
    for class in [Class::Cpu, Class::Integrated] {
        let (program, net_layout) = program(settings, &spec, &data, class, &mut blob, &mut shaders)?;
        programs.insert(if class == Class::Cpu { "cpu" } else { "gpu" }.into(), program);
        layout.get_or_insert(net_layout);
    }
    let (ckpt, floats, counts, sums, header) = layout.expect("two programs");
    let optim = match settings.optim()?.kind {
        Kind::Adam { .. } => json!({
            "kind": "adam",
            "lr": offset_of!(AdamDims, lr) / 4, "beta1": offset_of!(AdamDims, beta1) / 4,
            "beta2": offset_of!(AdamDims, beta2) / 4, "c1": offset_of!(AdamDims, c1) / 4, "c2": offset_of!(AdamDims, c2) / 4,
        }),
        Kind::Sgd { .. } => json!({ "kind": "sgd", "lr": offset_of!(SgdDims, lr) / 4 }),
    };
    let (n_train, n_val) = (data.train.len(), data.val.len());
    let n_test = data.test.as_ref().map_or(0, |t| t.len());
    let doc = json!({
        "generator": format!("gpunet {}", env!("CARGO_PKG_VERSION")),
        "arch": settings.arch,
        "spec": spec.text(),
        "parameters": spec.param_count(),
        // the run's settings as checkpoints hold them (Settings' own JSON)
        "settings": settings.json(),
        // what the page runs: the batch its plans were recorded at, the epochs
        "run": { "batch": settings.batch.min(n_train.max(n_val).max(1)), "epochs": epochs },
        "rows": { "train": n_train, "val": n_val, "test": n_test, "draw": n_train + n_val + n_test },
        "pixels": spec.input_size(),
        "classes": spec.classes(),
        "digits": digits,
        "data": what,
        // the words a run patches in each kind of parameter block
        "patch": {
            "gather_first": offset_of!(GatherDims, offset) / 4,
            "gather_step": offset_of!(GatherDims, step) / 4,
            "dropout_step": offset_of!(DropoutDims, step) / 4,
            "optim": optim,
            "ema_decay": offset_of!(EmaDims, decay) / 4,
        },
        "programs": programs,
        "shaders": shaders,
        "checkpoint": { "template": ckpt, "floats": floats, "steps": counts, "sums": sums, "header": header },
        "words": blob.words.len(),
        "blob": blob.deflated()?,
    });
    let title = format!("train {}", settings.arch);
    Ok(super::assemble(PAGE, UI, &title, &doc))
}

/// The plans and buffers one kind of adapter runs, and (the same for both) where
/// the checkpoint template lies and which words fill it.
type Program =
    (Value, ([usize; 2], Vec<(usize, usize, usize)>, Vec<usize>, Vec<(usize, usize, usize)>, (usize, usize)));

fn program(
    s: &Settings,
    spec: &Spec,
    data: &Data,
    class: Class,
    blob: &mut Blob,
    shaders: &mut BTreeMap<String, String>,
) -> Result<Program> {
    let tuning = class.tuning(true, None);
    let mut rec = Recorder::for_tuning(&tuning);
    let (n_train, n_val) = (data.train.len(), data.val.len());
    let n_test = data.test.as_ref().map_or(0, |t| t.len());
    let store = data.store(1);
    let cfg = NetConfig {
        batch: s.batch.min(n_train.max(n_val).max(1)),
        norm: s.norm(&data.train)?,
        optim: Some(s.optim()?),
        seed: s.seed as u32,
    };
    let b = cfg.batch;
    let mut net = Net::new(&mut rec, spec.clone(), &store, cfg)?;
    drop(store);
    net.set_augment(s.augment);
    net.set_label_smoothing(s.label_smoothing);
    let init = net.init_params(s.seed);
    net.write_params(&mut rec, &init)?;
    if let Some(decay) = s.ema {
        net.set_ema(&mut rec, decay, &init)?;
    }
    // validation, test and the drawing row stay in place; the page writes each epoch's order before them
    let rows = n_train + n_val + n_test + 1;
    net.set_index(&mut rec, n_train, &(n_train as u32..rows as u32).collect::<Vec<_>>())?;
    let mut plans = serde_json::Map::new();
    let mut sizes = vec![(Mode::Train, b), (Mode::Eval, b), (Mode::Predict, 1)];
    for (mode, rows) in [(Mode::Train, n_train), (Mode::Eval, n_val), (Mode::Eval, n_test)] {
        if rows % b != 0 {
            sizes.push((mode, rows % b));
        }
    }
    sizes.sort_by_key(|&(m, n)| (m as u8, n));
    sizes.dedup();
    for (mode, n) in sizes {
        let info = net.launch_info(&mut rec, mode, n, 0, 0, s.lr)?;
        let key = format!(
            "{}:{n}",
            match mode {
                Mode::Train => "train",
                Mode::Eval => "eval",
                Mode::Predict => "predict",
            }
        );
        plans.insert(key, plan_json(&rec, &info, (tuning.gemm, tuning.fill), shaders));
    }
    let buffers = super::buffer_list(&rec, |words| json!(blob.put(words)));
    let layout = checkpoint::model_layout(spec, &net.cfg.norm, &net.slots, &init, 0)?;
    let template = blob.put_bytes(&layout.bytes);
    let program = json!({
        "class": tuning.describe(),
        "buffers": buffers,
        "plans": plans,
        "store": net.store_view().buf,
        "index": net.index_view().buf,
        "params": net.params_view().buf,
        "acc": { "train": net.acc_view(Acc::Train).buf, "eval": net.acc_view(Acc::Eval).buf },
        "probs": net.probs_view(1).buf,
        // with --ema: the weights' average, which evaluation, prediction and the model file use
        "ema": net.ema_view().map(|v| v.buf),
    });
    Ok((program, (template, layout.floats, layout.steps, layout.sums, layout.header)))
}

/// A plan as the page replays it: per op its kernel, the file and core of its
/// module (the page adds the kind of sums), parameters, views and workgroups;
/// and which ops a run patches.
fn plan_json(
    rec: &Recorder,
    info: &LaunchInfo,
    gemm: (Gemm, Option<usize>),
    shaders: &mut BTreeMap<String, String>,
) -> Value {
    let ops: Vec<Value> = rec.host.ops(info.plan).iter().map(|op| super::op_json(op, gemm, true, shaders)).collect();
    json!({
        "ops": ops,
        "gather": { "op": info.gather.0, "params": info.gather.1.to_vec() },
        "dropouts": info.dropouts.iter().map(|(i, p)| json!({ "op": i, "params": p.to_vec() })).collect::<Vec<_>>(),
        "optim": info.optim.map(|(i, p)| json!({ "op": i, "params": p.to_vec() })),
        "ema": info.ema.map(|(i, p)| json!({ "op": i, "params": p.to_vec() })),
    })
}
