//! The command line under bad input: every case exits non-zero with a message
//! naming the file, line and what was expected, and leaves no output behind.

mod common;

use common::{run, stderr, text};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Asserts exit `code`, a message containing every `needle`, no panic, and that
/// the directory holds nothing but `keep` afterwards.
fn fails(dir: &Path, args: &[&str], code: i32, needles: &[&str], keep: &[&str]) {
    let o = run(dir, args, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "gpunet {args:?}: exit {:?}\nstderr: {err}", o.status.code());
    for n in needles {
        assert!(err.contains(n), "gpunet {args:?}: message lacks '{n}':\n{err}");
    }
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "gpunet {args:?} panicked:\n{err}");
    let mut left: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    left.retain(|f| !keep.contains(&f.as_str()));
    assert!(left.is_empty(), "gpunet {args:?} left {left:?} behind");
}

fn header(labelled: bool) -> String {
    let px: Vec<String> = (0..784).map(|i| format!("pixel{i}")).collect();
    if labelled {
        format!("label,{}", px.join(","))
    } else {
        px.join(",")
    }
}

fn row(label: Option<u8>, fill: &str) -> String {
    let px = vec![fill; 784].join(",");
    match label {
        Some(l) => format!("{l},{px}"),
        None => px,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_training_csvs_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = row(Some(3), "0");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "short.csv",
            format!("{}\n{good}\n{}\n", header(true), row(Some(1), "0").rsplit_once(',').unwrap().0),
            vec!["short.csv:3", "784 values, expected 785"],
        ),
        (
            "alpha.csv",
            format!("{}\n{good}\n{}\n", header(true), row(Some(1), "0").replacen(",0,", ",x7,", 1)),
            vec!["alpha.csv:3", "column 2 (pixel0)", "'x7' is not an integer 0..255"],
        ),
        (
            "range.csv",
            format!("{}\n{}\n", header(true), row(Some(1), "256")),
            vec!["range.csv:2", "'256' is not an integer 0..255"],
        ),
        (
            "label.csv",
            format!("{}\n{good}\n{}\n", header(true), row(Some(10), "0")),
            vec!["label.csv:3", "column 1 (label)", "'10' is not a digit 0..9"],
        ),
        ("empty.csv", String::new(), vec!["empty.csv", "empty file"]),
        ("header.csv", format!("{}\n", header(true)), vec!["header.csv", "no data rows"]),
        (
            "wrongheader.csv",
            format!("{}\n{good}\n", header(true).replace("pixel5,", "pixelfive,")),
            vec!["wrongheader.csv:1", "column 7 is 'pixelfive', expected 'pixel5'"],
        ),
        (
            "truncated.csv",
            format!("{}\n{good}\n{good}", header(true))
                .chars()
                .take(header(true).len() + 2 * good.len() - 300)
                .collect(),
            vec!["truncated.csv:3", "values, expected 785"],
        ),
    ];
    for (name, text, needles) in &cases {
        write(d, name, text);
        let keep: Vec<&str> = cases.iter().map(|c| c.0).collect();
        fails(d, &["train", "--arch", "mlp", "--train", name, "--out", "run"], 1, needles, &keep);
    }
    fails(
        d,
        &["train", "--arch", "mlp", "--train", "missing.csv", "--out", "run"],
        1,
        &["missing.csv", "No such file"],
        &cases.iter().map(|c| c.0).collect::<Vec<_>>(),
    );
}

