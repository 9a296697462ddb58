//! Trains a network on the embedded MNIST, an epoch line at a time, scores it on
//! t10k and saves the model.
//!
//!     cargo run --release --example mnist -- [ARCH] [EPOCHS] [IMAGES] [MODEL]
//!
//! ARCH a named network (`gpunet archs`; default cnn6), EPOCHS (default 1),
//! IMAGES the training images used (default all 60,000), MODEL where the model
//! goes (default mnist.safetensors). The run directory is runs/<arch>-<seconds>.
use gpunet::{Dataset, Device, Trainer};
use std::ops::ControlFlow;

fn main() -> gpunet::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let number = |i: usize, default: &str| {
        let text = arg(i, default);
        text.parse::<usize>().map_err(|_| gpunet::Error::usage(format!("argument {}: '{text}' is not a number", i + 1)))
    };
    let (arch, epochs, images, model) =
        (arg(0, "cnn6"), number(1, "1")?, number(2, "60000")?, arg(3, "mnist.safetensors"));

    let data = Dataset::mnist()?.limit(images);
    let mut engine = Device::Auto.engine()?;
    println!("{arch} on {} for {epochs} epoch(s), {} training images", engine.name(), data.train().len());
    let trained = Trainer::new(&arch)?.epochs(epochs).fit_with(&mut *engine, data, |e| {
        let val = e.val_accuracy.map_or(String::new(), |a| format!(", validation accuracy {a:.4}"));
        println!("epoch {}: {:.1} s, loss {:.4}, accuracy {:.4}{val}", e.epoch, e.seconds, e.loss, e.accuracy);
        ControlFlow::Continue(())
    })?;
    if let Some((loss, accuracy)) = trained.test {
        println!("t10k: loss {loss:.4}, accuracy {accuracy:.4}");
    }
    trained.model.save(&model)?;
    println!("saved {model} (the run: {})", trained.dir.display());
    Ok(())
}
