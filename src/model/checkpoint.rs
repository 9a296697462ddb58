//! Checkpoints: `model.safetensors` holds the weights in PyTorch layouts
//! (`layers.{i}.weight` as (out, in, k, k) or (out, in), `layers.{i}.bias`; batch
//! norm as PyTorch's BatchNorm: weight, bias, running_mean, running_var (C) and
//! num_batches_tracked (an int64 scalar)) with metadata `gpunet.arch` (the spec)
//! and `gpunet.scale` (the pixel divisor).
//! `optim.safetensors` beside it holds the optimizer state and where training
//! stood, so `--resume` continues exactly.

use super::net::Slot;
use super::spec::Spec;
use crate::error::{Error, Result};
use crate::io::write_atomic;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;

/// The parameters of a net, flat in its slot layout, plus what they mean.
pub struct Model {
    pub spec: Spec,
    pub scale: f32,
    pub params: Vec<f32>,
}

/// Metadata key prefix of each tensor's checksum: `gpunet.sha256.<tensor name>`.
const SUM: &str = "gpunet.sha256.";

fn hex_sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every tensor against its checksum, where the file has them (files from before
/// checksums have none, and load as they are): a flipped byte never loads silently.
fn verify(path: &Path, st: &SafeTensors, meta: &HashMap<String, String>) -> Result<()> {
    if !meta.keys().any(|k| k.starts_with(SUM)) {
        return Ok(());
    }
    for (name, t) in st.tensors() {
        match meta.get(&format!("{SUM}{name}")) {
            None => {
                return Err(Error::input(
                    path,
                    0,
                    format!("tensor '{name}' has no checksum: the file is damaged or was altered"),
                ))
            }
            Some(want) if *want != hex_sha256(t.data()) => {
                return Err(Error::input(
                    path,
                    0,
                    format!("tensor '{name}' fails its sha256 checksum: the file is damaged"),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes the named tensors (taken from flat buffers by slot) and metadata,
/// atomically. `steps` (Some for a model file) adds batch norm's running
/// statistics and its num_batches_tracked.
fn save_tensors(
    path: &Path,
    slots: &[Slot],
    flats: &[(&str, &[f32])],
    steps: Option<u64>,
    whole: &[(&str, &[f32])],
    meta: HashMap<String, String>,
) -> Result<()> {
    let bytes = tensor_bytes(slots, flats, steps, whole, meta).map_err(|e| Error::io(path, e))?;
    write_atomic(path, |w| w.write_all(&bytes))
}

/// The safetensors file `save_tensors` writes; `whole` are flat buffers kept
/// whole, one tensor each, named as given.
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
    let mut meta = meta;
    for (name, _, _, data) in &owned {
        meta.insert(format!("{SUM}{name}"), hex_sha256(data));
    }
    let views: Vec<(String, TensorView)> = owned
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

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<(SafeTensors<'a>, HashMap<String, String>)> {
    let not_st = |e: safetensors::SafeTensorError| Error::input(path, 0, format!("not a safetensors checkpoint: {e}"));
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(not_st)?;
    let st = SafeTensors::deserialize(bytes).map_err(not_st)?;
    let meta = meta.metadata().clone().unwrap_or_default();
    verify(path, &st, &meta)?;
    Ok((st, meta))
}

/// The metadata of a safetensors file.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let bytes = read_file(path)?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::input(path, 0, format!("not a safetensors checkpoint: {e}")))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// `steps`: training steps so far (batch norm's num_batches_tracked).
pub fn save_model(path: &Path, spec: &Spec, scale: f32, slots: &[Slot], params: &[f32], steps: u64) -> Result<()> {
    save_tensors(path, slots, &[("", params)], Some(steps), &[], model_meta(spec, scale))
}

fn model_meta(spec: &Spec, scale: f32) -> HashMap<String, String> {
    HashMap::from([("gpunet.arch".to_string(), spec.text()), ("gpunet.scale".to_string(), scale.to_string())])
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
}

pub fn model_layout(spec: &Spec, scale: f32, slots: &[Slot], params: &[f32], steps: u64) -> Result<ModelLayout> {
    let fail = |e: safetensors::SafeTensorError| Error::Gpu(format!("laying out a checkpoint: {e}"));
    let bytes = tensor_bytes(slots, &[("", params)], Some(steps), &[], model_meta(spec, scale)).map_err(fail)?;
    let (mut floats, mut counts, mut sums) = (Vec::new(), Vec::new(), Vec::new());
    {
        let st = SafeTensors::deserialize(&bytes).map_err(fail)?;
        let header = &bytes[..bytes.len().min(8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize)];
        for (name, t) in st.tensors() {
            let key = format!("\"{SUM}{name}\":\"");
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
    Ok(ModelLayout { bytes, floats, steps: counts, sums })
}

/// Reads a model checkpoint: its spec (from metadata) decides the layout, and
/// every tensor must match it.
pub fn load_model(path: &Path) -> Result<(Model, Vec<Slot>)> {
    model_from_bytes(path, &read_file(path)?)
}

/// `load_model` on a file's bytes (`path` names it in errors).
pub fn model_from_bytes(path: &Path, bytes: &[u8]) -> Result<(Model, Vec<Slot>)> {
    let (st, meta) = parse(path, bytes)?;
    let arch = meta
        .get("gpunet.arch")
        .ok_or_else(|| Error::input(path, 0, "no 'gpunet.arch' metadata: not a gpunet checkpoint"))?;
    let spec = Spec::parse(arch).map_err(|e| Error::input(path, 0, format!("its gpunet.arch is invalid: {e}")))?;
    let scale: f32 = meta
        .get("gpunet.scale")
        .and_then(|s| s.parse().ok())
        .filter(|s: &f32| *s > 0.0)
        .ok_or_else(|| Error::input(path, 0, "missing or bad 'gpunet.scale' metadata"))?;
    let (slots, words) = super::net::layout(&spec);
    // the tensors must be in the file before their buffer is made for them
    let need: usize =
        slots.iter().map(|s| s.weight_len() + s.bias_len() * if s.running.is_some() { 3 } else { 1 }).sum();
    if need.saturating_mul(4) > bytes.len() {
        return Err(Error::input(
            path,
            0,
            format!("the spec '{arch}' has {need} parameters, more than this {}-byte file can hold", bytes.len()),
        ));
    }
    let params = load_flat(path, &st, &slots, words, "", true)?;
    let expected: usize = slots.iter().map(|s| if s.running.is_some() { 5 } else { 2 }).sum();
    if st.len() != expected {
        return Err(Error::input(path, 0, format!("{} tensors, the spec '{arch}' has {expected}", st.len())));
    }
    Ok((Model { spec, scale, params }, slots))
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
}

/// The tensor of an optimizer file that holds a run's own weights (the whole flat
/// buffer) where its model file holds their moving average (`--ema`).
const LIVE: &str = "live";

/// Writes an optimizer file: m, Adam's v, with `--ema` the weights themselves
/// (`live`, the model file holding their average), and where training stood.
pub fn save_state(
    path: &Path,
    slots: &[Slot],
    m: &[f32],
    v: Option<&[f32]>,
    live: Option<&[f32]>,
    st: &TrainState,
) -> Result<()> {
    let mut meta = st.settings.clone();
    meta.insert("gpunet.epoch".into(), st.epoch.to_string());
    meta.insert("gpunet.batch".into(), st.batch.to_string());
    meta.insert("gpunet.step".into(), st.step.to_string());
    meta.insert("gpunet.acc".into(), format!("{},{},{}", st.acc[0], st.acc[1], st.acc[2]));
    let mut flats = vec![("m.", m)];
    if let Some(v) = v {
        flats.push(("v.", v));
    }
    let whole: Vec<(&str, &[f32])> = live.map(|w| (LIVE, w)).into_iter().collect();
    save_tensors(path, slots, &flats, None, &whole, meta)
}

/// Where training stood in an optimizer file (epoch, batch, step, sums,
/// settings), from its metadata alone.
pub fn load_state_meta(path: &Path) -> Result<TrainState> {
    state_from_meta(path, read_metadata(path)?)
}

fn state_from_meta(path: &Path, mut meta: HashMap<String, String>) -> Result<TrainState> {
    meta.retain(|k, _| !k.starts_with(SUM));
    let mut take = |k: &str| meta.remove(k).ok_or_else(|| Error::input(path, 0, format!("missing '{k}' metadata")));
    let num =
        |s: String, k: &str| s.parse::<u64>().map_err(|_| Error::input(path, 0, format!("bad '{k}' metadata '{s}'")));
    let epoch = num(take("gpunet.epoch")?, "gpunet.epoch")? as usize;
    let batch = num(take("gpunet.batch")?, "gpunet.batch")? as usize;
    let step = num(take("gpunet.step")?, "gpunet.step")?;
    let acc_s = take("gpunet.acc")?;
    let acc: Vec<f64> = acc_s.split(',').filter_map(|x| x.parse().ok()).collect();
    let acc: [f64; 3] =
        acc.try_into().map_err(|_| Error::input(path, 0, format!("bad 'gpunet.acc' metadata '{acc_s}'")))?;
    Ok(TrainState { epoch, batch, step, acc, settings: meta })
}

/// What an optimizer file written by `save_state` holds.
pub struct SavedState {
    pub m: Vec<f32>,
    pub v: Option<Vec<f32>>,
    /// The run's own weights, where the model file holds their average (`--ema`).
    pub live: Option<Vec<f32>>,
    pub state: TrainState,
}

/// An optimizer file written by `save_state`, for a net of `words` parameter words.
pub fn load_state(path: &Path, slots: &[Slot], words: usize, with_v: bool) -> Result<SavedState> {
    let bytes = read_file(path)?;
    let (st, meta) = parse(path, &bytes)?;
    let m = load_flat(path, &st, slots, words, "m.", false)?;
    let v = if with_v { Some(load_flat(path, &st, slots, words, "v.", false)?) } else { None };
    let live = match st.tensor(LIVE) {
        Err(_) => None,
        Ok(t) if t.dtype() == Dtype::F32 && t.shape() == [words] => {
            Some(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
        }
        Ok(_) => return Err(Error::input(path, 0, format!("tensor '{LIVE}' is not {words} f32 values"))),
    };
    Ok(SavedState { m, v, live, state: state_from_meta(path, meta)? })
}
