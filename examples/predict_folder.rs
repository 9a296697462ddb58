//! Predicts the class of every picture in a folder with a trained model.
//!
//!     cargo run --release --example predict_folder -- MODEL FOLDER
//!
//! MODEL a model file or a run directory (`gpunet train`'s, or the mnist
//! example's); FOLDER pictures (PNG, JPEG, ...), searched through. A digit model
//! reads each picture as a digit (ink found, fitted and centred), any other fits
//! it to the images the model was trained on.
use gpunet::{Device, Model};
use std::path::PathBuf;

fn main() -> gpunet::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, folder] = &args[..] else {
        return Err(gpunet::Error::usage("usage: predict_folder MODEL FOLDER"));
    };
    let model = Model::load(model)?;
    let (files, images) = model.read_pictures(&[PathBuf::from(folder)])?;
    let mut engine = Device::Auto.engine()?;
    let probs = model.predict(&mut *engine, &images)?;
    let names = model.names();
    for (file, row) in files.iter().zip(probs.chunks(model.classes())) {
        let (class, p) = row.iter().enumerate().fold((0, 0.0), |best, (i, &p)| if p > best.1 { (i, p) } else { best });
        let name = names.get(class).cloned().unwrap_or_else(|| class.to_string());
        println!("{}: {name} ({:.1}%)", file.display(), p * 100.0);
    }
    Ok(())
}
