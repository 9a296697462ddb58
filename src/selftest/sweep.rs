//! What one selftest runs, and its tally. On a GPU: each adapter class's choices
//! in turn (`gpu::Class`): every kernel case (once per distinct GEMM core and
//! kind of sums; `Auto` picks each case's core by its rows alone, as the cases
//! are too small to fill a device and every core should get its share), the
//! training-step checks (whose split-K differs by class), and
//! under `discrete` cnn6's launches at batch 500; then, with `every_variant`,
//! the GEMM cases on every core no class picked and the reductions with the sums
//! no class picked. On a CPU engine: the kernel cases, the step checks, and with
//! `production` the batch-500 launches. `gpunet selftest` and the kernel tests
//! both run this sweep.

use super::mixed::Want;
use super::{cases, production, steps, Case, Outcome};
use crate::data::{self, Images};
use crate::engine::Engine;
use crate::error::Result;
use crate::gpu::{Class, Gpu, GpuEngine, Tuning};
use crate::kernels::shaders::Gemm;
use rayon::prelude::*;
use std::sync::Arc;

pub struct Options {
    /// Seed of the cases' random contents.
    pub seed: u64,
    /// The classes whose choices a GPU runs (in this order).
    pub classes: Vec<Class>,
    /// The larger case shapes (else the small ones).
    pub large: bool,
    /// Every GEMM core and kind of sums on the cases they serve (GPU only).
    pub every_variant: bool,
    /// cnn6's launches at batch 500 (under `discrete` on a GPU).
    pub production: bool,
}

/// Cases passed and failed so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
}

impl Tally {
    /// "selftest: N of M cases passed", the line a selftest ends with (the web page's too).
    pub fn line(&self) -> String {
        format!("selftest: {} of {} cases passed", self.passed, self.passed + self.failed)
    }
    fn add(&mut self, o: &Outcome) {
        if o.pass() {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// Called with each outcome as it arrives, and the configuration it ran under.
pub type Report<'a> = &'a mut dyn FnMut(&str, &Outcome);

/// Everything `o` asks for on a GPU, under each class in `o.classes`.
pub fn on_gpu(gpu: &Arc<Gpu>, o: &Options, report: Report) -> Result<Tally> {
    let mut tally = Tally::default();
    let cases = cases(o.seed, !o.large);
    let images = step_images()?;
    // kernel configurations already run: (core, subgroup sums)
    let mut ran: Vec<(Gemm, bool)> = Vec::new();
    for &class in &o.classes {
        let tuning = gpu.tuning_for(class)?;
        let config = (tuning.gemm, tuning.subgroups);
        if !ran.contains(&config) {
            ran.push(config);
            let by_rows = Tuning { fill: None, ..tuning };
            let mut engine = GpuEngine::with_tuning(gpu.clone(), by_rows);
            run_cases(&mut engine, &cases, &format!("[{}]", by_rows.describe()), &mut tally, report)?;
        }
        let mut engine = GpuEngine::with_tuning(gpu.clone(), tuning);
        let label = format!("[{}]", tuning.describe());
        for outcome in steps::all(&mut engine, &images)? {
            tally.add(&outcome);
            report(&label, &outcome);
        }
        if class == Class::Discrete && o.production {
            run_production(&mut engine, o.seed, &label, &mut tally, report)?;
        }
        engine.clear()?;
    }
    if o.every_variant {
        let subgroups = gpu.tuning.subgroups;
        for core in Gemm::ALL.into_iter().filter(|&g| !ran.iter().any(|r| r.0 == g)) {
            let mut engine = GpuEngine::with_tuning(gpu.clone(), tuned(gpu, core, subgroups));
            let gemm_cases: Vec<&Case> = cases.iter().filter(|c| c.kernel.info().shader.uses_gemm()).collect();
            run_cases(&mut engine, gemm_cases, &format!("[{} gemm]", core.name()), &mut tally, report)?;
        }
        let sums = if gpu.has_subgroups { vec![false, true] } else { vec![false] };
        for sg in sums.into_iter().filter(|&sg| !ran.iter().any(|r| r.1 == sg)) {
            let mut engine = GpuEngine::with_tuning(gpu.clone(), tuned(gpu, gpu.tuning.gemm, sg));
            let reduce_cases: Vec<&Case> = cases.iter().filter(|c| c.kernel.info().shader.uses_reduce()).collect();
            let label = format!("[{} sums]", if sg { "subgroup" } else { "tree" });
            run_cases(&mut engine, reduce_cases, &label, &mut tally, report)?;
        }
    }
    Ok(tally)
}

/// The adapter's own choices with one GEMM core and one kind of sums.
fn tuned(gpu: &Gpu, gemm: Gemm, subgroups: bool) -> Tuning {
    Tuning { gemm, subgroups, fill: None, ..gpu.tuning }
}

/// Everything `o` asks for on a CPU engine (the native one, or the twins themselves).
pub fn on_engine(engine: &mut dyn Engine, o: &Options, report: Report) -> Result<Tally> {
    let mut tally = Tally::default();
    let label = format!("[{}]", engine.name());
    run_cases(engine, &cases(o.seed, !o.large), &label, &mut tally, report)?;
    for outcome in steps::all(engine, &step_images()?)? {
        tally.add(&outcome);
        report(&label, &outcome);
    }
    if o.production {
        run_production(engine, o.seed, &label, &mut tally, report)?;
    }
    Ok(tally)
}

fn run_cases<'c>(
    engine: &mut dyn Engine,
    cases: impl IntoIterator<Item = &'c Case>,
    label: &str,
    tally: &mut Tally,
    report: Report,
) -> Result<()> {
    let mixed = engine.mixed();
    for case in cases {
        let outcome = Want::of(case, mixed)?.check(engine, case)?;
        tally.add(&outcome);
        report(label, &outcome);
        // each case's buffers are freed before the next one's are made
        engine.clear()?;
    }
    Ok(())
}

/// cnn6's launches at batch 500 under the engine's split-K policy; the twins'
/// outputs (minutes of plain loops in all) are computed on every core at once.
fn run_production(engine: &mut dyn Engine, seed: u64, label: &str, tally: &mut Tally, report: Report) -> Result<()> {
    let cases = production::cases(seed, engine.split_k())?;
    let mixed = engine.mixed();
    let wants: Vec<Want> = cases.par_iter().map(|c| Want::of(c, mixed)).collect::<Result<_>>()?;
    for (case, want) in cases.iter().zip(&wants) {
        let outcome = want.check(engine, case)?;
        tally.add(&outcome);
        report(label, &outcome);
        engine.clear()?;
    }
    Ok(())
}

/// The store the step checks read: the first training images of the embedded MNIST.
fn step_images() -> Result<Images> {
    Ok(data::mnist_train()?.truncate(steps::ROWS))
}
