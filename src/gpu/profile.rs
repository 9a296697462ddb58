//! `GPUNET_PROFILE=1` on the GPU engine: every launch of every run timed on the
//! device (a compute pass per launch between two timestamps; where the adapter
//! has no timestamp queries, each launch submitted alone and timed by the host's
//! clock, which adds the submission's cost), summed per (plan, launch) and per
//! plan, and printed when the engine is dropped, as the native engine prints its
//! own. A pass per launch orders launches as the plan's one pass does, so the
//! figures are each launch's own time; their sum is the step's time without any
//! overlap between launches.

use crate::engine::PlanId;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The most launches timed in one submission (two timestamps each, within the
/// 4,096 queries a query set may hold).
pub const MOST_TIMED: usize = 2_048;

/// The most launches the report lists, slowest first.
const ROWS: usize = 40;

#[derive(Default)]
pub struct Profile {
    /// Per (plan, launch): what ran (kernel, GEMM core, workgroups), milliseconds in all, runs.
    launches: BTreeMap<(PlanId, usize), (String, f64, u64)>,
    /// Per plan: launches a run, runs, milliseconds in all, first and last kernel.
    plans: BTreeMap<PlanId, (usize, u64, f64, [&'static str; 2])>,
    /// Whether the times are the device's timestamps (else the host's clock).
    timestamps: bool,
}

impl Profile {
    /// One run of `plan`: its launches' kernels, what each ran as (`launch`) and milliseconds.
    pub fn add(&mut self, plan: PlanId, kernels: &[&'static str], launch: &[String], ms: &[f64], timestamps: bool) {
        self.timestamps = timestamps;
        for (op, (what, &t)) in launch.iter().zip(ms).enumerate() {
            let e = self.launches.entry((plan, op)).or_insert_with(|| (what.clone(), 0.0, 0));
            (e.1, e.2) = (e.1 + t, e.2 + 1);
        }
        let ends = [kernels.first(), kernels.last()].map(|k| k.copied().unwrap_or(""));
        let e = self.plans.entry(plan).or_insert((kernels.len(), 0, 0.0, ends));
        (e.1, e.2) = (e.1 + 1, e.2 + ms.iter().sum::<f64>());
    }

    /// What `GPUNET_PROFILE` prints: the adapter's `startup` line, the plans (launches a run, from the first
    /// kernel to the last: a training step ends in its optimizer, runs, time a
    /// run), then the slowest launches (kernel, GEMM core, workgroups) with their
    /// share of the whole.
    pub fn report(&self, engine: &str, startup: &str) -> String {
        let total: f64 = self.plans.values().map(|p| p.2).sum();
        let clock = if self.timestamps {
            "device timestamps, a pass per launch"
        } else {
            "the host's clock, a submission per launch"
        };
        let mut out = format!("profile of {engine}: {:.3} s in launches ({clock})\n  {startup}\n", total / 1e3);
        for (plan, (launches, runs, ms, [first, last])) in &self.plans {
            let each = ms / *runs as f64;
            let _ = writeln!(
                out,
                "  plan {plan}: {launches} dispatches a run ({first} .. {last}), {runs} runs, {each:.3} ms a run"
            );
        }
        let mut rows: Vec<_> = self.launches.iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        for ((plan, op), (name, ms, runs)) in rows.into_iter().take(ROWS) {
            let share = 100.0 * ms / total.max(1e-12);
            let each = ms / *runs as f64;
            let _ =
                writeln!(out, "  plan {plan} op {op:>3} {name:<44} {runs:>6} runs {each:>9.3} ms each {share:>5.1}%");
        }
        out
    }
}
