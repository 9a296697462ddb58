//! The crate's examples, run as a user runs them, on little data: what they
//! print is checked against the command line's own answers where there is one.
//! `cargo test` builds them; a test run that left them out says how to build them.
mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built example `name` (target/<profile>/examples/, beside this test's deps/).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join("examples").join(name);
    assert!(
        path.is_file(),
        "{} is not built: `cargo test` builds the examples (or `cargo build --release --examples`)",
        path.display()
    );
    path
}

/// Runs example `name` with `args` in `dir`; its stdout, which must come from a success.
fn run(name: &str, args: &[&str], dir: &Path) -> String {
    let o = Command::new(example(name)).args(args).current_dir(dir).output().unwrap();
    let text = common::text(&o);
    assert!(o.status.success(), "example {name} {args:?} failed:\n{text}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The number after `key` on the first line holding it.
fn number_after(text: &str, key: &str) -> f64 {
    let at = text.find(key).unwrap_or_else(|| panic!("no '{key}' in:\n{text}")) + key.len();
    text[at..].split(|c: char| !(c.is_ascii_digit() || c == '.')).next().unwrap().parse().unwrap()
}

#[test]
fn own_arrays_learns_its_made_up_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let out = run("own_arrays", &["2000", "bars"], dir.path());
    assert_eq!(out.matches("epoch ").count(), 3, "{out}");
    // two classes: a chance model scores 0.5
    let unseen = &out[out.find("unseen pictures: ").unwrap_or_else(|| panic!("{out}"))..];
    assert!(number_after(unseen, "loss ").is_finite(), "{out}");
    assert!(number_after(unseen, "accuracy ") > 0.9, "{out}");
    // the run directory is gpunet's: the command line will not go on with other data
    let o = common::run(dir.path(), &["train", "--resume", "bars", "--epochs", "4"], &[]);
    assert!(!o.status.success() && common::text(&o).contains("handed to gpunet's library"), "{}", common::text(&o));
    // its model reads back, and names the classes
    let model = gpunet::Model::load(dir.path().join("bars")).unwrap();
    assert_eq!((model.input(), model.classes()), ((1, 16, 16), 2));
    assert_eq!(model.names(), ["upright", "lying"]);
}

#[test]
fn mnist_trains_saves_and_predict_folder_agrees_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let out = run("mnist", &["mlp", "1", "3000", "digits.safetensors"], dir.path());
    assert!(out.contains("epoch 1: "), "{out}");
    let t10k = number_after(&out, "t10k: loss ");
    assert!(t10k.is_finite(), "{out}");
    assert!(number_after(&out[out.find("t10k").unwrap()..], "accuracy ") > 0.3, "{out}");
    assert!(dir.path().join("digits.safetensors").is_file());

    // a folder of pictures: t10k's first digits as PNG files
    let pictures = dir.path().join("pictures");
    std::fs::create_dir(&pictures).unwrap();
    let test = gpunet::data::mnist_test().unwrap();
    for i in 0..12 {
        let picture = image::GrayImage::from_raw(28, 28, test.image(i).to_vec()).unwrap();
        picture.save(pictures.join(format!("digit-{i:02}.png"))).unwrap();
    }
    let ours = run("predict_folder", &["digits.safetensors", "pictures"], dir.path());
    let cli = common::run(dir.path(), &["predict", "--model", "digits.safetensors", "--input", "pictures"], &[]);
    let cli_text = String::from_utf8_lossy(&cli.stdout).into_owned();
    assert!(cli.status.success(), "{}", common::text(&cli));
    // each file's class and probability, as `gpunet predict` printed them
    let lines: Vec<&str> = ours.lines().collect();
    assert_eq!(lines.len(), 12, "{ours}");
    for line in lines {
        let (file, answer) = line.split_once(": ").unwrap();
        let theirs = cli_text
            .lines()
            .find(|l| l.contains(file.trim_start_matches("pictures/")))
            .unwrap_or_else(|| panic!("{file} not in:\n{cli_text}"));
        assert!(theirs.contains(&format!(": {answer}")), "ours: {line}\ngpunet predict: {theirs}");
    }
}
