//! The run directory under faults, as a user meets them (the CLI, native engine,
//! tiny runs): a full disk at every write of a run, SIGKILL at random instants,
//! two runs into one directory (at once, or one held between its look and its
//! lock), readers while a run prunes, a bad --out, a run with nothing left to
//! do, flipped bytes, a changed metrics.csv, a file without sums. Every case ends
//! resumable or refused up front, nothing lost. All of it runs a second time
//! under the portable fallbacks (`GPUNET_PORTABLE_FS=1`).

mod common;

use common::{portable, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const TINY: [&str; 10] = ["--device", "cpu", "--arch", "mlp:32", "--limit", "600", "--batch-size", "50", "--seed", "3"];

fn train(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    common::run(dir, &[&["train"][..], &TINY, extra].concat(), env)
}

/// The generation `current` names: a symlink, or under the portable fallback a
/// file holding its name.
fn current(run: &Path) -> PathBuf {
    let link = run.join("current");
    let is_link = std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink();
    assert_eq!(is_link, !portable(), "{link:?}: a symlink on Unix, a pointer file under the fallback");
    let name = if is_link {
        std::fs::read_link(&link).unwrap().to_string_lossy().to_string()
    } else {
        std::fs::read_to_string(&link).unwrap().trim_end().to_string()
    };
    run.join(name)
}

/// The current metrics.csv's epochs, in order.
fn epochs(run: &Path) -> Vec<usize> {
    let text = std::fs::read_to_string(current(run).join("metrics.csv")).unwrap();
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
    assert!(text(&o).contains("saved run/gen-000003/model.safetensors"), "{}", text(&o));
    let note = "free space in run not checked on this platform";
    assert_eq!(text(&o).contains(note), portable(), "statvfs on Unix, a note under the fallback: {}", text(&o));
    let run = d.path().join("run");
    let best = gpunet::run::generation_dir(&run.join("best")).unwrap().unwrap();
    let gens = generations(&run);
    // four saves (one an epoch): the current, the best, one more kept
    assert_eq!(current(&run), run.join("gen-000003"));
    assert!(gens.len() <= 3 && gens.contains(&"gen-000003".into()), "{gens:?}");
    assert!(best.is_dir() && best.parent() == Some(&run), "best {best:?} pruned: {gens:?}");
    assert_eq!(epochs(&run), [1, 2, 3, 4]);
    // predict and check take the run, its best, and the files in them, pointer
    // files or links alike
    let header: Vec<String> = (0..784).map(|i| format!("pixel{i}")).collect();
    let blank = vec!["0"; 784].join(",");
    std::fs::write(d.path().join("probe.csv"), format!("{}\n{blank}\n{blank}\n", header.join(","))).unwrap();
    let models = ["run", "run/best", "run/model.safetensors", "run/gen-000003", "run/best/model.safetensors"];
    for model in models.into_iter().chain(["run/current/model.safetensors", "run/current/metrics.csv"]) {
        if !model.ends_with(".csv") {
            let o = common::run(
                d.path(),
                &["predict", "--device", "cpu", "--model", model, "--input", "probe.csv", "--out", "sub.csv"],
                &[],
            );
            assert!(o.status.success(), "--model {model}: {}", text(&o));
            let sub = std::fs::read_to_string(d.path().join("sub.csv")).unwrap();
            assert_eq!(sub.lines().count(), 3, "--model {model}: {sub}");
        }
        let o = common::run(d.path(), &["check", model], &[]);
        assert!(o.status.success() && text(&o).contains("sound"), "check {model}: {}", text(&o));
    }
    let o = common::run(d.path(), &["check", "run", "nowhere"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("nowhere: no such file or directory: expected a run"), "{}", text(&o));
    assert!(text(&o).contains("1 check failed"), "{}", text(&o));
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

/// A full disk at each write of a three-epoch run in turn (model, metrics and
/// optimizer state of every save, and the pointer files where the fallback
/// writes them), until the run has no write left to fail: each time the run
/// stops with the error, the directory holds its last complete generation (or,
/// before the first, nothing but what the platform cannot remove), and resuming
/// finishes the run with every epoch's row once.
#[test]
fn a_full_disk_at_any_write_leaves_a_resumable_run() {
    for write in 1.. {
        let d = tempfile::tempdir().unwrap();
        let at = write.to_string();
        let o = train(d.path(), &["--epochs", "3", "--out", "run"], &[("GPUNET_INJECT_ENOSPC", &at)]);
        if o.status.success() {
            assert!(write > 9, "a run of three saves made only {} writes", write - 1);
            assert_eq!(epochs(&d.path().join("run")), [1, 2, 3]);
            break;
        }
        assert_eq!(o.status.code(), Some(1), "write {write}: {}", text(&o));
        assert!(text(&o).contains("No space left on device"), "write {write}: {}", text(&o));
        let run = d.path().join("run");
        let left: Vec<String> = match std::fs::read_dir(&run) {
            Ok(dir) => dir.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect(),
            Err(_) => Vec::new(),
        };
        assert!(left.iter().all(|n| !n.ends_with(".tmp")), "write {write}: {left:?}");
        let kept = left.iter().any(|n| n.starts_with("gen-"));
        let told =
            if kept { "whole: make room, then continue with --resume run" } else { "nothing had been saved yet" };
        assert!(text(&o).contains(told), "write {write}: {}", text(&o));
        if !kept {
            common::assert_no_run_left(&run, &format!("write {write}: the first save failed"));
            continue;
        }
        // a first save cut short between its generation and `current` (where the
        // pointer file is a write of its own) saved a whole generation all the same
        let saved = if run.join("current").exists() { epochs(&run).len() } else { 0 };
        // as the error says: no --epochs, the run's own total is kept
        let o = train(d.path(), &["--resume", "run"], &[]);
        if saved == 3 {
            // only `best` was left to point at the last generation: the resume does that
            assert_eq!(o.status.code(), Some(2), "write {write}: {}", text(&o));
            assert!(text(&o).contains("nothing left to do"), "write {write}: {}", text(&o));
        } else {
            assert!(o.status.success(), "write {write}: {}", text(&o));
        }
        assert_eq!(epochs(&run), [1, 2, 3], "write {write}");
        assert_best_is_best(&run);
        let o = common::run(d.path(), &["check", "run"], &[]);
        assert!(o.status.success(), "write {write}: {}", text(&o));
    }
}

/// `best` names the generation of the highest validation accuracy in the run's history.
fn assert_best_is_best(run: &Path) {
    let val = |gen: &Path| -> Vec<f64> {
        let text = std::fs::read_to_string(gen.join("metrics.csv")).unwrap();
        text.lines().skip(1).map(|l| l.split(',').nth(5).unwrap().parse().unwrap()).collect()
    };
    let all = val(&current(run));
    let best = gpunet::run::generation_dir(&run.join("best")).unwrap().unwrap();
    let top = all.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(val(&best).last(), Some(&top), "best {best:?} is not the best of {all:?}");
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
    let model = current(&d.path().join("run")).join("model.safetensors");
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
        std::fs::copy(current(&run).join(f), flat.join(f)).unwrap();
    }
    let o = train(d.path(), &["--epochs", "3", "--resume", "flat/model.safetensors"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(epochs(&flat), [1, 2, 3]);
    assert_eq!(generations(&flat), ["gen-000000", "gen-000001"]);
    // the flat files are gone from the top: linked through `current` on Unix, nowhere under the fallback
    let top = std::fs::symlink_metadata(flat.join("model.safetensors"));
    assert_eq!(top.as_ref().is_ok_and(|m| m.file_type().is_symlink()), !portable(), "{top:?}");
}

/// A new run held between its look at the directory and its lock while another
/// run trains there from start to end: it must look again under the lock and be
/// refused, and the first run's generations stay whole.
#[test]
fn a_run_held_between_its_look_and_its_lock_never_takes_a_run_that_finished_meanwhile() {
    let d = tempfile::tempdir().unwrap();
    let flag = d.path().join("go");
    let held = d.path().join("go.held");
    let late = Command::new(env!("CARGO_BIN_EXE_gpunet"))
        .args([&["train"][..], &TINY, &["--epochs", "2", "--out", "run"]].concat())
        .current_dir(d.path())
        .env("GPUNET_TEST_CREATE_WAIT", &flag)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while !held.exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    // it looked: the directory did not exist. Now a whole run comes and goes.
    let o = train(d.path(), &["--epochs", "2", "--out", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let before = generations(&d.path().join("run"));
    std::fs::write(&flag, "").unwrap();
    let o = late.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("already holds a run"), "{}", text(&o));
    assert_eq!(generations(&d.path().join("run")), before);
    assert_eq!(epochs(&d.path().join("run")), [1, 2]);
    let o = common::run(d.path(), &["check", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Threads racing to create runs in one directory, over and over, each new run
/// ending at once without a save (which removes its lock file and directory,
/// where the platform allows): never two hold it at once.
#[test]
fn creators_racing_for_one_directory_never_hold_it_together() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("run");
    let (holders, wins) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..300 {
                    match gpunet::run::RunDir::create(&dir, 1) {
                        Ok(run) => {
                            let n = holders.fetch_add(1, Ordering::SeqCst) + 1;
                            assert_eq!(n, 1, "two runs hold {dir:?} at once");
                            wins.fetch_add(1, Ordering::SeqCst);
                            std::thread::yield_now();
                            holders.fetch_sub(1, Ordering::SeqCst);
                            drop(run);
                        }
                        Err(e) => {
                            let e = e.to_string();
                            assert!(
                                e.contains("is in use by another gpunet run") || e.contains("kept being removed"),
                                "{e}"
                            );
                        }
                    }
                }
            });
        }
    });
    assert!(wins.load(Ordering::SeqCst) > 0);
}

/// `check` on the run's current generation and `predict` on the run, over and
/// over while it trains with `--keep 1` (a generation an epoch, the older pruned):
/// no read fails, and `check` (which needs the model, optimizer state and
/// metrics of one generation, bound by their recorded sums) never sees a mix.
#[test]
fn readers_while_a_run_prunes_never_fail_nor_mix_generations() {
    let d = tempfile::tempdir().unwrap();
    gpunet::data::csv::write(&d.path().join("few.csv"), &gpunet::data::mnist_test().unwrap().truncate(20)).unwrap();
    let mut trainer = Command::new(env!("CARGO_BIN_EXE_gpunet"))
        .args([&["train"][..], &SLOW, &["--epochs", "40", "--keep", "1", "--out", "run"]].concat())
        .current_dir(d.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while !d.path().join("run/current").exists() {
        assert!(trainer.try_wait().unwrap().is_none(), "the run ended before its first save");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut reads = 0;
    while trainer.try_wait().unwrap().is_none() {
        for args in [
            &["check", "run/current"][..],
            &["predict", "--device", "cpu", "--model", "run", "--input", "few.csv", "--out", "sub.csv"],
        ] {
            let o = common::run(d.path(), args, &[]);
            assert!(o.status.success(), "gpunet {args:?} during the run: {}", text(&o));
            reads += 1;
        }
    }
    let o = trainer.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert_eq!(epochs(&d.path().join("run")).len(), 40);
    assert!(reads >= 10, "only {reads} reads during the run");
    eprintln!("{reads} reads while 40 generations were saved and pruned");
}

/// The bytes of `file` in the current generation of a tiny run.
fn saved(d: &Path, file: &str) -> (PathBuf, Vec<u8>) {
    if !d.join("run").exists() {
        let o = train(d, &["--epochs", "1", "--out", "run"], &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let path = current(&d.join("run")).join(file);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// Each byte of the length prefix and the header (padding included) flipped in
/// turn, three ways, and 1,000 sampled tensor bytes: no load succeeds, and every
/// refusal names the file.
#[test]
fn every_header_byte_and_sampled_tensor_bytes_flipped_never_load() {
    use gpunet::model::checkpoint::Checked;
    let d = tempfile::tempdir().unwrap();
    for file in ["model.safetensors", "optim.safetensors"] {
        let (path, bytes) = saved(d.path(), file);
        assert!(Checked::new(&path, bytes.clone()).unwrap().sum.is_some());
        let end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut rng = 0x9e37_79b9u32;
        let sampled = (0..1000).map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            (end + rng as usize % (bytes.len() - end), 1u8 << (rng >> 29))
        });
        let every = (0..end).flat_map(|i| [(i, 0x01u8), (i, 0x20), (i, 0x80)]);
        let mut tried = 0;
        for (i, bit) in every.chain(sampled) {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let loaded = if file == "model.safetensors" {
                gpunet::model::checkpoint::model_from_bytes(&path, &b).map(|_| ())
            } else {
                Checked::new(&path, b).map(|_| ())
            };
            let e = loaded.err().unwrap_or_else(|| panic!("{file} loads with byte {i} flipped by {bit:#04x}"));
            assert!(e.to_string().contains(&path.display().to_string()), "byte {i}: {e}");
            tried += 1;
        }
        eprintln!("{file}: {tried} flips refused ({end} header bytes)");
    }
}

/// A metrics.csv changed by one digit stops the resume, naming metrics.csv and
/// the way to vouch for it; repaired, the run resumes.
#[test]
fn a_metrics_row_changed_by_one_digit_stops_the_resume() {
    let d = tempfile::tempdir().unwrap();
    let o = train(d.path(), &["--epochs", "2", "--out", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let gen = current(&d.path().join("run"));
    let metrics = gen.join("metrics.csv");
    let text_before = std::fs::read_to_string(&metrics).unwrap();
    // the best validation accuracy is recomputed from these rows on resume
    let changed = text_before.replacen(",0.", ",1.", 1);
    assert_ne!(changed, text_before);
    std::fs::write(&metrics, changed).unwrap();
    let o = train(d.path(), &["--epochs", "3", "--resume", "run"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("metrics.csv: does not match the sha256 recorded in optim.safetensors"), "{said}");
    assert!(
        said.contains(&format!("gpunet check --repair run/{}", gen.file_name().unwrap().to_string_lossy())),
        "{said}"
    );
    let o = common::run(d.path(), &["check", "run"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("FAILS") && text(&o).contains("metrics.csv"), "{}", text(&o));
    let o = common::run(
        d.path(),
        &["check", "--repair", &format!("run/{}", gen.file_name().unwrap().to_string_lossy())],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = train(d.path(), &["--epochs", "3", "--resume", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
}

/// A checkpoint whose sums were removed is refused, naming `gpunet check`;
/// `gpunet check --repair` (the user vouching for it) makes it load again.
#[test]
fn a_file_without_sums_is_refused_until_repaired() {
    let d = tempfile::tempdir().unwrap();
    let (_, bytes) = saved(d.path(), "model.safetensors");
    let n = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..n]).unwrap();
    header["__metadata__"].as_object_mut().unwrap().retain(|k, _| !k.contains("sha256"));
    let mut json = header.to_string().into_bytes();
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let stripped = [&(json.len() as u64).to_le_bytes()[..], &json, &bytes[n..]].concat();
    std::fs::write(d.path().join("stripped.safetensors"), stripped).unwrap();
    gpunet::data::csv::write(&d.path().join("few.csv"), &gpunet::data::mnist_test().unwrap().truncate(5)).unwrap();
    let predict = ["predict", "--device", "cpu", "--model", "stripped.safetensors", "--input", "few.csv"];
    let o = common::run(d.path(), &predict, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("stripped.safetensors: has no checksums")
            && text(&o).contains("`gpunet check --repair stripped.safetensors` adds them"),
        "{}",
        text(&o)
    );
    assert!(!d.path().join("submission.csv").exists());
    let o = common::run(d.path(), &["check", "stripped.safetensors"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = common::run(d.path(), &["check", "--repair", "stripped.safetensors"], &[]);
    assert!(o.status.success() && text(&o).contains("sums written anew"), "{}", text(&o));
    let o = common::run(d.path(), &predict, &[]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Every test above once more with the run directory's portable fallbacks.
#[test]
fn the_portable_fallback_passes_these_tests() {
    common::rerun_portable("the_portable_fallback_passes_these_tests");
}
