//! An engine that runs nothing: it keeps the buffers, their contents and the
//! plans a net builds, so the very op lists the other engines run can be
//! written out for the browser or checked against production launches.

use super::{Host, OnHost, PlanId, Runner, SplitK};
use crate::error::{Error, Result};

/// The recorder's own part: each buffer's label, the split-K policy and fusion.
#[derive(Default)]
pub struct Labels {
    /// Each buffer's label, by id.
    pub labels: Vec<String>,
    /// The split-K policy plans are made for (that of the engine which will run them).
    pub split: Option<SplitK>,
    /// Whether plans go through the GPU fusion pass (as that engine's do).
    pub fuse: bool,
}

pub type Recorder = OnHost<Labels>;

impl Recorder {
    /// A recorder making plans for an engine with split-K policy `split`.
    pub fn for_split(split: Option<SplitK>) -> Recorder {
        OnHost { host: Host::default(), runner: Labels { labels: Vec::new(), split, fuse: false } }
    }
    /// A recorder making plans as a GPU engine with `tuning`'s split-K and fusion would.
    pub fn for_tuning(tuning: &crate::gpu::Tuning) -> Recorder {
        OnHost {
            host: Host::default(),
            runner: Labels { labels: Vec::new(), split: tuning.split_k(), fuse: tuning.fuse },
        }
    }
    /// Each buffer's label, by id.
    pub fn labels(&self) -> &[String] {
        &self.runner.labels
    }
}

impl Runner for Labels {
    fn name(&self) -> String {
        "plan recorder".into()
    }
    fn run(&mut self, _host: &mut Host, _plan: PlanId) -> Result<()> {
        Err(Error::Gpu("the plan recorder records plans; it runs none".into()))
    }
    fn labelled(&mut self, label: &str) {
        self.labels.push(label.into());
    }
    fn cleared(&mut self) {
        self.labels.clear();
    }
    fn split_k(&self) -> Option<SplitK> {
        self.split
    }
    fn fuses(&self) -> bool {
        self.fuse
    }
}
