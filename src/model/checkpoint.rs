//! Checkpoints: `model.safetensors` holds the weights in PyTorch layouts
//! (`layers.{i}.weight` as (out, in, k, k) or (out, in), `layers.{i}.bias`; batch
//! norm as PyTorch's BatchNorm: weight, bias, running_mean, running_var (C) and
//! num_batches_tracked (an int64 scalar)) with metadata `gpunet.arch` (the spec),
//! `gpunet.input` (its input's C,H,W), `gpunet.scale` (the pixel divisor) and,
//! for a model that standardises its input, `gpunet.normalize` (JSON: each
//! channel's mean and std of pixels / scale).
//! `optim.safetensors` beside it holds the optimizer state and where training
//! stood, so `--resume` continues exactly. Every file carries each tensor's
//! sha256 and its header's own (`checksum.rs`), and every read checks them.

use super::checksum::{self, HEADER, TENSOR, UNSEALED};
use super::net::Slot;
use super::spec::Spec;
use crate::data::norm::{Norm, Standard};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The parameters of a net, flat in its slot layout, plus what they mean.
pub struct Model {
    pub spec: Spec,
    pub norm: Norm,
    pub params: Vec<f32>,
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes the named tensors (taken from flat buffers by slot) and metadata,
/// atomically, sealed with the header's sum, which it returns. `steps` (Some
/// for a model file) adds batch norm's running statistics and its
/// num_batches_tracked.
fn save_tensors(
    path: &Path,
    slots: &[Slot],
    flats: &[(&str, &[f32])],
    steps: Option<u64>,
    whole: &[(&str, &[f32])],
    meta: HashMap<String, String>,
) -> Result<String> {
    let mut bytes = tensor_bytes(slots, flats, steps, whole, meta).map_err(|e| Error::io(path, e))?;
    let sum = checksum::seal(&mut bytes);
    write_atomic(path, |w| w.write_all(&bytes))?;
    Ok(sum)
}

/// The safetensors file `save_tensors` writes, before its header's sum is put
/// in (`UNSEALED` in its place); `whole` are flat buffers kept whole, one
/// tensor each, named as given.
fn tensor_bytes(
    slots: &[Slot],
    flats: &[(&str, &[f32])],
    steps: Option<u64>,
    whole: &[(&str, &[f32])],
    meta: HashMap<String, String>,
) -> std::result::Result<Vec<u8>, safetensors::SafeTensorError> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, flat) in whole {
        owned.push((name.to_string(), Dtype::F32, vec![flat.len()], le_bytes(flat)));
    }
    for (prefix, flat) in flats {
        for s in slots {
            let w = &flat[s.weight..s.weight + s.weight_len()];
            let b = &flat[s.bias..s.bias + s.bias_len()];
            let name = |t: &str| format!("{prefix}layers.{}.{t}", s.layer);
            owned.push((name("weight"), Dtype::F32, s.weight_shape.clone(), le_bytes(w)));
            owned.push((name("bias"), Dtype::F32, vec![s.bias_len()], le_bytes(b)));
            if let (Some(r), Some(steps)) = (s.running, steps) {
                let c = s.bias_len();
                owned.push((name("running_mean"), Dtype::F32, vec![c], le_bytes(&flat[r..r + c])));
                owned.push((name("running_var"), Dtype::F32, vec![c], le_bytes(&flat[r + c..r + 2 * c])));
                owned.push((name("num_batches_tracked"), Dtype::I64, vec![], (steps as i64).to_le_bytes().to_vec()));
            }
        }
    }
    file_bytes(&owned, meta)
}

