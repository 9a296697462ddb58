//! Readers never panic on arbitrary bytes, and formats round-trip.

use gpunet::data::{self, idx, Images, PIXELS};
use gpunet::model::{checkpoint, Spec};
use proptest::prelude::*;

fn images(n: usize, labelled: bool, seed: u8) -> Images {
    Images::digits(
        (0..n * PIXELS).map(|i| (i as u8).wrapping_mul(seed) ^ (i >> 7) as u8).collect(),
        labelled.then(|| (0..n).map(|i| ((i + seed as usize) % 10) as u8).collect()),
    )
}

/// `imgs` as an IDX file gives them back: the classes its labels reach.
fn as_idx(imgs: &Images) -> Images {
    let classes = imgs.labels.as_ref().map_or(0, |l| *l.iter().max().unwrap() as usize + 1);
    Images { classes, ..imgs.clone() }
}

fn idx_bytes(imgs: &Images) -> (Vec<u8>, Vec<u8>) {
    let n = imgs.len() as u32;
    let mut i = [0x0803u32, n, 28, 28].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
    i.extend(&imgs.pixels);
    let mut l = [0x0801u32, n].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
    l.extend(imgs.labels.as_ref().unwrap());
    (i, l)
}

#[test]
fn csv_round_trips_labelled_and_unlabelled() {
    let dir = tempfile::tempdir().unwrap();
    for labelled in [true, false] {
        let imgs = images(5, labelled, 7);
        let p = dir.path().join("x.csv");
        data::csv::write(&p, &imgs).unwrap();
        assert_eq!(data::csv::read(&p).unwrap(), imgs);
    }
}

#[test]
fn idx_round_trips_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let imgs = images(3, true, 3);
    let (i, l) = idx_bytes(&imgs);
    std::fs::write(dir.path().join("a-images-idx3-ubyte"), &i).unwrap();
    std::fs::write(dir.path().join("a-labels-idx1-ubyte"), &l).unwrap();
    assert_eq!(data::load(&dir.path().join("a-images-idx3-ubyte")).unwrap(), as_idx(&imgs));
    let gz = |b: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, b).unwrap();
        e.finish().unwrap()
    };
    std::fs::write(dir.path().join("b-images-idx3-ubyte.gz"), gz(&i)).unwrap();
    std::fs::write(dir.path().join("b-labels-idx1-ubyte.gz"), gz(&l)).unwrap();
    assert_eq!(data::load(&dir.path().join("b-images-idx3-ubyte.gz")).unwrap(), as_idx(&imgs));
}

/// Four-dimensional IDX files: (N, C, H, W) as it is, (N, H, W, C) turned to
/// channels first; three-dimensional ones of any size; labels past 9; a folder
/// laid out as MNIST's gives its test set too; bad shapes are named.
#[test]
fn idx_of_any_shape_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let header = |words: &[u32]| words.iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
    let chw: Vec<u8> = (0..2 * 3 * 5 * 4).map(|i| i as u8).collect();
    let mut hwc = vec![0u8; chw.len()];
    for (n, c, p) in (0..2).flat_map(|n| (0..3).flat_map(move |c| (0..20).map(move |p| (n, c, p)))) {
        hwc[n * 60 + p * 3 + c] = chw[n * 60 + c * 20 + p];
    }
    let labels = [&header(&[0x0801, 2])[..], &[46, 3]].concat();
    for (name, dims, body) in [("c-images-idx4-ubyte", [3, 5, 4], &chw), ("h-images-idx4-ubyte", [5, 4, 3], &hwc)] {
        let bytes = [header(&[0x0804, 2, dims[0], dims[1], dims[2]]), body.clone()].concat();
        std::fs::write(dir.path().join(name), bytes).unwrap();
        std::fs::write(dir.path().join(name.replace("images-idx4", "labels-idx1")), &labels).unwrap();
        let got = data::load(&dir.path().join(name)).unwrap();
        assert_eq!(
            (got.shape, got.classes, &got.pixels, got.labels.as_deref()),
            ((3, 5, 4), 47, &chw, Some(&[46, 3][..]))
        );
    }
    // 8x8 grey, as a folder holding a training and a test file
    let eight = [header(&[0x0803, 1, 8, 8]), vec![9; 64]].concat();
    for set in ["train", "t10k"] {
        std::fs::write(dir.path().join(format!("{set}-images-idx3-ubyte")), &eight).unwrap();
        std::fs::write(dir.path().join(format!("{set}-labels-idx1-ubyte")), [&header(&[0x0801, 1])[..], &[2]].concat())
            .unwrap();
    }
    let o = data::folder::Options::default();
    let (train, test, names) = data::load_set(dir.path(), &o, &mut |_| {}).unwrap();
    assert!(names.is_empty());
    assert_eq!((train.shape, train.classes, test.map(|t| t.shape)), ((1, 8, 8), 3, Some((1, 8, 8))));
    for (dims, bad) in [([2u32, 5, 4], "expected (C, H, W) or (H, W, C)"), ([3, 0, 4], "expected 1 to")] {
        let bytes = [header(&[0x0804, 1, dims[0], dims[1], dims[2]]), vec![0; 40]].concat();
        let e = idx::parse_images(&bytes, "x").unwrap_err().to_string();
        assert!(e.contains(bad), "{dims:?}: {e}");
    }
    let e = data::load_set(&dir.path().join("nothing-here"), &o, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("nothing-here"), "{e}");
}

