//! CIFAR-10 and CIFAR-100 binary batches as they come: a batch file, a folder
//! of them, or the official `.tar.gz` read as it streams. A CIFAR-10 record is
//! a label byte then 1,024 red, 1,024 green and 1,024 blue bytes (32x32, rows
//! top to bottom): channels first already. A CIFAR-100 record carries a coarse
//! (20 classes) then a fine (100 classes) label byte; `Labels` picks one.
//! Files are known by their names: `data_batch_N.bin` (training) and
//! `test_batch.bin` are CIFAR-10's, `train.bin` and `test.bin` CIFAR-100's;
//! class names come from `batches.meta.txt`, `fine_label_names.txt` or
//! `coarse_label_names.txt` beside them.

use super::{Images, Shape};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Every CIFAR image: 3 channels of 32x32.
pub const SHAPE: Shape = (3, 32, 32);
const IMAGE: usize = 3 * 32 * 32;

/// Which of CIFAR-100's two labels a run learns (CIFAR-10 has one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Labels {
    #[default]
    Fine,
    Coarse,
}

impl Labels {
    pub fn parse(text: &str) -> Result<Labels> {
        match text {
            "fine" => Ok(Labels::Fine),
            "coarse" => Ok(Labels::Coarse),
            other => Err(Error::usage(format!("--labels must be fine or coarse (CIFAR-100's), got '{other}'"))),
        }
    }
}

/// A batch file's set: CIFAR-10 or -100, and whether it is a test batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kind {
    hundred: bool,
    test: bool,
}

fn kind(name: &str) -> Option<Kind> {
    let ten = |test| Some(Kind { hundred: false, test });
    match name {
        "test_batch.bin" => ten(true),
        "train.bin" => Some(Kind { hundred: true, test: false }),
        "test.bin" => Some(Kind { hundred: true, test: true }),
        n if n.starts_with("data_batch_") && n.ends_with(".bin") => ten(false),
        _ => None,
    }
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether `path` names a CIFAR batch file.
pub fn is_batch(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).and_then(kind).is_some()
}

/// Whether `path` names a gzipped tar archive.
pub fn is_archive(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// The records of one batch file's bytes (`path` names it in errors).
fn parse(bytes: &[u8], kind: Kind, labels: Labels, path: &Path) -> Result<Images> {
    let (record, classes, at) = match (kind.hundred, labels) {
        (false, _) => (IMAGE + 1, 10, 0),
        (true, Labels::Coarse) => (IMAGE + 2, 20, 0),
        (true, Labels::Fine) => (IMAGE + 2, 100, 1),
    };
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(Error::input(
            path,
            0,
            format!(
                "{} bytes is not a whole number of CIFAR-{} records ({record} bytes each: {} label byte{} and 3,072 pixels)",
                bytes.len(),
                if kind.hundred { 100 } else { 10 },
                record - IMAGE,
                if record - IMAGE == 1 { "" } else { "s" }
            ),
        ));
    }
    let n = bytes.len() / record;
    let (mut pixels, mut out_labels) = (Vec::with_capacity(n * IMAGE), Vec::with_capacity(n));
    for (i, r) in bytes.chunks_exact(record).enumerate() {
        if r[at] as usize >= classes {
            return Err(Error::input(path, i + 1, format!("record {}: label {} of {classes} classes", i + 1, r[at])));
        }
        out_labels.push(r[at]);
        pixels.extend_from_slice(&r[record - IMAGE..]);
    }
    Ok(Images { shape: SHAPE, classes, pixels, labels: Some(out_labels) })
}

/// One batch file.
pub fn load_file(path: &Path, labels: Labels) -> Result<Images> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let kind = kind(name).ok_or_else(|| Error::input(path, 0, "not a CIFAR batch file name"))?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(&bytes, kind, labels, path)
}

/// The batches of a set, in the order they are read: data_batch_1..N by number.
fn ordered(mut names: Vec<String>) -> Vec<String> {
    names.sort_by_key(|n| {
        let b = base(n);
        let number = b.trim_start_matches("data_batch_").trim_end_matches(".bin").parse::<u64>().unwrap_or(0);
        (number, b.to_string())
    });
    names
}

