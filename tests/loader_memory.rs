//! The loader holds little more than the images: reading a folder of gzipped
//! 4-D IDX files (channels last, so they are turned too) and splitting off the
//! validation rows peaks at most 1.5 times the pixel bytes, under a counting
//! allocator.

use gpunet::fuzz::Counting;
use gpunet::settings::Settings;
use std::io::Write;

#[global_allocator]
static ALLOC: Counting = Counting;

fn write_gz(path: &std::path::Path, head: &[u32], body: &[u8]) {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&head.iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>()).unwrap();
    e.write_all(body).unwrap();
    std::fs::write(path, e.finish().unwrap()).unwrap();
}

#[test]
fn loading_and_splitting_peaks_under_one_and_a_half_times_the_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test, size) = (3000u32, 500u32, 32 * 32 * 3);
    for (set, n) in [("train", train), ("t10k", test)] {
        let body: Vec<u8> = (0..n as usize * size).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        write_gz(&dir.path().join(format!("{set}-images-idx4-ubyte.gz")), &[0x0804, n, 32, 32, 3], &body);
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        write_gz(&dir.path().join(format!("{set}-labels-idx1-ubyte.gz")), &[0x0801, n], &labels);
    }
    let s = Settings { train: Some(dir.path().to_path_buf()), ..Settings::new("cnn4") };
    let (data, peak) = gpunet::fuzz::peak_of(|| gpunet::train::load_data(&s).unwrap());
    let pixels = (train + test) as usize * size;
    assert_eq!((data.train.len() + data.val.len(), data.test.as_ref().unwrap().len()), (3000, 500));
    assert_eq!(data.shape(), (3, 32, 32));
    eprintln!("{pixels} pixel bytes, the loader's peak {peak} bytes: {:.2}x", peak as f64 / pixels as f64);
    assert!(peak as f64 <= 1.5 * pixels as f64, "peak {peak} bytes for {pixels} pixel bytes");
}
