//! `--resume` continues a run with its own settings: each flag that would
//! change them is refused naming the flag and the run's value (every settings
//! flag, one run each), and the same flag with the run's own value is not a
//! contradiction. What the settings' serde round trip and main.rs's mapping of
//! the flags must keep.

mod common;

use common::text;

const RUN: [&str; 14] = [
    "train",
    "--device",
    "cpu",
    "--arch",
    "mlp:8",
    "--limit",
    "300",
    "--batch-size",
    "100",
    "--epochs",
    "1",
    "--lr-schedule",
    "exp:0.9",
    "--out",
];

#[test]
fn every_flag_that_contradicts_the_resumed_run_is_refused_by_name() {
    let d = tempfile::tempdir().unwrap();
    let o = common::run(d.path(), &[&RUN[..], &["run", "--augment", "rotate=5", "--ema", "0.9"]].concat(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let train_csv = d.path().join("t.csv");
    gpunet::data::csv::write(&train_csv, &gpunet::data::mnist_test().unwrap().truncate(300)).unwrap();
    // (flag, a value the run does not have, the run's own value)
    let flags: [(&str, &str, &str); 21] = [
        ("--arch", "mlp:9", "mlp:8"),
        ("--batch-size", "50", "100"),
        ("--lr", "0.01", "0.001"),
        ("--lr-schedule", "cosine", "exp:0.9"),
        ("--augment", "zoom=0.1", "rotate=5"),
        ("--optimizer", "sgd", "adam"),
        ("--adam-betas", "0.8,0.99", "0.9,0.999"),
        ("--weight-decay", "0.01", "0"),
        ("--label-smoothing", "0.1", "0"),
        ("--ema", "0.99", "0.9"),
        ("--momentum", "0.5", "0.9"),
        ("--val-split", "0.1", "0.2"),
        ("--limit", "200", "300"),
        ("--seed", "1", "42"),
        ("--scale", "256", "255"),
        ("--train", "t.csv", ""),
        ("--test", "t.csv", ""),
        ("--channels", "3", ""),
        ("--resize", "9,13", ""),
        ("--skip-bad-images", "", ""),
        ("--nesterov", "", ""),
    ];
    for (flag, other, own) in flags {
        let args = |v: &str| {
            let mut a = vec!["train", "--device", "cpu", "--resume", "run", flag];
            if !v.is_empty() {
                a.push(v);
            }
            a.into_iter().map(String::from).collect::<Vec<_>>()
        };
        let other_args = args(other);
        let o = common::run(d.path(), &other_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        assert_eq!(o.status.code(), Some(2), "{flag} {other}: {}", text(&o));
        let said = text(&o);
        assert!(said.contains("these flags contradict it") && said.contains(flag), "{flag} {other}: {said}");
        if own.is_empty() {
            continue;
        }
        // the run's own value: no contradiction, and the run has nothing left to do
        let own_args = args(own);
        let o = common::run(d.path(), &own_args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        assert_eq!(o.status.code(), Some(2), "{flag} {own}: {}", text(&o));
        assert!(text(&o).contains("nothing left to do"), "{flag} {own}: {}", text(&o));
    }
}

/// A run written by the previous main (55f7b32: settings one `gpunet.train.*`
/// key each, tensor sums but no header sums), kept in tests/fixtures: it is
/// read with its settings, resumed on its schedule, and checked.
#[cfg(unix)]
#[test]
fn a_run_written_by_the_previous_main_resumes() {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let dest = to.join(e.file_name());
            let kind = e.file_type().unwrap();
            if kind.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), dest).unwrap();
            } else if kind.is_dir() {
                copy(&e.path(), &dest);
            } else {
                std::fs::copy(e.path(), dest).unwrap();
            }
        }
    }
    let d = tempfile::tempdir().unwrap();
    copy(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run-55f7b32"), &d.path().join("run"));
    let g = gpunet::run::Generation::of(&d.path().join("run")).unwrap();
    let s = gpunet::settings::Settings::from_map(&g.optim.path, &g.state().unwrap().settings).unwrap();
    let want = gpunet::settings::Settings {
        batch: 100,
        limit: Some(300),
        seed: 1,
        lr_schedule: gpunet::schedule::Schedule::Exp(0.9),
        augment: gpunet::augment::Augment::parse("rotate=5").unwrap(),
        ..gpunet::settings::Settings::new("fc4,out10")
    };
    assert_eq!(s, want);
    let o = common::run(d.path(), &["train", "--device", "cpu", "--resume", "run", "--epochs", "2"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let metrics = std::fs::read_to_string(d.path().join("run/metrics.csv")).unwrap();
    let lr: Vec<&str> = metrics.lines().skip(1).map(|l| l.rsplit(',').next().unwrap()).collect();
    // the exp:0.9 schedule goes on: epoch 2's first step is step 3 (240 rows, batch 100)
    let second = gpunet::schedule::Schedule::Exp(0.9).lr(0.001, 3, 3, 2).to_string();
    assert_eq!(lr, ["0.001", second.as_str()], "{metrics}");
    let o = common::run(d.path(), &["check", "run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("written before header sums") && text(&o).contains("every byte covered"), "{}", text(&o));
}
