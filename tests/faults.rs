//! Faults during training: interrupts save a state that resumes to exactly the
//! uninterrupted result; divergence stops with a clear message; work too big for
//! the adapter is refused naming the limit.

mod common;

use gpunet::gpu::{for_tests, GpuEngine};
use gpunet::model::checkpoint;
use gpunet::run::RunDir;
use gpunet::train::{self, Progress, Quiet, Settings, TrainJob};
use gpunet::Error;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

fn settings(arch: &str) -> Settings {
    Settings { batch: 50, seed: 5, limit: Some(600), ..Settings::new(arch) }
}

/// Sets `stop` once `after` steps have run, as Ctrl-C would.
struct StopAfter<'a> {
    stop: &'a AtomicBool,
    after: usize,
    steps: usize,
}

impl Progress for StopAfter<'_> {
    fn line(&mut self, _: &str) {}
    fn step(&mut self, _: Option<&str>) {
        self.steps += 1;
        if self.steps == self.after {
            self.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// Trains `job` into the run directory `out` (a new run, or the one `job.resume` continues).
fn run(job: &TrainJob, out: &Path, stop: &AtomicBool, ui: &mut dyn Progress) -> Result<train::Report, Error> {
    let mut engine = GpuEngine::new(for_tests().unwrap());
    let mut dir = match &job.resume {
        Some(_) => RunDir::resume(out, 2)?.0,
        None => RunDir::create(out, 2)?,
    };
    train::train(&mut engine, job, train::load_data(&job.settings).unwrap(), stop, ui, &mut dir)
}

/// The current generation's directory of the run in `dir`.
fn current(dir: &Path) -> std::path::PathBuf {
    gpunet::run::generation_dir(dir).unwrap().unwrap()
}

fn losses(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(current(dir).join("metrics.csv")).unwrap();
    // every column but the wall-clock seconds
    text.lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 1).map(|(_, f)| f).collect::<Vec<_>>().join(","))
        .collect()
}

#[test]
fn interrupted_run_resumes_to_the_uninterrupted_result() {
    resumes_exactly(|s| s);
}

/// The same with the weights averaged (the model file holds the average, the
/// optimizer file the weights), AdamW's decay and label smoothing.
#[test]
fn interrupted_run_with_averaged_weights_resumes_to_the_uninterrupted_result() {
    resumes_exactly(|s| Settings {
        ema: Some(0.9),
        optimizer: "adamw".into(),
        weight_decay: 0.05,
        label_smoothing: 0.1,
        ..s
    });
}

fn resumes_exactly(with: fn(Settings) -> Settings) {
    if for_tests().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // batch norm's running statistics must resume too
    let arch = "fc64,bn,drop0.3,fc32,out10";
    // a per-step schedule and augmentation: the resumed run must pick up the rate and
    // the images of its step
    let augment = gpunet::augment::Augment::parse("rotate=10,zoom=0.1,shift=0.1").unwrap();
    let s = with(Settings { lr_schedule: gpunet::schedule::Schedule::OneCycle, augment, ..settings(arch) });
    let averaged = s.ema.is_some();
    let whole = TrainJob { settings: s, epochs: 3, resume: None };
    run(&whole, &dir.path().join("whole"), &AtomicBool::new(false), &mut Quiet).unwrap();

    // 480 training rows in batches of 50: 10 steps an epoch; stop inside epoch 2
    let split_dir = dir.path().join("split");
    let stop = AtomicBool::new(false);
    let err = run(&whole, &split_dir, &stop, &mut StopAfter { stop: &stop, after: 13, steps: 0 }).unwrap_err();
    assert!(matches!(err, Error::Interrupted), "{err}");
    let state = |dir: &Path| {
        let g = gpunet::run::Generation::of(dir).unwrap();
        checkpoint::load_state(
            &g.optim,
            &checkpoint::model_from(&g.model).unwrap().1,
            gpunet::model::net::layout(&gpunet::model::Spec::parse(arch).unwrap()).1,
            true,
        )
        .unwrap()
    };
    let saved = state(&split_dir);
    assert_eq!((saved.state.epoch, saved.state.batch, saved.state.step), (1, 3, 13));
    assert_eq!(saved.live.is_some(), averaged, "the weights themselves are saved beside their average");

    let resumed = TrainJob { resume: Some(split_dir.join("model.safetensors")), ..whole };
    run(&resumed, &split_dir, &AtomicBool::new(false), &mut Quiet).unwrap();
    let a = gpunet::run::load_model(&dir.path().join("whole")).unwrap();
    let b = gpunet::run::load_model(&split_dir).unwrap();
    assert!(a.params == b.params, "resumed weights differ from the uninterrupted run's");
    assert_eq!(losses(&dir.path().join("whole")), losses(&dir.path().join("split")));
    let (live_a, live_b) = (state(&dir.path().join("whole")).live, state(&split_dir).live);
    assert!(live_a == live_b, "the resumed run's own weights differ from the uninterrupted run's");
    if let Some(live) = live_a {
        assert!(live != a.params, "the model file holds the average, not the weights");
    }
}

