//! A fuzz harness for every parser that reads what users hand it: checkpoints
//! (safetensors), IDX images and labels (gzipped or not), Kaggle CSVs, CIFAR
//! batches and the tar archives they come in,
//! metrics.csv, the spec grammar, `--augment` and `--lr-schedule`. Each target
//! starts from valid inputs and mutates them (bit flips, interesting bytes,
//! header words set to extremes, cuts, splices, repeats, random bytes), runs the
//! parser, and checks that it returned (Ok or Err) without a panic and allocated
//! at most a small multiple of its input. `cargo bench --bench fuzz` runs a
//! million cases a target; tests/fuzz.rs a short run of the same in CI.
//!
//! The allocation bound needs the binary's allocator to count: the bench and the
//! test install `fuzz::Counting` as their global allocator.

use crate::data::{self, Images};
use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A global allocator that tracks the bytes allocated and their peak.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator unchanged; the counters
// are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let live = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

/// What `f` returns and the most bytes it held allocated at once beyond what was
/// allocated before it (where `Counting` is the global allocator; else 0).
pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

/// Bytes a parse may allocate beyond `FACTOR` times its input: fixed costs
/// (a CSV reader's buffer, a header's map, an error message, a picture
/// decoder's tables: 1.1 MiB for the smallest GIF or JPEG).
pub const SLACK: usize = 2 << 20;
/// How many times its input's size a parse may allocate.
pub const FACTOR: usize = 16;

/// A parser under test: it takes bytes and must return, whatever they are.
pub struct Target {
    pub name: &'static str,
    /// Valid inputs to start mutating from.
    pub seeds: Vec<Vec<u8>>,
    pub parse: fn(&[u8]) -> bool,
}

/// What a run of one target found.
#[derive(Clone, Debug, Default)]
pub struct Finding {
    pub cases: u64,
    /// Inputs the parser accepted (the rest it refused with an error).
    pub accepted: u64,
    pub seconds: f64,
    pub panics: Vec<String>,
    /// The most bytes one parse allocated at once.
    pub peak: usize,
    /// The most one parse allocated over its input's size, among inputs of 4 KiB or more.
    pub worst_ratio: f64,
    /// Inputs that allocated more than FACTOR × their size + SLACK.
    pub over: Vec<String>,
}

/// A small, fast generator (xorshift64*), seeded per run so a finding replays.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn word(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.word() % n.max(1) as u64) as usize
    }
}

