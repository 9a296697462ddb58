//! `gpunet export-web` and its page: the export holds the plans, kernels and
//! weights it should; in headless Chromium (WebGPU on SwiftShader) the page's
//! probabilities equal `gpunet predict --probs`, and drawing on the pad gives a
//! prediction equal to the CLI's on the page's own preprocessed 28x28 image.
//!
//! The browser tests need Chromium: they are skipped where there is none, unless
//! GPUNET_REQUIRE_BROWSER=1 (CI) makes that a failure. GPUNET_WEB_MODEL=M exports
//! M for the drawing test instead of the small fixtures, and
//! GPUNET_WEB_SCREENSHOT=PNG copies its screenshot there (docs/web.png).

mod cdp;
#[path = "../common/mod.rs"]
mod common;
mod picture;
mod train;

use cdp::{Browser, Page};
use gpunet::data::{self, Images, CLASSES, PIXELS};
use gpunet::kernels::shaders::{Gemm, Shader};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Rows fed through the page's test hook.
const ROWS: usize = 64;
const TOLERANCE: f64 = 1e-4;

/// `gpunet ARGS` on the native engine, in this directory; its stdout.
fn gpunet(args: &[&str]) -> String {
    common::ok(Path::new("."), args)
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web")
}

/// Two small models trained once for this test crate: a CNN and an MLP (so the
/// export is shown to follow the plan, not one arch), and their ensemble page.
struct Fixture {
    models: Vec<PathBuf>,
    page: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let d = dir();
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let mut models = Vec::new();
        for (name, arch) in [("cnn", "conv8k3validlin,bn,relu,conv16k5s2,bn,pool2,fc64,out10"), ("mlp", "mlp:64")] {
            let out = d.join(name);
            let out_s = out.to_str().unwrap();
            // batch 100: 360 steps, enough for batch norm's running statistics to settle
            let steps = ["--epochs", "3", "--limit", "12000", "--batch-size", "100"];
            gpunet(&[&["train", "--arch", arch, "--out", out_s][..], &steps].concat());
            models.push(out.join("model.safetensors"));
        }
        let page = d.join("digits.html");
        let mut args = vec!["export-web", "--out", page.to_str().unwrap()];
        for m in &models {
            args.extend(["--model", m.to_str().unwrap()]);
        }
        gpunet(&args);
        Fixture { models, page }
    })
}

/// The JSON document a page carries.
fn page_doc(page: &Path) -> Value {
    let html = std::fs::read_to_string(page).unwrap();
    let start = html.find(r#"<script type="application/json" id="gpunet-data">"#).expect("no data script") + 49;
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).expect("the page's data is not JSON")
}

#[test]
fn export_carries_the_plans_the_embedded_kernels_and_the_weights() {
    let f = fixture();
    let doc = page_doc(&f.page);
    // every module exactly as the binary compiles it (includes expanded, the GPU
    // core, tree sums), named as the training page names its modules: file|core|sums
    let shaders = doc["shaders"].as_object().unwrap();
    let keys: Vec<&String> = shaders.keys().collect();
    assert!(shaders.contains_key("conv2d.wgsl|tiled|tree") && shaders.contains_key("data.wgsl|-|tree"), "{keys:?}");
    for (key, text) in shaders {
        let [file, core, sums] = key.split('|').collect::<Vec<_>>()[..] else { panic!("module name {key}") };
        let s = Shader::ALL.into_iter().find(|s| s.file() == file).unwrap_or_else(|| panic!("no shader {file}"));
        assert_eq!((core, sums), (if s.uses_gemm() { "tiled" } else { "-" }, "tree"), "{key}");
        assert_eq!(text.as_str().unwrap(), s.source(Gemm::Tiled, false), "{key} differs from the embedded source");
    }
    // every buffer's initial contents, deflated once for the page
    let mut bytes = Vec::new();
    let packed = cdp::decode_base64(doc["blob"].as_str().unwrap());
    flate2::read::ZlibDecoder::new(&packed[..]).read_to_end(&mut bytes).unwrap();
    let blob: Vec<u32> = bytes.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(blob.len() as u64, doc["words"].as_u64().unwrap());
    let models = doc["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for (m, path) in models.iter().zip(&f.models) {
        let (model, slots) = gpunet::model::checkpoint::load_model(path).unwrap();
        assert_eq!(m["spec"].as_str().unwrap(), model.spec.text());
        // the parameters buffer holds the checkpoint's weights, bit for bit
        let bufs = m["buffers"].as_array().unwrap();
        let params = bufs.iter().find(|b| b["label"] == "parameters").expect("no parameters buffer");
        let [first, len] = [0, 1].map(|i| params["data"][i].as_u64().unwrap() as usize);
        let words: Vec<f32> = blob[first..first + len].iter().map(|&w| f32::from_bits(w)).collect();
        assert_eq!(words.len(), model.params.len());
        for s in &slots {
            assert_eq!(words[s.weight..s.weight + s.weight_len()], model.params[s.weight..s.weight + s.weight_len()]);
        }
        check_plans(m, shaders);
    }
}

