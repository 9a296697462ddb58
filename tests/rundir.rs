//! The run directory under faults, as a user meets them (the CLI, native engine,
//! tiny runs): a full disk at every write of a save, SIGKILL at random instants,
//! two runs into one directory, a bad --out, a run with nothing left to do, a
//! flipped byte. Every case ends resumable or refused up front, nothing lost.

mod common;

use common::text;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const TINY: [&str; 10] = ["--device", "cpu", "--arch", "mlp:32", "--limit", "600", "--batch-size", "50", "--seed", "3"];

fn train(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    common::run(dir, &[&["train"][..], &TINY, extra].concat(), env)
}

/// metrics.csv's epochs, in order.
fn epochs(run: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect()
}

fn generations(run: &Path) -> Vec<String> {
    let mut g: Vec<String> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("gen-"))
        .collect();
    g.sort();
    g
}

#[test]
fn generations_current_best_and_keep() {
    let d = tempfile::tempdir().unwrap();
    let o = train(d.path(), &["--epochs", "4", "--out", "run", "--keep", "1"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let run = d.path().join("run");
    let current = std::fs::read_link(run.join("current")).unwrap();
    let best = std::fs::read_link(run.join("best")).unwrap();
    let gens = generations(&run);
    // four saves (one an epoch): the current, the best, one more kept
    assert_eq!(current.to_str().unwrap(), "gen-000003");
    assert!(gens.len() <= 3 && gens.contains(&"gen-000003".into()), "{gens:?}");
    assert!(gens.contains(&best.to_string_lossy().to_string()), "best {best:?} pruned: {gens:?}");
    assert_eq!(epochs(&run), [1, 2, 3, 4]);
    // predict and eval take the run, and its best
    for model in ["run", "run/best", "run/model.safetensors", "run/gen-000003"] {
        let o = common::run(
            d.path(),
            &["predict", "--device", "cpu", "--model", model, "--input", "run/../probe.csv"],
            &[],
        );
        let err = text(&o);
        // the input is missing: the model was found and loaded first
        assert!(err.contains("probe.csv") && !err.contains("model.safetensors:"), "--model {model}: {err}");
    }
    // a new run into it is refused, resuming it is not
    let o = train(d.path(), &["--epochs", "5", "--out", "run"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already holds a run") && text(&o).contains("--resume run"), "{}", text(&o));
    let o = train(d.path(), &["--epochs", "5", "--resume", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(epochs(&run), [1, 2, 3, 4, 5]);
    let o = train(d.path(), &["--epochs", "5", "--resume", "run"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("nothing left to do: the run in run has trained 5 epochs already"), "{}", text(&o));
}

/// A full disk at each write of the first two saves (model, optimizer state,
/// metrics: three each): the run stops with the error, the directory holds the
/// last complete generation (or nothing at all), and resuming finishes the run
/// with every epoch's row once.
#[test]
fn a_full_disk_at_any_write_leaves_a_resumable_run() {
    for write in 1..=6 {
        let d = tempfile::tempdir().unwrap();
        let at = write.to_string();
        let o = train(d.path(), &["--epochs", "3", "--out", "run"], &[("GPUNET_INJECT_ENOSPC", &at)]);
        assert_eq!(o.status.code(), Some(1), "write {write}: {}", text(&o));
        assert!(text(&o).contains("No space left on device"), "write {write}: {}", text(&o));
        let run = d.path().join("run");
        if write <= 3 {
            // the first save failed: nothing was saved, and nothing is left
            assert!(!run.exists(), "write {write}: a run that saved nothing left {run:?}");
            continue;
        }
        assert_eq!(epochs(&run), [1], "write {write}");
        let leftovers: Vec<String> = std::fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "write {write}: {leftovers:?}");
        let o = train(d.path(), &["--epochs", "3", "--resume", "run"], &[]);
        assert!(o.status.success(), "write {write}: {}", text(&o));
        assert_eq!(epochs(&run), [1, 2, 3], "write {write}");
    }
}

/// A run slow enough to be caught mid-epoch: 240 steps an epoch, a few tenths of a second.
const SLOW: [&str; 10] =
    ["--device", "cpu", "--arch", "mlp:32", "--limit", "3000", "--batch-size", "10", "--seed", "3"];

fn spawn_train(dir: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gpunet"))
        .args([&["train"][..], &SLOW, extra].concat())
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// SIGKILL at random instants, five times over, each followed by a resume: the
/// run always resumes, and ends with every epoch's row once.
#[test]
fn sigkill_at_random_instants_always_resumes() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    let mut rng = 0x2545_f491u32;
    for round in 0..5 {
        let args: Vec<&str> = if run.join("current").exists() {
            vec!["--epochs", "40", "--resume", "run"]
        } else {
            vec!["--epochs", "40", "--out", "run"]
        };
        let mut child = spawn_train(d.path(), &args);
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        std::thread::sleep(Duration::from_millis(300 + (rng % 900) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        if run.join("current").exists() {
            let e = epochs(&run);
            assert_eq!(e, (1..=e.len()).collect::<Vec<_>>(), "round {round}: metrics {e:?}");
        }
    }
    // on a fast machine the kills may come after the last epoch: then the resume
    // has nothing left to do, and says so
    let finished = run.join("current").exists() && epochs(&run).len() == 40;
    let o = common::run(d.path(), &[&["train"][..], &SLOW, &["--epochs", "40", "--resume", "run"]].concat(), &[]);
    if finished {
        assert!(!o.status.success() && text(&o).contains("nothing left to do"), "{}", text(&o));
    } else {
        assert!(o.status.success(), "{}", text(&o));
    }
    assert_eq!(epochs(&run), (1..=40).collect::<Vec<_>>());
}

#[test]
fn a_second_run_into_a_busy_directory_is_refused_naming_the_first() {
    let d = tempfile::tempdir().unwrap();
    let mut first = spawn_train(d.path(), &["--epochs", "100000", "--out", "run"]);
    std::thread::sleep(Duration::from_millis(1500));
    let o = common::run(d.path(), &[&["train"][..], &SLOW, &["--epochs", "100000", "--resume", "run"]].concat(), &[]);
    let said = text(&o);
    let pid = first.id();
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(o.status.code(), Some(2), "{said}");
    assert!(said.contains(&format!("is in use by another gpunet run (pid {pid} ")), "{said}");
    // the holder is gone: its lock file is stale and blocks nothing
    let more = (epochs(&d.path().join("run")).len() + 1).to_string();
    let o = common::run(d.path(), &[&["train"][..], &SLOW, &["--epochs", &more, "--resume", "run"]].concat(), &[]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_bad_out_is_refused_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("afile"), "x").unwrap();
    std::fs::create_dir(d.path().join("notes")).unwrap();
    std::fs::write(d.path().join("notes/todo.txt"), "x").unwrap();
    for (out, says) in [
        ("afile", "--out afile is a file"),
        ("notes", "notes is not empty (todo.txt, ...) and holds no gpunet run"),
        ("/proc/gpunet-run", "/proc/gpunet-run"),
    ] {
        let t = std::time::Instant::now();
        let o = train(d.path(), &["--epochs", "1", "--out", out], &[]);
        assert_ne!(o.status.code(), Some(0), "{out}");
        assert!(text(&o).contains(says), "{out}: {}", text(&o));
        // refused before the data is read or an engine opened
        assert!(!text(&o).contains("engine:") && t.elapsed() < Duration::from_secs(5), "{out}: {}", text(&o));
    }
    assert_eq!(std::fs::read_to_string(d.path().join("afile")).unwrap(), "x");
}

#[test]
fn a_flipped_byte_never_loads() {
    let d = tempfile::tempdir().unwrap();
    let o = train(d.path(), &["--epochs", "1", "--out", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let model = std::fs::canonicalize(d.path().join("run/model.safetensors")).unwrap();
    let mut bytes = std::fs::read(&model).unwrap();
    let n = bytes.len();
    bytes[n - 17] ^= 0x10; // inside the last tensor's data
    std::fs::write(&model, bytes).unwrap();
    let o = common::run(d.path(), &["eval", "--device", "cpu", "--model", "run", "--input", "x.csv"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("fails its sha256 checksum: the file is damaged"), "{}", text(&o));
    assert!(text(&o).contains("model.safetensors"), "{}", text(&o));
}

#[test]
fn a_run_of_the_flat_layout_resumes_into_generations() {
    let d = tempfile::tempdir().unwrap();
    let o = train(d.path(), &["--epochs", "2", "--out", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    // as earlier versions left it: the three files themselves
    let run = d.path().join("run");
    let flat = d.path().join("flat");
    std::fs::create_dir(&flat).unwrap();
    for f in ["model.safetensors", "optim.safetensors", "metrics.csv"] {
        std::fs::copy(run.join(f), flat.join(f)).unwrap();
    }
    let o = train(d.path(), &["--epochs", "3", "--resume", "flat/model.safetensors"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(epochs(&flat), [1, 2, 3]);
    assert_eq!(generations(&flat), ["gen-000000", "gen-000001"]);
    assert!(std::fs::symlink_metadata(flat.join("model.safetensors")).unwrap().file_type().is_symlink());
}
