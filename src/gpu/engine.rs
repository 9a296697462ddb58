//! The GPU engine: buffers on the device, plans whose bind groups and parameter
//! blocks are made once, and runs that record one compute pass per plan and
//! submit it without waiting.

use crate::engine::{Engine, PlanId, SplitK};
use crate::error::{Error, Result};
use crate::gpu::{Gpu, Tuning};
use crate::kernels::op::{BufId, Grid, Op, View};
use crate::kernels::Params;
use std::sync::Arc;

struct Plan {
    ops: Vec<Op>,
    /// Workgroups of each op, fixed when the plan was made.
    groups: Vec<[u32; 3]>,
    /// One parameter slot per op, `stride` bytes apart.
    uniforms: wgpu::Buffer,
    stride: u64,
    bind_groups: Vec<wgpu::BindGroup>,
    /// Each op's pipeline, chosen when the plan was made (GEMM core, kind of sums).
    pipelines: Vec<wgpu::ComputePipeline>,
}

pub struct GpuEngine {
    pub gpu: Arc<Gpu>,
    /// The choices of plans made from now on: GEMM core, split-K target,
    /// workgroup sums (the adapter's by default; a test may run another class's).
    pub tuning: Tuning,
    bufs: Vec<wgpu::Buffer>,
    plans: Vec<Plan>,
    /// Submissions in flight; runs wait on the oldest beyond `MAX_IN_FLIGHT`,
    /// so the host stays just ahead of the device and progress is honest.
    in_flight: std::collections::VecDeque<wgpu::SubmissionIndex>,
    /// With GPUNET_PROFILE set: each run's launches timed (`profile`), printed when dropped.
    profile: Option<super::profile::Profile>,
}

const MAX_IN_FLIGHT: usize = 3;

impl GpuEngine {
    pub fn new(gpu: Arc<Gpu>) -> Self {
        let tuning = gpu.tuning;
        GpuEngine::with_tuning(gpu, tuning)
    }

    /// An engine whose plans follow `tuning` rather than the adapter's own choices.
    pub fn with_tuning(gpu: Arc<Gpu>, tuning: Tuning) -> Self {
        let profile = std::env::var_os("GPUNET_PROFILE").is_some().then(Default::default);
        GpuEngine { tuning, gpu, bufs: Vec::new(), plans: Vec::new(), in_flight: Default::default(), profile }
    }

    fn check_view(&self, op: &Op, v: &View) -> Result<()> {
        let align = self.gpu.limits.min_storage_buffer_offset_alignment as u64;
        let size = self.bufs[v.buf].size();
        let (off, len) = (v.offset as u64 * 4, v.len as u64 * 4);
        if off % align != 0 || len == 0 || off + len > size {
            return Err(Error::Gpu(format!(
                "{}: view {off}+{len} bytes of a {size}-byte buffer (offsets must be multiples of {align})",
                op.kernel.name()
            )));
        }
        let max = self.gpu.limits.max_storage_buffer_binding_size;
        if len > max {
            return Err(Error::Limit {
                what: format!("{} binding", op.kernel.name()),
                name: "max_storage_buffer_binding_size",
                asked: len,
                limit: max,
                hint: "use a smaller --batch-size",
            });
        }
        Ok(())
    }

    /// The pipelines the ops of a plan made now run (built where not yet).
    fn pipelines(&self, ops: &[Op]) -> Result<Vec<wgpu::ComputePipeline>> {
        let sums = self.subgroup_sums();
        let launches: Vec<_> =
            ops.iter().map(|op| (op.kernel, op.launch(self.tuning.gemm, self.tuning.fill).1, sums)).collect();
        self.gpu.pipelines(&launches)
    }

    /// A launch as the profile names it: "conv2d_forward mid 2x192x1", its kernel,
    /// GEMM core (where it runs one) and workgroups.
    fn describe_launch(&self, op: &Op) -> String {
        let ([x, y, z], core) = op.launch(self.tuning.gemm, self.tuning.fill);
        match op.grid {
            Grid::Gemm { .. } => format!("{} {} {x}x{y}x{z}", op.kernel.name(), core.name()),
            Grid::Groups(_) => format!("{} {x}x{y}x{z}", op.kernel.name()),
        }
    }

