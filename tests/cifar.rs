//! CIFAR-10 and CIFAR-100 binary batches as they come — a batch file, a folder
//! of them, the official `.tar.gz` — read to the very images a folder of class
//! folders holding the same pictures gives (so training on either writes the
//! same metrics), with CIFAR-100's fine or coarse labels and the sets' class
//! names; every engine trains them to the reference weights; a damaged batch is
//! refused by name.

mod common;

use gpunet::data::{self, cifar, folder, Images};
use gpunet::optim::Optim;
use gpunet::selftest::{steps, Tol};
use std::io::Write;
use std::path::Path;

/// CIFAR-10's class names, in its order (which is sorted).
const NAMES: [&str; 10] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Record r of a set: label r·10 / n (so records come in label order), pixels from a hash.
fn image(set: u32, r: u32) -> Vec<u8> {
    (0..3072u32).map(|i| ((i.wrapping_mul(2_654_435_761) ^ (r * 7919 + set * 104_729)) >> 11) as u8).collect()
}

/// `n` CIFAR-10 records of set `set`, labels ascending from `first` over `span` classes.
fn records10(set: u32, n: u32, (first, span): (u32, u32)) -> (Vec<u8>, Vec<(u8, Vec<u8>)>) {
    let pics: Vec<(u8, Vec<u8>)> = (0..n).map(|r| ((first + r * span / n) as u8, image(set, r))).collect();
    (pics.iter().flat_map(|(l, p)| std::iter::once(*l).chain(p.iter().copied())).collect(), pics)
}

