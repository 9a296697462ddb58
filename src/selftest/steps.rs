//! Training steps of whole nets on an engine against the reference engine (the
//! CPU twins), from the same initial weights, batch order and dropout masks: what
//! the kernel cases cannot show, that the plans an engine makes (its GEMM core,
//! its split-K chunks and their sums, its fusions) compose into the same step.

use super::{compare, Cmp, Outcome, Tol};
use crate::cpu::CpuEngine;
use crate::data::norm::Norm;
use crate::data::Images;
use crate::engine::Engine;
use crate::error::Result;
use crate::model::net::Slot;
use crate::model::{Net, NetConfig, Spec};
use crate::optim::{LossScale, Optim};

/// cnn8 with dropout after every pool: Adam steps, compared weight by weight.
pub const DROPOUT_NET: &str = "cnn8-dropout";
/// Batch norm after convs (with and without their ReLU) and after a dense layer,
/// 'valid' and strided convs, dropout: one step's gradients, layer by layer.
pub const BN_NET: &str = "conv16k3valid,bn,conv16k5s2,conv32k3lin,bn,relu,pool2,fc64,bn,drop0.5,out10";
/// A conv whose output only a max-pool reads, first and deeper ('valid' 5×5, as
/// the `fast` recipe has them): the native engine leaves that pool's backward to
/// the conv's weight gradient.
pub const POOLED_NET: &str = "conv8k5valid,pool2,conv16k5valid,pool2,fc32,out10";
/// The store rows the steps read: enough for two batches of `BN_NET`.
pub const ROWS: usize = 32;

/// The weights after `steps` steps of `optim` on batches of `batch` rows of
/// `images` normalised as `norm` says, from init seed 3 and dropout seed 7, rows
/// in a fixed shuffled order; and the initial weights.
pub fn weights_after(
    engine: &mut dyn Engine,
    spec: &Spec,
    (images, norm): (&Images, &Norm),
    batch: usize,
    steps: usize,
    optim: Optim,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let cfg = NetConfig { batch, norm: norm.clone(), optim: Some(optim), seed: 7 };
    let mut net = Net::new(engine, spec.clone(), images, cfg)?;
    let init = net.init_params(3);
    net.write_params(engine, &init)?;
    let rows = images.len();
    // a fixed permutation (5 is prime to 8 and 32): row r of the epoch is store row 5r mod rows
    net.set_index(engine, 0, &(0..rows as u32).map(|r| (r * 5) % rows as u32).collect::<Vec<_>>())?;
    for step in 0..steps {
        net.train_step(engine, (step * batch) % (rows - batch + 1), batch, step as u64, optim.lr)?;
    }
    Ok((engine.read_f32(net.params_view())?, init))
}

/// Three Adam steps of cnn8-dropout on batches of 8 against the reference.
/// Adam divides by sqrt(v), so rounding in a near-zero gradient is amplified up
/// to lr per step: the bound is lr/10, and nearly all weights must agree far
/// more tightly than that.
pub fn dropout_steps(engine: &mut dyn Engine, images: &Images) -> Result<Outcome> {
    adam_steps(engine, images, DROPOUT_NET)
}

/// Three Adam steps (lr 1e-3) of `net` on batches of 8, against the reference.
fn adam_steps(engine: &mut dyn Engine, images: &Images, net: &str) -> Result<Outcome> {
    let spec = Spec::parse(net)?;
    let optim = Optim::adam(1e-3);
    let (want, init) =
        weights_after(&mut CpuEngine::matching(engine.mixed()), &spec, (images, &Norm::default()), 8, 3, optim)?;
    let (got, _) = weights_after(engine, &spec, (images, &Norm::default()), 8, 3, optim)?;
    let shape = format!("{net}, 3 Adam steps of 8");
    Ok(weights_outcome(shape, &got, &want, &init, Tol { atol: 1e-4, rtol: 0.0 }))
}

/// Three Adam steps of `POOLED_NET` on batches of 8 against the reference.
pub fn pooled_steps(engine: &mut dyn Engine, images: &Images) -> Result<Outcome> {
    adam_steps(engine, images, POOLED_NET)
}

/// `got` against `want` within `tol`, with 99.9% of the weights within
/// 1e-5 + 1e-3·|w|, and more than half of them moved from `init` (or the
/// comparison proves nothing).
pub fn weights_outcome(shape: String, got: &[f32], want: &[f32], init: &[f32], tol: Tol) -> Outcome {
    let cmp = compare(got, want, tol);
    let close = got.iter().zip(want).filter(|(g, w)| (*g - *w).abs() <= 1e-5 + 1e-3 * w.abs()).count();
    let moved = want.iter().zip(init).filter(|(a, b)| a != b).count();
    let detail = if (close as f64) < 0.999 * want.len() as f64 {
        Some(format!("only {close} of {} weights agree within 1e-5 + 1e-3·|w|", want.len()))
    } else if moved <= want.len() / 2 {
        Some(format!("the steps moved only {moved} of {} weights", want.len()))
    } else {
        None
    };
    let bad_output = (cmp.first_bad.is_some() || detail.is_some()).then_some(0);
    Outcome { what: "train steps".into(), shape, cmp, bad_output, guard_hit: None, detail }
}

