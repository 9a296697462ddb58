//! How pixel bytes become a network's inputs, stored with the model: each value
//! v (0..255) divided by `scale` (255 unless `--scale` says otherwise), and with
//! `--normalize standard` then, per channel c, `(v / scale - mean[c]) / std[c]`,
//! the mean and deviation taken over the training rows when a run begins.

use super::Images;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The most channels `--normalize standard` takes (the gather's parameter block
/// holds four per-channel pairs).
pub const MAX_CHANNELS: usize = 4;

/// A deviation below this is taken as 1 (a channel that never changes is only
/// moved to zero, not blown up).
const FLAT: f64 = 1e-6;

/// A model's input normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Norm {
    /// The pixel divisor.
    pub scale: f32,
    /// `--normalize standard`: each channel's mean and deviation of v / scale.
    pub standard: Option<Standard>,
}

/// Per-channel mean and standard deviation of v / scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standard {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Norm {
    /// Values divided by `scale`, nothing more (the default, with 255).
    pub fn scale(scale: f32) -> Norm {
        Norm { scale, standard: None }
    }

    /// As `gpunet inspect` and the ONNX description say it.
    pub fn text(&self) -> String {
        let list = |v: &[f32]| v.iter().map(|x| format!("{x:.4}")).collect::<Vec<_>>().join(",");
        match &self.standard {
            None => format!("pixels / {}", self.scale),
            Some(s) => format!("(pixels / {} - mean {}) / std {}", self.scale, list(&s.mean), list(&s.std)),
        }
    }
}

impl Default for Norm {
    fn default() -> Norm {
        Norm::scale(255.0)
    }
}

impl Standard {
    /// Each channel's mean and deviation of v / scale over `images` (f64 sums;
    /// a flat channel gets deviation 1). Refused for more than MAX_CHANNELS
    /// channels and for no images.
    pub fn of(images: &Images, scale: f32) -> Result<Standard> {
        let (c, h, w) = images.shape;
        if c > MAX_CHANNELS {
            return Err(Error::usage(format!(
                "--normalize standard takes images of at most {MAX_CHANNELS} channels; these have {c}"
            )));
        }
        if images.is_empty() {
            return Err(Error::usage("--normalize standard needs training images to measure"));
        }
        let plane = h * w;
        let mut sum = vec![[0u64; 2]; c];
        for image in images.pixels.chunks_exact(c * plane) {
            for (ch, values) in image.chunks_exact(plane).enumerate() {
                for &v in values {
                    sum[ch][0] += v as u64;
                    sum[ch][1] += (v as u64) * (v as u64);
                }
            }
        }
        let n = (images.len() * plane) as f64;
        let scale = scale as f64;
        let (mut mean, mut std) = (Vec::new(), Vec::new());
        for [s, s2] in sum {
            let m = s as f64 / n;
            let var = (s2 as f64 / n - m * m).max(0.0);
            let d = var.sqrt() / scale;
            mean.push((m / scale) as f32);
            std.push(if d < FLAT { 1.0 } else { d as f32 });
        }
        Ok(Standard { mean, std })
    }

    /// Checks values read from a file: one pair per channel, finite, deviations positive.
    pub fn check(&self, channels: usize) -> std::result::Result<(), String> {
        if self.mean.len() != channels || self.std.len() != channels {
            return Err(format!(
                "{} means and {} deviations for {channels} channel{}",
                self.mean.len(),
                self.std.len(),
                if channels == 1 { "" } else { "s" }
            ));
        }
        if channels > MAX_CHANNELS {
            return Err(format!("standardisation of {channels} channels (at most {MAX_CHANNELS})"));
        }
        if self.mean.iter().any(|m| !m.is_finite()) || self.std.iter().any(|d| !(d.is_finite() && *d > 0.0)) {
            return Err("a mean that is not finite or a deviation that is not positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_statistics_per_channel() {
        // two images of 2 channels x 1x2: channel 0 takes 0 and 255, channel 1 10 and 20
        let images =
            Images { shape: (2, 1, 2), classes: 2, pixels: vec![0, 255, 10, 10, 255, 0, 20, 20], labels: None };
        let s = Standard::of(&images, 255.0).unwrap();
        assert_eq!(s.mean, vec![0.5, (15.0f64 / 255.0) as f32]);
        assert_eq!(s.std, vec![0.5, (5.0f64 / 255.0) as f32]);
        let flat = Images { pixels: vec![7; 8], ..images.clone() };
        assert_eq!(Standard::of(&flat, 255.0).unwrap().std, vec![1.0, 1.0]);
        let wide = Images { shape: (5, 1, 1), pixels: vec![1; 5], ..images };
        assert!(Standard::of(&wide, 255.0).unwrap_err().to_string().contains("at most 4 channels"));
    }

    #[test]
    fn values_read_from_a_file_are_checked() {
        assert!(Standard { mean: vec![0.5], std: vec![0.2] }.check(1).is_ok());
        assert!(Standard { mean: vec![0.5], std: vec![0.0] }.check(1).is_err());
        assert!(Standard { mean: vec![f32::NAN], std: vec![0.2] }.check(1).is_err());
        assert!(Standard { mean: vec![0.5], std: vec![0.2] }.check(3).is_err());
    }
}
