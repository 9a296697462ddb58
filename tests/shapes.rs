//! Images of other shapes than MNIST's: colour, not square, many classes. Every
//! engine trains them to the reference engine's weights (the gather, the convs
//! at three input channels and odd sizes, the dense layers, softmax over 47 or
//! 100 classes), and a run from an IDX file of such images trains, predicts and
//! refuses data of another shape by name. Inputs standardised per channel
//! (`--normalize standard`) train alike on every engine and read alike in ONNX.

mod common;

use gpunet::data::norm::{Norm, Standard};
use gpunet::data::Images;
use gpunet::model::Spec;
use gpunet::optim::Optim;
use gpunet::selftest::{steps, Tol};

/// `n` images of `shape` with labels below `classes`, made from a seeded hash.
fn images(n: usize, shape: (usize, usize, usize), classes: usize) -> Images {
    let size = shape.0 * shape.1 * shape.2;
    let pixels = (0..n * size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let labels = (0..n).map(|i| (i * 7 % classes) as u8).collect();
    Images { shape, classes, pixels, labels: Some(labels) }
}

/// `images` as 4-D IDX files (N, C, H, W) named as MNIST's are, `set` being
/// `train` or `t10k`, in `dir`.
fn write_idx(dir: &std::path::Path, set: &str, images: &Images) {
    let (c, h, w) = images.shape;
    let words = |v: &[u32]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    let n = images.len() as u32;
    let body = [words(&[0x0804, n, c as u32, h as u32, w as u32]), images.pixels.clone()].concat();
    std::fs::write(dir.join(format!("{set}-images-idx4-ubyte")), body).unwrap();
    let labels = [words(&[0x0801, n]), images.labels.clone().unwrap()].concat();
    std::fs::write(dir.join(format!("{set}-labels-idx1-ubyte")), labels).unwrap();
}

#[test]
fn every_engine_trains_other_shapes_to_the_reference_weights() {
    // the last two standardise their input (the statistics of their own images)
    let cases = [
        ("conv8k3,pool2,conv16k3s2,gap,fc16,out47", (3, 30, 17), 47, false),
        ("conv4k5valid,pool2,drop0.2,fc32,out100", (3, 32, 32), 100, false),
        ("cnn4", (1, 8, 8), 10, false),
        ("mlp:24", (3, 7, 5), 5, false),
        ("conv8k3,bn,pool2,conv8k3,gap,out5", (3, 12, 9), 5, true),
        ("mlp:16", (1, 6, 6), 4, true),
    ];
    for (arch, shape, classes, standardise) in cases {
        let spec = Spec::for_data(arch, shape, classes).unwrap();
        let data = images(32, shape, classes);
        let norm = Norm { standard: standardise.then(|| Standard::of(&data, 255.0).unwrap()), ..Norm::default() };
        let optim = Optim::adam(1e-3);
        let mut reference = gpunet::cpu::CpuEngine::new();
        let (want, init) = steps::weights_after(&mut reference, &spec, (&data, &norm), 8, 3, optim).unwrap();
        for mut engine in common::engines_under_test() {
            let (got, _) = steps::weights_after(engine.as_mut(), &spec, (&data, &norm), 8, 3, optim).unwrap();
            let what = format!("{arch} on {shape:?}, {classes} classes, {}, {}", engine.name(), norm.text());
            let outcome = steps::weights_outcome(what, &got, &want, &init, Tol { atol: 1e-4, rtol: 0.0 });
            eprintln!("{}", outcome.line());
            assert!(outcome.pass(), "{}", outcome.line());
        }
    }
}

/// One command from a folder of 4-D IDX files: train (a named arch ends in the
/// data's classes), eval and predict the test file, export ONNX; a spec whose
/// output disagrees with the data, and a model given data of another shape, are
/// refused naming both, with nothing written.
#[test]
fn a_colour_run_from_idx_files_trains_evaluates_predicts_and_refuses_other_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("rgb");
    std::fs::create_dir(&data).unwrap();
    write_idx(&data, "train", &images(60, (3, 12, 9), 5));
    write_idx(&data, "t10k", &images(20, (3, 12, 9), 5));
    let data_s = data.to_str().unwrap();
    let said = common::ok(
        d,
        &["train", "--arch", "cnn4", "--train", data_s, "--epochs", "1", "--batch-size", "16", "--out", "run"],
    );
    assert!(said.contains("20 test") && said.contains("test ("), "{said}");
    let test = data.join("t10k-images-idx4-ubyte");
    let test_s = test.to_str().unwrap();
    let eval = common::ok(d, &["eval", "--model", "run", "--input", test_s]);
    assert!(eval.lines().any(|l| l.starts_with("   4 ")) && !eval.lines().any(|l| l.starts_with("   5 ")), "{eval}");
    common::ok(d, &["predict", "--model", "run", "--input", test_s, "--out", "sub.csv", "--probs", "probs.csv"]);
    let probs = std::fs::read_to_string(d.join("probs.csv")).unwrap();
    assert!(probs.starts_with("ImageId,p0,p1,p2,p3,p4\n"), "{probs}");
    assert_eq!(probs.lines().count(), 21);
    common::ok(d, &["export-onnx", "--model", "run", "--out", "m.onnx"]);
    // refused: an explicit spec ending in another class count; MNIST digits into this model
    let o = common::run(d, &["train", "--arch", "conv8k3,gap,out10", "--train", data_s, "--out", "bad"], &[]);
    let e = common::text(&o);
    assert!(!o.status.success() && e.contains("must be out5"), "{e}");
    common::assert_no_run_left(&d.join("bad"), "a spec refused for its data");
    let digits = d.join("digits");
    std::fs::create_dir(&digits).unwrap();
    let mnist = gpunet::data::mnist_test().unwrap().truncate(4);
    gpunet::data::csv::write(&digits.join("four.csv"), &mnist).unwrap();
    let o = common::run(d, &["eval", "--model", "run", "--input", digits.join("four.csv").to_str().unwrap()], &[]);
    let e = common::text(&o);
    assert!(!o.status.success() && e.contains("3x12x9") && e.contains("1x28x28"), "{e}");
}

