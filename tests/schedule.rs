//! --lr-schedule against PyTorch's schedulers (tests/golden/schedules.json, from
//! tests/golden/make_schedules.py), and a run's metrics.csv showing the rates used.

mod common;

use gpunet::schedule::Schedule;
use serde_json::Value;

#[test]
fn schedules_match_pytorch_step_by_step() {
    let doc: Value = serde_json::from_str(include_str!("golden/schedules.json")).unwrap();
    let base = doc["base"].as_f64().unwrap() as f32;
    let (per_epoch, epochs) = (doc["per_epoch"].as_u64().unwrap(), doc["epochs"].as_u64().unwrap());
    let mut checked = 0;
    for name in ["const", "exp:0.95", "cosine", "onecycle"] {
        let schedule = Schedule::parse(name).unwrap();
        assert_eq!(Schedule::parse(&schedule.text()).unwrap(), schedule);
        for (step, want) in doc[name].as_array().unwrap().iter().enumerate() {
            let want = want.as_f64().unwrap();
            let got = schedule.lr(base, step as u64, per_epoch, epochs) as f64;
            assert!((got - want).abs() <= 1e-6 * want.abs() + 1e-12, "{name} step {step}: {got} vs PyTorch {want}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * per_epoch * epochs);
}

#[test]
fn bad_schedules_say_what_is_expected() {
    for bad in ["", "exp", "exp:0", "exp:1.5", "exp:x", "linear", "Cosine"] {
        let e = Schedule::parse(bad).expect_err(bad).to_string();
        assert!(e.contains("expected const, exp:G"), "{bad}: {e}");
    }
}

fn lr_column(run: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    text.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().to_string()).collect()
}

#[test]
fn metrics_show_the_rate_and_resume_keeps_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = ["train", "--arch", "mlp:16", "--limit", "600", "--batch-size", "100", "--out", "run"];
    let o = common::run(
        d,
        &[&run[..], &["--epochs", "2", "--lr-schedule", "exp:0.5"]].concat(),
        &[("GPUNET_DEVICE", "cpu")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(lr_column(&d.join("run")), ["0.001", "0.0005"]);
    // --resume takes the schedule from the run, and refuses another
    let resume = ["train", "--resume", "run/model.safetensors", "--epochs", "3"];
    let o = common::run(d, &resume, &[("GPUNET_DEVICE", "cpu")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(lr_column(&d.join("run")), ["0.001", "0.0005", "0.00025"]);
    let o = common::run(d, &[&resume[..], &["--lr-schedule", "cosine"]].concat(), &[("GPUNET_DEVICE", "cpu")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--lr-schedule"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A run cut short (a full disk at its third save) and resumed as the error
/// says, without --epochs, trains to its own total on the schedule it began:
/// the same rates as a run never cut short.
#[test]
fn a_resume_without_epochs_keeps_the_runs_total_and_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |out: &str| {
        ["train", "--arch", "mlp:16", "--limit", "600", "--batch-size", "100", "--epochs", "4"]
            .into_iter()
            .chain(["--lr-schedule", "cosine", "--out", out])
            .map(String::from)
            .collect::<Vec<_>>()
    };
    fn args(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let cpu = ("GPUNET_DEVICE", "cpu");
    let o = common::run(d, &args(&run("whole")), &[cpu]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // three files a save: the seventh write is the third save's first
    let o = common::run(d, &args(&run("cut")), &[cpu, ("GPUNET_INJECT_ENOSPC", "7")]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("continue with --resume cut"));
    assert_eq!(lr_column(&d.join("cut")).len(), 2);
    let o = common::run(d, &["train", "--resume", "cut"], &[cpu]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(lr_column(&d.join("cut")), lr_column(&d.join("whole")));
    assert_eq!(lr_column(&d.join("cut")).len(), 4);
}
