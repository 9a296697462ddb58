//! Refactors prove themselves: every named arch, and a spec of every layer kind,
//! trained 20 steps by the whole training loop on the reference engine (plain
//! Rust loops, one thread: the same bits on any x86-64), gives model and
//! optimizer tensors and a metrics.csv (seconds aside) whose sha256 are in
//! tests/fixtures/same_bits.txt. Those sums were written by the commit before
//! issue 31's refactors began (8cf871e) with `GPUNET_WRITE_SAME_BITS=1`, which
//! rewrites them: do that only for a change that is meant to change results,
//! and say so in its commit.

use gpunet::cpu::CpuEngine;
use gpunet::model::spec::NAMED;
use gpunet::run::RunDir;
use gpunet::settings::Settings;
use gpunet::train::{load_data, train, Quiet, TrainJob};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Besides the named archs: every layer kind and option the spec grammar had
/// at 8cf871e, and each kind added since.
const SPECS: [&str; 2] = [
    "conv8k3,bn,relu,pool2,drop0.25,conv8k3s2valid,fc16lin,bn,relu,drop0.5,out10",
    // global average pooling, pinned from the commit that added it
    "conv8k3,pool2,conv16k3,gap,fc16,out10",
];

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/same_bits.txt");

/// The tensor data (headers aside: they may gain keys) of a generation's model
/// and optimizer files, and its metrics.csv without the seconds column.
fn digest(generation: &Path) -> String {
    let mut h = Sha256::new();
    for file in ["model.safetensors", "optim.safetensors"] {
        let bytes = std::fs::read(generation.join(file)).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        h.update(&bytes[8 + n..]);
    }
    let metrics = std::fs::read_to_string(generation.join("metrics.csv")).unwrap();
    for line in metrics.lines() {
        let mut cols: Vec<&str> = line.split(',').collect();
        cols.remove(1);
        h.update(cols.join(",").as_bytes());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

/// 20 steps of `arch` with its own settings (schedule, augmentation, optimizer)
/// but batch 4 on 80 training and 20 validation images, no test set.
fn trained(arch: &str, dir: &Path) -> String {
    let mut s = Settings::new(arch);
    s.batch = 4;
    s.limit = Some(100);
    s.val_split = 0.2;
    let mut data = load_data(&s).unwrap();
    data.test = None;
    let out = dir.join(arch.replace(',', "_"));
    let mut run = RunDir::create(&out, 1).unwrap();
    let job = TrainJob { settings: s, epochs: 1, resume: None };
    let report = train(&mut CpuEngine::new(), &job, data, &AtomicBool::new(false), &mut Quiet, &mut run).unwrap();
    assert_eq!(report.epochs.len(), 1);
    digest(&gpunet::run::generation_dir(&out).unwrap().unwrap())
}

#[test]
fn every_arch_trains_to_the_same_bits_as_before_the_refactors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let archs: Vec<&str> = NAMED.iter().map(|n| n.0).chain(SPECS).collect();
    let got: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = archs.iter().map(|&a| s.spawn(move || format!("{a} {}", trained(a, dir)))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    if std::env::var_os("GPUNET_WRITE_SAME_BITS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(Path::new(FIXTURES).parent().unwrap()).unwrap();
        std::fs::write(FIXTURES, got.join("\n") + "\n").unwrap();
        return;
    }
    let want = std::fs::read_to_string(FIXTURES).unwrap();
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(got.len(), want.len(), "archs: {got:#?}\nfixtures: {want:#?}");
    let differ: Vec<String> =
        got.iter().zip(&want).filter(|(g, w)| g != w).map(|(g, w)| format!("got  {g}\nwant {w}")).collect();
    assert!(differ.is_empty(), "training results changed:\n{}", differ.join("\n"));
}
