//! Running a net: each launch's plan built on first use (`plan::build`) and run
//! with the parameters of its step. Above both net.rs (buffers, layout, state)
//! and plan.rs (the op list), so neither of them imports the other's caller.

use super::net::{trainable_words, Mode, Net};
use crate::engine::{Engine, PlanId};
use crate::error::Result;
use crate::kernels::{Dims, DropoutDims, EmaDims, GatherDims, Params};
use crate::optim::Optim;

/// A launch's plan and the parameters it runs with, by op.
pub struct LaunchInfo {
    pub plan: PlanId,
    pub gather: (usize, Params),
    pub dropouts: Vec<(usize, Params)>,
    pub optim: Option<(usize, Params)>,
    /// The weights' average's step (its decay moves at first: `optim::ema_decay`).
    pub ema: Option<(usize, Params)>,
}

/// The gather is always a plan's first op.
const GATHER_OP: usize = 0;

impl Net {
    /// One training step on the `n` rows listed at index[first..first + n].
    /// `step` counts from 0 over the whole run (dropout masks, Adam's bias correction);
    /// `lr` is this step's learning rate (the schedule's).
    pub fn train_step(&mut self, engine: &mut dyn Engine, first: usize, n: usize, step: u64, lr: f32) -> Result<()> {
        self.launch(engine, Mode::Train, first, n, step, lr)
    }

    /// Forward only, adding loss and hits to the eval sums.
    pub fn eval_batch(&mut self, engine: &mut dyn Engine, first: usize, n: usize) -> Result<()> {
        self.launch(engine, Mode::Eval, first, n, 0, 0.0)
    }

    /// Class probabilities (n, 10) of the rows at index[first..first + n].
    pub fn predict_batch(&mut self, engine: &mut dyn Engine, first: usize, n: usize) -> Result<Vec<f32>> {
        self.launch(engine, Mode::Predict, first, n, 0, 0.0)?;
        engine.read_f32(self.probs_view(n))
    }

    /// The plan of one launch of `mode` over `n` rows, built on first use. Its
    /// gather reads index[0..n]; runs move that window with `set_params`.
    pub fn plan(&mut self, engine: &mut dyn Engine, mode: Mode, n: usize) -> Result<PlanId> {
        assert!(n >= 1 && n <= self.cfg.batch, "batch of {n} rows on a net built for {}", self.cfg.batch);
        if !self.plans.contains_key(&(mode, n)) {
            let plan = super::plan::build(self, engine, mode, n)?;
            self.plans.insert((mode, n), plan);
        }
        Ok(self.plans[&(mode, n)].id)
    }

    fn launch(
        &mut self,
        engine: &mut dyn Engine,
        mode: Mode,
        first: usize,
        n: usize,
        step: u64,
        lr: f32,
    ) -> Result<()> {
        let info = self.launch_info(engine, mode, n, first, step, lr)?;
        for (i, params) in std::iter::once(info.gather).chain(info.dropouts).chain(info.optim).chain(info.ema) {
            engine.set_params(info.plan, i, params)?;
        }
        engine.run(info.plan)
    }

    /// The plan of a launch of `mode` over the `n` rows at index[first..] at
    /// training step `step` with learning rate `lr`, and the parameters it runs with: its gather's, its
    /// dropout layers' and its optimizer's, by op. What a run sets before it runs;
    /// the web export takes them at (first 0, step 0) and the page patches the
    /// words that move (`GatherDims::OFFSET`, ...).
    pub fn launch_info(
        &mut self,
        engine: &mut dyn Engine,
        mode: Mode,
        n: usize,
        first: usize,
        step: u64,
        lr: f32,
    ) -> Result<LaunchInfo> {
        self.plan(engine, mode, n)?;
        let plan = &self.plans[&(mode, n)];
        let mut gather = GatherDims::new(n, first, self.spec.input_size(), self.cfg.norm.scale);
        if let (Mode::Train, Some(a)) = (mode, self.augment) {
            gather = a.gather(gather, self.spec.input, self.cfg.seed, step as u32);
        }
        let dropouts =
            plan.dropouts.iter().map(|&(i, d)| (i, DropoutDims { step: step as u32, ..d }.params())).collect();
        let optim = plan
            .optim
            .zip(self.cfg.optim)
            .map(|(i, o)| (i, Optim { lr, ..o }.params(trainable_words(&self.slots, self.param_words), step + 1)));
        // the average's op follows the optimizer's
        let ema = plan.optim.zip(self.ema).map(|(i, (_, decay))| {
            (i + 1, EmaDims::new(self.param_words, crate::optim::ema_decay(decay, step)).params())
        });
        Ok(LaunchInfo { plan: plan.id, gather: (GATHER_OP, gather.params()), dropouts, optim, ema })
    }
}
