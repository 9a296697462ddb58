//! The library's front door as a Rust program uses it: data from memory, a
//! callback that stops training, a model saved and read back, bad input refused.
use gpunet::train::Quiet;
use gpunet::{Dataset, Device, Model, Trainer};
use std::ops::ControlFlow;
use std::sync::atomic::AtomicBool;

/// `n` 8x8 pictures: label 1 where the left half is bright, 0 where the right is.
fn halves(n: usize) -> (Vec<u8>, Vec<u8>) {
    let mut pixels = Vec::with_capacity(n * 64);
    let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    for (i, &l) in labels.iter().enumerate() {
        pixels.extend((0..64).map(|p| if ((p % 8) < 4) == (l == 1) { 200 + (i % 50) as u8 } else { (i % 30) as u8 }));
    }
    (pixels, labels)
}

#[test]
fn a_callback_stops_the_run_and_the_model_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, labels) = halves(400);
    let data = Dataset::from_arrays((1, 8, 8), pixels, labels).unwrap();
    assert_eq!((data.shape(), data.classes(), data.train().len()), ((1, 8, 8), 2, 400));
    let mut engine = Device::Cpu.engine().unwrap();
    let mut seen = Vec::new();
    let trainer = Trainer::new("fc16,out2").unwrap().epochs(5).batch_size(40).out(dir.path().join("run"));
    let trained = trainer
        .fit_with(&mut *engine, data, |e| {
            seen.push(e.epoch);
            if e.epoch == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, [1, 2]);
    assert_eq!(trained.epochs.len(), 2);
    assert!(trained.test.is_none());
    // the model saved, read back from the file and from the run directory alike
    let file = dir.path().join("halves.safetensors");
    trained.model.save(&file).unwrap();
    let (a, b) = (Model::load(&file).unwrap(), Model::load(dir.path().join("run")).unwrap());
    let (probe, labels) = halves(20);
    let probe = gpunet::Images { shape: (1, 8, 8), classes: 2, pixels: probe, labels: Some(labels.clone()) };
    let (pa, pb) = (a.predict(&mut *engine, &probe).unwrap(), b.predict(&mut *engine, &probe).unwrap());
    assert_eq!(pa, pb);
    assert_eq!(pa.len(), 40);
    let e = a.evaluate(&mut *engine, &probe).unwrap();
    assert!(e.accuracy > 0.9, "an easy task after two epochs: {e}");
    assert_eq!(a.classify(&mut *engine, &probe).unwrap(), labels);
}

#[test]
fn bad_input_is_refused_with_what_was_expected() {
    let err = |r: gpunet::Result<Dataset>| r.expect_err("must be refused").to_string();
    let e = err(Dataset::from_arrays((1, 8, 8), vec![0; 64 * 3 - 1], vec![0, 1, 1]));
    assert!(e.contains("191 pixel values for 3 labels") && e.contains("expected 192"), "{e}");
    assert!(err(Dataset::from_arrays((1, 8, 8), Vec::new(), Vec::new())).contains("no images"));
    let (pixels, labels) = halves(10);
    let data = Dataset::from_arrays((1, 8, 8), pixels, labels).unwrap();
    let e = err(data.clone().with_names(vec!["one".into()]));
    assert!(e.contains("1 class names for 2 classes"), "{e}");
    let other = Dataset::from_arrays((1, 4, 4), vec![0; 16], vec![0]).unwrap();
    let e = err(data.with_test(other));
    assert!(e.contains("test images are 1x4x4, the training images 1x8x8"), "{e}");
    assert!(Trainer::new("conv8k3,nonsense").is_err());
    let e = Model::load("/nonexistent/model.safetensors").err().unwrap().to_string();
    assert!(e.contains("/nonexistent/model.safetensors"), "{e}");
}

/// A run stopped after its first epoch and continued through `Trainer::resume`
/// on the same images ends with the bytes of one never stopped; other images
/// are refused, and so is a changed setting.
#[test]
fn a_stopped_run_continues_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, labels) = halves(300);
    let data = Dataset::from_arrays((1, 8, 8), pixels, labels).unwrap();
    let mut engine = Device::Cpu.engine().unwrap();
    let trainer =
        |out: &str| Trainer::new("fc16,out2").unwrap().epochs(3).batch_size(50).seed(9).out(dir.path().join(out));
    let whole = trainer("whole").fit(&mut *engine, data.clone()).unwrap();
    let first = trainer("split").fit_with(&mut *engine, data.clone(), |_| ControlFlow::Break(())).unwrap();
    assert_eq!(first.epochs.len(), 1);

    let (other, labels) = halves(301);
    let other = Dataset::from_arrays((1, 8, 8), other, labels).unwrap();
    let e = Trainer::resume(dir.path().join("split")).unwrap().start(other, &mut Quiet).err().unwrap().to_string();
    assert!(e.contains("images differ from those the run began on"), "{e}");
    let mut changed = Trainer::resume(dir.path().join("split")).unwrap();
    changed.settings().lr = 0.01;
    let e = changed.start(data.clone(), &mut Quiet).err().unwrap().to_string();
    assert!(e.contains("--lr 0.01 (the run has 0.001)"), "{e}");

    let resumed = Trainer::resume(dir.path().join("split")).unwrap();
    let rest = resumed.start(data, &mut Quiet).unwrap().fit(&mut *engine, &AtomicBool::new(false), &mut Quiet).unwrap();
    assert_eq!(rest.epochs.len(), 3, "the metrics of all three epochs");
    let bytes = |d: &std::path::Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(bytes(&whole.dir), bytes(&rest.dir), "the continued run's model differs from the whole run's");
    let metrics = |d: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(d.join("metrics.csv")).unwrap();
        // every column but the seconds
        text.lines().map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 1).map(|(_, v)| v).collect()).collect()
    };
    assert_eq!(metrics(&whole.dir), metrics(&rest.dir));
}
