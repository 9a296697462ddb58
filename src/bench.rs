//! Timing harness shared by `gpunet bench` and `cargo bench`: every kernel family
//! at the blog's shapes on the GPU engine and the native CPU engine (the plain
//! twins as a third, oracle column where they are quick), and whole training
//! steps on each engine. Times are medians of full waits after a warm-up run.

use crate::cpu::CpuEngine;
use crate::data::{self, Images};
use crate::engine::weight_grad_splits;
use crate::engine::{Engine, SplitK};
use crate::error::Result;
use crate::kernels;
use crate::kernels::op::{self, Op};
use crate::kernels::Kernel;
use crate::model::{Net, NetConfig, Spec};
use crate::optim::Optim;
use crate::selftest::{self, Builder, Case, TOL_SUM};
use std::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct Record {
    /// `matmul`, `conv2d_forward`, ..., or `train:cnn6`
    pub name: String,
    pub shape: String,
    /// Training records: the engine that ran the steps.
    pub engine: Option<String>,
    /// Milliseconds per launch (kernels) or per step (training) on the GPU engine.
    pub gpu_ms: Option<f64>,
    /// The same on the native CPU engine.
    pub cpu_ms: Option<f64>,
    /// One run of the plain CPU twin: the tests' oracle, not a contender.
    pub oracle_ms: Option<f64>,
    pub gflops_gpu: Option<f64>,
    pub gflops_cpu: Option<f64>,
    /// cpu_ms / gpu_ms: how much faster the GPU engine is than the native one.
    pub speedup: Option<f64>,
    pub batch: Option<usize>,
    pub images_per_s: Option<f64>,
    /// Device memory a training net of this arch takes at batch 500 (all of it
    /// is allocated up front; nothing is allocated while training).
    pub memory_mib_at_500: Option<f64>,
    /// The process's peak resident memory over this record's run (Linux).
    pub peak_rss_mib: Option<f64>,
}

impl Record {
    pub fn json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.name.clone().into());
        m.insert("shape".into(), self.shape.clone().into());
        if let Some(e) = &self.engine {
            m.insert("engine".into(), e.clone().into());
        }
        let mut opt = |k: &str, v: Option<f64>| {
            if let Some(v) = v {
                m.insert(k.into(), round(v).into());
            }
        };
        opt("gpu_ms", self.gpu_ms);
        opt("cpu_ms", self.cpu_ms);
        opt("oracle_ms", self.oracle_ms);
        opt("gflops_gpu", self.gflops_gpu);
        opt("gflops_cpu", self.gflops_cpu);
        opt("speedup", self.speedup);
        opt("images_per_s", self.images_per_s);
        opt("memory_mib_at_batch_500", self.memory_mib_at_500);
        opt("peak_rss_mib", self.peak_rss_mib);
        if let Some(b) = self.batch {
            m.insert("batch".into(), b.into());
        }
        serde_json::Value::Object(m)
    }

    pub fn row(&self) -> String {
        let f = |v: Option<f64>, w: usize| v.map(|x| format!("{x:>w$.2}")).unwrap_or_else(|| format!("{:>w$}", "-"));
        let g = |v: Option<f64>, w: usize| v.map(|x| format!("{x:>w$.1}")).unwrap_or_else(|| format!("{:>w$}", "-"));
        match self.images_per_s {
            Some(ips) => format!(
                "{:<24} {:<34} {} {}   {ips:.1} images/s on {}; {:.0} MiB at batch 500{}",
                self.name,
                self.shape,
                f(self.gpu_ms, 10),
                f(self.cpu_ms, 10),
                self.engine.as_deref().unwrap_or("?"),
                self.memory_mib_at_500.unwrap_or(f64::NAN),
                self.peak_rss_mib.map(|m| format!("; peak RSS {m:.0} MiB")).unwrap_or_default()
            ),
            None => format!(
                "{:<24} {:<34} {} {} {} {} {} {}",
                self.name,
                self.shape,
                f(self.gpu_ms, 10),
                f(self.cpu_ms, 10),
                f(self.oracle_ms, 10),
                g(self.gflops_gpu, 9),
                g(self.gflops_cpu, 9),
                self.speedup.map(|s| format!("{s:>7.2}x")).unwrap_or_else(|| format!("{:>8}", "-"))
            ),
        }
    }
}