    /// Whether plans made now sum with subgroup operations (asked for, and offered).
    fn subgroup_sums(&self) -> bool {
        self.tuning.subgroups && self.gpu.has_subgroups
    }

    fn check_groups(&self, op: &Op, groups: [u32; 3]) -> Result<()> {
        let max = self.gpu.limits.max_compute_workgroups_per_dimension;
        match groups.iter().find(|&&g| g > max) {
            Some(&g) => Err(Error::Limit {
                what: format!("{} launch", op.kernel.name()),
                name: "max_compute_workgroups_per_dimension",
                asked: g as u64,
                limit: max as u64,
                hint: "use a smaller --batch-size",
            }),
            None => Ok(()),
        }
    }

    /// Keeps at most MAX_IN_FLIGHT submissions queued.
    fn throttle(&mut self, idx: wgpu::SubmissionIndex) -> Result<()> {
        self.in_flight.push_back(idx);
        while self.in_flight.len() > MAX_IN_FLIGHT {
            let oldest = self.in_flight.pop_front().unwrap();
            self.gpu
                .device
                .poll(wgpu::PollType::Wait { submission_index: Some(oldest), timeout: None })
                .map_err(|e| Error::Gpu(format!("{}: {e}", self.gpu.info.name)))?;
        }
        self.gpu.check()
    }
}

impl Engine for GpuEngine {
    fn name(&self) -> String {
        let mut tuning = self.tuning;
        tuning.subgroups = self.subgroup_sums();
        format!("{} [{}{}]", self.gpu.describe(), tuning.describe(), self.gpu.checks.describe())
    }

    fn buffer(&mut self, words: usize, label: &str) -> Result<BufId> {
        let size = (words.max(1) * 4) as u64;
        if size > self.gpu.limits.max_buffer_size {
            return Err(Error::Limit {
                what: format!("buffer '{label}'"),
                name: "max_buffer_size",
                asked: size,
                limit: self.gpu.limits.max_buffer_size,
                hint: "use a smaller --batch-size or model",
            });
        }
        let buf = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        self.bufs.push(buf);
        Ok(self.bufs.len() - 1)
    }

    fn write(&mut self, buf: BufId, offset: usize, data: &[u32]) -> Result<()> {
        if !data.is_empty() {
            self.gpu.queue.write_buffer(&self.bufs[buf], offset as u64 * 4, bytemuck::cast_slice(data));
        }
        Ok(())
    }