/// Every named arch exports (the export follows the plan, not one network): its
/// page holds both plans, whose views fit their buffers and their alignment.
#[test]
fn every_named_arch_exports() {
    let d = tempfile::tempdir().unwrap();
    for (name, text, _, _) in gpunet::model::spec::NAMED {
        let spec = gpunet::model::Spec::parse(text).unwrap();
        let (_, words) = gpunet::model::net::layout(&spec);
        let model = gpunet::model::checkpoint::Model {
            spec,
            norm: gpunet::data::norm::Norm::default(),
            params: vec![0.5; words],
        };
        let member = gpunet::web::Member { name: name.to_string(), model };
        let page = gpunet::web::page(&[member]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let file = d.path().join(format!("{name}.html"));
        std::fs::write(&file, page).unwrap();
        let doc = page_doc(&file);
        check_plans(&doc["models"][0], doc["shaders"].as_object().unwrap());
    }
}

/// A model's plans over 1 row and over the batch: gather first, softmax last,
/// every kernel's shader present, every view inside its buffer at a 256-byte offset.
fn check_plans(m: &Value, shaders: &serde_json::Map<String, Value>) {
    let bufs = m["buffers"].as_array().unwrap();
    let plans = m["plans"].as_object().unwrap();
    assert_eq!(plans.keys().collect::<Vec<_>>(), ["1", "64"]);
    for ops in plans.values() {
        let ops = ops.as_array().unwrap();
        assert_eq!(ops[0]["kernel"], "gather");
        assert_eq!(ops[ops.len() - 1]["kernel"], "softmax");
        for op in ops {
            assert!(shaders.contains_key(&format!("{}|tree", op["module"].as_str().unwrap())), "{op}");
            for v in op["views"].as_array().unwrap() {
                let (buf, off, len) = (v[0].as_u64().unwrap(), v[1].as_u64().unwrap(), v[2].as_u64().unwrap());
                assert!(off + len <= bufs[buf as usize]["words"].as_u64().unwrap(), "{op}");
                assert_eq!(off % 64, 0, "storage offsets must be 256-byte aligned: {op}");
            }
        }
    }
}

#[test]
fn export_rejects_a_bad_model_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("model.safetensors");
    std::fs::write(&bad, b"not a checkpoint").unwrap();
    let out = d.path().join("page.html");
    let o = Command::new(env!("CARGO_BIN_EXE_gpunet"))
        .args(["export-web", "--model", bad.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(!out.exists());
    let o = Command::new(env!("CARGO_BIN_EXE_gpunet")).args(["export-web"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// A browser with the page loaded (its hook set up); None (a skip) without Chromium.
fn load(page: &Path, before: Option<&str>) -> Option<(Browser, Page)> {
    let Some(exe) = cdp::find_chromium() else {
        let required = std::env::var("GPUNET_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(!required, "GPUNET_REQUIRE_BROWSER=1 but no Chromium found (apt-get install chromium)");
        eprintln!("skipped: no Chromium on this machine (set GPUNET_CHROMIUM, or apt-get install chromium)");
        return None;
    };
    let mut b = Browser::launch(&exe);
    let p = b.open(&format!("file://{}", page.display()), before);
    b.wait_for(&p, "typeof gpunet === 'object' && gpunet.ready !== null", Duration::from_secs(60));
    Some((b, p))
}

/// `load`, then waits for the runtime: adapter open, kernels compiled.
fn open_page(page: &Path) -> Option<(Browser, Page)> {
    let (mut b, p) = load(page, None)?;
    let adapter =
        b.eval(&p, "gpunet.ready").unwrap_or_else(|e| panic!("the page did not start: {e}; log {:#?}", b.log));
    assert!(adapter.as_str().is_some_and(|a| !a.is_empty()), "no adapter name: {adapter}");
    eprintln!("page runs on: {adapter}");
    Some((b, p))
}

/// `gpunet predict --probs` of `images` with one model: (n, 10) probabilities.
fn cli_probs(model: &Path, images: &Images, tag: &str) -> Vec<f64> {
    let csv = dir().join(format!("{tag}.csv"));
    let probs = dir().join(format!("{tag}.probs.csv"));
    data::csv::write(&csv, images).unwrap();
    let sub = dir().join(format!("{tag}.submission.csv"));
    gpunet(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        csv.to_str().unwrap(),
        "--out",
        sub.to_str().unwrap(),
        "--probs",
        probs.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(probs).unwrap();
    text.lines()
        .skip(1)
        .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>())
        .collect()
}

fn assert_close(page: &[f64], cli: &[f64], what: &str) {
    assert_eq!(page.len(), cli.len(), "{what}: lengths");
    let (i, diff) =
        page.iter()
            .zip(cli)
            .map(|(a, b)| (a - b).abs())
            .enumerate()
            .fold((0, 0.0), |m, (i, d)| if d > m.1 { (i, d) } else { m });
    assert!(
        diff <= TOLERANCE,
        "{what}: row {} class {}: page {} vs gpunet predict {} (|diff| {diff:.2e} > {TOLERANCE})",
        i / CLASSES,
        i % CLASSES,
        page[i],
        cli[i]
    );
    eprintln!("{what}: max |page - cli| = {diff:.2e} over {} values", page.len());
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn page_probabilities_equal_gpunet_predict() {
    let f = fixture();
    let Some((mut b, p)) = open_page(&f.page) else { return };
    let t10k = data::mnist_test().unwrap().truncate(ROWS);
    let pixels: Vec<String> = t10k.pixels.iter().map(|v| v.to_string()).collect();
    let r = b.eval(&p, &format!("gpunet.predict([{}], {ROWS})", pixels.join(","))).unwrap();
    let members = r["members"].as_array().unwrap();
    assert_eq!(members.len(), f.models.len());
    let mut mean = vec![0.0; ROWS * CLASSES];
    for (k, (m, model)) in members.iter().zip(&f.models).enumerate() {
        let cli = cli_probs(model, &t10k, &format!("t10k-{k}"));
        assert_close(&floats(m), &cli, &format!("model {k}, {ROWS} t10k digits"));
        mean.iter_mut().zip(&cli).for_each(|(s, c)| *s += c / f.models.len() as f64);
    }
    assert_close(&floats(&r["mean"]), &mean, "ensemble mean");
    // single rows run the page's 1-row plan: the same numbers
    let one = b.eval(&p, &format!("gpunet.predict([{}], 1)", pixels[..PIXELS].join(","))).unwrap();
    assert_close(&floats(&one["mean"]), &mean[..CLASSES], "one row");
}

/// Strokes in pad coordinates (0..1): a "7", top bar then the slanted stem.
const SEVEN: [[(f64, f64); 2]; 2] = [[(0.25, 0.22), (0.72, 0.22)], [(0.72, 0.22), (0.42, 0.82)]];

#[test]
fn drawing_on_the_pad_shows_the_models_prediction() {
    let f = fixture();
    let custom = std::env::var_os("GPUNET_WEB_MODEL").map(PathBuf::from);
    let (page, models) = match &custom {
        Some(m) => {
            let page = dir().join("custom.html");
            gpunet(&["export-web", "--model", m.to_str().unwrap(), "--out", page.to_str().unwrap()]);
            (page, vec![m.clone()])
        }
        None => (f.page.clone(), f.models.clone()),
    };
    let Some((mut b, p)) = open_page(&page) else { return };
    let rect =
        b.eval(&p, "(r => [r.left, r.top, r.width, r.height])(document.getElementById('pad').getBoundingClientRect())");
    let r = floats(&rect.unwrap());
    let at = |(x, y): (f64, f64)| (r[0] + x * r[2], r[1] + y * r[3]);
    for [from, to] in SEVEN {
        let (x0, y0) = at(from);
        b.mouse(&p, "mousePressed", x0, y0);
        for s in 1..=16 {
            let t = s as f64 / 16.0;
            let (x1, y1) = at(to);
            b.mouse(&p, "mouseMoved", x0 + t * (x1 - x0), y0 + t * (y1 - y0));
        }
        let (x1, y1) = at(to);
        b.mouse(&p, "mouseReleased", x1, y1);
    }
    b.wait_for(&p, "gpunet.last !== null && !gpunet.busy()", Duration::from_secs(60));
    let last = b.eval(&p, "gpunet.last").unwrap();
    let shown = b.eval(&p, "document.getElementById('answer').textContent").unwrap();
    let png = b.screenshot(&p);
    std::fs::write(dir().join("page.png"), &png).unwrap();
    if let Some(path) = std::env::var_os("GPUNET_WEB_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }
    let digit = last["digit"].as_u64().unwrap();
    assert!(shown.as_str().unwrap().starts_with(&digit.to_string()), "page shows {shown}, hook says {digit}");
    // the pad's own pixels, as a PNG a user could save: the CLI's preparation of it
    // (gpunet predict --input drawing.png) is the page's 28x28, to the byte
    let url = b.eval(&p, "document.getElementById('pad').toDataURL('image/png')").unwrap();
    let drawn = dir().join("drawn.png");
    std::fs::write(&drawn, cdp::decode_base64(url.as_str().unwrap().trim_start_matches("data:image/png;base64,")))
        .unwrap();
    let cli = gpunet::data::picture::load(std::slice::from_ref(&drawn)).unwrap();
    let page: Vec<u8> = last["input"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert_eq!(cli.pixels, page, "the CLI prepares the drawing differently from the page");
    assert_eq!(digit, 7, "a drawn 7 read as {digit}: {last}");

    // the page's preprocessing: the ink fits 20x20 and its centre of mass is the centre
    let input: Vec<u8> = last["input"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    let (mut mass, mut mx, mut my, mut rows, mut cols) = (0.0, 0.0, 0.0, vec![], vec![]);
    for (i, &v) in input.iter().enumerate() {
        if v > 0 {
            let (y, x) = ((i / 28) as f64, (i % 28) as f64);
            mass += v as f64;
            mx += (x + 0.5) * v as f64;
            my += (y + 0.5) * v as f64;
            rows.push(i / 28);
            cols.push(i % 28);
        }
    }
    let span = |v: &[usize]| v.iter().max().unwrap() - v.iter().min().unwrap() + 1;
    let (tall, wide) = (span(&rows), span(&cols));
    assert!((19..=20).contains(&tall.max(wide)), "ink spans {tall}x{wide}: its longer side should fill 20 pixels");
    assert!(
        (mx / mass - 14.0).abs() <= 0.5 && (my / mass - 14.0).abs() <= 0.5,
        "centre of mass ({}, {})",
        mx / mass,
        my / mass
    );

    // and its probabilities are the models' on exactly that image
    let img = Images::digits(input, None);
    let mut mean = vec![0.0; CLASSES];
    for (k, m) in models.iter().enumerate() {
        let cli = cli_probs(m, &img, &format!("drawn-{k}"));
        mean.iter_mut().zip(&cli).for_each(|(s, c)| *s += c / models.len() as f64);
    }
    assert_close(&floats(&last["probs"]), &mean, "the drawn digit");
}

#[test]
fn without_webgpu_the_page_says_so() {
    let f = fixture();
    let hide = "delete Navigator.prototype.gpu;";
    let Some((mut b, p)) = load(&f.page, Some(hide)) else { return };
    let err = b.eval(&p, "gpunet.ready").expect_err("the runtime started without navigator.gpu");
    assert!(err.contains("no WebGPU"), "{err}");
    let shown = b
        .eval(&p, "(e => getComputedStyle(e).display !== 'none' && e.textContent)(document.getElementById('problem'))");
    let text = shown.unwrap();
    assert!(
        text.as_str().is_some_and(|t| t.contains("has no WebGPU") && t.contains("Chrome")),
        "the page shows {text}"
    );
}

/// `export-web --selftest`: every kernel case of `gpunet selftest` on the
/// browser's WebGPU (Tint compiling the WGSL, SwiftShader running it, subgroups 4
/// wide), under the cpu class's kernels and the GPU classes' with subgroup sums,
/// each against its twin's outputs; the page ends on the CLI's summary line.
#[test]
fn selftest_page_passes_every_case_in_the_browser() {
    let page = dir().join("selftest.html");
    std::fs::create_dir_all(dir()).unwrap();
    let said = gpunet(&["export-web", "--selftest", "--out", page.to_str().unwrap()]);
    assert!(said.starts_with(&format!("wrote {}", page.display())), "{said}");
    let doc = page_doc(&page);
    let cases = gpunet::selftest::cases(1, true);
    assert_eq!(doc["cases"].as_array().unwrap().len(), cases.len(), "the page carries every selftest case");
    let Some((mut b, p)) = load(&page, None) else { return };
    b.wait_for(&p, "gpunet.done", Duration::from_secs(900));
    let r = b.eval(&p, "gpunet.run").unwrap_or_else(|e| panic!("the selftest did not run: {e}; log {:#?}", b.log));
    eprintln!("{} on {}; subgroups {}", r["line"], r["adapter"], r["subgroups"]);
    for k in r["kernels"].as_array().unwrap() {
        eprintln!(
            "{:<62} {:<24} {:>3} cases  max abs {:.2e}  max rel {:.2e}",
            k["config"].as_str().unwrap(),
            k["kernel"].as_str().unwrap(),
            k["cases"],
            k["maxAbs"].as_f64().unwrap(),
            k["maxRel"].as_f64().unwrap()
        );
    }
    let failures: Vec<&str> = r["failures"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // SwiftShader offers subgroups, 4 wide: the GPU classes ran the subgroup sums
    assert_eq!(r["subgroups"]["min"], 4, "{}", r["subgroups"]);
    let configs: Vec<&str> = r["configs"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(configs, ["cpu: register gemm, tree sums", "integrated and discrete: auto gemm, subgroup sums"]);
    let n = 2 * cases.len();
    assert_eq!(r["line"], format!("selftest: {n} of {n} cases passed"));
    let shown = b.eval(&p, "document.getElementById('verdict').textContent").unwrap();
    assert_eq!(shown, r["line"]);
    std::fs::write(dir().join("selftest.png"), b.screenshot(&p)).unwrap();
}