/// A safetensors file of `tensors` (name, dtype, shape, data) with `meta` and
/// each tensor's sum, its header sorted, its header's sum `UNSEALED`.
fn file_bytes(
    tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)],
    mut meta: HashMap<String, String>,
) -> std::result::Result<Vec<u8>, safetensors::SafeTensorError> {
    meta.retain(|k, _| !k.starts_with(TENSOR));
    for (name, _, _, data) in tensors {
        meta.insert(format!("{TENSOR}{name}"), checksum::hex(data));
    }
    meta.insert(HEADER.into(), UNSEALED.into());
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, dtype, shape, data)| {
            (n.clone(), TensorView::new(*dtype, shape.clone(), data).expect("shape matches data"))
        })
        .collect();
    Ok(sorted_header(safetensors::serialize(views, Some(meta))?))
}

/// The file with its JSON header's keys in sorted order: the writer lists the
/// metadata in a hash map's order, which would make two saves of the same
/// weights differ. Same keys and values, so the same length; the data after the
/// header is untouched.
fn sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8-byte length")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("the writer's own header");
    let text = serde_json::to_string(&header).expect("a JSON value");
    assert!(text.len() <= n, "a sorted header is no longer than the written one");
    bytes[8..8 + n].fill(b' ');
    bytes[8..8 + text.len()].copy_from_slice(text.as_bytes());
    bytes
}

/// Reads tensors named `{prefix}layers.{i}.weight|bias` into a flat buffer laid
/// out by `slots`; with `running`, batch norm's running_mean and running_var too.
fn load_flat(
    path: &Path,
    st: &SafeTensors,
    slots: &[Slot],
    words: usize,
    prefix: &str,
    running: bool,
) -> Result<Vec<f32>> {
    let mut flat = vec![0f32; words];
    for s in slots {
        let name = |t: &str| format!("{prefix}layers.{}.{t}", s.layer);
        let mut tensors =
            vec![(name("weight"), s.weight_shape.clone(), s.weight), (name("bias"), vec![s.bias_len()], s.bias)];
        if let (Some(r), true) = (s.running, running) {
            let c = s.bias_len();
            tensors.push((name("running_mean"), vec![c], r));
            tensors.push((name("running_var"), vec![c], r + c));
            let t = name("num_batches_tracked");
            match st.tensor(&t) {
                Ok(v) if v.dtype() == Dtype::I64 && v.shape().is_empty() => {}
                _ => return Err(Error::input(path, 0, format!("missing or bad tensor '{t}' (an int64 scalar)"))),
            }
        }
        for (name, shape, offset) in tensors {
            let t = st.tensor(&name).map_err(|_| Error::input(path, 0, format!("missing tensor '{name}'")))?;
            if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
                return Err(Error::input(
                    path,
                    0,
                    format!("tensor '{name}' is {:?} {:?}, the spec needs F32 {shape:?}", t.dtype(), t.shape()),
                ));
            }
            for (dst, src) in
                flat[offset..offset + shape.iter().product::<usize>()].iter_mut().zip(t.data().chunks_exact(4))
            {
                *dst = f32::from_le_bytes(src.try_into().unwrap());
            }
        }
    }
    Ok(flat)
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn not_safetensors(path: &Path) -> impl Fn(safetensors::SafeTensorError) -> Error + '_ {
    move |e| Error::input(path, 0, format!("not a safetensors checkpoint: {e}"))
}

/// A checkpoint file read whole and checked: every tensor against its sum and
/// the header against its own.
pub struct Checked {
    pub path: PathBuf,
    bytes: Vec<u8>,
    pub meta: HashMap<String, String>,
    /// The header's sum, which stands for the whole file; None for a file written
    /// before header sums (its tensors checked, its header not).
    pub sum: Option<String>,
}

impl Checked {
    pub fn read(path: &Path) -> Result<Checked> {
        Checked::new(path, read_file(path)?)
    }

    /// `bytes` checked (`path` names them in errors).
    pub fn new(path: &Path, bytes: Vec<u8>) -> Result<Checked> {
        let (st, meta) = parse(path, &bytes)?;
        let sum = checksum::verify(path, &bytes, &st, &meta)?;
        drop(st);
        Ok(Checked { path: path.to_path_buf(), bytes, meta, sum })
    }