    fn read(&mut self, v: View) -> Result<Vec<u32>> {
        let bytes = v.len as u64 * 4;
        let staging = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&self.bufs[v.buf], v.offset as u64 * 4, &staging, 0, bytes);
        self.gpu.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.gpu.wait()?;
        self.in_flight.clear();
        rx.recv()
            .map_err(|_| Error::Gpu("readback never completed".into()))?
            .map_err(|e| Error::Gpu(format!("readback failed: {e}")))?;
        let data = staging.get_mapped_range(..).map_err(|e| Error::Gpu(format!("readback: {e}")))?;
        let out: Vec<u32> = bytemuck::cast_slice(&data[..bytes as usize]).to_vec();
        Ok(out)
    }

    fn plan(&mut self, ops: Vec<Op>) -> Result<PlanId> {
        let mut launch = Vec::with_capacity(ops.len());
        for op in &ops {
            op.views.iter().try_for_each(|v| self.check_view(op, v))?;
            launch.push(op.launch(self.tuning.gemm, self.tuning.fill).0);
            self.check_groups(op, *launch.last().unwrap())?;
        }
        let align = self.gpu.limits.min_uniform_buffer_offset_alignment as u64;
        let stride = 64u64.div_ceil(align) * align;
        let dev = &self.gpu.device;
        let uniforms = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params"),
            size: stride * ops.len().max(1) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let pipelines = self.pipelines(&ops)?;
        let mut bind_groups = Vec::with_capacity(ops.len());
        for (i, (op, pipeline)) in ops.iter().zip(&pipelines).enumerate() {
            self.gpu.queue.write_buffer(&uniforms, i as u64 * stride, bytemuck::cast_slice(&op.params));
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &uniforms,
                    offset: i as u64 * stride,
                    size: wgpu::BufferSize::new(64),
                }),
            }];
            for (b, v) in op.views.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: b as u32 + 1,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &self.bufs[v.buf],
                        offset: v.offset as u64 * 4,
                        size: wgpu::BufferSize::new(v.len as u64 * 4),
                    }),
                });
            }
            let layout = pipeline.get_bind_group_layout(0);
            bind_groups.push(dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(op.kernel.name()),
                layout: &layout,
                entries: &entries,
            }));
        }
        self.gpu.check()?;
        self.plans.push(Plan { ops, groups: launch, uniforms, stride, bind_groups, pipelines });
        Ok(self.plans.len() - 1)
    }

    fn set_params(&mut self, plan: PlanId, op: usize, params: Params) -> Result<()> {
        let p = &mut self.plans[plan];
        p.ops[op].params = params;
        self.gpu.queue.write_buffer(&p.uniforms, op as u64 * p.stride, bytemuck::cast_slice(&params));
        Ok(())
    }

    fn run(&mut self, plan: PlanId) -> Result<()> {
        if self.profile.is_some() {
            return self.run_profiled(plan);
        }
        let enc = self.encode(plan, None);
        let idx = self.gpu.queue.submit([enc.finish()]);
        self.throttle(idx)
    }

    fn split_k(&self) -> Option<SplitK> {
        self.tuning.split_k()
    }

    fn fuses(&self) -> bool {
        self.tuning.fuse
    }

    fn mixed(&self) -> bool {
        self.tuning.mixed()
    }

    fn run_timed(&mut self, plan: PlanId) -> Result<Option<f64>> {
        if !self.gpu.timestamps {
            return Ok(None);
        }
        let queries = self.query_set(1);
        let enc = self.encode(plan, Some(&queries));
        let ms = self.read_stamps(enc, &queries, 1)?;
        self.in_flight.clear();
        Ok(Some(ms[0]))
    }

    fn finish(&mut self) -> Result<()> {
        self.in_flight.clear();
        self.gpu.wait()
    }
    fn clear(&mut self) -> Result<()> {
        self.finish()?;
        self.plans.clear();
        self.bufs.clear();
        Ok(())
    }
}

impl Drop for GpuEngine {
    fn drop(&mut self) {
        if let Some(p) = self.profile.take() {
            eprint!("{}", p.report(&self.name(), &self.gpu.startup()));
        }
    }
}

impl GpuEngine {
    /// `run` under GPUNET_PROFILE: every launch in a pass of its own, between two
    /// timestamps where the adapter has timestamp queries, else submitted alone
    /// and waited for (the host's clock); the run waits for its last launch.
    fn run_profiled(&mut self, plan: PlanId) -> Result<()> {
        self.finish()?;
        let p = &self.plans[plan];
        let times = if self.gpu.timestamps {
            let mut ms = Vec::with_capacity(p.ops.len());
            for chunk in (0..p.ops.len()).collect::<Vec<_>>().chunks(super::profile::MOST_TIMED) {
                ms.extend(self.timestamped(plan, chunk)?);
            }
            ms
        } else {
            let mut ms = Vec::with_capacity(p.ops.len());
            for op in 0..p.ops.len() {
                let t = std::time::Instant::now();
                let mut enc = self.gpu.device.create_command_encoder(&Default::default());
                self.launch(&mut enc, plan, op, None);
                self.gpu.queue.submit([enc.finish()]);
                self.gpu.wait()?;
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            ms
        };
        let names: Vec<&'static str> = p.ops.iter().map(|op| op.kernel.name()).collect();
        let launches: Vec<String> = p.ops.iter().map(|op| self.describe_launch(op)).collect();
        let profile = self.profile.as_mut().expect("profiling");
        profile.add(plan, &names, &launches, &times, self.gpu.timestamps);
        Ok(())
    }

    /// The device milliseconds of launches `ops` of `plan`, each in its own pass.
    fn timestamped(&self, plan: PlanId, ops: &[usize]) -> Result<Vec<f64>> {
        let queries = self.query_set(ops.len() as u32);
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        for (i, &op) in ops.iter().enumerate() {
            self.launch(&mut enc, plan, op, Some((&queries, 2 * i as u32)));
        }
        self.read_stamps(enc, &queries, ops.len() as u32)
    }

    /// A query set of `pairs` begin/end timestamp pairs.
    fn query_set(&self, pairs: u32) -> wgpu::QuerySet {
        self.gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("launch times"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * pairs,
        })
    }