/// One mutation of `input`, with a seed input for splices.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    let n = input.len();
    match rng.below(11) {
        // flip a bit
        0 if n > 0 => {
            let i = rng.below(n);
            input[i] ^= 1 << rng.below(8);
        }
        // an interesting byte
        1 if n > 0 => {
            const BYTES: [u8; 12] = [0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b',', b'\n', b'"', b'{', b'-'];
            let i = rng.below(n);
            input[i] = BYTES[rng.below(BYTES.len())];
        }
        // a 32- or 64-bit word (a length, a count, an offset) set to an extreme
        2 if n >= 8 => {
            const WORDS: [u64; 8] = [0, 1, 0x7fff_ffff, 0xffff_ffff, 1 << 31, 1 << 40, u64::MAX, 784];
            let i = rng.below(n - 7);
            let w = WORDS[rng.below(WORDS.len())];
            if rng.below(2) == 0 {
                input[i..i + 8].copy_from_slice(&w.to_le_bytes());
            } else {
                input[i..i + 4].copy_from_slice(&(w as u32).to_be_bytes());
            }
        }
        // cut
        3 if n > 0 => input.truncate(rng.below(n)),
        // remove a run
        4 if n > 1 => {
            let i = rng.below(n);
            let len = rng.below((n - i).min(64)) + 1;
            input.drain(i..i + len);
        }
        // insert random bytes
        5 => {
            let i = rng.below(n + 1);
            let bytes: Vec<u8> = (0..rng.below(16) + 1).map(|_| rng.word() as u8).collect();
            input.splice(i..i, bytes);
        }
        // repeat a run (long lines, many fields)
        6 if n > 0 => {
            let i = rng.below(n);
            let len = rng.below((n - i).min(256)) + 1;
            let run: Vec<u8> = input[i..i + len].to_vec();
            let times = rng.below(64) + 1;
            let at = rng.below(n + 1);
            input.splice(at..at, run.iter().copied().cycle().take(len * times));
        }
        // splice in part of another seed
        7 if !other.is_empty() => {
            let i = rng.below(n + 1);
            let j = rng.below(other.len());
            let len = rng.below((other.len() - j).min(512)) + 1;
            input.splice(i..i, other[j..j + len].iter().copied());
        }
        // an ASCII digit run made huge or negative (numbers in text)
        8 if n > 0 => {
            let i = rng.below(n);
            let digits =
                ["99999999999999999999", "-1", "0", "4294967296", "1e308", "NaN", "inf", "00", "100000", "65535", "9"];
            input.splice(i..i, digits[rng.below(digits.len())].bytes());
        }
        // a number in text (a width, a count, a rate) replaced by another
        9 if n > 0 => {
            let from = rng.below(n);
            if let Some(start) = (from..n).find(|&i| input[i].is_ascii_digit()) {
                let end = (start..n).find(|&i| !input[i].is_ascii_digit()).unwrap_or(n);
                let numbers =
                    ["0", "1", "7", "64", "100000", "65536", "16777216", "4294967295", "99999999999999999999"];
                input.splice(start..end, numbers[rng.below(numbers.len())].bytes());
            }
        }
        // all random
        _ => {
            *input = (0..rng.below(256)).map(|_| rng.word() as u8).collect();
        }
    }
}

/// Runs `cases` mutated inputs through `t`, from seed `seed`.
pub fn run(t: &Target, cases: u64, seed: u64) -> Finding {
    let mut rng = Rng::new(seed);
    let mut f = Finding::default();
    let start = std::time::Instant::now();
    // panics are findings, not noise on stderr
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for case in 0..cases {
        let base = &t.seeds[rng.below(t.seeds.len())];
        let other = &t.seeds[rng.below(t.seeds.len())];
        let mut input = base.clone();
        for _ in 0..rng.below(4) + 1 {
            mutate(&mut rng, &mut input, other);
        }
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let parse = t.parse;
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| parse(&input)));
        let used = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        f.cases += 1;
        match outcome {
            Ok(true) => f.accepted += 1,
            Ok(false) => {}
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                if f.panics.len() < 5 {
                    f.panics.push(format!("case {case} (seed {seed}, {} bytes): {msg}", input.len()));
                }
            }
        }
        f.peak = f.peak.max(used);
        if input.len() >= 4096 {
            f.worst_ratio = f.worst_ratio.max(used as f64 / input.len() as f64);
        }
        if used > FACTOR * input.len() + SLACK && f.over.len() < 5 {
            f.over.push(format!("case {case} (seed {seed}): {} bytes of input allocated {used}", input.len()));
        }
    }
    std::panic::set_hook(hook);
    f.seconds = start.elapsed().as_secs_f64();
    f
}

/// A checkpoint from a header's JSON: the length prefix made to fit it, and as
/// many zero bytes of data as its tensors' offsets claim (up to 64 KiB), loaded
/// past its sums (which a mutated header never has right).
fn checkpoint_from_header(json: &[u8]) -> bool {
    let claimed = serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .and_then(|h| h.as_object()?.values().filter_map(|t| t["data_offsets"][1].as_u64()).max())
        .unwrap_or(0)
        .min(64 << 10) as usize;
    let bytes = [&(json.len() as u64).to_le_bytes()[..], json, &vec![0u8; claimed]].concat();
    crate::model::checkpoint::model_unchecked(Path::new("fuzz.safetensors"), &bytes).is_ok()
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("\u{fffd}")
}

