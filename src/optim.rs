//! Optimizer settings. The state (Adam's moments, SGD's velocity) lives on the
//! engine beside the parameters; the update is one kernel over all of them.

use crate::kernels::{AdamDims, Dims, Params, ScaleDims, SgdDims};

/// Adam's default decay rates of its first and second moments (Keras', PyTorch's).
pub const ADAM_BETAS: (f32, f32) = (0.9, 0.999);

/// The weights' moving average's decay at update `step` (from 0), for a run that
/// asked for `decay`: min(decay, (1 + step) / (10 + step)), so the average
/// follows the weights closely at first instead of holding on to the initial
/// ones (timm's warm-up; with batch norm, an average still half made of initial
/// weights is no network at all).
pub fn ema_decay(decay: f32, step: u64) -> f32 {
    decay.min((1.0 + step as f64) as f32 / (10.0 + step as f64) as f32)
}

/// The dynamic loss scale of a mixed-precision run (`--precision mixed`): the
/// loss gradient is multiplied by 2^exp before the backward pass, so small
/// gradients keep their bits as f16 operands, and the update divides it out. A
/// step whose gradients overflow (±∞ or NaN) is skipped, weights and moments
/// untouched, and halves the scale; `INTERVAL` finite steps in a row double it
/// (PyTorch's GradScaler's rule and defaults). The step counter moves on over a
/// skipped step (Adam's bias corrections, the schedule, dropout masks). It lives
/// on the device (shaders/optim.wgsl) and in the optimizer file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LossScale {
    /// The scale is 2^exp.
    pub exp: i32,
    /// Finite steps since the scale last changed.
    pub good: u32,
    /// Steps skipped over the run.
    pub skipped: u32,
}

impl Default for LossScale {
    fn default() -> Self {
        LossScale { exp: Self::INIT_EXP, good: 0, skipped: 0 }
    }
}

impl LossScale {
    /// 2^16 at the start.
    pub const INIT_EXP: i32 = 16;
    /// Finite steps in a row that double the scale.
    pub const INTERVAL: u32 = 2000;
    /// The exponents it keeps to.
    pub const RANGE: (i32, i32) = (-24, 24);
    /// Its words on the device: exp, good, skipped, the step's flag, the step's exp (and padding).
    pub const WORDS: usize = 8;
    /// Word 4: the exponent the last step's gradients carry.
    const USED: usize = 4;

    /// The device's words of this state (no step in flight).
    pub fn words(&self) -> Vec<u32> {
        let mut w = vec![0; Self::WORDS];
        w[..3].copy_from_slice(&[self.exp as u32, self.good, self.skipped]);
        w[Self::USED] = self.exp as u32;
        w
    }
    /// The state in the device's words.
    pub fn from_words(w: &[u32]) -> Self {
        LossScale { exp: w[0] as i32, good: w[1], skipped: w[2] }
    }
    /// The factor the last step's gradients carry, in the device's words.
    pub fn carried(w: &[u32]) -> f32 {
        2f32.powi(w[Self::USED] as i32)
    }
    /// The update's parameters.
    pub fn rule() -> ScaleDims {
        ScaleDims::rule(Self::INTERVAL, Self::RANGE)
    }
    /// "exp,good,skipped", as the optimizer file keeps it.
    pub fn text(&self) -> String {
        format!("{},{},{}", self.exp, self.good, self.skipped)
    }
    /// The state `text` wrote; None if `s` is not such.
    pub fn parse(s: &str) -> Option<Self> {
        let mut it = s.split(',');
        let ls = LossScale {
            exp: it.next()?.parse().ok()?,
            good: it.next()?.parse().ok()?,
            skipped: it.next()?.parse().ok()?,
        };
        let (lo, hi) = Self::RANGE;
        (it.next().is_none() && (lo..=hi).contains(&ls.exp)).then_some(ls)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// `decoupled`: AdamW (Loshchilov and Hutter): the weight decay shrinks the
    /// weights by lr·decay each step instead of joining the gradient as L2 does.
    Adam {
        beta1: f32,
        beta2: f32,
        eps: f32,
        decoupled: bool,
    },
    Sgd {
        momentum: f32,
        nesterov: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Optim {
    pub kind: Kind,
    pub lr: f32,
    /// Adam and SGD: L2, added to the gradient as decay·w; AdamW: decoupled.
    pub weight_decay: f32,
}

impl Optim {
    /// Keras' defaults, as the blog used: Adam(1e-3, 0.9, 0.999, 1e-8).
    pub fn adam(lr: f32) -> Self {
        Optim::adam_with(lr, ADAM_BETAS)
    }
    /// Adam with its moments' decay rates (beta1, beta2) chosen; eps 1e-8.
    pub fn adam_with(lr: f32, (beta1, beta2): (f32, f32)) -> Self {
        Optim { kind: Kind::Adam { beta1, beta2, eps: 1e-8, decoupled: false }, lr, weight_decay: 0.0 }
    }
    /// AdamW: Adam with its moments' decay rates and a decoupled weight decay.
    pub fn adamw(lr: f32, (beta1, beta2): (f32, f32), weight_decay: f32) -> Self {
        Optim { kind: Kind::Adam { beta1, beta2, eps: 1e-8, decoupled: true }, lr, weight_decay }
    }
    pub fn sgd(lr: f32, momentum: f32, nesterov: bool) -> Self {
        Optim { kind: Kind::Sgd { momentum, nesterov }, lr, weight_decay: 0.0 }
    }
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Adam { decoupled: false, .. } => "adam",
            Kind::Adam { decoupled: true, .. } => "adamw",
            Kind::Sgd { .. } => "sgd",
        }
    }
    /// The update's parameter block for step `t` (from 1) over `n` values.
    pub fn params(&self, n: usize, t: u64) -> Params {
        match self.kind {
            Kind::Adam { beta1, beta2, eps, decoupled } => {
                AdamDims::new(n, self.lr, beta1, beta2, eps, self.weight_decay, t).decoupled(decoupled).params()
            }
            Kind::Sgd { momentum, nesterov } => {
                SgdDims::new(n, self.lr, momentum, nesterov, self.weight_decay).params()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_average_warms_up_then_holds_its_decay() {
        use super::ema_decay;
        assert_eq!(ema_decay(0.999, 0), 0.1);
        assert!((ema_decay(0.999, 90) - 0.91).abs() < 1e-6);
        assert_eq!(ema_decay(0.999, 100_000), 0.999);
        assert!((0..5000).all(|s| ema_decay(0.999, s) <= ema_decay(0.999, s + 1)), "the decay must not fall");
    }
}
