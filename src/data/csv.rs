//! Kaggle "Digit Recognizer" CSVs: train.csv (`label,pixel0..pixel783`), test.csv
//! (`pixel0..pixel783`), and submissions (`ImageId,Label`, ImageId from 1).

use super::{Images, CLASSES, PIXELS};
use crate::error::{Error, Result};
use crate::io::write_atomic;
use std::path::Path;

fn expected_header(labelled: bool) -> Vec<String> {
    let pixels = (0..PIXELS).map(|i| format!("pixel{i}"));
    if labelled {
        std::iter::once("label".to_string()).chain(pixels).collect()
    } else {
        pixels.collect()
    }
}

/// Reads a Kaggle CSV; a header starting with `label` means a labelled file.
/// Every row is checked: value count, integers, pixel range 0..255, labels 0..9.
pub fn read(path: &Path) -> Result<Images> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    parse(std::io::BufReader::new(file), path)
}

/// `read` on any reader (`path` names it in errors).
pub fn parse(input: impl std::io::Read, path: &Path) -> Result<Images> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(input);
    let mut rec = csv::ByteRecord::new();
    let bad = |line: u64, msg: String| Error::input(path, line as usize, msg);
    let read_next = |rdr: &mut csv::Reader<_>, rec: &mut csv::ByteRecord| -> Result<bool> {
        rdr.read_byte_record(rec).map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            bad(line, format!("unreadable CSV: {e}"))
        })
    };
    if !read_next(&mut rdr, &mut rec)? {
        return Err(bad(
            0,
            "empty file: expected a header 'label,pixel0,...,pixel783' or 'pixel0,...,pixel783'".into(),
        ));
    }
    let header: Vec<String> =
        rec.iter().map(|f| String::from_utf8_lossy(f).trim().trim_start_matches('\u{feff}').to_string()).collect();
    let labelled = header.first().is_some_and(|h| h == "label");
    let want = expected_header(labelled);
    if header != want {
        let col = header.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(header.len().min(want.len()));
        let found = header.get(col).map(String::as_str).unwrap_or("(end of line)");
        let expect = want.get(col).map(String::as_str).unwrap_or("(end of line)");
        return Err(bad(
            1,
            format!(
                "wrong header: column {} is '{found}', expected '{expect}' ({} columns: {}pixel0..pixel{})",
                col + 1,
                want.len(),
                if labelled { "label," } else { "" },
                PIXELS - 1
            ),
        ));
    }
    let fields = want.len();
    let mut images = Images::digits(Vec::new(), labelled.then(Vec::new));
    while read_next(&mut rdr, &mut rec)? {
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() == 1 && rec[0].is_empty() {
            continue; // blank line
        }
        if rec.len() != fields {
            return Err(bad(line, format!("{} values, expected {fields}", rec.len())));
        }
        for (col, raw) in rec.iter().enumerate() {
            let text = std::str::from_utf8(raw).unwrap_or("").trim();
            let value: Option<u8> = text.parse().ok();
            let is_label = labelled && col == 0;
            match (is_label, value) {
                (true, Some(v)) if (v as usize) < CLASSES => images.labels.as_mut().unwrap().push(v),
                (true, _) => return Err(bad(line, format!("column 1 (label): '{text}' is not a digit 0..9"))),
                (false, Some(v)) => images.pixels.push(v),
                (false, None) => {
                    return Err(bad(
                        line,
                        format!("column {} ({}): '{text}' is not an integer 0..255", col + 1, want[col]),
                    ))
                }
            }
        }
    }
    if images.is_empty() {
        return Err(bad(0, "no data rows after the header".into()));
    }
    Ok(images)
}

/// Writes labelled or unlabelled images in Kaggle's format (atomically).
pub fn write(path: &Path, images: &Images) -> Result<()> {
    write_atomic(path, |w| {
        writeln!(w, "{}", expected_header(images.labels.is_some()).join(","))?;
        for i in 0..images.len() {
            let mut row: Vec<String> = images.image(i).iter().map(|p| p.to_string()).collect();
            if let Some(l) = &images.labels {
                row.insert(0, l[i].to_string());
            }
            writeln!(w, "{}", row.join(","))?;
        }
        Ok(())
    })
}

/// `ImageId,Label`, ImageId counting from 1 (atomically).
pub fn write_submission(path: &Path, labels: &[u8]) -> Result<()> {
    write_atomic(path, |w| {
        writeln!(w, "ImageId,Label")?;
        for (i, l) in labels.iter().enumerate() {
            writeln!(w, "{},{l}", i + 1)?;
        }
        Ok(())
    })
}

/// A field quoted where it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    match text.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", text.replace('"', "\"\"")),
        false => text.to_string(),
    }
}

/// The probability columns: `p0..` where the classes are numbers, else `p_NAME`.
fn prob_columns(names: &[String], classes: usize) -> Vec<String> {
    (0..classes).map(|c| names.get(c).map_or_else(|| format!("p{c}"), |n| field(&format!("p_{n}")))).collect()
}

/// `file,digit,p0..p9` (or `file,class,p_NAME...` where the classes have names),
/// a row per picture (atomically).
pub fn write_pictures(
    path: &Path,
    files: &[std::path::PathBuf],
    picked: &[u8],
    probs: &[f32],
    names: &[String],
) -> Result<()> {
    let classes = probs.len() / files.len().max(1);
    write_atomic(path, |w| {
        let what = if names.is_empty() { "digit" } else { "class" };
        writeln!(w, "file,{what},{}", prob_columns(names, classes).join(","))?;
        for ((f, &k), row) in files.iter().zip(picked).zip(probs.chunks(classes.max(1))) {
            let vals: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            let class = names.get(k as usize).map_or_else(|| k.to_string(), |n| field(n));
            writeln!(w, "\"{}\",{class},{}", f.display().to_string().replace('"', "\"\""), vals.join(","))?;
        }
        Ok(())
    })
}

/// `ImageId,p0..p{classes-1}`, or `p_NAME` columns where the classes have names (atomically).
pub fn write_probs(path: &Path, probs: &[f32], classes: usize, names: &[String]) -> Result<()> {
    write_atomic(path, |w| {
        writeln!(w, "ImageId,{}", prob_columns(names, classes).join(","))?;
        for (i, row) in probs.chunks(classes).enumerate() {
            let vals: Vec<String> = row.iter().map(|p| format!("{p:.6}")).collect();
            writeln!(w, "{},{}", i + 1, vals.join(","))?;
        }
        Ok(())
    })
}
