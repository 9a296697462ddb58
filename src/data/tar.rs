//! A tar archive's regular files, read as they stream by (ustar and GNU: the
//! name's prefix field, `L` long names; pax headers and everything but regular
//! files are stepped over). Only the files a caller wants are kept in memory.

use std::io::Read;

const BLOCK: usize = 512;

/// Calls `keep(name)` for each regular file of `archive`; where it says yes,
/// `take(name, bytes)` gets the file. Errors name what is wrong as text.
pub fn read(
    mut archive: impl Read,
    keep: impl Fn(&str) -> bool,
    mut take: impl FnMut(&str, Vec<u8>) -> Result<(), String>,
) -> Result<(), String> {
    let mut header = [0u8; BLOCK];
    let mut long_name: Option<String> = None;
    loop {
        if !fill(&mut archive, &mut header)? {
            return Ok(()); // an archive may end without its two zero blocks
        }
        if header.iter().all(|&b| b == 0) {
            return Ok(());
        }
        check_sum(&header)?;
        let size = octal(&header[124..136]).ok_or("a tar header's size field is not an octal number")?;
        let padded = size.checked_next_multiple_of(BLOCK as u64).ok_or("a tar entry's size overflows")?;
        let kind = header[156];
        let name = match long_name.take() {
            Some(n) => n,
            None => header_name(&header),
        };
        match kind {
            b'L' => {
                let bytes = take_bytes(&mut archive, size, padded)?;
                long_name = Some(text(&bytes));
            }
            b'0' | 0 if keep(&name) => take(&name, take_bytes(&mut archive, size, padded)?)?,
            _ => skip(&mut archive, padded)?,
        }
    }
}

/// Fills `buf`; false at a clean end before its first byte, an error at one within it.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> Result<bool, String> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err("the archive ends inside a tar header".into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(true)
}

/// An entry's `size` bytes (read as they come: a header that lies about its
/// size allocates no more than the archive holds), then its padding.
fn take_bytes(r: &mut impl Read, size: u64, padded: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    r.by_ref().take(size).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if (bytes.len() as u64) < size {
        return Err(format!("the archive ends inside an entry ({} of its {size} bytes)", bytes.len()));
    }
    skip(r, padded - size)?;
    Ok(bytes)
}

fn skip(r: &mut impl Read, n: u64) -> Result<(), String> {
    let skipped = std::io::copy(&mut r.by_ref().take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
    if skipped < n {
        return Err("the archive ends inside an entry".into());
    }
    Ok(())
}

/// The header's checksum: the sum of its bytes with the checksum field as spaces.
fn check_sum(h: &[u8; BLOCK]) -> Result<(), String> {
    let want = octal(&h[148..156]).ok_or("a tar header's checksum field is not an octal number")?;
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u64 }).sum();
    if sum != want {
        return Err("a tar header's checksum does not match: not a tar archive, or a damaged one".into());
    }
    Ok(())
}

/// An octal number field: digits, padded with spaces or NULs.
fn octal(field: &[u8]) -> Option<u64> {
    let digits: Vec<u8> =
        field.iter().copied().skip_while(|&b| b == b' ').take_while(|&b| b != 0 && b != b' ').collect();
    if digits.is_empty() || digits.len() > 21 || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(&digits).ok()?, 8).ok()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
}

/// The entry's path: ustar's prefix, a slash and the name, or the name alone.
fn header_name(h: &[u8; BLOCK]) -> String {
    let name = text(&h[..100]);
    let ustar = &h[257..262] == b"ustar";
    let prefix = if ustar { text(&h[345..500]) } else { String::new() };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// A ustar archive of `files` (name, bytes): what tests and the fuzz seeds read.
pub fn write(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, bytes) in files {
        assert!(name.len() <= 100, "a ustar name field holds 100 bytes: {name}");
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", bytes.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(bytes);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}
