//! The checksums of a checkpoint file: each tensor's sha256 in the header
//! (`gpunet.sha256.<tensor>`), and the header's own (`gpunet.header_sha256`),
//! taken over the 8-byte length prefix and every header byte, padding included,
//! with its own 64 hex digits read as zeros. The header holds the tensors' sums,
//! so the header's sum stands for every byte of the file.

use crate::error::{Error, Result};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// Metadata key prefix of each tensor's checksum: `gpunet.sha256.<tensor name>`.
pub const TENSOR: &str = "gpunet.sha256.";
/// Metadata key of the header's own checksum.
pub const HEADER: &str = "gpunet.header_sha256";
/// What the header's sum reads as while it is taken, and what a writer puts in its place first.
pub const UNSEALED: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The metadata keys files written before header checksums carried besides
/// tensor sums (and `gpunet.train.*`, the run's settings). Such a file loads on
/// its tensor sums alone only where it has no other key, so that a damaged
/// header-sum key never passes for an older file.
const EARLIER_KEYS: [&str; 6] =
    ["gpunet.arch", "gpunet.scale", "gpunet.epoch", "gpunet.batch", "gpunet.step", "gpunet.acc"];
/// The prefix of the keys that held a run's settings one field each, before
/// they were one JSON (`checkpoint::SETTINGS`).
pub const EARLIER_SETTINGS: &str = "gpunet.train.";

pub fn hex(data: &[u8]) -> String {
    digits(&Sha256::digest(data))
}

fn digits(sum: &[u8]) -> String {
    sum.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the header's sum sits in a file: the byte offset of its 64 hex digits,
/// and the header's end (8 + the length the prefix gives). None where the header
/// does not hold the key exactly once in the form gpunet writes.
pub fn header_place(bytes: &[u8]) -> Option<(usize, usize)> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    let end = usize::try_from(n).ok()?.checked_add(8).filter(|&e| e <= bytes.len())?;
    let key = format!("\"{HEADER}\":\"");
    let header = &bytes[8..end];
    let mut found = header.windows(key.len()).enumerate().filter(|(_, w)| *w == key.as_bytes()).map(|(i, _)| i);
    let at = 8 + found.next()? + key.len();
    (found.next().is_none() && header.get(at - 8 + 64) == Some(&b'"')).then_some((at, end))
}

fn header_digest(bytes: &[u8], at: usize, end: usize) -> String {
    let mut h = Sha256::new();
    h.update(&bytes[..at]);
    h.update(UNSEALED.as_bytes());
    h.update(&bytes[at + 64..end]);
    digits(&h.finalize())
}

/// Writes the header's sum into a file written with `UNSEALED` in its place; returns it.
pub fn seal(bytes: &mut [u8]) -> String {
    let (at, end) = header_place(bytes).expect("the writer puts the header sum's key in");
    let sum = header_digest(bytes, at, end);
    bytes[at..at + 64].copy_from_slice(sum.as_bytes());
    sum
}

/// Every tensor against its sum, and the header against its own: the header's
/// sum, or None for a file written before header sums (its tensors checked, and
/// no metadata key it could not have had). A file with no sums at all is refused.
pub fn verify(path: &Path, bytes: &[u8], st: &SafeTensors, meta: &HashMap<String, String>) -> Result<Option<String>> {
    let damaged = |what: String| Error::input(path, 0, format!("{what}: the file is damaged or was altered"));
    let sum = match meta.get(HEADER) {
        Some(want) => {
            let (at, end) = header_place(bytes)
                .filter(|&(at, _)| &bytes[at..at + 64] == want.as_bytes())
                .ok_or_else(|| damaged("its header checksum is not where gpunet writes it".into()))?;
            if header_digest(bytes, at, end) != *want {
                return Err(damaged("its header fails its sha256 checksum".into()));
            }
            Some(want.clone())
        }
        None if !meta.keys().any(|k| k.starts_with(TENSOR)) => {
            return Err(Error::input(
                path,
                0,
                format!(
                    "has no checksums, so nothing shows it is the file that was saved; if you vouch for it, \
                     `gpunet check --repair {}` adds them",
                    path.display()
                ),
            ))
        }
        None => {
            let odd = meta.keys().find(|k| {
                !(k.starts_with(TENSOR) || k.starts_with(EARLIER_SETTINGS) || EARLIER_KEYS.contains(&k.as_str()))
            });
            if let Some(k) = odd {
                return Err(damaged(format!("its header has no checksum and an unexpected key '{k}'")));
            }
            None
        }
    };
    for (name, t) in st.tensors() {
        match meta.get(&format!("{TENSOR}{name}")) {
            None => return Err(damaged(format!("tensor '{name}' has no checksum"))),
            Some(want) if *want != hex(t.data()) => {
                return Err(damaged(format!("tensor '{name}' fails its sha256 checksum")))
            }
            Some(_) => {}
        }
    }
    if let Some(k) = meta.keys().filter_map(|k| k.strip_prefix(TENSOR)).find(|name| st.tensor(name).is_err()) {
        return Err(damaged(format!("its header has a checksum for '{k}', a tensor it does not hold")));
    }
    Ok(sum)
}