pub const HEADER: &str = "kernel / step             shape                                  gpu ms     cpu ms  oracle ms  gpu GF/s  cpu GF/s  gpu/cpu";

/// The process's peak resident set size in MiB (VmHWM), where Linux reports it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Restarts the peak-RSS count from the current RSS (Linux: clear_refs 5).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// "N MiB RSS", or "unknown" where the platform does not say.
pub fn peak_rss_text() -> String {
    peak_rss_mib().map_or_else(|| "unknown".into(), |m| format!("{m:.0} MiB RSS"))
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Warm-up before timing: runs until this much time has passed (at least one run,
/// at most `WARM_RUNS`). A discrete GPU idles at low clocks and raises them only
/// under sustained work; one warm-up run timed an H200's 4096³ matmul at a fifth
/// of its speed (BENCHMARKS, "NVIDIA GPUs").
const WARM: std::time::Duration = std::time::Duration::from_millis(300);
const WARM_RUNS: usize = 200;

/// Calls `once` until `WARM` has passed (at least once, at most `WARM_RUNS` times).
fn warm_up(mut once: impl FnMut(usize) -> Result<()>) -> Result<usize> {
    let t = Instant::now();
    let mut runs = 0;
    while runs == 0 || (runs < WARM_RUNS && t.elapsed() < WARM) {
        once(runs)?;
        runs += 1;
    }
    Ok(runs)
}

/// Median milliseconds of `reps` runs of a plan after a warm-up (`warm_up`):
/// device time from timestamp queries where the engine has them, else
/// wall-clock time of a run and a full wait.
pub fn time_plan(engine: &mut dyn Engine, plan: usize, reps: usize) -> Result<f64> {
    warm_up(|_| {
        engine.run(plan)?;
        engine.finish()
    })?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        let device = engine.run_timed(plan)?;
        if device.is_none() {
            engine.run(plan)?;
            engine.finish()?;
        }
        times.push(device.unwrap_or_else(|| t.elapsed().as_secs_f64() * 1e3));
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// An engine that only counts the bytes a net asks for: sizes models at batches
/// the machine at hand could not run.
#[derive(Default)]
struct Sizer {
    buffers: usize,
    bytes: u64,
}

impl Engine for Sizer {
    fn name(&self) -> String {
        "sizer".into()
    }
    fn buffer(&mut self, words: usize, _: &str) -> Result<usize> {
        self.bytes += words.max(1) as u64 * 4;
        self.buffers += 1;
        Ok(self.buffers - 1)
    }
    fn write(&mut self, _: usize, _: usize, _: &[u32]) -> Result<()> {
        Ok(())
    }
    fn read(&mut self, v: crate::kernels::op::View) -> Result<Vec<u32>> {
        Ok(vec![0; v.len])
    }
    fn plan(&mut self, _: Vec<crate::kernels::op::Op>) -> Result<usize> {
        Ok(0)
    }
    fn set_params(&mut self, _: usize, _: usize, _: kernels::Params) -> Result<()> {
        Ok(())
    }
    fn run(&mut self, _: usize) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    fn clear(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Device memory (MiB) a training net of `arch` allocates at `batch`, with the
/// embedded MNIST (70,000 images) as its image store.
pub fn training_memory_mib(arch: &str, batch: usize, (shape, rows): (data::Shape, usize)) -> Result<f64> {
    let mut sizer = Sizer::default();
    let (c, h, w) = shape;
    let store = Images { shape, classes: 10, pixels: vec![0; rows * c * h * w], labels: None };
    let cfg = NetConfig { batch, norm: crate::data::norm::Norm::default(), optim: Some(Optim::adam(1e-3)), seed: 1 };
    Net::new(&mut sizer, Spec::for_data(arch, shape, 10)?, &store, cfg)?;
    Ok(sizer.bytes as f64 / (1 << 20) as f64)
}

/// Floating-point operations of one launch (multiply-adds count two).
fn flops(case: &Case) -> f64 {
    let p = &case.op.params;
    let f = |x: u32| x as f64;
    match case.kernel {
        Kernel::Matmul => 2.0 * f(p[0]) * f(p[1]) * f(p[2]),
        Kernel::Conv2dForward | Kernel::Conv2dBackwardInput | Kernel::Conv2dBackwardWeight => {
            let d: kernels::ConvDims = bytemuck::cast(*p);
            2.0 * f(d.n) * f(d.cin) * f(d.cout) * f(d.h) * f(d.w) * f(d.k * d.k)
        }
        _ => 0.0,
    }
}

/// The kernel launches timed, at batch `n` (the blog's cnn6 layers) and the
/// matmul sizes given; only those `wanted` takes by "kernel shape" have their
/// buffers made (a 4096³ matmul's are 200 MB). Conv weight gradients are cut
/// into split-K partials as a training plan under `split` cuts them (the GPU
/// engine's policy: a discrete GPU runs conv1's in 64 parts), the shape saying
/// how many; the small sum of the partials that follows is not timed.
pub fn kernel_cases(
    n: usize,
    matmuls: &[(usize, usize, usize)],
    split: Option<SplitK>,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<Case> {
    let mut b = Builder::new(11);
    let mut out = Vec::new();
    let mut add = |kernel: Kernel, shape: String, make: &mut dyn FnMut(&mut Builder) -> (Op, Vec<usize>)| {
        if wanted(&format!("{} {shape}", kernel.name())) {
            let (op, exact) = make(&mut b);
            out.push(b.case(shape, op, TOL_SUM, exact));
        }
    };
    for &(m, nn, k) in matmuls {
        add(Kernel::Matmul, format!("{m}x{nn}x{k}"), &mut |b| {
            let (c, a, w) = (b.output(m * nn), b.randn(m * k), b.randn(k * nn));
            (op::matmul(c, a, w, None, kernels::MatmulDims::plain(m, nn, k)), vec![])
        });
    }
    for &(ci, co, hw, k) in
        &[(1, 32, 28, 5), (32, 32, 28, 5), (32, 64, 14, 3), (64, 64, 14, 3), (64, 128, 7, 2), (128, 128, 7, 2)]
    {
        let d = kernels::ConvDims::new(n, ci, co, hw, hw, k);
        let shape = format!("N{n} {ci}->{co} {hw}x{hw} k{k}");
        add(Kernel::Conv2dForward, shape.clone(), &mut |b| {
            let (y, x, w, bias) =
                (b.output(n * co * hw * hw), b.randn(n * ci * hw * hw), b.randn(co * ci * k * k), b.randn(co));
            (op::conv2d_forward(y, x, w, Some(bias), d.with_epilogue(true, true)), vec![])
        });
        if ci > 1 {
            add(Kernel::Conv2dBackwardInput, shape.clone(), &mut |b| {
                let (dx, dy, w) = (b.output(n * ci * hw * hw), b.randn(n * co * hw * hw), b.randn(co * ci * k * k));
                (op::conv2d_backward_input(dx, dy, w, d), vec![])
            });
        }
        let splits = weight_grad_splits(split, co, ci * k * k, n * hw * hw);
        let shape = if splits > 1 { format!("{shape} split {splits}") } else { shape };
        add(Kernel::Conv2dBackwardWeight, shape, &mut |b| {
            let (dw, dy, x) =
                (b.output(splits * co * ci * k * k), b.randn(n * co * hw * hw), b.randn(n * ci * hw * hw));
            (op::conv2d_backward_weight(dw, dy, x, d.with_splits(splits)), vec![])
        });
    }
    add(Kernel::MaxpoolForward, format!("N{n} C32 28x28 k2"), &mut |b| {
        let d = kernels::PoolDims::new(n, 32, 28, 28, 2);
        let (y, arg, x) = (b.output(n * 32 * 196), b.output(n * 32 * 196), b.randn(n * 32 * 784));
        (op::maxpool_forward(y, arg, x, d), vec![1])
    });
    add(Kernel::SoftmaxXent, format!("N{n} C10"), &mut |b| {
        let d = kernels::XentDims::new(n, 10);
        let (dl, loss, hit, acc, logits, labels) =
            (b.output(n * 10), b.output(n), b.output(n), b.randn(4), b.randn(n * 10), b.ints(n, 10));
        (op::softmax_xent(dl, loss, hit, acc, logits, labels, d), vec![])
    });
    let p = 478_186; // cnn6's parameters
    add(Kernel::Adam, format!("{p} params (cnn6)"), &mut |b| {
        let d = kernels::AdamDims::new(p, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1);
        let (w, m, v, g) = (b.randn(p), b.randn(p), b.floats(p, 0.0, 1.0), b.randn(p));
        (op::adam(w, m, v, g, d), vec![])
    });
    out
}

/// Median milliseconds of one kernel case on an engine over `reps` runs.
pub fn time_case(engine: &mut dyn Engine, case: &Case, reps: usize) -> Result<f64> {
    let (plan, _) = selftest::load_case(engine, case)?;
    time_plan(engine, plan, reps)
}

/// Milliseconds of one run of a case through the plain CPU twins.
pub fn time_oracle(case: &Case) -> Result<f64> {
    let mut cpu = CpuEngine::new();
    let (plan, _) = selftest::load_case(&mut cpu, case)?;
    let t = Instant::now();
    cpu.run(plan)?;
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// A kernel's record from its times on the GPU engine, the native engine and the twin.
pub fn kernel_record(case: &Case, gpu_ms: Option<f64>, cpu_ms: Option<f64>, oracle_ms: Option<f64>) -> Record {
    let fl = flops(case);
    let gf = |ms: Option<f64>| ms.filter(|_| fl > 0.0).map(|ms| fl / ms / 1e6);
    Record {
        name: case.kernel.name().into(),
        shape: case.shape.clone(),
        gpu_ms,
        cpu_ms,
        oracle_ms,
        gflops_gpu: gf(gpu_ms),
        gflops_cpu: gf(cpu_ms),
        speedup: gpu_ms.zip(cpu_ms).map(|(g, c)| c / g),
        ..Default::default()
    }
}

/// The table column a record's time belongs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The GPU engine, on whichever adapter.
    Gpu,
    /// The native CPU engine (its records also carry peak RSS).
    Cpu,
}

/// Images per second of full training steps (gather, forward, loss, backward,
/// Adam) of `arch` at `batch`, over `steps` steps after a warm-up (`warm_up`), timed in `column`.
pub fn time_training(
    engine: &mut dyn Engine,
    column: Column,
    arch: &str,
    batch: usize,
    steps: usize,
    images: &Images,
) -> Result<Record> {
    // the engine holds nothing from earlier records, so the native peak RSS is this run's own
    engine.clear()?;
    if column == Column::Cpu {
        reset_peak_rss();
    }
    let spec = Spec::for_data(arch, images.shape, images.classes)?;
    let lr = 1e-3;
    let cfg = NetConfig { batch, norm: crate::data::norm::Norm::default(), optim: Some(Optim::adam(lr)), seed: 1 };
    let mut net = Net::new(engine, spec, images, cfg)?;
    net.write_params(engine, &net.init_params(1))?;
    net.set_index(engine, 0, &(0..images.len() as u32).collect::<Vec<_>>())?;
    let rows = images.len();
    let warm = warm_up(|s| {
        net.train_step(engine, (s * batch) % (rows - batch + 1), batch, s as u64, lr)?;
        engine.finish()
    })?;
    let t = Instant::now();
    for s in warm..warm + steps {
        net.train_step(engine, (s * batch) % (rows - batch + 1), batch, s as u64, lr)?;
    }
    engine.finish()?;
    let ms = t.elapsed().as_secs_f64() * 1e3 / steps as f64;
    let on_cpu = column == Column::Cpu;
    Ok(Record {
        name: format!("train:{arch}"),
        shape: format!("batch {batch}, {:.0} MiB", net.bytes() as f64 / (1 << 20) as f64),
        engine: Some(engine.name()),
        gpu_ms: (!on_cpu).then_some(ms),
        cpu_ms: on_cpu.then_some(ms),
        peak_rss_mib: if on_cpu { peak_rss_mib() } else { None },
        batch: Some(batch),
        images_per_s: Some(batch as f64 * 1e3 / ms),
        ..Default::default()
    })
}

/// The case on `engine` against the twins, as the selftest compares it (under
/// mixed precision: a GEMM against the twin that rounds its operands, within
/// each element's bound).
fn verify(engine: &mut dyn Engine, case: &Case) -> Result<()> {
    let o = selftest::mixed::Want::of(case, engine.mixed())?.check(engine, case)?;
    assert!(o.pass(), "{}: {}", engine.name(), o.line());
    Ok(())
}

/// The whole bench: every kernel family on the GPU engine and the native CPU
/// engine (those given) with the twin as the oracle where it is quick enough, then
/// training steps of the blog's networks on each engine. `quick` shrinks batches
/// so a CPU adapter finishes in minutes; `only` keeps the records whose name
/// (`matmul`, `conv2d_forward`, `train:cnn6`, ...) contains it.
pub fn run(
    mut gpu: Option<&mut dyn Engine>,
    mut cpu: Option<&mut dyn Engine>,
    quick: bool,
    only: Option<&str>,
    mut report: impl FnMut(&Record),
) -> Result<Vec<Record>> {
    // "matmul 4096,train:cnn6": any of the comma-separated parts in "kernel shape" (or "train:arch")
    let wanted = |what: &str| only.is_none_or(|o| o.split(',').any(|part| what.contains(part.trim())));
    let (n, reps) = if quick { (16, 3) } else { (500, 5) };
    let matmuls: &[(usize, usize, usize)] = if quick {
        &[(256, 256, 256), (1024, 1024, 1024)]
    } else {
        &[(256, 256, 256), (1024, 1024, 1024), (4096, 4096, 4096)]
    };
    let mut records = Vec::new();
    let split = gpu.as_deref().and_then(|e| e.split_k());
    for case in kernel_cases(n, matmuls, split, &wanted) {
        // the oracle is a plain loop at about 1 GFLOP/s: only where it takes seconds at most
        let with_oracle = flops(&case) < 3e9;
        let gpu_ms = gpu.as_deref_mut().map(|e| e.clear().and_then(|_| time_case(e, &case, reps))).transpose()?;
        let cpu_ms = cpu.as_deref_mut().map(|e| e.clear().and_then(|_| time_case(e, &case, reps))).transpose()?;
        let oracle_ms = if with_oracle { Some(time_oracle(&case)?) } else { None };
        let r = kernel_record(&case, gpu_ms, cpu_ms, oracle_ms);
        report(&r);
        records.push(r);
        // correctness of the timed launches themselves, on a sample of kernels
        if quick && case.kernel == Kernel::Matmul && case.shape.starts_with("256") {
            if let Some(e) = gpu.as_deref_mut() {
                verify(e, &case)?;
            }
            if let Some(e) = cpu.as_deref_mut() {
                verify(e, &case)?;
            }
        }
    }
    let (batch, steps) = if quick { (32, 3) } else { (500, 5) };
    let rows = batch * (steps + 1);
    let digits = data::mnist_train()?.truncate(rows);
    // cifar on colour photos' shape (CIFAR-10's 60,000 of 3x32x32 for the memory column)
    let size = 3 * 32 * 32;
    let photos = Images {
        shape: (3, 32, 32),
        classes: 10,
        pixels: (0..rows * size).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
        labels: Some((0..rows).map(|i| (i % 10) as u8).collect()),
    };
    let archs = ["mlp", "cnn4", "cnn6", "cnn8", "cifar"];
    for arch in archs.into_iter().filter(|a| wanted(&format!("train:{a}"))) {
        let (images, whole) = if arch == "cifar" { (&photos, 60_000) } else { (&digits, 70_000) };
        let memory = Some(training_memory_mib(arch, 500, (images.shape, whole))?);
        if let Some(e) = gpu.as_deref_mut() {
            let r = Record { memory_mib_at_500: memory, ..time_training(e, Column::Gpu, arch, batch, steps, images)? };
            report(&r);
            records.push(r);
        }
        if let Some(e) = cpu.as_deref_mut() {
            let r = Record { memory_mib_at_500: memory, ..time_training(e, Column::Cpu, arch, batch, steps, images)? };
            report(&r);
            records.push(r);
        }
    }
    Ok(records)
}