/// The class names files: CIFAR-10's, CIFAR-100's fine and coarse.
const NAME_FILES: [&str; 3] = ["batches.meta.txt", "fine_label_names.txt", "coarse_label_names.txt"];

/// The class names file a set's names come from.
fn names_file(hundred: bool, labels: Labels) -> &'static str {
    match (hundred, labels) {
        (false, _) => NAME_FILES[0],
        (true, Labels::Fine) => NAME_FILES[1],
        (true, Labels::Coarse) => NAME_FILES[2],
    }
}

/// Whether a folder's or an archive's file (by its path) is one a CIFAR set reads.
fn wanted(path: &str) -> bool {
    let b = base(path);
    kind(b).is_some() || NAME_FILES.contains(&b)
}

fn names_of(text: &[u8], classes: usize) -> Vec<String> {
    let names: Vec<String> =
        String::from_utf8_lossy(text).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() == classes {
        names
    } else {
        Vec::new()
    }
}

/// Files (name, bytes) of one CIFAR set gathered into its training images, its
/// test images and class names; `at` names the source in errors.
fn assemble(files: Vec<(String, Vec<u8>)>, labels: Labels, at: &Path) -> Result<super::Set> {
    let batches: Vec<&(String, Vec<u8>)> = files.iter().filter(|(n, _)| kind(base(n)).is_some()).collect();
    let hundred = match batches.first() {
        Some((n, _)) => kind(base(n)).is_some_and(|k| k.hundred),
        None => {
            return Err(Error::input(
                at,
                0,
                "no CIFAR batches in it (data_batch_N.bin, test_batch.bin; or train.bin, test.bin)",
            ))
        }
    };
    if batches.iter().any(|(n, _)| kind(base(n)).is_some_and(|k| k.hundred != hundred)) {
        return Err(Error::input(at, 0, "it holds batches of both CIFAR-10 and CIFAR-100"));
    }
    let read = |test: bool| -> Result<Option<Images>> {
        let names = ordered(
            batches
                .iter()
                .filter(|(n, _)| kind(base(n)).is_some_and(|k| k.test == test))
                .map(|(n, _)| n.clone())
                .collect(),
        );
        let mut set: Option<Images> = None;
        for name in names {
            let bytes = &files.iter().find(|(n, _)| *n == name).expect("listed").1;
            let part = parse(bytes, kind(base(&name)).expect("a batch"), labels, &at.join(&name))?;
            set = Some(match set {
                None => part,
                Some(mut s) => {
                    s.pixels.extend_from_slice(&part.pixels);
                    s.labels.as_mut().expect("labelled").extend(part.labels.expect("labelled"));
                    s
                }
            });
        }
        Ok(set)
    };
    let train = read(false)?.ok_or_else(|| Error::input(at, 0, "only a test batch in it: no training batches"))?;
    let test = read(true)?;
    let wanted = names_file(hundred, labels);
    let names = files.iter().find(|(n, _)| base(n) == wanted).map_or(Vec::new(), |(_, t)| names_of(t, train.classes));
    Ok((train, test, names))
}

/// A folder holding CIFAR batches (and maybe the class names file), or None where it holds none.
pub fn load_dir(dir: &Path, labels: Labels) -> Result<Option<super::Set>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Some(name) = p.file_name().and_then(|n| n.to_str()).map(String::from) else { continue };
        if p.is_file() && wanted(&name) {
            files.push((name, std::fs::read(&p).map_err(|e| Error::io(&p, e))?));
        }
    }
    if !files.iter().any(|(n, _)| kind(n).is_some()) {
        return Ok(None);
    }
    assemble(files, labels, dir).map(Some)
}

/// The official archive (`cifar-10-binary.tar.gz`, `cifar-100-binary.tar.gz`), read as it streams.
pub fn load_archive(path: &Path, labels: Labels) -> Result<super::Set> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut files = Vec::new();
    super::tar::read(gz, wanted, |name, bytes| {
        files.push((name.to_string(), bytes));
        Ok(())
    })
    .map_err(|e| Error::input(path, 0, e))?;
    assemble(files, labels, path)
}

/// The fuzz harness's way in: bytes read as a CIFAR-100 training batch.
pub fn fuzz(bytes: &[u8]) -> bool {
    parse(bytes, Kind { hundred: true, test: false }, Labels::Fine, Path::new("train.bin")).is_ok()
}