    /// The file's bytes, as read.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn tensors(&self) -> Result<SafeTensors<'_>> {
        SafeTensors::deserialize(&self.bytes).map_err(not_safetensors(&self.path))
    }
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(SafeTensors<'a>, HashMap<String, String>)> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(not_safetensors(path))?;
    let st = SafeTensors::deserialize(bytes).map_err(not_safetensors(path))?;
    Ok((st, meta.metadata().clone().unwrap_or_default()))
}

/// A file the user vouches for, its sums written anew: every tensor's and the
/// header's, with `records` set in its metadata. The tensors and the other
/// metadata are kept as they are. Returns the file and its header's sum.
pub fn resealed(path: &Path, bytes: &[u8], records: &[(&str, String)]) -> Result<(Vec<u8>, String)> {
    let (st, mut meta) = parse(path, bytes)?;
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec())).collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    meta.extend(records.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut out = file_bytes(&tensors, meta).map_err(|e| Error::io(path, e))?;
    let sum = checksum::seal(&mut out);
    Ok((out, sum))
}

/// `steps`: training steps so far (batch norm's num_batches_tracked). Returns
/// the file's header sum.
pub fn save_model(path: &Path, spec: &Spec, norm: &Norm, slots: &[Slot], params: &[f32], steps: u64) -> Result<String> {
    save_tensors(path, slots, &[("", params)], Some(steps), &[], model_meta(spec, norm))
}

fn model_meta(spec: &Spec, norm: &Norm) -> HashMap<String, String> {
    let (c, h, w) = spec.input;
    let mut meta = HashMap::from([
        ("gpunet.arch".to_string(), spec.text()),
        (INPUT.to_string(), format!("{c},{h},{w}")),
        ("gpunet.scale".to_string(), norm.scale.to_string()),
    ]);
    if let Some(s) = &norm.standard {
        meta.insert(NORMALIZE.to_string(), serde_json::to_string(s).expect("numbers"));
    }
    if !spec.names.is_empty() {
        meta.insert(CLASSES.to_string(), serde_json::to_string(&spec.names).expect("names are strings"));
    }
    meta
}

/// The metadata key of a standardising model's per-channel mean and std (JSON
/// `{"mean": [..], "std": [..]}`; absent: pixels / scale only).
pub const NORMALIZE: &str = "gpunet.normalize";

/// The metadata key of the classes' names, a JSON list (absent: the classes are numbers).
pub const CLASSES: &str = "gpunet.classes";

/// The metadata key of a model's input shape, `C,H,W`; files without it (written
/// before any other shape could be trained) hold MNIST's 1,28,28.
pub const INPUT: &str = "gpunet.input";

/// The input shape a model file's metadata gives.
fn input_of(path: &Path, meta: &HashMap<String, String>) -> Result<crate::data::Shape> {
    let Some(text) = meta.get(INPUT) else { return Ok(crate::data::MNIST) };
    let dims: Vec<usize> = text.split(',').filter_map(|d| d.trim().parse().ok()).filter(|&d| d > 0).collect();
    match dims[..] {
        [c, h, w] => Ok((c, h, w)),
        _ => Err(Error::input(path, 0, format!("its {INPUT} is '{text}', expected C,H,W (three positive sizes)"))),
    }
}

/// Where each value of a model file lies, for writers that fill one in place
/// (the training page): the file for `params` after `steps` steps, and per tensor
/// its byte offset and what it holds.
pub struct ModelLayout {
    pub bytes: Vec<u8>,
    /// (byte offset, first parameter word, words): an F32 tensor copied from the parameters.
    pub floats: Vec<(usize, usize, usize)>,
    /// Byte offsets of the int64 num_batches_tracked scalars (the training steps).
    pub steps: Vec<usize>,
    /// Every tensor's checksum: (byte offset of its 64 hex digits in the header,
    /// byte offset of its data, bytes of data), to be written once the data is.
    pub sums: Vec<(usize, usize, usize)>,
    /// The header's own checksum, written last: (byte offset of its 64 hex
    /// digits, zeros in `bytes`; the header's end), taken over bytes[..end] with
    /// those digits as zeros (`checksum.rs`).
    pub header: (usize, usize),
}

