//! Images and labels: the embedded MNIST, IDX and Kaggle CSV files, the seeded
//! train/validation split.

pub mod cifar;
pub mod csv;
pub mod folder;
pub mod idx;
pub mod norm;
pub mod picture;
pub mod tar;

use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

/// (channels, height, width) of an image or an activation.
pub type Shape = (usize, usize, usize);

/// A shape as messages write it: `CxHxW`.
pub fn shape_text((c, h, w): Shape) -> String {
    format!("{c}x{h}x{w}")
}

/// MNIST's digits: one grey channel of 28x28, ten classes. The embedded set,
/// Kaggle's CSVs and pictures prepared as digits have this shape.
pub const MNIST: Shape = (1, SIDE, SIDE);
pub const SIDE: usize = 28;
pub const PIXELS: usize = SIDE * SIDE;
pub const CLASSES: usize = 10;

/// Images of one shape, one byte per value, channels then rows (C, H, W); labels
/// 0..classes where known.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub shape: Shape,
    /// Labels lie in 0..classes: what the source says (ten for MNIST's formats),
    /// else its largest label + 1.
    pub classes: usize,
    pub pixels: Vec<u8>,         // (n, C·H·W)
    pub labels: Option<Vec<u8>>, // (n)
}

impl Images {
    /// MNIST-shaped digits.
    pub fn digits(pixels: Vec<u8>, labels: Option<Vec<u8>>) -> Images {
        Images { shape: MNIST, classes: CLASSES, pixels, labels }
    }
    /// Values per image (C·H·W).
    pub fn size(&self) -> usize {
        self.shape.0 * self.shape.1 * self.shape.2
    }
    pub fn len(&self) -> usize {
        self.pixels.len() / self.size()
    }
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.size();
        &self.pixels[i * size..(i + 1) * size]
    }
    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Images {
        let mut pixels = Vec::with_capacity(idx.len() * self.size());
        idx.iter().for_each(|&i| pixels.extend_from_slice(self.image(i)));
        let labels = self.labels.as_ref().map(|l| idx.iter().map(|&i| l[i]).collect());
        Images { pixels, labels, ..*self }
    }
    /// The first `n` rows (all if fewer).
    pub fn truncate(mut self, n: usize) -> Images {
        let n = n.min(self.len());
        self.pixels.truncate(n * self.size());
        if let Some(l) = self.labels.as_mut() {
            l.truncate(n);
        }
        self
    }
    /// Seeded shuffle, then the last `fraction` of rows become validation:
    /// returns (train, validation). The training rows are put in their order in
    /// place (one row of scratch), so the split holds little more than the images.
    pub fn split(mut self, fraction: f64, seed: u64) -> (Images, Images) {
        let n = self.len();
        let n_val = ((n as f64) * fraction).ceil() as usize;
        let mut idx: Vec<usize> = (0..n).collect();
        idx.shuffle(&mut StdRng::seed_from_u64(seed));
        let n_train = n - n_val.min(n);
        let val = self.select(&idx[n_train..]);
        // row i becomes row idx[i]: each cycle of the permutation followed once
        let size = self.size();
        let (mut done, mut row) = (vec![false; n], vec![0u8; size]);
        for start in 0..n {
            if done[start] || idx[start] == start {
                continue;
            }
            row.copy_from_slice(self.image(start));
            let mut at = start;
            loop {
                done[at] = true;
                let from = idx[at];
                if from == start {
                    self.pixels[at * size..(at + 1) * size].copy_from_slice(&row);
                    break;
                }
                self.pixels.copy_within(from * size..(from + 1) * size, at * size);
                at = from;
            }
        }
        self.pixels.truncate(n_train * size);
        self.labels = self.labels.map(|l| idx[..n_train].iter().map(|&i| l[i]).collect());
        (self, val)
    }
}

struct Embedded {
    name: &'static str,
    gz: &'static [u8],
    sha256: &'static str,
}

const TRAIN_IMAGES: Embedded = Embedded {
    name: "train-images-idx3-ubyte",
    gz: include_bytes!("../../data/mnist/train-images-idx3-ubyte.gz"),
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
};
const TRAIN_LABELS: Embedded = Embedded {
    name: "train-labels-idx1-ubyte",
    gz: include_bytes!("../../data/mnist/train-labels-idx1-ubyte.gz"),
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
};
const TEST_IMAGES: Embedded = Embedded {
    name: "t10k-images-idx3-ubyte",
    gz: include_bytes!("../../data/mnist/t10k-images-idx3-ubyte.gz"),
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
};
const TEST_LABELS: Embedded = Embedded {
    name: "t10k-labels-idx1-ubyte",
    gz: include_bytes!("../../data/mnist/t10k-labels-idx1-ubyte.gz"),
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};

fn unpack(e: &Embedded) -> Result<Vec<u8>> {
    let path = format!("(embedded) data/mnist/{}.gz", e.name);
    let bytes = idx::gunzip(e.gz).map_err(|m| Error::input(&path, 0, m))?;
    let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    if digest != e.sha256 {
        return Err(Error::input(&path, 0, format!("sha256 {digest}, expected {}", e.sha256)));
    }
    Ok(bytes)
}