/// IDX images and labels (plain) and a Kaggle CSV of the embedded MNIST's first
/// three images.
fn data_seeds() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let few = data::mnist_test().map(|t| t.truncate(3)).unwrap_or(Images::digits(vec![0; 784], Some(vec![7])));
    let mut idx_images = vec![0, 0, 8, 3];
    idx_images.extend((few.len() as u32).to_be_bytes());
    idx_images.extend(28u32.to_be_bytes());
    idx_images.extend(28u32.to_be_bytes());
    idx_images.extend(&few.pixels);
    let mut idx_labels = vec![0, 0, 8, 1];
    idx_labels.extend((few.len() as u32).to_be_bytes());
    idx_labels.extend(few.labels.clone().unwrap_or_default());
    let mut csv = String::from("label");
    (0..784).for_each(|i| csv += &format!(",pixel{i}"));
    for r in 0..few.len() {
        csv += &format!("\n{}", few.labels.as_ref().map_or(0, |l| l[r]));
        few.pixels[r * 784..][..784].iter().for_each(|p| csv += &format!(",{p}"));
    }
    (idx_images, idx_labels, csv.into_bytes())
}

fn gz(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = z.write_all(b);
    z.finish().unwrap_or_default()
}

/// Sealed checkpoints of a few nets, and their headers' JSON alone without
/// checksums, loaded past them: mutations of the JSON then reach the spec,
/// shapes and offsets behind them.
fn checkpoint_seeds() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let checkpoints: Vec<Vec<u8>> = ["fc8,out10", "conv4k3,bn,pool2,fc8,out10", "conv2k3s2valid,relu,drop0.5,out10"]
        .iter()
        .filter_map(|arch| {
            let spec = crate::model::Spec::parse(arch).ok()?;
            let (slots, words) = crate::model::net::layout(&spec);
            let params: Vec<f32> = (0..words).map(|i| i as f32 * 0.01).collect();
            let mut bytes =
                crate::model::checkpoint::model_layout(&spec, &crate::data::norm::Norm::default(), &slots, &params, 3)
                    .ok()?
                    .bytes;
            crate::model::checksum::seal(&mut bytes);
            Some(bytes)
        })
        .collect();
    let headers = checkpoints
        .iter()
        .filter_map(|c| {
            let n = 8 + u64::from_le_bytes(c[..8].try_into().ok()?) as usize;
            let mut h: serde_json::Value = serde_json::from_slice(&c[8..n]).ok()?;
            h["__metadata__"]
                .as_object_mut()?
                .retain(|k, _| !k.starts_with("gpunet.sha256.") && k != "gpunet.header_sha256");
            Some(h.to_string().into_bytes())
        })
        .collect();
    (checkpoints, headers)
}

/// Small pictures in each format a class folder may hold.
pub fn picture_seeds() -> Vec<Vec<u8>> {
    use image::ImageFormat as F;
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(6, 5, |x, y| {
        image::Rgba([x as u8 * 40, y as u8 * 50, 7, 200])
    }));
    [F::Png, F::Jpeg, F::Gif, F::Bmp, F::Pnm]
        .into_iter()
        .filter_map(|f| {
            let mut out = std::io::Cursor::new(Vec::new());
            let img =
                if f == F::Jpeg || f == F::Pnm { image::DynamicImage::ImageRgb8(img.to_rgb8()) } else { img.clone() };
            img.write_to(&mut out, f).ok().map(|_| out.into_inner())
        })
        .collect()
}

/// Two CIFAR-100 records: coarse and fine label bytes, 3,072 pixels each.
fn cifar_records() -> Vec<u8> {
    (0..2)
        .flat_map(|r| [r as u8 + 3, r as u8 + 40].into_iter().chain((0..3072u32).map(move |i| (i * 7 + r) as u8)))
        .collect()
}

