//! The page of a model of other pictures than MNIST's digits: colour, not
//! square, three named classes, standardised input. A picture handed to the
//! page as a chosen file is prepared to the very bytes `gpunet predict` makes of
//! it, and the page's probabilities equal the CLI's, one picture at a time and
//! as a batch (rows of 351 bytes: the store's rows padded to whole words).

use super::{common, dir, floats, gpunet, open_page, page_doc, TOLERANCE};
use base64::Engine as _;
use std::path::{Path, PathBuf};

const NAMES: [&str; 3] = ["dot", "line", "ring"];
/// (C, H, W): 351 values an image.
const SHAPE: (usize, usize, usize) = (3, 9, 13);

/// Class folders of 13x9 colour PNGs (a bright patch placed by class, on a
/// noisy ground) under `root`, `n` a class; their paths.
pub(super) fn pictures(root: &Path, n: usize) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (k, name) in NAMES.iter().enumerate() {
        std::fs::create_dir_all(root.join(name)).unwrap();
        for i in 0..n {
            let img = image::RgbImage::from_fn(13, 9, |x, y| {
                let inside = (x as usize * 3 / 13) == k && (2..7).contains(&y);
                let v = if inside { 220 } else { ((x * 11 + y * 5 + i as u32 * 7) % 50) as u8 };
                image::Rgb([v, 255 - v / 2, (v / 3).wrapping_add(40 * k as u8)])
            });
            let path = root.join(name).join(format!("{i}.png"));
            img.save(&path).unwrap();
            paths.push(path);
        }
    }
    paths
}

/// `gpunet predict` of `files`: each file's probabilities (its CSV's columns p_NAME).
fn cli_probs(model: &Path, files: &[PathBuf]) -> Vec<Vec<f64>> {
    let out = dir().join("pictures.csv");
    let mut args = vec!["predict", "--model", model.to_str().unwrap(), "--input"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    gpunet(&args);
    let text = std::fs::read_to_string(out).unwrap();
    assert!(text.starts_with("file,class,p_dot,p_line,p_ring\n"), "{text}");
    text.lines().skip(1).map(|l| l.split(',').skip(2).map(|v| v.parse().unwrap()).collect()).collect()
}

fn worst(page: &[f64], cli: &[f64]) -> f64 {
    assert_eq!(page.len(), cli.len());
    page.iter().zip(cli).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

#[test]
fn picture_page_prepares_and_reads_colour_pictures_as_predict_does() {
    let d = dir().join("pictures");
    let _ = std::fs::remove_dir_all(&d);
    pictures(&d.join("set/train"), 10);
    let tests = pictures(&d.join("set/test"), 2);
    let run = d.join("run");
    let set = d.join("set");
    gpunet(&[
        "train",
        "--arch",
        "conv8k3,bn,pool2,conv8k3,gap,out3",
        "--train",
        set.to_str().unwrap(),
        "--normalize",
        "standard",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--out",
        run.to_str().unwrap(),
    ]);
    let page = d.join("pictures.html");
    gpunet(&["export-web", "--model", run.to_str().unwrap(), "--out", page.to_str().unwrap()]);
    let doc = page_doc(&page);
    assert_eq!(doc["shape"], serde_json::json!([3, 9, 13]));
    assert_eq!(doc["names"], serde_json::json!(NAMES));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Choose a picture") && !html.contains("Draw a digit"));
    // an ensemble of this model and a digits model is refused, naming both shapes
    let digits = &super::fixture().models[0];
    let mixed = d.join("mixed.html");
    let args = ["export-web", "--model", run.to_str().unwrap(), "--model", digits.to_str().unwrap()];
    let o = common::run(&d, &[&args[..], &["--out", mixed.to_str().unwrap()]].concat(), &[]);
    let e = common::text(&o);
    assert!(!o.status.success() && e.contains("3x9x13") && e.contains("1x28x28"), "{e}");
    assert!(!mixed.exists());
    let cli = cli_probs(&run, &tests);
    let Some((mut b, p)) = open_page(&page) else { return };
    let size = SHAPE.0 * SHAPE.1 * SHAPE.2;
    let mut inputs = Vec::new();
    for (file, want) in tests.iter().zip(&cli) {
        let bytes = std::fs::read(file).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let r = b.eval(&p, &format!("gpunet.picture('{b64}')")).unwrap();
        let input: Vec<u8> = r["input"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
        let rust = gpunet::data::folder::read_picture(file, SHAPE).unwrap();
        assert_eq!(input, rust, "{}: the page's input differs from predict's", file.display());
        assert_eq!(r["resized"], false);
        let diff = worst(&floats(&r["probs"]), want);
        assert!(diff <= TOLERANCE, "{}: |page - cli| = {diff:.2e}", file.display());
        let best = (0..3).max_by(|&a, &c| want[a].total_cmp(&want[c])).unwrap();
        assert_eq!(r["name"], NAMES[best], "{}", file.display());
        inputs.extend(rust);
    }
    if let Ok(png) = std::env::var("GPUNET_WEB_PICTURE_SCREENSHOT") {
        std::fs::write(png, b.screenshot(&p)).unwrap();
    }
    // the batch plan, rows padded to whole words in the store
    let n = tests.len();
    let list: Vec<String> = inputs.iter().map(|v| v.to_string()).collect();
    let r = b.eval(&p, &format!("gpunet.predict([{}], {n})", list.join(","))).unwrap();
    let want: Vec<f64> = cli.concat();
    let diff = worst(&floats(&r["mean"]), &want);
    assert!(diff <= TOLERANCE, "{n} rows of {size}: |page - cli| = {diff:.2e}");
    eprintln!("{n} colour pictures: max |page - cli| = {diff:.2e}");
    // a picture of another size: resized by the browser, still a distribution over the classes
    let big = d.join("big.png");
    image::imageops::resize(&image::open(&tests[0]).unwrap().to_rgb8(), 26, 18, image::imageops::FilterType::Nearest)
        .save(&big)
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&big).unwrap());
    let r = b.eval(&p, &format!("gpunet.picture('{b64}')")).unwrap();
    assert_eq!(r["resized"], true);
    let sum: f64 = floats(&r["probs"]).iter().sum();
    assert!((sum - 1.0).abs() < 1e-4 && NAMES.contains(&r["name"].as_str().unwrap()), "{r}");
}
