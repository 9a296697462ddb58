//! Ensembles: `predict` and `eval` with several --model average the members'
//! probabilities; `eval` reports each member, then the ensemble.

mod common;

use common::ok;
use std::path::Path;

fn probs(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn ensemble_probabilities_are_the_members_mean() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let rows: Vec<String> = std::iter::once((0..784).map(|i| format!("pixel{i}")).collect::<Vec<_>>().join(","))
        .chain((0..40).map(|r| (0..784).map(|i| ((i * 7 + r * 13) % 256).to_string()).collect::<Vec<_>>().join(",")))
        .collect();
    std::fs::write(d.join("test.csv"), rows.join("\n") + "\n").unwrap();
    for seed in ["1", "2"] {
        let out = format!("m{seed}");
        ok(d, &["train", "--arch", "mlp:16", "--limit", "1000", "--epochs", "1", "--seed", seed, "--out", &out]);
        ok(
            d,
            &[
                "predict",
                "--model",
                &format!("{out}/model.safetensors"),
                "--input",
                "test.csv",
                "--probs",
                &format!("p{seed}.csv"),
            ],
        );
    }
    let both = ["--model", "m1/model.safetensors", "--model", "m2/model.safetensors"];
    let said = ok(d, &[&["predict"], &both[..], &["--input", "test.csv", "--probs", "p12.csv"]].concat());
    assert!(said.contains("the mean of 2 models"), "{said}");
    let (a, b, mean) = (probs(&d.join("p1.csv")), probs(&d.join("p2.csv")), probs(&d.join("p12.csv")));
    assert_eq!(mean.len(), 400);
    assert_ne!(a, b, "two seeds gave the same model");
    for i in 0..mean.len() {
        assert!(
            (mean[i] - (a[i] + b[i]) / 2.0).abs() <= 1.5e-6,
            "value {i}: {} vs mean of {} and {}",
            mean[i],
            a[i],
            b[i]
        );
    }

    // eval: one line per member, then the ensemble's report, whose accuracy is the mean's
    let labels: Vec<usize> = (0..40).map(|r| r % 10).collect();
    let lines: Vec<String> = rows[1..].iter().zip(&labels).map(|(r, l)| format!("{l},{r}")).collect();
    std::fs::write(d.join("labelled.csv"), format!("label,{}\n{}\n", rows[0], lines.join("\n"))).unwrap();
    let said = ok(d, &[&["eval"], &both[..], &["--input", "labelled.csv"]].concat());
    let accuracy = |p: &[f64]| {
        let hits = labels.iter().enumerate().filter(|&(i, &l)| {
            let row = &p[i * 10..i * 10 + 10];
            (0..10).fold(0, |best, j| if row[j] > row[best] { j } else { best }) == l
        });
        hits.count() as f64 / labels.len() as f64
    };
    for (name, p) in [("m1", &a), ("m2", &b)] {
        let line = said.lines().find(|l| l.starts_with(&format!("member {name}/"))).unwrap_or_else(|| panic!("{said}"));
        assert!(line.ends_with(&format!("accuracy {:.4}", accuracy(p))), "{line}");
    }
    let at = said.find("ensemble of 2 (mean probabilities):").unwrap_or_else(|| panic!("{said}"));
    assert!(said[at..].contains(&format!("accuracy {:.4}", accuracy(&mean))), "{said}");
}