pub fn model_layout(spec: &Spec, norm: &Norm, slots: &[Slot], params: &[f32], steps: u64) -> Result<ModelLayout> {
    let fail = |e: safetensors::SafeTensorError| Error::Gpu(format!("laying out a checkpoint: {e}"));
    let bytes = tensor_bytes(slots, &[("", params)], Some(steps), &[], model_meta(spec, norm)).map_err(fail)?;
    let (mut floats, mut counts, mut sums) = (Vec::new(), Vec::new(), Vec::new());
    {
        let st = SafeTensors::deserialize(&bytes).map_err(fail)?;
        let header = &bytes[..bytes.len().min(8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize)];
        for (name, t) in st.tensors() {
            let key = format!("\"{TENSOR}{name}\":\"");
            let at = header.windows(key.len()).position(|w| w == key.as_bytes()).ok_or_else(|| {
                Error::Gpu(format!("laying out a checkpoint: no checksum for '{name}' in its header"))
            })?;
            sums.push((at + key.len(), t.data().as_ptr() as usize - bytes.as_ptr() as usize, t.data().len()));
        }
        sums.sort_unstable(); // in header order (`tensors()` lists them in a hash map's order)
        let at = |name: &str| -> Result<usize> {
            let t = st.tensor(name).map_err(fail)?;
            Ok(t.data().as_ptr() as usize - bytes.as_ptr() as usize)
        };
        for s in slots {
            let name = |t: &str| format!("layers.{}.{t}", s.layer);
            floats.push((at(&name("weight"))?, s.weight, s.weight_len()));
            floats.push((at(&name("bias"))?, s.bias, s.bias_len()));
            if let Some(r) = s.running {
                floats.push((at(&name("running_mean"))?, r, s.bias_len()));
                floats.push((at(&name("running_var"))?, r + s.bias_len(), s.bias_len()));
                counts.push(at(&name("num_batches_tracked"))?);
            }
        }
    }
    let header =
        checksum::header_place(&bytes).ok_or_else(|| Error::Gpu("laying out a checkpoint: no header sum".into()))?;
    Ok(ModelLayout { bytes, floats, steps: counts, sums, header })
}

/// Reads a model checkpoint, checked: its spec (from metadata) decides the
/// layout, and every tensor must match it.
pub fn load_model(path: &Path) -> Result<(Model, Vec<Slot>)> {
    model_from(&Checked::read(path)?)
}

/// `load_model` on a file's bytes (`path` names it in errors).
pub fn model_from_bytes(path: &Path, bytes: &[u8]) -> Result<(Model, Vec<Slot>)> {
    model_from(&Checked::new(path, bytes.to_vec())?)
}

/// The model a checked file holds.
pub fn model_from(file: &Checked) -> Result<(Model, Vec<Slot>)> {
    model_of(&file.path, &file.tensors()?, &file.meta, file.bytes.len())
}

/// The model in `bytes` without their sums checked: what the fuzz harness
/// reaches past them with.
pub(crate) fn model_unchecked(path: &Path, bytes: &[u8]) -> Result<(Model, Vec<Slot>)> {
    let (st, meta) = parse(path, bytes)?;
    model_of(path, &st, &meta, bytes.len())
}

