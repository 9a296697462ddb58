//! `export-web --train`: the training page in headless Chromium (WebGPU on
//! SwiftShader) takes the very steps the reference engine takes, under both kinds
//! of plans it carries, learns, pauses and resumes where it stopped, and hands
//! `gpunet eval` a checkpoint that scores what the page said.

use super::{dir, gpunet, load};
use gpunet::cpu::CpuEngine;
use gpunet::engine::Engine;
use gpunet::model::{Acc, Net, NetConfig};
use gpunet::selftest::{steps, Tol};
use gpunet::settings::Settings;
use serde_json::{json, Value};
use std::path::PathBuf;

/// A small net with every kind of layer a step patches or sums: dropout, batch
/// norm, a strided conv, Adam; 160 rows (128 train, 32 validation), batch 16.
/// (No bias right before batch norm: it has no effect on the loss, so its
/// gradient is rounding, which Adam blows up to steps of the rate's size.)
const ARCH: &str = "conv8k3,bn,conv8k3s2,pool2,drop0.25,fc32,out10";
/// Global average pooling's kernels in the page's step.
const GAP_ARCH: &str = "conv8k3,pool2,conv16k3,bn,gap,out10";
/// Colour pictures in three classes (no bias before batch norm, as above).
const PICTURE_ARCH: &str = "conv8k3,bn,pool2,conv8k3,gap,out3";
const FLAGS: [&str; 12] = [
    "--batch-size",
    "16",
    "--limit",
    "160",
    "--test-limit",
    "100",
    "--seed",
    "5",
    "--lr",
    "0.003",
    "--adam-betas",
    "0.7,0.9",
];

fn export(name: &str, arch: &str, flags: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir()).unwrap();
    let page = dir().join(name);
    let mut args = vec!["export-web", "--train", "--arch", arch, "--out", page.to_str().unwrap()];
    args.extend(flags);
    let said = gpunet(&args);
    assert!(said.starts_with(&format!("wrote {}", page.display())), "{said}");
    page
}

