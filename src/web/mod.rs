//! `export-web`: one self-contained HTML page that runs trained models in the
//! browser, through WebGPU and the very same WGSL kernels: a drawing pad for a
//! model of MNIST's digits, a picture to choose or drop for any other.
//!
//! Nothing is re-implemented for the page: a net is built on a `Recorder`, which
//! keeps the buffers and prediction plans the other engines would run, and the
//! page's runtime (web/runtime.js) replays those op lists through `navigator.gpu`
//! with the shader sources exactly as this binary embeds them. So any spec that
//! trains exports, and the page computes what `gpunet predict` computes.

mod selftest;
mod train;

pub use selftest::page as selftest_page;
pub use train::page as train_page;

use crate::data::{Images, CLASSES, MNIST};
use crate::engine::Recorder;
use crate::error::{Error, Result};
use crate::kernels::op::Op;
use crate::kernels::shaders::{Gemm, Shader};
use crate::model::checkpoint::Model;
use crate::model::{Mode, Net, NetConfig};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

/// Rows of the page's batch plan (its test hook and batch predictions); single
/// drawings run a one-row plan.
pub const BATCH: usize = 64;

/// The GEMM core the page's kernels include: browsers expose GPUs (SwiftShader,
/// a CPU fallback, runs it correctly, only slower).
const GEMM: Gemm = Gemm::Tiled;

const PAGE: &str = include_str!("../../web/page.html");
const RUNTIME: &str = include_str!("../../web/runtime.js");
const UI: &str = include_str!("../../web/page.js");
const PICTURE_PAGE: &str = include_str!("../../web/picture.html");
const PICTURE_UI: &str = include_str!("../../web/picture.js");
const PAD: &str = include_str!("../../web/pad.js");
/// The host logic the pages share with node's parity test (function declarations
/// only), pasted after the drawing card (tests/node_parity.rs).
const HOST: &str = include_str!("../../web/host.js");

/// The page's name of the module a launch runs without its kind of sums: the
/// file and the core it pastes ("-" for a file without a GEMM).
fn module_name(shader: Shader, core: Gemm) -> String {
    format!("{}|{}", shader.file(), if shader.uses_gemm() { core.name() } else { "-" })
}

/// Adds the module a launch runs (file, core, kind of sums, as `Gpu::pipeline`
/// picks them: subgroup sums only in a file that sums over workgroups) to the
/// page's sources once, under the name runtime.js's `moduleOf` gives it.
fn add_module(shaders: &mut BTreeMap<String, String>, shader: Shader, core: Gemm, subgroups: bool) {
    let core = if shader.uses_gemm() { core } else { Gemm::Tiled };
    let sg = subgroups && shader.uses_reduce();
    let key = format!("{}|{}", module_name(shader, core), if sg { "subgroup" } else { "tree" });
    shaders.entry(key).or_insert_with(|| {
        // browsers, unlike naga, want the extension named before use
        let text = shader.source(core, sg);
        if sg {
            format!("enable subgroups;\n{text}")
        } else {
            text.into_owned()
        }
    });
}

/// One model of the page: a name to show (e.g. its file) and its weights.
pub struct Member {
    pub name: String,
    pub model: Model,
}

impl Member {
    /// The model `target` names (a file, a run or a generation), shown by its run
    /// directory for a `model.safetensors`, else by its file name.
    pub fn load(target: &Path) -> Result<Member> {
        let model = crate::run::load_model(target)?;
        let file = target.file_name().map(|f| f.to_string_lossy().to_string()).unwrap_or_default();
        let name = match target.parent().and_then(|d| d.file_name()) {
            Some(dir) if file == "model.safetensors" => dir.to_string_lossy().to_string(),
            _ => file,
        };
        Ok(Member { name, model })
    }
}

/// The whole page for `members` (one model, or an ensemble whose probabilities
/// the page averages; its members take one shape and one set of classes). A
/// model of 28x28 grey digits of ten unnamed classes gets the drawing pad; any
/// other a picture to choose.
pub fn page(members: &[Member]) -> Result<String> {
    let Some(first) = members.first() else {
        return Err(Error::usage("export-web needs at least one --model"));
    };
    let spec = &first.model.spec;
    for m in &members[1..] {
        let other = &m.model.spec;
        if other.input != spec.input || other.classes() != spec.classes() || other.names != spec.names {
            return Err(Error::usage(format!(
                "an ensemble's models must take one input and tell the same classes apart: {} takes {} into {} classes, {} takes {} into {}",
                first.name,
                crate::data::shape_text(spec.input),
                spec.classes(),
                m.name,
                crate::data::shape_text(other.input),
                other.classes()
            )));
        }
    }
    let (mut shaders, mut blob) = (BTreeMap::new(), Blob::default());
    let mut models = Vec::new();
    for m in members {
        models.push(export(m, &mut shaders, &mut blob)?);
    }
    let digits = draws_digits(spec);
    let (c, h, w) = spec.input;
    let doc = json!({
        "generator": format!("gpunet {}", env!("CARGO_PKG_VERSION")),
        "batch": BATCH,
        "classes": spec.classes(),
        "names": spec.names,
        "shape": [c, h, w],
        "size": spec.input_size(),
        "shaders": shaders,
        "models": models,
        // every buffer's initial contents, as the training page ships them
        "words": blob.words.len(),
        "blob": blob.deflated()?,
    });
    let title = members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(" + ");
    Ok(if digits { assemble(PAGE, UI, &title, &doc) } else { assemble(PICTURE_PAGE, PICTURE_UI, &title, &doc) })
}