#[test]
fn bad_flags_and_specs_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let usage: [(&[&str], &str); 10] = [
        (&["train", "--arch", "resnet50"], "bad arch 'resnet50'"),
        (&["train", "--arch", "conv32k5,pool2,fc10"], "the last layer must be out10"),
        (&["train", "--arch", "conv32k9,out10"], "kernel sizes are 1..7"),
        (&["train", "--arch", "fc10,conv8k3,out10"], "follows a layer with a flat output"),
        (&["train", "--arch", "mlp:10,x"], "'x' is not a positive hidden size"),
        (&["train", "--arch", "mlp", "--lr", "0"], "--lr must be a positive number"),
        (&["train", "--arch", "mlp", "--batch-size", "0"], "--batch-size must be 1..=21399, got 0"),
        (&["train", "--arch", "mlp", "--epochs", "0"], "--epochs must be at least 1"),
        (&["train", "--arch", "mlp", "--val-split", "1.5"], "--val-split must be in [0, 1)"),
        (&["train", "--arch", "mlp", "--adam-betas", "0.9,1"], "--adam-betas '0.9,1': expected two numbers in [0, 1)"),
    ];
    for (args, needle) in usage {
        fails(d, args, 2, &[needle], &[]);
    }
    fails(d, &["train"], 2, &["--arch is required"], &[]);
    fails(d, &["train", "--arch", "mlp", "--optimizer", "rmsprop"], 2, &["unknown optimizer 'rmsprop'"], &[]);
    fails(d, &["frobnicate"], 2, &["unrecognized subcommand"], &[]);
}

#[test]
fn bad_checkpoints_and_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "test.csv", &format!("{}\n{}\n", header(false), row(None, "7")));
    write(d, "junk.safetensors", "this is not a checkpoint");
    // a sound model, so that the input's errors are the ones reached (models are read first)
    let spec = gpunet::model::Spec::parse("mlp:4").unwrap();
    let (slots, words) = gpunet::model::net::layout(&spec);
    gpunet::model::checkpoint::save_model(
        &d.join("good.safetensors"),
        &spec,
        &gpunet::data::norm::Norm::default(),
        &slots,
        &vec![0.5; words],
        0,
    )
    .unwrap();
    let keep = ["test.csv", "junk.safetensors", "good.safetensors", "train-images-idx3-ubyte", "bad-images-idx3-ubyte"];
    fails(
        d,
        &["predict", "--model", "junk.safetensors", "--input", "test.csv"],
        1,
        &["junk.safetensors", "not a safetensors checkpoint"],
        &keep,
    );
    fails(d, &["predict", "--model", "nope.safetensors", "--input", "test.csv"], 1, &["nope.safetensors"], &keep);
    // a truncated IDX image file, and one with a wrong magic number
    let mut idx = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    idx.extend(vec![0u8; 784 + 100]);
    std::fs::write(d.join("train-images-idx3-ubyte"), &idx).unwrap();
    fails(
        d,
        &["predict", "--model", "good.safetensors", "--input", "train-images-idx3-ubyte"],
        1,
        &["train-images-idx3-ubyte", "2 images need 1568 pixel bytes, file has 884"],
        &keep,
    );
    idx[3] = 1;
    std::fs::write(d.join("bad-images-idx3-ubyte"), &idx).unwrap();
    fails(
        d,
        &["eval", "--model", "good.safetensors", "--input", "bad-images-idx3-ubyte"],
        1,
        &["bad IDX magic 0x00000801"],
        &keep,
    );
}

#[test]
fn a_checkpoint_that_does_not_match_its_spec_is_refused() {
    use gpunet::model::{checkpoint, net, Spec};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "test.csv", &format!("{}\n{}\n", header(false), row(None, "7")));
    // tensors laid out for mlp:8, metadata claiming mlp:4 (a file large enough for the claim, with shapes that differ)
    let (slots, words) = net::layout(&Spec::parse("mlp:8").unwrap());
    let claimed = Spec::parse("mlp:4").unwrap();
    checkpoint::save_model(
        &d.join("odd.safetensors"),
        &claimed,
        &gpunet::data::norm::Norm::default(),
        &slots,
        &vec![0.5; words],
        0,
    )
    .unwrap();
    let keep = ["test.csv", "odd.safetensors"];
    fails(
        d,
        &["predict", "--model", "odd.safetensors", "--input", "test.csv"],
        1,
        &["odd.safetensors", "tensor 'layers.0.weight' is F32 [8, 784], the spec needs F32 [4, 784]"],
        &keep,
    );
}