/// One SGD step (lr 0) of the batch-norm net on a batch of 16: each layer's
/// weight and bias gradients within 1e-4 of their norm, the running statistics
/// within 1e-5. Compared as gradients rather than as updates: batch norm's input
/// gradient dy − dβ/m − x̂·dγ/m is a small residual of larger terms, so rounding
/// in dγ and dβ reappears magnified below it, and steps would let it grow.
pub fn bn_step(engine: &mut dyn Engine, images: &Images) -> Result<Outcome> {
    gradient_step(engine, images, BN_NET)
}

/// One step's gradients of `net` on a batch of 16, layer by layer, against the
/// reference: each layer's weight and bias gradients within 1e-4 of their norm,
/// batch norm's running statistics within 1e-5.
///
/// Under mixed precision the reference is the mixed one, and the bound is set
/// by mixed precision itself. Engine and reference round the same operands to
/// f16 but sum in different orders, so a value the next layer rounds can land on
/// the other side of an f16 rounding (2⁻¹¹ of it, not fp32's 2⁻²⁴), and a ReLU or
/// max-pool decision on a near-zero or near-tied value can go the other way; the
/// backward pass gathers these layer by layer. How far mixed precision moves each
/// gradient from fp32's (the two references) is the yardstick: the engine must
/// stay within half of it of the mixed reference, and never beyond 4 f16 ulps
/// (2e-3) where the yardstick is smaller. An engine rounding wrongly, or not at
/// all, lands as far off as the yardstick or farther.
fn gradient_step(engine: &mut dyn Engine, images: &Images, net: &str) -> Result<Outcome> {
    let spec = Spec::parse(net)?;
    let mixed = engine.mixed();
    let (want_g, want_p, slots) = bn_gradients(&mut CpuEngine::matching(mixed), &spec, images)?;
    let fp32 = if mixed { Some(bn_gradients(&mut CpuEngine::new(), &spec, images)?) } else { None };
    let (g, p, _) = bn_gradients(engine, &spec, images)?;
    let norm = |a: &[f32], r: std::ops::Range<usize>| r.map(|i| (a[i] as f64).powi(2)).sum::<f64>().sqrt();
    let diff =
        |a: &[f32], b: &[f32], r: std::ops::Range<usize>| r.map(|i| ((a[i] - b[i]) as f64).powi(2)).sum::<f64>().sqrt();
    // the bound of a part of the gradients (`params`: of the parameters), its norm `scale`
    let bound = |r: std::ops::Range<usize>, scale: f64, params: bool| match &fp32 {
        None if params => 1e-5,
        None => 1e-4,
        Some((fg, fp, _)) => {
            let (want, f) = if params { (&want_p, fp) } else { (&want_g, fg) };
            (0.5 * diff(want, f, r) / scale).max(2e-3)
        }
    };
    let mut worst = (0.0f64, String::new());
    let mut note = |err: f64, bound: f64, what: String| {
        if err / bound > worst.0 {
            worst = (err / bound, format!("{what} (bound {bound:.1e})"));
        }
    };
    let mut max_rel = 0.0f64;
    for s in &slots {
        let (w, b) = (s.weight..s.weight + s.weight_len(), s.bias..s.bias + s.bias_len());
        let wnorm = norm(&want_g, w.clone());
        let err = diff(&g, &want_g, w.clone()) / wnorm;
        note(
            err,
            bound(w.clone(), wnorm, false),
            format!("layer {} weight gradient differs by {err:.2e} of its norm", s.layer),
        );
        // a bias right before batch norm has no effect on the loss: its gradient is
        // rounding around 0, so it is measured against the weights' gradient instead
        let scale = norm(&want_g, b.clone()).max(1e-2 * wnorm);
        let berr = diff(&g, &want_g, b.clone()) / scale;
        note(
            berr,
            bound(b, scale, false),
            format!("layer {} bias gradient differs by {berr:.2e} of its norm", s.layer),
        );
        max_rel = max_rel.max(err).max(berr);
        if let Some(r) = s.running {
            let r = r..r + 2 * s.bias_len();
            let rnorm = norm(&want_p, r.clone());
            let rerr = diff(&p, &want_p, r.clone()) / rnorm;
            note(rerr, bound(r, rnorm, true), format!("layer {} running statistics differ by {rerr:.2e}", s.layer));
            max_rel = max_rel.max(rerr);
        }
    }
    let fails = worst.0 > 1.0;
    let max_abs = g.iter().zip(&want_g).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    let shape = match net {
        BN_NET => "bn + strided + valid net, 1 step of 16".into(),
        _ => format!("{net}, gradients of 1 step of 16"),
    };
    Ok(Outcome {
        what: "train steps".into(),
        shape: if mixed { format!("{shape} mixed") } else { shape },
        cmp: Cmp { max_abs, max_rel: max_rel as f32, first_bad: None },
        bad_output: fails.then_some(0),
        guard_hit: None,
        detail: fails.then_some(worst.1),
    })
}

