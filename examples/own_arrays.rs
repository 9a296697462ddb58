//! Trains on images of your own held in memory: a `Vec<u8>` of pixels and a
//! `Vec<u8>` of labels. Here they are made up: 16x16 grey pictures of a bar,
//! upright or lying, at random places in noise, two classes; a small CNN learns
//! to tell them apart and is scored on pictures it never saw.
//!
//!     cargo run --release --example own_arrays -- [IMAGES] [OUT]
//!
//! IMAGES how many training pictures to make (default 4000); OUT the run
//! directory (default runs/own-arrays-<seconds>).
use gpunet::{Dataset, Device, Trainer};

const SIDE: usize = 16;

/// `n` pictures and their labels (0: an upright bar, 1: a lying one), from `seed`.
fn bars(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move |below: usize| {
        // xorshift64*: made-up data needs no better
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % below
    };
    let (mut pixels, mut labels) = (Vec::with_capacity(n * SIDE * SIDE), Vec::with_capacity(n));
    for _ in 0..n {
        let lying = next(2);
        let (across, along, len) = (next(SIDE), next(SIDE / 2), SIDE / 2);
        let mut picture: Vec<u8> = (0..SIDE * SIDE).map(|_| next(90) as u8).collect();
        for t in along..along + len {
            let (y, x) = if lying == 1 { (across, t) } else { (t, across) };
            picture[y * SIDE + x] = 255;
        }
        pixels.extend(picture);
        labels.push(lying as u8);
    }
    (pixels, labels)
}

fn main() -> gpunet::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = match args.first() {
        Some(text) => text.parse().map_err(|_| gpunet::Error::usage(format!("IMAGES: '{text}' is not a number")))?,
        None => 4000,
    };
    let shape = (1, SIDE, SIDE);
    let (pixels, labels) = bars(n, 1);
    let (test_pixels, test_labels) = bars(1000, 2);
    let names = vec!["upright".to_string(), "lying".to_string()];
    let data = Dataset::from_arrays(shape, pixels, labels)?
        .with_test(Dataset::from_arrays(shape, test_pixels, test_labels)?)?
        .with_names(names)?;

    let mut engine = Device::Auto.engine()?;
    let mut trainer = Trainer::new("conv8k3,pool2,conv16k3,pool2,fc32,out2")?.epochs(3).batch_size(50);
    if let Some(out) = args.get(1) {
        trainer = trainer.out(out);
    }
    let trained = trainer.fit(&mut *engine, data)?;
    for e in &trained.epochs {
        println!("epoch {}: loss {:.4}, accuracy {:.4}", e.epoch, e.loss, e.accuracy);
    }
    let (loss, accuracy) = trained.test.expect("the data has a test set");
    println!("unseen pictures: loss {loss:.4}, accuracy {accuracy:.4}");
    println!("model: {} in {}", trained.model.spec(), trained.dir.display());
    Ok(())
}