#[test]
fn selftest_on_the_native_engine_passes_every_case() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["selftest", "--device", "cpu", "--threads", "2"], &[]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    let mut lines = out.lines();
    let first = lines.next().unwrap();
    assert!(first.starts_with("engine: native CPU (2 threads, ") && first.contains(" conv) — --device cpu"), "{out}");
    let cases = out.lines().filter(|l| l.starts_with("[native CPU (2 threads, ") && l.ends_with("pass")).count();
    let last = out.lines().last().unwrap();
    assert_eq!(last, format!("selftest: {cases} of {cases} cases passed"), "{out}");
    // the kernel cases and the three training-step checks against the reference engine
    assert!(out.lines().filter(|l| l.contains("] train steps ")).count() == 3, "{out}");
    assert!(cases >= gpunet::kernels::Kernel::ALL.len(), "{out}");
}

#[test]
fn a_bad_device_or_thread_count_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails(d, &["selftest", "--device", "tpu"], 2, &["unknown device 'tpu': expected auto, gpu or cpu"], &[]);
    fails(d, &["archs", "--threads", "many"], 2, &["--threads"], &[]);
    fails(
        d,
        &["selftest", "--device", "cpu", "--threads", "5000"],
        2,
        &["--threads must be 0 (one per core) to 1024"],
        &[],
    );
}

/// A PNG that gpunet wrote, decoded by the image crate.
fn read_png(path: &Path) -> image::RgbImage {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(image::ImageFormat::from_path(path).unwrap(), image::ImageFormat::Png);
    img.into_rgb8()
}

/// Mostly `colour`: each channel within 40 of it (text and lines are anti-aliased).
fn near(p: &image::Rgb<u8>, colour: [u8; 3]) -> bool {
    p.0.iter().zip(colour).all(|(&a, b)| a.abs_diff(b) <= 40)
}