#[test]
fn embedded_mnist_is_intact() {
    let train = data::mnist_train().unwrap();
    let test = data::mnist_test().unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    // the first training digit of MNIST is a 5, the first test digit a 7
    assert_eq!((train.labels.unwrap()[0], test.labels.unwrap()[0]), (5, 7));
}

#[test]
fn named_specs_round_trip_through_their_text() {
    for (name, text, _, _) in gpunet::model::spec::NAMED {
        let s = Spec::parse(name).unwrap();
        assert_eq!(s.text(), text);
        assert_eq!(Spec::parse(&s.text()).unwrap(), s);
    }
    assert_eq!(Spec::parse("mlp:10,20,10").unwrap().text(), "fc10,fc20,fc10,out10");
    // pooling floors: 28 -> 14 -> 7 -> 3
    assert_eq!(Spec::parse("cnn6").unwrap().shapes[8], (128, 3, 3));
    // batch norm, standalone ReLU and the `lin` layers they follow
    let text = "conv8k3lin,bn,relu,pool2,fc32lin,bn,relu,drop0.2,out10";
    let s = Spec::parse(text).unwrap();
    assert_eq!(s.text(), text);
    assert_eq!(s.shapes[2], (8, 28, 28));
    // γ and β per channel, and no parameters for relu
    let bn = s.param_shapes(1).unwrap();
    assert_eq!((bn.weight, bn.bias, bn.running), (vec![8], 8, true));
    assert_eq!(s.param_shapes(2), None);
    // strides and 'valid' padding: 28 -> 26 -> 13 -> 10 -> 5
    let text = "conv8k3valid,conv8k5s2,conv16k4validlin,bn,relu,conv16k3s2,out10";
    let s = Spec::parse(text).unwrap();
    assert_eq!(s.text(), text);
    let sizes: Vec<usize> = s.shapes.iter().map(|&(_, h, _)| h).collect();
    assert_eq!(sizes, [26, 13, 10, 10, 10, 5, 1]);
    // global average pooling: (16, 14, 14) -> (16, 1, 1), no parameters, nothing spatial after it
    let s = Spec::parse("conv8k3,pool2,conv16k3,gap,fc32,out10").unwrap();
    assert_eq!((s.shapes[3], s.param_shapes(3)), ((16, 1, 1), None));
    assert_eq!(s.text(), "conv8k3,pool2,conv16k3,gap,fc32,out10");
    for bad in ["conv8k3,gap,conv8k3,out10", "fc8,gap,out10", "conv8k3,gap,pool2,out10"] {
        let e = Spec::parse(bad).expect_err(bad).to_string();
        assert!(e.contains("follows a layer with a flat output"), "{bad}: {e}");
    }
    for bad in [
        "convlin,out10",
        "poollin,out10",
        "bnlin,out10",
        "relu2,out10",
        "conv8k3,out10lin",
        "conv8k3s0,out10",
        "conv8k5valid,pool2,pool2,pool2,conv8k5valid,out10",
        "conv8k3s9,out10",
    ] {
        let e = Spec::parse(bad).expect_err(bad).to_string();
        assert!(e.contains("relu, fc{N}[lin]") || e.contains("valid") || e.contains("strides are"), "{bad}: {e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn csv_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4000), prefix in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        let mut content = if prefix { format!("label,{}\n", (0..784).map(|i| format!("pixel{i}")).collect::<Vec<_>>().join(",")).into_bytes() } else { Vec::new() };
        content.extend(&bytes);
        std::fs::write(&p, &content).unwrap();
        let _ = data::csv::read(&p);
    }

    #[test]
    fn idx_readers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), magic in prop_oneof![Just(0x0803u32), Just(0x0801u32), any::<u32>()], n in 0u32..4) {
        let mut b = [magic, n, 28, 28].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
        b.extend(&bytes);
        let _ = idx::parse_images(&b, "fuzz");
        let _ = idx::parse_labels(&b, "fuzz");
        let _ = idx::gunzip(&bytes);
        let mut gz = vec![0x1f, 0x8b];
        gz.extend(&bytes);
        let _ = idx::gunzip(&gz);
    }

    #[test]
    fn spec_parser_never_panics(s in "[a-z0-9:.,]{0,40}") {
        let _ = Spec::parse(&s);
    }

    #[test]
    fn checkpoint_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600), header in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let mut b = Vec::new();
        if header {
            let h = br#"{"__metadata__":{"gpunet.arch":"mlp:4","gpunet.scale":"255"},"layers.0.weight":{"dtype":"F32","shape":[4,784],"data_offsets":[0,16]}}"#;
            b.extend((h.len() as u64).to_le_bytes());
            b.extend(h);
        }
        b.extend(&bytes);
        std::fs::write(&p, &b).unwrap();
        let _ = checkpoint::load_model(&p);
    }
}