#[test]
fn divergence_stops_naming_epoch_and_step() {
    if for_tests().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings("mlp:32");
    s.optimizer = "sgd".into();
    s.lr = 1e30;
    let out = dir.path().join("run");
    let job = TrainJob { settings: s, epochs: 2, resume: None };
    let err = run(&job, &out, &AtomicBool::new(false), &mut Quiet).unwrap_err().to_string();
    assert!(err.contains("non-finite in epoch 1") && err.contains("lower --lr"), "{err}");
    common::assert_no_run_left(&out, "a diverged first epoch must leave no run");
    // one step an epoch: the step's loss is still finite, the weights it leaves are
    // not; validation catches it before they are saved
    let one_step = TrainJob { settings: Settings { batch: 480, ..job.settings.clone() }, ..job };
    let err = run(&one_step, &out, &AtomicBool::new(false), &mut Quiet).unwrap_err().to_string();
    assert!(err.contains("validation loss became non-finite after epoch 1"), "{err}");
    common::assert_no_run_left(&out, "diverged weights must not be saved");
}

#[test]
fn a_batch_beyond_the_adapter_limits_names_the_limit() {
    let Some(gpu) = for_tests() else { return };
    let max = gpu.limits.max_storage_buffer_binding_size as usize;
    // one wide layer whose output (batch x units floats) outgrows a binding at a
    // batch that is still legal (batch x 784 < 2^24)
    let units = 4096.max(max / (4 * 20_000) + 1);
    let batch = max / (units * 4) + 1;
    let mut s = settings(&format!("fc{units},out10"));
    s.limit = Some(batch + 10);
    s.val_split = 0.0;
    s.batch = batch;
    let dir = tempfile::tempdir().unwrap();
    let job = TrainJob { settings: s, epochs: 1, resume: None };
    let err = run(&job, &dir.path().join("run"), &AtomicBool::new(false), &mut Quiet).unwrap_err().to_string();
    assert!(err.contains("max_storage_buffer_binding_size") && err.contains("--batch-size"), "{err}");
}

/// Starts a long native training run in a temp dir and waits until it trains.
fn start_run() -> (tempfile::TempDir, std::process::Child, BufReader<std::process::ChildStdout>) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpunet"))
        .args(["train", "--device", "cpu", "--arch", "mlp:64", "--limit", "3000", "--batch-size", "10"])
        .args(["--epochs", "100000", "--out", "run"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the engine line, then the run's line once training is set up
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("engine: native CPU") && first.contains("--device cpu"), "{first}");
    out.read_line(&mut first).unwrap();
    assert!(first.contains("mlp:64 on native CPU"), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    (dir, child, out)
}

fn signal(child: &std::process::Child, sig: &str) {
    let kill = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
}

/// Exit 130, the interrupt message on stdout, all three files and no temporary ones.
fn assert_saved(dir: &Path, child: std::process::Child, mut out: BufReader<std::process::ChildStdout>) {
    let status = child.wait_with_output().unwrap().status;
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "stdout: {rest}");
    // "interrupted in epoch N after batch b/B", or "after epoch N" when the signal lands
    // between epochs (the native engine runs these tiny epochs in a tenth of a second)
    let said = rest.contains("interrupted in epoch ") || rest.contains("interrupted after epoch ");
    assert!(said && rest.contains("continue with --resume run"), "{rest}");
    for f in ["model.safetensors", "optim.safetensors", "metrics.csv"] {
        assert!(current(&dir.join("run")).join(f).exists(), "{f} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("run"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

// signals are the CLI's business, whichever engine runs: the native one always exists
#[test]
fn sigint_saves_state_and_exits_130() {
    let (dir, child, out) = start_run();
    signal(&child, "-INT");
    assert_saved(dir.path(), child, out);
}

#[test]
fn sigterm_and_sighup_save_too() {
    for sig in ["-TERM", "-HUP"] {
        let (dir, child, out) = start_run();
        signal(&child, sig);
        assert_saved(dir.path(), child, out);
    }
}

#[test]
fn a_doubled_interrupt_still_saves() {
    // what `timeout` does on Ctrl-C: the same SIGINT to the child and to its group,
    // microseconds apart; only a second interrupt a second later quits unsaved
    let (dir, child, out) = start_run();
    signal(&child, "-INT");
    signal(&child, "-INT");
    assert_saved(dir.path(), child, out);
}

/// Every test above once more with the run directory's portable fallbacks.
#[test]
fn the_portable_fallback_passes_these_tests() {
    common::rerun_portable("the_portable_fallback_passes_these_tests");
}