/// A folder of class folders: `names` classes of `n` pictures each of w x h,
/// grey PNGs and colour JPEGs, and a stray text file.
fn picture_folder(dir: &std::path::Path, names: &[&str], n: usize, (w, h): (u32, u32)) {
    for (k, name) in names.iter().enumerate() {
        let class = dir.join(name);
        std::fs::create_dir_all(&class).unwrap();
        for i in 0..n {
            // a bright square whose place tells the class apart, on a noisy ground
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                let inside = (x as usize * names.len() / w as usize) == k && y < h / 2;
                let v = if inside { 230 } else { ((x * 7 + y * 13 + i as u32 * 3) % 40) as u8 };
                image::Rgb([v, v / 2 + (k as u8) * 10, 255 - v])
            });
            match i % 2 {
                0 => image::DynamicImage::ImageRgb8(img).to_luma8().save(class.join(format!("{i}.png"))).unwrap(),
                _ => img.save(class.join(format!("{i}.JPG"))).unwrap(),
            }
        }
    }
    std::fs::write(dir.join(names[0]).join("notes.txt"), "not a picture").unwrap();
}

/// Class folders trained by one command (train/ and test/, colour from the JPEGs,
/// a non-square size), the class names in predict, its probabilities' columns and
/// eval's table, the model read by tract; mixed sizes, an empty class folder and a
/// corrupt picture refused by name (and the last skipped when asked).
#[test]
fn a_folder_of_class_folders_trains_and_names_its_classes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let names = ["circle", "square", "star"];
    picture_folder(&d.join("pics/train"), &names, 12, (13, 9));
    picture_folder(&d.join("pics/test"), &names, 4, (13, 9));
    let args =
        ["train", "--arch", "conv8k3,pool2,conv8k3,gap,out3", "--train", "pics", "--epochs", "3", "--batch-size", "8"];
    let o = common::run(d, &[&args[..], &["--out", "run"]].concat(), &[("GPUNET_DEVICE", "cpu")]);
    let said = common::text(&o);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("36 pictures of 3x9x13 in 3 classes; 1 other files ignored"), "{said}");
    assert!(said.contains("12 test") && said.contains("test (pics/test, 12 images)"), "{said}");
    let eval = common::ok(d, &["eval", "--model", "run", "--input", "pics/test"]);
    assert!(eval.lines().any(|l| l.starts_with("   2 star ")), "{eval}");
    let pic = d.join("pics/test/star/1.JPG");
    let said = common::ok(d, &["predict", "--model", "run", "--input", pic.to_str().unwrap(), "--out", "p.csv"]);
    assert!(names.iter().any(|n| said.contains(&format!(": {n} ("))), "{said}");
    let csv = std::fs::read_to_string(d.join("p.csv")).unwrap();
    assert!(csv.starts_with("file,class,p_circle,p_square,p_star\n"), "{csv}");
    common::ok(d, &["export-onnx", "--model", "run", "--out", "m.onnx"]);
    // a resume reads the same files; one picture more in the folder and it is refused
    let more = common::ok(d, &["train", "--resume", "run", "--epochs", "4"]);
    assert!(more.contains("Epoch 4/4"), "{more}");
    std::fs::copy(d.join("pics/train/star/0.png"), d.join("pics/train/star/extra.png")).unwrap();
    let o = common::run(d, &["train", "--resume", "run", "--epochs", "5"], &[("GPUNET_DEVICE", "cpu")]);
    let e = common::text(&o);
    assert!(!o.status.success() && e.contains("the data changed since the run began"), "{e}");
    // refused: two sizes without --resize (then read with it), an empty class, a corrupt picture
    picture_folder(&d.join("mixed"), &names, 2, (13, 9));
    picture_folder(&d.join("mixed/star"), &["odd"], 1, (8, 8));
    std::fs::rename(d.join("mixed/star/odd/0.png"), d.join("mixed/star/8x8.png")).unwrap();
    let train = |what: &str, extra: &[&str], out: &str| {
        let a = [&["train", "--arch", "conv4k3,gap,out3", "--train", what, "--epochs", "1", "--out", out][..], extra]
            .concat();
        common::run(d, &a, &[("GPUNET_DEVICE", "cpu")])
    };
    let bad = |what: &str, extra: &[&str], want: &str| {
        let o = train(what, extra, "bad");
        let e = common::text(&o);
        assert!(!o.status.success() && e.contains(want), "{what} {extra:?}: {e}");
        common::assert_no_run_left(&d.join("bad"), what);
    };
    let good = |extra: &[&str], out: &str| {
        let o = train("mixed", extra, out);
        assert!(o.status.success(), "{extra:?}: {}", common::text(&o));
        common::text(&o)
    };
    bad("mixed", &[], "give --resize H,W");
    good(&["--resize", "9,13"], "resized");
    std::fs::create_dir_all(d.join("mixed/zebra")).unwrap();
    bad("mixed", &["--resize", "9,13"], "class folder 'zebra' holds no pictures");
    std::fs::remove_dir(d.join("mixed/zebra")).unwrap();
    std::fs::write(d.join("mixed/circle/broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    bad("mixed", &["--resize", "9,13"], "broken.png");
    // skipped: named and counted, and the rest trains
    let said = good(&["--resize", "9,13", "--skip-bad-images"], "skipped");
    assert!(said.contains("skipped") && said.contains("broken.png"), "{said}");
    assert!(said.contains("1 unreadable pictures skipped (--skip-bad-images)"), "{said}");
}

/// `--normalize standard`: each channel's mean and deviation measured on the
/// training rows, said, kept with the model (which eval and a resume apply); a
/// bad value and a resume that contradicts it refused. (Every engine against
/// the reference: the first test; ONNX: tests/onnx.rs.)
#[test]
fn a_standardised_run_keeps_its_statistics_with_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    picture_folder(&d.join("pics/train"), &["a", "b"], 8, (10, 6));
    picture_folder(&d.join("pics/test"), &["a", "b"], 2, (10, 6));
    let args = ["train", "--arch", "conv8k3,pool2,gap,out2", "--train", "pics", "--epochs", "1", "--batch-size", "4"];
    let std_args = [&args[..], &["--normalize", "standard"]].concat();
    let o = common::run(d, &[&std_args[..], &["--out", "native"]].concat(), &[("GPUNET_DEVICE", "cpu")]);
    let said = common::text(&o);
    assert!(o.status.success(), "{said}");
    assert!(said.contains("input: (pixels / 255 - mean ") && said.contains(") / std "), "{said}");
    let model = gpunet::run::load_model(&d.join("native")).unwrap();
    let s = model.norm.standard.as_ref().expect("the model keeps its statistics");
    assert_eq!((s.mean.len(), s.std.len()), (3, 3));
    assert!(s.mean.iter().all(|m| (0.0..1.0).contains(m)) && s.std.iter().all(|d| *d > 0.01 && *d < 1.0), "{s:?}");
    let o = common::run(d, &[&args[..], &["--out", "plain"]].concat(), &[("GPUNET_DEVICE", "cpu")]);
    let plain = common::text(&o);
    assert!(o.status.success(), "{plain}");
    assert!(!plain.contains("input: "), "{plain}");
    assert!(gpunet::run::load_model(&d.join("plain")).unwrap().norm.standard.is_none());
    let eval = common::ok(d, &["eval", "--model", "native", "--input", "pics/test"]);
    assert!(eval.contains("accuracy"), "{eval}");
    let more = common::ok(d, &["train", "--resume", "native", "--epochs", "2"]);
    assert!(more.contains("Epoch 2/2"), "{more}");
    let o = common::run(d, &["train", "--resume", "native", "--epochs", "3", "--normalize", "scale"], &[]);
    let e = common::text(&o);
    assert!(!o.status.success() && e.contains("--normalize scale (the run has standard)"), "{e}");
    let o = common::run(d, &[&args[..], &["--normalize", "z-score", "--out", "bad"]].concat(), &[]);
    let e = common::text(&o);
    assert!(!o.status.success() && e.contains("--normalize must be scale or standard, got 'z-score'"), "{e}");
    common::assert_no_run_left(&d.join("bad"), "a bad --normalize");
}