fn model_of(path: &Path, st: &SafeTensors, meta: &HashMap<String, String>, len: usize) -> Result<(Model, Vec<Slot>)> {
    let arch = meta
        .get("gpunet.arch")
        .ok_or_else(|| Error::input(path, 0, "no 'gpunet.arch' metadata: not a gpunet checkpoint"))?;
    let input = input_of(path, meta)?;
    let mut spec =
        Spec::stored(arch, input).map_err(|e| Error::input(path, 0, format!("its gpunet.arch is invalid: {e}")))?;
    if let Some(text) = meta.get(CLASSES) {
        let names: Vec<String> = serde_json::from_str(text).unwrap_or_default();
        if names.len() != spec.classes() {
            return Err(Error::input(
                path,
                0,
                format!("its {CLASSES} names {} classes, the spec has {}", names.len(), spec.classes()),
            ));
        }
        spec.names = names;
    }
    let scale: f32 = meta
        .get("gpunet.scale")
        .and_then(|s| s.parse().ok())
        .filter(|s: &f32| *s > 0.0)
        .ok_or_else(|| Error::input(path, 0, "missing or bad 'gpunet.scale' metadata"))?;
    let standard = match meta.get(NORMALIZE) {
        None => None,
        Some(text) => {
            let bad = |e: String| Error::input(path, 0, format!("bad '{NORMALIZE}' metadata: {e}"));
            let s: Standard = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
            s.check(spec.input.0).map_err(bad)?;
            Some(s)
        }
    };
    let norm = Norm { scale, standard };
    let (slots, words) = super::net::layout(&spec);
    // the tensors must be in the file before their buffer is made for them
    let need: usize =
        slots.iter().map(|s| s.weight_len() + s.bias_len() * if s.running.is_some() { 3 } else { 1 }).sum();
    if need.saturating_mul(4) > len {
        return Err(Error::input(
            path,
            0,
            format!("the spec '{arch}' has {need} parameters, more than this {len}-byte file can hold"),
        ));
    }
    let params = load_flat(path, st, &slots, words, "", true)?;
    let expected: usize = slots.iter().map(|s| if s.running.is_some() { 5 } else { 2 }).sum();
    if st.len() != expected {
        return Err(Error::input(path, 0, format!("{} tensors, the spec '{arch}' has {expected}", st.len())));
    }
    Ok((Model { spec, norm, params }, slots))
}

/// The metadata key of a run's settings (JSON; settings.rs writes and reads it).
pub const SETTINGS: &str = "gpunet.settings";
pub use super::checksum::EARLIER_SETTINGS;

/// Whether a metadata key holds a run's settings, now or as earlier files did.
pub fn is_settings_key(key: &str) -> bool {
    key == SETTINGS || key.starts_with(EARLIER_SETTINGS)
}

/// Where training stood, saved with the optimizer state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainState {
    /// Epochs fully done.
    pub epoch: usize,
    /// Batches done in the epoch in progress.
    pub batch: usize,
    /// Steps done over the whole run.
    pub step: u64,
    /// Running train (loss sum, correct, rows) of the epoch in progress.
    pub acc: [f64; 3],
    /// The settings that fix the data order and update rule.
    pub settings: HashMap<String, String>,
    /// The run's total epochs when it saved (`--epochs`, or its arch's
    /// default), which a resume keeps unless told otherwise: a schedule spans
    /// them. None in files written before it was recorded.
    pub epochs: Option<usize>,
    /// The dynamic loss scale of a run trained in mixed precision.
    pub loss_scale: Option<crate::optim::LossScale>,
}

/// The tensor of an optimizer file that holds a run's own weights (the whole flat
/// buffer) where its model file holds their moving average (`--ema`).
const LIVE: &str = "live";