/// Every target, seeded from real inputs: the embedded MNIST's first images as
/// IDX (plain and gzipped) and CSV, checkpoints of a few nets, metrics, specs.
pub fn targets() -> Vec<Target> {
    let (idx_images, idx_labels, csv) = data_seeds();
    let (checkpoints, headers) = checkpoint_seeds();
    let specs =
        ["cnn6", "mlp:10,20", "conv32k5s2valid,bn,relu,pool2,drop0.25,fc64lin,bn,out10", "deotte", "conv8k3,gap,out10"];
    // four-dimensional IDX: two 3x4x5 images, channels first and channels last
    let idx4 = |dims: [u32; 3]| {
        let head = [0x0804u32, 2, dims[0], dims[1], dims[2]].into_iter().flat_map(u32::to_be_bytes);
        head.chain((0..120u8).map(|v| v.wrapping_mul(37))).collect::<Vec<u8>>()
    };
    vec![
        Target {
            name: "checkpoint (safetensors)",
            seeds: checkpoints,
            parse: |b| crate::model::checkpoint::model_from_bytes(Path::new("fuzz.safetensors"), b).is_ok(),
        },
        Target { name: "checkpoint header (JSON)", seeds: headers, parse: checkpoint_from_header },
        Target {
            name: "IDX images (gzip or plain)",
            seeds: vec![idx_images.clone(), gz(&idx_images), idx4([3, 4, 5]), gz(&idx4([4, 5, 3]))],
            parse: |b| data::idx::gunzip(b).is_ok_and(|raw| data::idx::parse_images(&raw, "fuzz").is_ok()),
        },
        Target {
            name: "IDX labels (gzip or plain)",
            seeds: vec![idx_labels.clone(), gz(&idx_labels)],
            parse: |b| data::idx::gunzip(b).is_ok_and(|raw| data::idx::parse_labels(&raw, "fuzz").is_ok()),
        },
        Target { name: "Kaggle CSV", seeds: vec![csv], parse: |b| data::csv::parse(b, Path::new("fuzz.csv")).is_ok() },
        Target {
            name: "picture (PNG, JPEG, GIF, BMP, WebP, PNM)",
            seeds: picture_seeds(),
            // sides up to 64 here: the harness bounds allocation by the input's size
            parse: |b| data::folder::picture_from_bytes(b, (3, 8, 8), 64).is_ok(),
        },
        Target { name: "CIFAR-100 batch", seeds: vec![cifar_records()], parse: data::cifar::fuzz },
        Target {
            name: "tar archive",
            seeds: vec![data::tar::write(&[
                ("cifar-100-binary/train.bin", &cifar_records()),
                ("cifar-100-binary/fine_label_names.txt", b"apple\nbee\n"),
            ])],
            parse: |b| data::tar::read(b, |_| true, |_, _| Ok(())).is_ok(),
        },
        Target {
            name: "metrics.csv",
            seeds: vec![b"epoch,seconds,loss,accuracy,val_loss,val_accuracy,lr\n1,0.5,0.3,0.9,0.2,0.95,0.001\n2,0.5,0.2,0.93,,,0.001\n".to_vec()],
            parse: |b| crate::run::parse_metrics(text(b), Path::new("fuzz.csv")).is_ok(),
        },
        Target {
            name: "spec grammar",
            seeds: specs.iter().map(|s| s.as_bytes().to_vec()).collect(),
            parse: |b| crate::model::Spec::parse(text(b)).is_ok(),
        },
        Target {
            name: "--augment",
            seeds: vec![b"rotate=10,zoom=0.1,shift=0.1".to_vec(), b"none".to_vec(), b"zoom=0.9".to_vec()],
            parse: |b| crate::augment::Augment::parse(text(b)).is_ok(),
        },
        Target {
            name: "--lr-schedule",
            seeds: vec![b"exp:0.95".to_vec(), b"onecycle".to_vec(), b"cosine".to_vec()],
            parse: |b| crate::schedule::Schedule::parse(text(b)).is_ok(),
        },
    ]
}
