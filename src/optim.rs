//! Optimizer settings. The state (Adam's moments, SGD's velocity) lives on the
//! engine beside the parameters; the update is one kernel over all of them.

use crate::kernels::{AdamDims, Dims, Params, SgdDims};

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