fn embedded(images: &Embedded, labels: &Embedded) -> Result<Images> {
    let img_path = format!("(embedded) {}", images.name);
    let (shape, pixels) = idx::parse_images(&unpack(images)?, &img_path)?;
    let lab_path = format!("(embedded) {}", labels.name);
    let labels = idx::parse_labels(&unpack(labels)?, &lab_path)?;
    Ok(Images { classes: CLASSES, ..idx::pair(shape, pixels, labels, &img_path)? })
}

/// The embedded MNIST training set (60,000 images), checksums verified.
pub fn mnist_train() -> Result<Images> {
    embedded(&TRAIN_IMAGES, &TRAIN_LABELS)
}

/// The embedded MNIST t10k test set (10,000 images), checksums verified.
pub fn mnist_test() -> Result<Images> {
    embedded(&TEST_IMAGES, &TEST_LABELS)
}

/// The sha256 of every file under `paths` (a file itself, or a folder walked
/// through): its path below the one given and its size, in byte order. What a
/// run keeps to know, when it resumes, that its data is the same files.
pub fn fingerprint(paths: &[&std::path::Path]) -> Result<String> {
    let mut h = Sha256::new();
    for root in paths {
        let mut files = Vec::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(at) = dirs.pop() {
            if !at.is_dir() {
                let size = std::fs::metadata(&at).map_err(|e| Error::io(&at, e))?.len();
                files.push((at.strip_prefix(root).unwrap_or(&at).as_os_str().as_encoded_bytes().to_vec(), size));
                continue;
            }
            for entry in std::fs::read_dir(&at).map_err(|e| Error::io(&at, e))? {
                dirs.push(entry.map_err(|e| Error::io(&at, e))?.path());
            }
        }
        files.sort();
        h.update(files.len().to_le_bytes());
        for (name, size) in files {
            h.update(&name);
            h.update([0]);
            h.update(size.to_le_bytes());
        }
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A data set as a run reads it: the training images, the test images that come
/// with them (if any), and the class names (empty where the source has none).
pub type Set = (Images, Option<Images>, Vec<String>);

/// A training set and the test set that comes with it: a file (a Kaggle CSV or
/// an IDX image file) has none; a folder holding IDX files as MNIST's come
/// (`train-images-idx3-ubyte` and `t10k-images-idx3-ubyte`, each gzipped or
/// not, labels beside them) gives both, as does a folder holding `train` and
/// `test` folders of class folders; a folder of class folders has none.
pub fn load_set(path: &std::path::Path, o: &folder::Options, say: &mut dyn FnMut(&str)) -> Result<Set> {
    if cifar::is_archive(path) {
        return cifar::load_archive(path, o.labels);
    }
    if !path.is_dir() {
        return Ok((load_with(path, o)?, None, Vec::new()));
    }
    if let Some(set) = cifar::load_dir(path, o.labels)? {
        return Ok(set);
    }
    if let Ok((train, test)) = idx::in_dir(path) {
        return Ok((idx::load_pair(&train)?, test.as_deref().map(idx::load_pair).transpose()?, Vec::new()));
    }
    let (train, test) = (path.join("train"), path.join("test"));
    if folder::is_class_folder(&train) && folder::is_class_folder(&test) {
        let (train, names) = folder::load(&train, o, say)?;
        let test = load_test(&test, &folder::Options::to(train.shape, o), &names, say)?;
        return Ok((train, Some(test), names));
    }
    if !folder::is_class_folder(path) {
        return Err(Error::input(
            path,
            0,
            "expected class folders (DIR/<class>/<picture>), train/ and test/ folders of them, or IDX files named as MNIST's (train-images-idx3-ubyte, t10k-images-idx3-ubyte)",
        ));
    }
    let (train, names) = folder::load(path, o, say)?;
    Ok((train, None, names))
}

/// A test set: a file, or a folder of class folders whose names must be the
/// training set's (`names`; none where it has none).
pub fn load_test(
    path: &std::path::Path,
    o: &folder::Options,
    names: &[String],
    say: &mut dyn FnMut(&str),
) -> Result<Images> {
    if !path.is_dir() {
        return load_with(path, o);
    }
    if let Some((test, _, _)) = cifar::load_dir(path, o.labels)? {
        return Ok(test);
    }
    let (test, test_names) = folder::load(path, o, say)?;
    if test_names != names {
        return Err(Error::input(
            path,
            0,
            format!("its classes are {test_names:?}, the training set's {names:?}: a test folder needs the same class folders"),
        ));
    }
    Ok(test)
}

/// Reads images from a Kaggle CSV, an IDX image file (.gz or plain; labels are
/// read from the matching `*-labels-idx1-ubyte` beside it when present) or a
/// CIFAR batch (CIFAR-100's fine labels).
pub fn load(path: &std::path::Path) -> Result<Images> {
    load_with(path, &folder::Options::default())
}

/// `load`, CIFAR-100's labels as `o` says.
fn load_with(path: &std::path::Path, o: &folder::Options) -> Result<Images> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    if cifar::is_batch(path) {
        cifar::load_file(path, o.labels)
    } else if name.contains("idx3-ubyte") || name.contains("idx4-ubyte") {
        idx::load_pair(path)
    } else {
        csv::read(path)
    }
}