/// Writes an optimizer file: m, Adam's v, with `--ema` the weights themselves
/// (`live`, the model file holding their average), where training stood, and
/// `records` (what binds it to the rest of its generation) in its header.
pub fn save_state(
    path: &Path,
    slots: &[Slot],
    (m, v, live): (&[f32], Option<&[f32]>, Option<&[f32]>),
    st: &TrainState,
    records: &[(&str, String)],
) -> Result<()> {
    let mut meta = st.settings.clone();
    meta.extend(records.iter().map(|(k, v)| (k.to_string(), v.clone())));
    meta.insert("gpunet.epoch".into(), st.epoch.to_string());
    meta.insert("gpunet.batch".into(), st.batch.to_string());
    meta.insert("gpunet.step".into(), st.step.to_string());
    if let Some(e) = st.epochs {
        meta.insert("gpunet.epochs".into(), e.to_string());
    }
    meta.insert("gpunet.acc".into(), format!("{},{},{}", st.acc[0], st.acc[1], st.acc[2]));
    if let Some(ls) = st.loss_scale {
        meta.insert(LOSS_SCALE.into(), ls.text());
    }
    let mut flats = vec![("m.", m)];
    if let Some(v) = v {
        flats.push(("v.", v));
    }
    let whole: Vec<(&str, &[f32])> = live.map(|w| (LIVE, w)).into_iter().collect();
    save_tensors(path, slots, &flats, None, &whole, meta).map(|_| ())
}

/// The optimizer file's record of the loss scale: "exp,good,skipped".
const LOSS_SCALE: &str = "gpunet.loss_scale";

/// Where training stood in a checked optimizer file (epoch, batch, step, sums,
/// settings), from its metadata alone.
pub fn state_of(file: &Checked) -> Result<TrainState> {
    let path = &file.path;
    let take = |k: &str| file.meta.get(k).ok_or_else(|| Error::input(path, 0, format!("missing '{k}' metadata")));
    let num = |k: &str| {
        let s = take(k)?;
        s.parse::<u64>().map_err(|_| Error::input(path, 0, format!("bad '{k}' metadata '{s}'")))
    };
    let acc_s = take("gpunet.acc")?;
    let acc: Vec<f64> = acc_s.split(',').filter_map(|x| x.parse().ok()).collect();
    let acc: [f64; 3] =
        acc.try_into().map_err(|_| Error::input(path, 0, format!("bad 'gpunet.acc' metadata '{acc_s}'")))?;
    let settings = file.meta.iter().filter(|(k, _)| is_settings_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let loss_scale = file
        .meta
        .get(LOSS_SCALE)
        .map(|s| {
            crate::optim::LossScale::parse(s).ok_or_else(|| {
                Error::input(
                    path,
                    0,
                    format!("bad '{LOSS_SCALE}' metadata '{s}' (expected exponent,good steps,skipped steps)"),
                )
            })
        })
        .transpose()?;
    Ok(TrainState {
        epoch: num("gpunet.epoch")? as usize,
        batch: num("gpunet.batch")? as usize,
        step: num("gpunet.step")?,
        acc,
        settings,
        epochs: file.meta.contains_key("gpunet.epochs").then(|| num("gpunet.epochs")).transpose()?.map(|e| e as usize),
        loss_scale,
    })
}

/// What an optimizer file written by `save_state` holds.
pub struct SavedState {
    pub m: Vec<f32>,
    pub v: Option<Vec<f32>>,
    /// The run's own weights, where the model file holds their average (`--ema`).
    pub live: Option<Vec<f32>>,
    pub state: TrainState,
}

/// A checked optimizer file written by `save_state`, for a net of `words` parameter words.
pub fn load_state(file: &Checked, slots: &[Slot], words: usize, with_v: bool) -> Result<SavedState> {
    let (path, st) = (&file.path, file.tensors()?);
    let m = load_flat(path, &st, slots, words, "m.", false)?;
    let v = if with_v { Some(load_flat(path, &st, slots, words, "v.", false)?) } else { None };
    let live = match st.tensor(LIVE) {
        Err(_) => None,
        Ok(t) if t.dtype() == Dtype::F32 && t.shape() == [words] => {
            Some(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        }
        Ok(_) => return Err(Error::input(path, 0, format!("tensor '{LIVE}' is not {words} f32 values"))),
    };
    Ok(SavedState { m, v, live, state: state_of(file)? })
}