/// Whether a page for `spec` gets the drawing pad: a net for MNIST's 28x28 grey
/// digits of ten unnamed classes (any other draws nothing it could read).
fn draws_digits(spec: &crate::model::Spec) -> bool {
    spec.input == MNIST && spec.classes() == CLASSES && spec.names.is_empty()
}

/// A page: its HTML with the runtime, its UI script, a title and its data (JSON)
/// pasted into their places.
fn assemble(page: &str, ui: &str, title: &str, doc: &Value) -> String {
    // inside <script>, only "</" could end the element early; "<\/" is the same JSON string
    let data = doc.to_string().replace("</", "<\\/");
    page.replacen("/*GPUNET_RUNTIME*/", RUNTIME, 1)
        .replacen("/*GPUNET_PAD*/", &format!("{PAD}\n{HOST}"), 1)
        .replacen("/*GPUNET_UI*/", ui, 1)
        .replace("GPUNET_TITLE", &html_escape(title))
        .replacen("/*GPUNET_DATA*/", &data, 1)
}

/// One model's buffers (sizes, labels, initial contents) and its prediction
/// plans over 1 and BATCH rows; adds the shaders they use to `shaders`, the
/// buffers' contents to `blob`.
fn export(m: &Member, shaders: &mut BTreeMap<String, String>, blob: &mut Blob) -> Result<Value> {
    let spec = &m.model.spec;
    let mut rec = Recorder::for_split(None);
    let blank =
        Images { shape: spec.input, classes: spec.classes(), pixels: vec![0; BATCH * spec.input_size()], labels: None };
    let cfg = NetConfig { batch: BATCH, norm: m.model.norm.clone(), optim: None, seed: 0 };
    let mut net = Net::new(&mut rec, m.model.spec.clone(), &blank, cfg)?;
    net.write_params(&mut rec, &m.model.params)?;
    net.set_index(&mut rec, 0, &(0..BATCH as u32).collect::<Vec<_>>())?;
    let mut plans = serde_json::Map::new();
    for n in [1, BATCH] {
        let id = net.plan(&mut rec, Mode::Predict, n)?;
        let ops = rec.host.ops(id).iter().map(|op| op_json(op, (GEMM, None), false, shaders)).collect();
        plans.insert(n.to_string(), ops);
    }
    let buffers = buffer_list(&rec, |words| json!(blob.put(words)));
    let store = net.store_view();
    Ok(json!({
        "name": m.name,
        "spec": m.model.spec.text(),
        "parameters": m.model.spec.param_count(),
        "buffers": buffers,
        "store": store.buf,
        "probs": net.probs_view(BATCH).buf,
        "plans": plans,
    }))
}

/// An op as every page replays it: its entry point, the module it runs in (file
/// and GEMM core; the page adds the kind of sums, where `reduce` says the file
/// sums over workgroups), its parameter block, views and workgroups. The module
/// with tree sums, and with subgroup sums too where `subgroups`, joins `shaders`.
fn op_json(
    op: &Op,
    (gemm, fill): (Gemm, Option<usize>),
    subgroups: bool,
    shaders: &mut BTreeMap<String, String>,
) -> Value {
    let info = op.kernel.info();
    let (groups, core) = op.launch(gemm, fill);
    for sg in [false, subgroups] {
        add_module(shaders, info.shader, core, sg);
    }
    let views: Vec<[usize; 3]> = op.views.iter().map(|v| [v.buf, v.offset, v.len]).collect();
    json!({
        "kernel": info.entry,
        "module": module_name(info.shader, core),
        "reduce": info.shader.uses_reduce(),
        "params": op.params.to_vec(),
        "views": views,
        "groups": groups,
    })
}

/// The recorded buffers as a page makes them: label, size in words, and contents
/// (as `data` writes them) only where written (weights, the batch index); the rest
/// start zeroed.
fn buffer_list(rec: &Recorder, mut data: impl FnMut(&[u32]) -> Value) -> Vec<Value> {
    rec.host
        .buffers()
        .iter()
        .zip(rec.labels())
        .map(|(words, label)| {
            let data = words.iter().any(|&w| w != 0).then(|| data(words));
            json!({ "label": label, "words": words.len(), "data": data })
        })
        .collect()
}

/// Standard base64 with padding (RFC 4648), for the weights and the pages' data.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Initial buffer contents, each stored once however many buffers start with it,
/// deflated into one base64 text.
#[derive(Default)]
struct Blob {
    words: Vec<u32>,
    seen: HashMap<Vec<u32>, [usize; 2]>,
}

impl Blob {
    /// Where `words` lie in the blob: [first word, words].
    fn put(&mut self, words: &[u32]) -> [usize; 2] {
        if let Some(&at) = self.seen.get(words) {
            return at;
        }
        let at = [self.words.len(), words.len()];
        self.words.extend_from_slice(words);
        self.seen.insert(words.to_vec(), at);
        at
    }

    /// Bytes, zero-padded to whole words: [first word, bytes].
    fn put_bytes(&mut self, bytes: &[u8]) -> [usize; 2] {
        let words: Vec<u32> = bytes.chunks(4).map(|c| c.iter().rev().fold(0u32, |w, &b| w << 8 | b as u32)).collect();
        [self.put(&words)[0], bytes.len()]
    }

    fn deflated(&self) -> Result<String> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let packed = z.write_all(bytemuck::cast_slice(&self.words)).and_then(|_| z.finish());
        Ok(base64(&packed.map_err(|e| Error::Gpu(format!("deflating the page's data: {e}")))?))
    }
}