/// The pictures as class folders under `dir`: NAMES[label]/SET-RECORD.png, in record order.
fn as_folders(dir: &Path, set: u32, pics: &[(u8, Vec<u8>)]) {
    for (r, (label, px)) in pics.iter().enumerate() {
        let class = dir.join(NAMES[*label as usize]);
        std::fs::create_dir_all(&class).unwrap();
        let img = image::RgbImage::from_fn(32, 32, |x, y| {
            let i = (y * 32 + x) as usize;
            image::Rgb([px[i], px[1024 + i], px[2048 + i]])
        });
        img.save(class.join(format!("{set}-{r:04}.png"))).unwrap();
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(bytes).unwrap();
    z.finish().unwrap()
}

fn set(path: &Path, o: &folder::Options) -> data::Set {
    data::load_set(path, o, &mut |_| {}).unwrap()
}

#[test]
fn cifar10_batches_folders_and_archive_read_as_the_same_class_folders() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bin = d.join("cifar-10-batches-bin");
    std::fs::create_dir(&bin).unwrap();
    // batch 1 holds classes 0-4, batch 2 classes 5-9: read in order, as the class folders are
    let ((b1, p1), (b2, p2)) = (records10(1, 30, (0, 5)), records10(2, 30, (5, 5)));
    let (t, pt) = records10(3, 20, (0, 10));
    std::fs::write(bin.join("data_batch_1.bin"), &b1).unwrap();
    std::fs::write(bin.join("data_batch_2.bin"), &b2).unwrap();
    std::fs::write(bin.join("test_batch.bin"), &t).unwrap();
    let meta = NAMES.join("\n") + "\n\n";
    std::fs::write(bin.join("batches.meta.txt"), &meta).unwrap();
    // the same pictures as train/ and test/ class folders, named so they sort in record order
    as_folders(&d.join("pics/train"), 1, &p1);
    as_folders(&d.join("pics/train"), 2, &p2);
    as_folders(&d.join("pics/test"), 3, &pt);
    let o = folder::Options::default();
    let (train, test, names) = set(&bin, &o);
    let (ftrain, ftest, fnames) = set(&d.join("pics"), &o);
    assert_eq!((train.shape, train.classes, train.len()), ((3, 32, 32), 10, 60));
    assert_eq!(train, ftrain, "batches 1 and 2 read as the class folders");
    assert_eq!(test, ftest);
    assert_eq!(names, fnames);
    assert_eq!(names, NAMES);
    // the archive as it comes, streamed through gunzip and tar
    let tar = data::tar::write(&[
        ("cifar-10-batches-bin/batches.meta.txt", meta.as_bytes()),
        ("cifar-10-batches-bin/data_batch_2.bin", &b2),
        ("cifar-10-batches-bin/data_batch_1.bin", &b1),
        ("cifar-10-batches-bin/test_batch.bin", &t),
        ("cifar-10-batches-bin/readme.html", b"<p>CIFAR</p>"),
    ]);
    let archive = d.join("cifar-10-binary.tar.gz");
    std::fs::write(&archive, gzip(&tar)).unwrap();
    let (atrain, atest, anames) = set(&archive, &o);
    assert_eq!((&atrain, &atest, &anames), (&train, &test, &names));
    // one batch file: its records, no test set
    let (one, none, _) = set(&bin.join("data_batch_2.bin"), &o);
    assert_eq!((one.len(), none), (30, None));
    // training on the batches and on the class folders writes the same metrics
    let mut metrics = Vec::new();
    for (what, out) in [(bin.to_str().unwrap(), "from-bin"), ("pics", "from-pics")] {
        let args =
            ["train", "--arch", "conv4k3,pool2,gap,out10", "--train", what, "--epochs", "2", "--batch-size", "8"];
        let said = common::ok(d, &[&args[..], &["--out", out]].concat());
        assert!(said.contains("20 test"), "{said}");
        let named =
            if out == "from-bin" { "cifar-10-batches-bin's test batch, 20 images" } else { "pics/test, 20 images" };
        assert!(said.contains(named), "{said}");
        let m = std::fs::read_to_string(d.join(out).join("metrics.csv")).unwrap();
        // every column but seconds
        metrics.push(
            m.lines()
                .map(|l| {
                    l.split(',').enumerate().filter(|(i, _)| *i != 1).map(|(_, v)| v.to_string()).collect::<Vec<_>>()
                })
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(metrics[0], metrics[1]);
    let eval = common::ok(d, &["eval", "--model", "from-bin", "--input", bin.join("test_batch.bin").to_str().unwrap()]);
    assert!(eval.contains("accuracy"), "{eval}");
}

#[test]
fn cifar100_reads_fine_or_coarse_labels_and_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("cifar-100-binary");
    std::fs::create_dir(&d).unwrap();
    let record = |r: u32| [vec![(r % 20) as u8, (r * 3 % 100) as u8], image(7, r)].concat();
    std::fs::write(d.join("train.bin"), (0..40).flat_map(record).collect::<Vec<u8>>()).unwrap();
    std::fs::write(d.join("test.bin"), (40..50).flat_map(record).collect::<Vec<u8>>()).unwrap();
    let fine: Vec<String> = (0..100).map(|i| format!("fine{i:02}")).collect();
    let coarse: Vec<String> = (0..20).map(|i| format!("coarse{i:02}")).collect();
    std::fs::write(d.join("fine_label_names.txt"), fine.join("\n")).unwrap();
    std::fs::write(d.join("coarse_label_names.txt"), coarse.join("\n")).unwrap();
    for (labels, want, names) in [(cifar::Labels::Fine, 100, &fine), (cifar::Labels::Coarse, 20, &coarse)] {
        let o = folder::Options { labels, ..Default::default() };
        let (train, test, got) = set(&d, &o);
        assert_eq!((train.classes, train.len(), test.unwrap().len()), (want, 40, 10));
        let label = |r: u32| if labels == cifar::Labels::Fine { r * 3 % 100 } else { r % 20 } as u8;
        assert_eq!(train.labels.unwrap(), (0..40).map(label).collect::<Vec<_>>());
        assert_eq!(&got, names);
    }
    let args = ["train", "--arch", "conv4k3,gap,out20", "--train", d.to_str().unwrap(), "--labels", "coarse"];
    let said = common::ok(dir.path(), &[&args[..], &["--epochs", "1", "--out", "coarse"]].concat());
    assert!(said.contains("10 test"), "{said}");
    let o = common::run(dir.path(), &[&args[..5], &["--labels", "both", "--out", "bad"]].concat(), &[]);
    let e = common::text(&o);
    assert!(!o.status.success() && e.contains("--labels must be fine or coarse"), "{e}");
}

#[test]
fn a_damaged_batch_or_archive_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (b, _) = records10(1, 3, (0, 10));
    std::fs::write(d.join("data_batch_1.bin"), &b[..b.len() - 5]).unwrap();
    let o =
        common::run(d, &["train", "--arch", "conv4k3,gap,out10", "--train", "data_batch_1.bin", "--out", "bad"], &[]);
    let e = common::text(&o);
    assert!(
        !o.status.success() && e.contains("data_batch_1.bin") && e.contains("not a whole number of CIFAR-10 records"),
        "{e}"
    );
    common::assert_no_run_left(&d.join("bad"), "a short batch");
    let mut bad_label = b.clone();
    bad_label[3073] = 10;
    std::fs::write(d.join("data_batch_1.bin"), &bad_label).unwrap();
    let e = format!("{}", data::load(&d.join("data_batch_1.bin")).unwrap_err());
    assert!(e.contains("record 2: label 10 of 10 classes"), "{e}");
    // an archive cut short, and one whose header is damaged
    let tar = data::tar::write(&[("cifar-10-batches-bin/data_batch_1.bin", &b)]);
    for (name, bytes) in
        [("cut.tar.gz", gzip(&tar[..1000])), ("damaged.tar.gz", gzip(&[&b"x"[..], &tar[1..]].concat()))]
    {
        std::fs::write(d.join(name), &bytes).unwrap();
        let e = format!("{}", data::load_set(&d.join(name), &folder::Options::default(), &mut |_| {}).unwrap_err());
        assert!(e.contains(name) && (e.contains("ends inside") || e.contains("checksum")), "{name}: {e}");
    }
}

#[test]
fn every_engine_trains_cifar_batches_to_the_reference_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = records10(4, 32, (0, 10));
    std::fs::write(dir.path().join("data_batch_1.bin"), b).unwrap();
    let images: Images = data::load(&dir.path().join("data_batch_1.bin")).unwrap();
    let spec = gpunet::model::Spec::for_data("conv8k3,pool2,conv8k3,pool2,gap,out10", images.shape, 10).unwrap();
    let norm = gpunet::data::norm::Norm::default();
    let optim = Optim::adam(1e-3);
    let (want, init) =
        steps::weights_after(&mut gpunet::cpu::CpuEngine::new(), &spec, (&images, &norm), 8, 3, optim).unwrap();
    for mut engine in common::engines_under_test() {
        let (got, _) = steps::weights_after(engine.as_mut(), &spec, (&images, &norm), 8, 3, optim).unwrap();
        let outcome = steps::weights_outcome(
            format!("CIFAR batch, {}", engine.name()),
            &got,
            &want,
            &init,
            Tol { atol: 1e-4, rtol: 0.0 },
        );
        eprintln!("{}", outcome.line());
        assert!(outcome.pass(), "{}", outcome.line());
    }
}