#[test]
fn eval_draws_the_misclassified_images_into_a_png() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a barely trained model: plenty of mistakes on 60 test images
    let o = run(
        d,
        &["train", "--device", "cpu", "--arch", "mlp:8", "--limit", "300", "--epochs", "1", "--out", "run"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let test = gpunet::data::mnist_test().unwrap().truncate(60);
    let mut csv = header(true) + "\n";
    for (img, label) in test.pixels.chunks(784).zip(test.labels.as_ref().unwrap()) {
        csv += &format!("{label},{}\n", img.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(","));
    }
    write(d, "test.csv", &csv);
    let o = run(
        d,
        &[
            "eval",
            "--device",
            "cpu",
            "--model",
            "run/model.safetensors",
            "--input",
            "test.csv",
            "--errors",
            "errors.png",
        ],
        &[],
    );
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    let line = out.lines().find(|l| l.starts_with("wrote errors.png: ")).unwrap_or_else(|| panic!("{out}"));
    let wrong: usize = line["wrote errors.png: ".len()..].split_whitespace().next().unwrap().parse().unwrap();
    assert!(wrong > 0 && wrong < 60, "{line}");
    let img = read_png(&d.join("errors.png"));
    // ten 64-pixel columns, one 84-pixel row per ten images
    assert_eq!(img.dimensions(), (640, 84 * wrong.div_ceil(10) as u32), "{line}");
    // the first cell holds ink (its image) and both caption colours
    let cell: Vec<&image::Rgb<u8>> =
        (0..84).flat_map(|y| (0..64).map(move |x| (x, y))).map(|(x, y)| img.get_pixel(x, y)).collect();
    assert!(cell.iter().any(|p| p.0.iter().all(|&c| c < 100)), "no ink in the first cell");
    assert!(cell.iter().any(|p| near(p, [0, 140, 60])), "no green (true label) caption");
    assert!(cell.iter().any(|p| near(p, [210, 30, 30])), "no red (prediction) caption");
    // the same grid as an SVG
    let o =
        run(d, &["eval", "--device", "cpu", "--model", "run", "--input", "test.csv", "--errors", "errors.svg"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = std::fs::read_to_string(d.join("errors.svg")).unwrap();
    assert_eq!(svg.matches("fill=\"#008C3C\"").count(), wrong.min(200), "one green label per image");
    fails(
        d,
        &["eval", "--model", "run", "--input", "test.csv", "--errors", "e.jpg"],
        2,
        &["--errors writes .png or .svg"],
        &["run", "test.csv", "errors.png", "errors.svg"],
    );
    assert!(!d.read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
}

#[test]
fn plot_draws_every_run_and_refuses_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let head = "epoch,seconds,loss,accuracy,val_loss,val_accuracy,lr\n";
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::create_dir_all(d.join("b")).unwrap();
    write(d, "a/metrics.csv", &format!("{head}1,2.0,0.5,0.85,0.2,0.94,0.001\n2,2.0,0.15,0.95,0.12,0.96,0.001\n"));
    write(d, "b/metrics.csv", &format!("{head}1,2.0,0.6,0.8,,,0.001\n2,2.0,0.3,0.9,,,0.001\n3,2.0,0.2,0.93,,,0.001\n"));
    let o = run(d, &["plot", "a", "b", "--out", "curves.svg"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = std::fs::read_to_string(d.join("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // each run in its colour, in both panels, and named in the legend
    for colour in ["#1F77B4", "#D62728"] {
        assert!(svg.matches(&format!("stroke=\"{colour}\"")).count() >= 4, "{colour} missing");
    }
    let texts: Vec<&str> =
        svg.split("<text").skip(1).map(|t| t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()].trim()).collect();
    assert!(texts.contains(&"a") && texts.contains(&"b"), "legend lacks the run names: {texts:?}");
    // round tick values only: no label with more than three decimals
    assert!(texts.iter().all(|t| t.split('.').nth(1).is_none_or(|f| f.len() <= 3)), "{texts:?}");
    // a run directory without metrics, a malformed row, and a format plot does not write
    fails(
        d,
        &["plot", "nowhere", "--out", "x.svg"],
        1,
        &["nowhere/metrics.csv", "no metrics.csv here"],
        &["a", "b", "curves.svg"],
    );
    write(d, "b/metrics.csv", &format!("{head}1,2.0,zero,0.8,,,0.001\n"));
    fails(
        d,
        &["plot", "b", "--out", "x.svg"],
        1,
        &["b/metrics.csv:2", "malformed metrics row: loss 'zero' is not a number"],
        &["a", "b", "curves.svg"],
    );
    write(d, "b/metrics.csv", "epoch,seconds\n1,2.0\n");
    fails(
        d,
        &["plot", "b", "--out", "x.svg"],
        1,
        &["b/metrics.csv:1", "expected the header epoch,seconds,loss,accuracy,val_loss,val_accuracy,lr"],
        &["a", "b", "curves.svg"],
    );
    fails(d, &["plot", "a", "--out", "x.jpg"], 2, &["plot writes .svg or .png"], &["a", "b", "curves.svg"]);
    // the same chart as a PNG: 960x420, with both runs' colours drawn
    write(d, "b/metrics.csv", &format!("{head}1,2.0,0.6,0.8,,,0.001\n2,2.0,0.3,0.9,,,0.001\n"));
    let o = run(d, &["plot", "a", "b", "--out", "curves.png"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let img = read_png(&d.join("curves.png"));
    assert_eq!(img.width(), 1000);
    assert!(near(img.get_pixel(0, 0), [255, 255, 255]), "not a white ground");
    for colour in [[31, 119, 180], [214, 39, 40]] {
        assert!(
            img.pixels().filter(|p| p.0 == colour).count() > 50,
            "the run coloured {colour:?} is missing from the PNG"
        );
    }
    // a logarithmic loss axis: 1, 2 and 5 times powers of ten
    let o = run(d, &["plot", "a", "b", "--log-loss", "--out", "log.svg"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = std::fs::read_to_string(d.join("log.svg")).unwrap();
    assert!(
        svg.contains("loss (log scale)") && svg.contains(">\n0.2\n</text>") && svg.contains(">\n0.5\n</text>"),
        "{svg}"
    );
}

/// Same seed, same files: two trainings of one recipe on the native engine write
/// the model byte for byte alike (its header included, whose metadata a hash map
/// once ordered at random), the optimizer state alike but for the records of
/// metrics.csv (whose seconds differ), and two exports of its training page are
/// one page (its checkpoint template and checksum places likewise).
#[test]
fn one_seed_writes_the_same_files_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let arch = ["--arch", "conv4k3,pool2,fc16,out10", "--epochs", "1", "--seed", "5"];
    for out in ["a", "b"] {
        let o = run(d, &[&["train", "--device", "cpu", "--limit", "600", "--out", out], &arch[..]].concat(), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let page = format!("{out}/page.html");
        let o = run(d, &[&["export-web", "--train", "--out", &page], &arch[..]].concat(), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let read = |run: &str, f: &str| std::fs::read(d.join(run).join(f)).unwrap();
    for f in ["model.safetensors", "page.html"] {
        assert!(read("a", f) == read("b", f), "{f} differs between two runs of one seed");
    }
    // metrics.csv's wall-clock seconds differ, and with them its sha256, which the
    // optimizer file records (and so its header's sum): everything else is alike
    let without_seconds = |run: &str| -> Vec<String> {
        let text = String::from_utf8(read(run, "metrics.csv")).unwrap();
        text.lines().map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 1).map(|(_, v)| v).collect()).collect()
    };
    assert_eq!(without_seconds("a"), without_seconds("b"));
    let header = |run: &str| -> (serde_json::Value, Vec<u8>) {
        let bytes = read(run, "optim.safetensors");
        let n = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut h: serde_json::Value = serde_json::from_slice(&bytes[8..n]).unwrap();
        let meta = h["__metadata__"].as_object_mut().unwrap();
        assert!(meta.remove("gpunet.metrics_sha256").is_some() && meta.remove("gpunet.header_sha256").is_some());
        (h, bytes[n..].to_vec())
    };
    assert!(header("a") == header("b"), "optim.safetensors differs between two runs of one seed");
}

/// A start on a headless machine says nothing on stderr: no display probe's
/// "error: XDG_RUNTIME_DIR is invalid" before any work (gpunet sets NODEVICE_SELECT).
#[test]
fn a_headless_start_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_gpunet"))
        .arg("info")
        .env_remove("NODEVICE_SELECT")
        .env_remove("XDG_RUNTIME_DIR")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "gpunet info wrote to stderr");
}

/// Digits as pictures: t10k digits drawn 3x larger in black on white (as a scan
/// or a photo of paper would be), PNG and JPEG, a directory of them: `predict`
/// names each file's digit, as the model reads the original, and writes the CSV.
#[test]
fn predict_reads_pictures_of_digits() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = ["train", "--device", "cpu", "--arch", "mlp:64", "--limit", "10000", "--batch-size", "100"];
    let o = run(d, &[&train[..], &["--epochs", "3", "--out", "run"]].concat(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t10k = gpunet::data::mnist_test().unwrap().truncate(12);
    std::fs::create_dir(d.join("pics")).unwrap();
    for i in 0..12 {
        let img = image::GrayImage::from_fn(84, 84, |x, y| {
            image::Luma([255 - t10k.pixels[i * 784 + (y / 3) as usize * 28 + (x / 3) as usize]])
        });
        let ext = if i % 2 == 0 { "png" } else { "jpg" };
        img.save(d.join(format!("pics/{i:02}.{ext}"))).unwrap();
    }
    std::fs::write(d.join("pics/notes.txt"), "not a picture").unwrap();
    let o = run(d, &["predict", "--device", "cpu", "--model", "run", "--input", "pics", "--out", "p.csv"], &[]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{out}{}", stderr(&o));
    let csv = std::fs::read_to_string(d.join("p.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "file,digit,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9");
    assert_eq!(rows.len(), 13, "{csv}");
    let labels = t10k.labels.unwrap();
    let right = rows[1..].iter().zip(&labels).filter(|(r, &l)| r.split(',').nth(1) == Some(&l.to_string())).count();
    assert!(right >= 10, "{right} of 12 pictures read right:\n{out}");
    // each file is named with its digit and probabilities
    assert!(out.lines().filter(|l| l.contains("pics/") && l.contains('%')).count() == 12, "{out}");
    // a blank picture, and a file that is no picture, are clear errors naming the file
    image::GrayImage::from_pixel(40, 40, image::Luma([255])).save(d.join("blank.png")).unwrap();
    fails(
        d,
        &["predict", "--model", "run", "--input", "blank.png"],
        1,
        &["blank.png", "no ink found"],
        &["run", "pics", "p.csv", "blank.png"],
    );
    std::fs::write(d.join("fake.png"), "not a png").unwrap();
    fails(
        d,
        &["predict", "--model", "run", "--input", "fake.png"],
        1,
        &["fake.png", "not a picture"],
        &["run", "pics", "p.csv", "blank.png", "fake.png"],
    );
}

/// `--tta 5`: each image read in five views, the probabilities their mean. Checked
/// against five plain predictions of test sets shifted here by hand; a wrong count
/// of views is a usage error that writes nothing.
#[test]
fn test_time_augmentation_averages_five_shifted_views() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &["train", "--device", "cpu", "--arch", "mlp:16", "--limit", "600", "--epochs", "1", "--out", "run"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let test = gpunet::data::mnist_test().unwrap().truncate(40);
    let csv = |dx: i32, dy: i32| {
        let mut text = header(false) + "\n";
        for img in test.pixels.chunks(784) {
            let px: Vec<String> = (0..784i32)
                .map(|p| {
                    let (x, y) = (p % 28 - dx, p / 28 - dy);
                    if (0..28).contains(&x) && (0..28).contains(&y) { img[(y * 28 + x) as usize] } else { 0 }
                        .to_string()
                })
                .collect();
            text += &(px.join(",") + "\n");
        }
        text
    };
    let probs = |name: &str, tta: &str| -> Vec<f64> {
        let o = run(
            d,
            &[
                "predict",
                "--device",
                "cpu",
                "--model",
                "run/model.safetensors",
                "--input",
                name,
                "--out",
                "sub.csv",
                "--probs",
                "probs.csv",
                "--tta",
                tta,
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = std::fs::read_to_string(d.join("probs.csv")).unwrap();
        text.lines()
            .skip(1)
            .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<f64>().unwrap()).collect::<Vec<_>>())
            .collect()
    };
    write(d, "plain.csv", &csv(0, 0));
    let with_tta = probs("plain.csv", "5");
    let mut by_hand = vec![0.0; with_tta.len()];
    for (i, (dx, dy)) in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)].into_iter().enumerate() {
        let name = format!("shift{i}.csv");
        write(d, &name, &csv(dx, dy));
        for (s, p) in by_hand.iter_mut().zip(probs(&name, "1")) {
            *s += p / 5.0;
        }
    }
    let plain = probs("plain.csv", "1");
    assert_eq!(with_tta.len(), 400);
    let worst = with_tta.iter().zip(&by_hand).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 2e-6, "--tta 5 differs from the mean of five shifted predictions by {worst}");
    assert!(with_tta.iter().zip(&plain).any(|(a, b)| (a - b).abs() > 1e-3), "the views changed nothing");
    std::fs::remove_file(d.join("sub.csv")).unwrap();
    let o = run(d, &["predict", "--model", "run/model.safetensors", "--input", "plain.csv", "--tta", "3"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--tta 3: expected 1"), "{}", stderr(&o));
    assert!(!d.join("submission.csv").exists() && !d.join("sub.csv").exists());
}

/// `show-augment` draws ten digits and their augmented views (one row a step);
/// the augmentation changes them, and bad input writes nothing.
#[test]
fn show_augment_draws_the_digits_and_their_views() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(d, &["show-augment", "--augment", "rotate=10,elastic=2", "--steps", "2", "--out", "a.png"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let img = read_png(&d.join("a.png"));
    assert_eq!(img.dimensions(), (84 + 10 * 60, 3 * 60));
    // the first digit's cell in each row: ink there, and the views differ from the original
    let cell = |row: u32| -> Vec<u8> {
        (0..56u32)
            .flat_map(|y| (0..56u32).map(move |x| (x, y)))
            .map(|(x, y)| img.get_pixel(86 + x, row * 60 + 2 + y)[0])
            .collect()
    };
    let (original, view) = (cell(0), cell(1));
    assert!(original.iter().any(|&v| v < 128), "no ink in the first digit");
    assert!(original != view, "the augmented view equals the original");
    fails(d, &["show-augment", "--augment", "none", "--out", "b.png"], 2, &["needs an augmentation"], &["a.png"]);
    fails(d, &["show-augment", "--arch", "cnn6", "--out", "b.png"], 2, &["cnn6 has none"], &["a.png"]);
    fails(
        d,
        &["show-augment", "--augment", "elastic=9", "--out", "b.png"],
        2,
        &["elastic must be in [0, 8]"],
        &["a.png"],
    );
    fails(
        d,
        &["show-augment", "--augment", "elastic=2", "--out", "b.txt"],
        2,
        &["show-augment writes .png or .svg"],
        &["a.png"],
    );
}

/// `show-augment` on colour pictures of one's own (a CIFAR-10 batch) draws them
/// in colour, and `--arch cifar` brings its recipe's crop and flip: each picture
/// red on its left half and blue on its right, some view is mirrored.
#[test]
fn show_augment_draws_colour_pictures_under_an_archs_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut batch = Vec::new();
    for i in 0..30u8 {
        batch.push(i % 10);
        for channel in 0..3 {
            for _ in 0..32 {
                for x in 0..32 {
                    let red = x < 16;
                    batch.push(match (channel, red) {
                        (0, true) | (2, false) => 255,
                        _ => 0,
                    });
                }
            }
        }
    }
    std::fs::write(d.join("data_batch_1.bin"), &batch).unwrap();
    let args = ["show-augment", "--arch", "cifar", "--train", "data_batch_1.bin", "--steps", "4", "--out", "a.png"];
    let o = run(d, &args, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(text(&o).contains("crop=4,flip"), "{}", text(&o));
    let img = read_png(&d.join("a.png"));
    assert_eq!(img.dimensions(), (84 + 10 * 60, 5 * 60));
    // the pixel 4 in from the left edge at mid-height of picture k in row r
    let left = |r: u32, k: u32| *img.get_pixel(86 + k * 60 + 4, r * 60 + 2 + 16);
    assert!((0..10).all(|k| near(&left(0, k), [255, 0, 0])), "the originals are not red on the left");
    let views: Vec<_> = (1..5).flat_map(|r| (0..10).map(move |k| (r, k))).collect();
    assert!(views.iter().any(|&(r, k)| near(&left(r, k), [0, 0, 255])), "no view is mirrored");
    assert!(views.iter().any(|&(r, k)| near(&left(r, k), [255, 0, 0])), "every view is mirrored");
}