/// One SGD step (lr 0, so the weights stay as they were) of `spec` on a batch of 16: the
/// parameter gradients (in mixed precision, the loss scale divided out), the parameters (with batch norm's running statistics), the slots.
pub fn bn_gradients(engine: &mut dyn Engine, spec: &Spec, images: &Images) -> Result<(Vec<f32>, Vec<f32>, Vec<Slot>)> {
    let cfg = NetConfig {
        batch: 16,
        norm: crate::data::norm::Norm::default(),
        optim: Some(Optim::sgd(0.0, 0.0, false)),
        seed: 7,
    };
    let mut net = Net::new(engine, spec.clone(), images, cfg)?;
    net.write_params(engine, &net.init_params(3))?;
    net.set_index(engine, 0, &(0..images.len() as u32).rev().collect::<Vec<_>>())?;
    net.train_step(engine, 0, 16, 0, 0.0)?;
    let grads = net.read_grads(engine)?;
    Ok((grads, engine.read_f32(net.params_view())?, net.slots.clone()))
}

/// Mixed precision's loss scale where it overflows: steps of `POOLED_NET` on a
/// batch of 16 from a scale of 2^24, whose scaled loss gradient passes f16's
/// range as an operand, until one is finite, on the engine and on the mixed
/// reference. The same steps must be skipped (the scale's state alike after
/// each: the engine's f16 rounding overflows where the twin's does), the
/// weights untouched by them, and the finite step's gradients, unscaled, within
/// 2e-3 of their norm of the reference's (`gradient_step`'s floor).
fn overflow_steps(engine: &mut dyn Engine, images: &Images) -> Result<Outcome> {
    let spec = Spec::parse(POOLED_NET)?;
    let run = |e: &mut dyn Engine| -> Result<(Vec<LossScale>, bool, Vec<f32>)> {
        let cfg = NetConfig { batch: 16, norm: Norm::default(), optim: Some(Optim::adam(1e-3)), seed: 7 };
        let mut net = Net::new(e, spec.clone(), images, cfg)?;
        let init = net.init_params(3);
        net.write_params(e, &init)?;
        net.set_index(e, 0, &(0..images.len() as u32).collect::<Vec<_>>())?;
        net.set_loss_scale(e, LossScale { exp: 24, good: 0, skipped: 0 })?;
        let (mut states, mut untouched) = (Vec::new(), true);
        for step in 0..12 {
            net.train_step(e, 0, 16, step, 1e-3)?;
            let scale = net.loss_scale(e)?.expect("a net training in mixed precision keeps a loss scale");
            states.push(scale);
            if scale.good > 0 {
                break;
            }
            untouched &= e.read_f32(net.params_view())? == init;
        }
        Ok((states, untouched, net.read_grads(e)?))
    };
    let (want, _, want_g) = run(&mut CpuEngine::matching(true))?;
    let (got, untouched, g) = run(engine)?;
    let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let err = norm(&mut g.iter().zip(&want_g).map(|(a, b)| a - b)) / norm(&mut want_g.iter().copied());
    let skipped = want.last().map_or(0, |s| s.skipped);
    let detail = if got != want {
        Some(format!("loss scale after each step {got:?}, the reference's {want:?}"))
    } else if !untouched {
        Some("a skipped step changed the weights".into())
    } else if skipped < 2 {
        Some(format!("2^24 overflowed only {skipped} times: the check proves nothing"))
    } else {
        (err.is_nan() || err > 2e-3).then(|| format!("the finite step's gradients differ by {err:.2e} of their norm"))
    };
    let max_abs = g.iter().zip(&want_g).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    Ok(Outcome {
        what: "train steps".into(),
        shape: format!("{POOLED_NET}, from a loss scale of 2^24: {skipped} steps skipped mixed"),
        cmp: Cmp { max_abs, max_rel: err as f32, first_bad: None },
        bad_output: detail.is_some().then_some(0),
        guard_hit: None,
        detail,
    })
}

/// Every step check on `engine`. Under mixed precision the nets without batch
/// norm are compared by one step's gradients rather than by three Adam steps:
/// Adam's first steps move a weight by about lr whatever its gradient's size, so
/// a near-zero gradient's last f16 bit would decide a whole step; and the loss
/// scale's overflow and recovery is checked too.
pub fn all(engine: &mut dyn Engine, images: &Images) -> Result<Vec<Outcome>> {
    if engine.mixed() {
        return Ok(vec![
            gradient_step(engine, images, DROPOUT_NET)?,
            bn_step(engine, images)?,
            gradient_step(engine, images, POOLED_NET)?,
            overflow_steps(engine, images)?,
        ]);
    }
    Ok(vec![dropout_steps(engine, images)?, bn_step(engine, images)?, pooled_steps(engine, images)?])
}