fn floats_of_base64(v: &Value) -> Vec<f32> {
    let bytes = super::cdp::decode_base64(v.as_str().unwrap());
    bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

/// `steps` steps of the reference engine on the run the page was exported for
/// (FLAGS over `s`): the same split, store, init, epoch order, rates; each
/// step's mean loss and the model's weights after them (with `s.ema`, their
/// average), and the initial weights.
fn reference(s: Settings, steps: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let s = Settings { batch: 16, limit: Some(160), seed: 5, lr: 0.003, adam_betas: (0.7, 0.9), ..s };
    let data = gpunet::train::load_data(&s).unwrap();
    let n_train = data.train.len();
    let mut e = CpuEngine::new();
    let cfg = NetConfig { batch: 16, norm: s.norm(&data.train).unwrap(), optim: Some(s.optim().unwrap()), seed: 5 };
    let mut net = Net::new(&mut e, data.spec(&s.arch).unwrap(), &data.store(1), cfg).unwrap();
    let init = net.init_params(5);
    net.write_params(&mut e, &init).unwrap();
    if let Some(decay) = s.ema {
        net.set_ema(&mut e, decay, &init).unwrap();
    }
    net.set_index(&mut e, 0, &gpunet::train::epoch_order(n_train, 5, 0)).unwrap();
    net.set_acc(&mut e, Acc::Train, [0.0; 3]).unwrap();
    let mut losses = Vec::new();
    let mut before = (0.0, 0.0, 0.0);
    for step in 0..steps {
        let lr = s.lr_schedule.lr(s.lr, step as u64, (n_train / 16) as u64, 1);
        net.train_step(&mut e, step * 16, 16, step as u64, lr).unwrap();
        let now = net.read_acc(&mut e, Acc::Train).unwrap();
        losses.push(((now.0 - before.0) / (now.2 - before.2)) as f32);
        before = now;
    }
    // the model's weights: with --ema their average, as the CLI saves and the page's params() reads
    (losses, e.read_f32(net.ema_view().unwrap_or(net.params_view())).unwrap(), init)
}

#[test]
fn train_page_steps_equal_the_reference_engine_under_both_plans() {
    for (name, arch) in [("train-steps.html", ARCH), ("train-steps-gap.html", GAP_ARCH)] {
        page_steps_equal_the_reference(name, Settings::new(arch), &[]);
    }
    // colour pictures of 3x9x13 in three named classes, standardised: no drawing card
    let pictures = dir().join("train-pictures");
    let _ = std::fs::remove_dir_all(&pictures);
    super::picture::pictures(&pictures, 30);
    let s = Settings { train: Some(pictures.clone()), normalize: "standard".into(), ..Settings::new(PICTURE_ARCH) };
    let flags = ["--data", pictures.to_str().unwrap(), "--normalize", "standard"];
    let page = page_steps_equal_the_reference("train-steps-pictures.html", s, &flags);
    // --ema: the average the page keeps, its decay patched each step, equals the reference's
    let s = Settings { ema: Some(0.9), ..Settings::new(ARCH) };
    page_steps_equal_the_reference("train-steps-ema.html", s, &["--ema", "0.9"]);
    let doc = super::page_doc(&page);
    assert_eq!((doc["digits"].clone(), doc["data"].clone()), (json!(false), json!("3x9x13 in 3 classes")));
}

/// The page's first steps (of `s.arch` on FLAGS + `flags`, over `s`) against the
/// reference engine's, under both kinds of plans; the page.
fn page_steps_equal_the_reference(name: &str, s: Settings, flags: &[&str]) -> PathBuf {
    let arch = s.arch.clone();
    let page = export(name, &arch, &[&FLAGS[..], flags].concat());
    let (want_losses, want, init) = reference(s, 4);
    for class in ["cpu", "gpu"] {
        let url = PathBuf::from(format!("{}?class={class}", page.display()));
        let Some((mut b, p)) = load(&url, None) else { return page };
        let adapter =
            b.eval(&p, "gpunet.ready").unwrap_or_else(|e| panic!("the page did not start: {e}; {:#?}", b.log));
        let r = b.eval(&p, "gpunet.train({ epochs: 1, steps: 4, perStepLoss: true })").unwrap();
        assert_eq!(r["steps"], 4, "{r}");
        let losses: Vec<f32> = r["losses"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let cmp = gpunet::selftest::compare(&losses, &want_losses, Tol { atol: 1e-5, rtol: 1e-5 });
        assert!(cmp.first_bad.is_none(), "{arch}, {class} plans: losses {losses:?}, the reference's {want_losses:?}");
        let got = floats_of_base64(&b.eval(&p, "gpunet.params()").unwrap());
        let outcome =
            steps::weights_outcome(format!("{arch}, {class} plans"), &got, &want, &init, Tol { atol: 1e-4, rtol: 0.0 });
        eprintln!("{adapter}: {} · losses {losses:?}", outcome.line());
        assert!(outcome.pass(), "{}", outcome.line());
    }
    page
}

#[test]
fn train_page_learns_pauses_resumes_and_hands_eval_its_checkpoint() {
    let flags = ["--batch-size", "32", "--limit", "2000", "--test-limit", "1000", "--seed", "3", "--lr", "0.003"];
    let page = export("train-learn.html", "conv8k5,pool2,conv16k3,pool2,fc64,out10", &flags);
    let Some((mut b, p)) = load(&page, None) else { return };
    b.eval(&p, "gpunet.ready").unwrap_or_else(|e| panic!("the page did not start: {e}; {:#?}", b.log));
    // one epoch, paused after 7 steps and resumed: 50 steps of 32 rows, then validation and test
    let first = b.eval(&p, "gpunet.train({ epochs: 1, steps: 7 })").unwrap();
    assert_eq!((first["steps"].as_u64(), first["done"].as_bool()), (Some(7), Some(false)), "{first}");
    let status = b.eval(&p, "gpunet.status()").unwrap();
    assert_eq!(status, json!({ "epoch": 0, "batch": 7, "step": 7, "running": false, "done": false }));
    let r = b.eval(&p, "gpunet.train()").unwrap();
    assert_eq!((r["steps"].as_u64(), r["done"].as_bool()), (Some(50), Some(true)), "{r}");
    let acc = r["test_accuracy"].as_f64().unwrap();
    eprintln!("one epoch of 1,600 images: test accuracy {acc:.4}, {:.1} images/s", r["images_per_s"]);
    assert!(acc > 0.8, "test accuracy {acc} after one epoch of 1,600 images (chance is 0.1)");
    let paused = floats_of_base64(&b.eval(&p, "gpunet.params()").unwrap());

    // the same epoch without the pause: the same weights, bit for bit
    let (mut b2, p2) = load(&page, None).unwrap();
    b2.eval(&p2, "gpunet.ready").unwrap();
    let whole = b2.eval(&p2, "gpunet.train({ epochs: 1 })").unwrap();
    assert_eq!(whole["test_accuracy"], r["test_accuracy"]);
    assert_eq!(floats_of_base64(&b2.eval(&p2, "gpunet.params()").unwrap()), paused, "pausing changed the run");

    // the page's checkpoint in `gpunet eval`, on the same 1,000 t10k images
    let model = dir().join("trained-in-page.safetensors");
    std::fs::write(&model, super::cdp::decode_base64(b.eval(&p, "gpunet.checkpoint()").unwrap().as_str().unwrap()))
        .unwrap();
    // sealed as the CLI seals its own: every tensor's sum and the header's
    let checked = gpunet::model::checkpoint::Checked::read(&model).unwrap();
    assert!(checked.sum.is_some(), "the page's checkpoint has no header sum");
    let test = dir().join("t10k-1000.csv");
    gpunet::data::csv::write(&test, &gpunet::data::mnist_test().unwrap().truncate(1000)).unwrap();
    let out = gpunet(&["eval", "--model", model.to_str().unwrap(), "--input", test.to_str().unwrap()]);
    let line = out.lines().find(|l| l.contains("accuracy")).unwrap_or_else(|| panic!("{out}"));
    let eval: f64 = line.rsplit(' ').next().unwrap().trim().parse().unwrap_or_else(|_| panic!("{line}"));
    assert!((eval - acc).abs() <= 0.0011, "gpunet eval says {eval}, the page said {acc}:\n{out}");
}

/// The host logic the page mirrors in JavaScript: every rate schedule, the epoch
/// order (a seed past 2^32 included) and Adam's bias corrections, against the
/// CLI's own functions.
#[test]
fn train_page_mirrors_the_clis_schedules_shuffles_and_bias_corrections() {
    use gpunet::schedule::Schedule;
    let page = export("train-mirror.html", "fc16,out10", &["--limit", "100", "--test-limit", "10"]);
    let Some((mut b, p)) = load(&page, None) else { return };
    b.eval(&p, "gpunet.ready").unwrap();
    // each schedule as the settings' JSON holds it, read by the page's parse
    for text in ["const", "exp:0.95", "cosine", "onecycle"] {
        let s = Schedule::parse(text).unwrap();
        let steps: Vec<u64> = (0..300).step_by(7).chain([0, 1, 89, 90, 91, 299]).collect();
        let js = format!("{steps:?}.map(t => scheduleLr(parseSchedule({text:?}), 0.01, t, 100, 3))");
        let got = b.eval(&p, &js).unwrap();
        for (t, g) in steps.iter().zip(got.as_array().unwrap()) {
            assert_eq!(g.as_f64().unwrap() as f32, s.lr(0.01, *t, 100, 3), "{text} at step {t}");
        }
    }
    for (n, seed, epoch) in [(1, 42, 0), (10, 42, 3), (1000, 7, 1), (48000, 42, 9), (777, (1u64 << 40) + 5, 2)] {
        let got = b.eval(&p, &format!("Array.from(epochOrder({n}, {seed}, {epoch}))")).unwrap();
        let got: Vec<u32> = got.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(got, gpunet::train::epoch_order(n, seed, epoch), "n {n}, seed {seed}, epoch {epoch}");
    }
    for t in [1u64, 2, 10, 1000, 100_000] {
        let js = b.eval(&p, &format!("[Math.fround(1 / (1 - powi(Math.fround(0.9), {t}))), Math.fround(1 / (1 - powi(Math.fround(0.999), {t})))]")).unwrap();
        let d = gpunet::kernels::AdamDims::new(1, 1e-3, 0.9, 0.999, 1e-8, 0.0, t);
        assert_eq!((js[0].as_f64().unwrap() as f32, js[1].as_f64().unwrap() as f32), (d.c1, d.c2), "t {t}");
    }
}

#[test]
fn without_webgpu_the_training_page_says_so() {
    let page = export("train-nogpu.html", "fc16,out10", &["--limit", "100", "--test-limit", "10"]);
    let Some((mut b, p)) = load(&page, Some("delete Navigator.prototype.gpu;")) else { return };
    let err = b.eval(&p, "gpunet.ready").expect_err("the page started without navigator.gpu");
    assert!(err.contains("no WebGPU"), "{err}");
    let shown = b.eval(&p, "document.getElementById('problem').textContent").unwrap();
    assert!(shown.as_str().is_some_and(|t| t.contains("has no WebGPU") && t.contains("trains its network")), "{shown}");
    assert_eq!(b.eval(&p, "document.getElementById('train').disabled").unwrap(), true);
}

/// The page bundles all of MNIST's test set unless --test-limit says less, and
/// the rows it reports are the CLI's split.
#[test]
fn train_page_carries_the_split_and_the_test_set() {
    let page = export("train-rows.html", "fc16,out10", &["--limit", "1000"]);
    let doc = super::page_doc(&page);
    assert_eq!(doc["rows"], json!({ "train": 800, "val": 200, "test": 10000, "draw": 11000 }));
    let page =
        export("train-rows-cut.html", "fc16,out10", &["--limit", "1000", "--val-split", "0", "--test-limit", "300"]);
    let doc = super::page_doc(&page);
    assert_eq!(doc["rows"], json!({ "train": 1000, "val": 0, "test": 300, "draw": 1300 }));
    assert_eq!(doc["run"]["batch"], 500);
    // the page reads the settings as checkpoints hold them
    let settings: gpunet::settings::Settings = serde_json::from_value(doc["settings"].clone()).unwrap();
    assert_eq!((settings.arch.as_str(), settings.limit, settings.val_split), ("fc16,out10", Some(1000), 0.0));
    // both kinds of plans, each with its training, evaluation and drawing launches
    for class in ["cpu", "gpu"] {
        let plans = doc["programs"][class]["plans"].as_object().unwrap();
        let keys: Vec<&str> = plans.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["eval:300", "eval:500", "predict:1", "train:500"], "{class}");
    }
}