    /// Submits `enc`, whose passes wrote `pairs` timestamp pairs into `queries`,
    /// waits for the device, and returns the milliseconds between each pair.
    fn read_stamps(&self, mut enc: wgpu::CommandEncoder, queries: &wgpu::QuerySet, pairs: u32) -> Result<Vec<f64>> {
        let dev = &self.gpu.device;
        let bytes = 16 * pairs as u64;
        let usage = wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC;
        let resolve =
            dev.create_buffer(&wgpu::BufferDescriptor { label: None, size: bytes, usage, mapped_at_creation: false });
        let usage = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let staging =
            dev.create_buffer(&wgpu::BufferDescriptor { label: None, size: bytes, usage, mapped_at_creation: false });
        enc.resolve_query_set(queries, 0..2 * pairs, &resolve, 0);
        enc.copy_buffer_to_buffer(&resolve, 0, &staging, 0, bytes);
        self.gpu.queue.submit([enc.finish()]);
        staging.map_async(wgpu::MapMode::Read, .., |_| {});
        self.gpu.wait()?;
        let data = staging.get_mapped_range(..).map_err(|e| Error::Gpu(format!("timestamps: {e}")))?;
        let t: &[u64] = bytemuck::cast_slice(&data);
        let period = self.gpu.queue.get_timestamp_period() as f64;
        Ok(t.chunks_exact(2).map(|w| w[1].saturating_sub(w[0]) as f64 * period / 1e6).collect())
    }

    /// Launch `op` of `plan` in a compute pass of its own, between timestamps
    /// `at` and `at + 1` of a query set where given.
    fn launch(&self, enc: &mut wgpu::CommandEncoder, plan: PlanId, op: usize, stamps: Option<(&wgpu::QuerySet, u32)>) {
        let p = &self.plans[plan];
        let timestamp_writes = stamps.map(|(q, at)| wgpu::ComputePassTimestampWrites {
            query_set: q,
            beginning_of_pass_write_index: Some(at),
            end_of_pass_write_index: Some(at + 1),
        });
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
        let [x, y, z] = p.groups[op];
        pass.set_pipeline(&p.pipelines[op]);
        pass.set_bind_group(0, &p.bind_groups[op], &[]);
        pass.dispatch_workgroups(x, y, z);
    }

    /// One compute pass with every op of the plan, optionally timestamped.
    fn encode(&self, plan: PlanId, timestamps: Option<&wgpu::QuerySet>) -> wgpu::CommandEncoder {
        let p = &self.plans[plan];
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        {
            let timestamp_writes = timestamps.map(|q| wgpu::ComputePassTimestampWrites {
                query_set: q,
                beginning_of_pass_write_index: Some(0),
                end_of_pass_write_index: Some(1),
            });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes });
            for ((pipeline, group), &[x, y, z]) in p.pipelines.iter().zip(&p.bind_groups).zip(&p.groups) {
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, group, &[]);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        enc
    }
}
