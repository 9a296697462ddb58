//! The native CPU engine: the same plans as the GPU engine, run on all cores.
//! GEMM-shaped kernels (dense layers, the three conv passes) go through a tuned
//! GEMM library; the rest run as parallel chunks. The twins in `cpu` stay the
//! readable oracle; this engine is tested against them kernel by kernel.

mod conv;
mod conv_direct;
mod direct;
mod fuse;
mod gemm;
mod ops;
mod shape;
mod winograd;

use crate::engine::{Host, OnHost, PlanId, Runner};
use crate::error::{Error, Result};
use crate::kernels::op::Op;
use crate::kernels::Kernel;
use crate::kernels::{BiasGradDims, ConvDims, Dims, Params, SplitDims};
use crate::kernels::{FLAG_GRAD_BIAS, FLAG_MASK, FLAG_UNPOOL};
use fuse::Fuse;
use std::sync::Mutex;

/// Per-thread scratch (a padded image and a GEMM output), grown to the largest request and then reused,
/// so steady-state steps allocate nothing.
pub(crate) struct Scratch {
    per_thread: Vec<Mutex<Vec<f32>>>,
}

impl Scratch {
    fn new(threads: usize) -> Scratch {
        Scratch { per_thread: (0..threads).map(|_| Mutex::new(Vec::new())).collect() }
    }
    /// Runs f on this pool thread's buffer of at least `len` floats (contents unspecified).
    fn with<R>(&self, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
        let i = rayon::current_thread_index().unwrap_or(0) % self.per_thread.len();
        let mut buf = self.per_thread[i].lock().unwrap_or_else(|e| e.into_inner());
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        f(&mut buf[..len])
    }
}

/// How the native engine runs conv2d.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv {
    /// `Direct`, with 3×3 stride-1 convs as Winograd F(2×2, 3×3) on the same kernels
    Winograd,
    /// register-blocked direct kernels (x86-64 with AVX-512)
    Direct,
    /// GEMMs over padded images on the `gemm` crate (every CPU)
    Gemm,
}

impl Conv {
    /// The fastest this CPU has: Winograd and direct where it has AVX-512F, else GEMMs.
    pub fn best() -> Conv {
        if direct::available() {
            Conv::Winograd
        } else {
            Conv::Gemm
        }
    }
    /// `GPUNET_NATIVE_CONV`'s value (unset, empty or `auto`: the best).
    pub fn parse(v: Option<&str>) -> Result<Conv> {
        match v {
            None | Some("") | Some("auto") => Ok(Conv::best()),
            Some("gemm") => Ok(Conv::Gemm),
            Some("direct") if direct::available() => Ok(Conv::Direct),
            Some("winograd") if direct::available() => Ok(Conv::Winograd),
            Some(name @ ("direct" | "winograd")) => {
                Err(Error::usage(format!("GPUNET_NATIVE_CONV={name}: this CPU lacks AVX-512F")))
            }
            Some(other) => {
                Err(Error::usage(format!("GPUNET_NATIVE_CONV must be auto, winograd, direct or gemm, got '{other}'")))
            }
        }
    }
    /// The algorithms this CPU runs.
    pub fn available() -> Vec<Conv> {
        if direct::available() {
            vec![Conv::Winograd, Conv::Direct, Conv::Gemm]
        } else {
            vec![Conv::Gemm]
        }
    }
}

/// Kernel name, seconds and runs per (plan, op index).
type Profile = std::collections::BTreeMap<(PlanId, usize), (String, f64, usize)>;

/// The native engine's own part: its threads, conv algorithm, scratch and fusions.
pub struct Native {
    pool: rayon::ThreadPool,
    threads: usize,
    conv: Conv,
    scratch: Scratch,
    /// Conv weight-gradient partial sums of image groups.
    partials: Vec<f32>,
    /// A conv's kernel reordered for its GEMMs.
    reordered: Vec<f32>,
    /// A conv's bias gradient, summed with its weight gradient for the next op.
    bias: Vec<f32>,
    /// Per plan, what runs fused (`fuse::plan`).
    fused: Vec<Vec<Fuse>>,
    /// With GPUNET_PROFILE set: seconds and runs per (plan, op), printed when dropped.
    profile: Option<Profile>,
}

pub type NativeEngine = OnHost<Native>;

/// How the native engine runs, as the environment asks (`Options::from_env`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `GPUNET_NATIVE_CONV=auto|winograd|direct|gemm`.
    pub conv: Conv,
    /// `GPUNET_PROFILE` set: seconds per op, printed when the engine is dropped.
    pub profile: bool,
}

impl Options {
    /// The best conv, no profile.
    pub fn best() -> Options {
        Options { conv: Conv::best(), profile: false }
    }
    /// `GPUNET_NATIVE_CONV` and `GPUNET_PROFILE`, read here once.
    pub fn from_env() -> Result<Options> {
        let conv = Conv::parse(std::env::var("GPUNET_NATIVE_CONV").ok().as_deref())?;
        Ok(Options { conv, profile: std::env::var_os("GPUNET_PROFILE").is_some() })
    }
}

impl NativeEngine {
    /// An engine on `threads` threads (0: one per core) with the best conv.
    pub fn new(threads: usize) -> Result<NativeEngine> {
        NativeEngine::with_options(threads, Options::best())
    }

    /// An engine whose convs run on `conv`.
    pub fn with_conv(threads: usize, conv: Conv) -> Result<NativeEngine> {
        NativeEngine::with_options(threads, Options { conv, profile: false })
    }

    pub fn with_options(threads: usize, o: Options) -> Result<NativeEngine> {
        let conv = o.conv;
        if conv != Conv::Gemm && !direct::available() {
            return Err(Error::usage("direct conv needs a CPU with AVX-512F"));
        }
        let threads = if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
        if threads > 1024 {
            return Err(Error::usage(format!("--threads must be 0 (one per core) to 1024, got {threads}")));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("gpunet-cpu-{i}"))
            .build()
            .map_err(|e| Error::usage(format!("cannot start {threads} threads: {e}")))?;
        let native = Native {
            pool,
            threads,
            conv,
            scratch: Scratch::new(threads),
            partials: Vec::new(),
            reordered: Vec::new(),
            bias: Vec::new(),
            fused: Vec::new(),
            profile: o.profile.then(Default::default),
        };
        Ok(OnHost { host: Host::default(), runner: native })
    }
}

fn f(s: &[u32]) -> &[f32] {
    bytemuck::cast_slice(s)
}
fn fm<'a>(s: &'a mut &mut [u32]) -> &'a mut [f32] {
    bytemuck::cast_slice_mut(s)
}

/// The engine's reusable scratch, lent to one op, and its conv algorithm.
pub(crate) struct Work<'a> {
    scratch: &'a Scratch,
    /// conv on the direct AVX-512 kernels (else GEMMs on the `gemm` crate)
    direct: bool,
    /// and 3×3 stride-1 convs as Winograd F(2×2, 3×3)
    winograd: bool,
    partials: &'a mut Vec<f32>,
    reordered: &'a mut Vec<f32>,
    bias: &'a mut Vec<f32>,
}

/// One kernel on raw views: outputs (read-write) then inputs, as the registry binds
/// them (then what `fuse` appended).
fn dispatch(k: Kernel, fuse: Fuse, o: &mut [&mut [u32]], i: &[&[u32]], p: &Params, w: &mut Work) {
    let mask = matches!(fuse, Fuse::ReluMask | Fuse::PooledMask).then(|| f(i[i.len() - 1]));
    match (k, o) {
        (_, _) if matches!(fuse, Fuse::Done | Fuse::Unpooled | Fuse::PooledLater) => {}
        (Kernel::MaxpoolForward, [y, arg]) if matches!(fuse, Fuse::ConvFirst(_)) => {
            let Fuse::ConvFirst(cp) = fuse else { unreachable!() };
            let k = crate::kernels::PoolDims::from_params(p).k as usize;
            conv::forward_pooled(fm(y), arg, f(i[1]), f(i[2]), f(i[3]), &Dims::from_params(&cp), k, w)
        }
        (Kernel::BiasGrad, [db]) if fuse == Fuse::BiasFromBefore => {
            let ch = BiasGradDims::from_params(p).channels as usize;
            fm(db)[..ch].copy_from_slice(&w.bias[..ch]);
        }
        // the GPU's fused epilogues reach this engine only in the selftest: the twin
        (Kernel::Conv2dBackwardInput | Kernel::Conv2dBackwardWeight, o) if gpu_fused(p) => crate::cpu::twin(k)(o, i, p),
        (Kernel::SumSplits, o) if SplitDims::from_params(p).gap_at < SplitDims::from_params(p).len => {
            crate::cpu::twin(k)(o, i, p)
        }
        (Kernel::SumSegments | Kernel::MatmulGrad, o) => crate::cpu::twin(k)(o, i, p),
        (Kernel::Matmul, [c]) => ops::matmul(fm(c), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p)),
        (Kernel::BiasGrad, [db]) => ops::bias_grad(fm(db), f(i[0]), &Dims::from_params(p)),
        (Kernel::SumSplits, [t]) => ops::sum_splits(fm(t), f(i[0]), &Dims::from_params(p)),
        (Kernel::Conv2dForward, [y]) => conv::forward(fm(y), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p), w),
        (Kernel::Conv2dBackwardInput, [dx]) => {
            conv::backward_input(fm(dx), f(i[0]), f(i[1]), &Dims::from_params(p), w, mask)
        }
        (Kernel::Conv2dBackwardWeight, [dw]) => {
            let (bias, pool) = match fuse {
                Fuse::Wgrad { bias, pool } => (bias, pool as usize),
                _ => (false, 0),
            };
            // the pool's views, appended after the op's own three (fuse::unpool)
            let pooled = (pool > 0).then(|| shape::Pooled { dy: f(i[3]), argmax: i[4], mask: f(i[5]), k: pool });
            conv::backward_weight(fm(dw), f(i[0]), f(i[1]), &Dims::from_params(p), w, bias, pooled)
        }
        (Kernel::MaxpoolForward, [y, arg]) => ops::maxpool_forward(fm(y), arg, f(i[0]), &Dims::from_params(p)),
        (Kernel::MaxpoolBackward, [dx]) => {
            ops::maxpool_backward(fm(dx), f(i[0]), i[1], mask, fuse == Fuse::PooledMask, &Dims::from_params(p))
        }
        (Kernel::ReluForward, [y]) => ops::relu_forward(fm(y), f(i[0]), &Dims::from_params(p)),
        (Kernel::ReluBackward, [dy]) => ops::relu_backward(fm(dy), f(i[0]), &Dims::from_params(p)),
        (Kernel::SoftmaxXent, [dl, loss, hit, _]) => {
            ops::softmax_xent(fm(dl), fm(loss), fm(hit), f(i[0]), i[1], &Dims::from_params(p))
        }
        // three sums over at most a batch of rows: not worth a thread, so the twin
        (Kernel::XentAccumulate | Kernel::XentSums, o) => crate::cpu::twin(k)(o, i, p),
        (Kernel::Softmax, [probs]) => ops::softmax(fm(probs), f(i[0]), &Dims::from_params(p)),
        (Kernel::DropoutForward | Kernel::DropoutBackward, [out]) => {
            ops::dropout(fm(out), f(i[0]), &Dims::from_params(p))
        }
        (Kernel::Adam, [w, m, v]) => ops::adam(fm(w), fm(m), fm(v), f(i[0]), &Dims::from_params(p)),
        (Kernel::Sgd, [w, vel]) => ops::sgd(fm(w), fm(vel), f(i[0]), &Dims::from_params(p)),
        (Kernel::Ema, [avg]) => ops::ema(fm(avg), f(i[0]), &Dims::from_params(p)),
        (Kernel::Gather, [x, y]) => ops::gather(fm(x), y, i[0], i[1], i[2], &Dims::from_params(p)),
        (Kernel::BnStats, [stats, running]) => ops::bn_stats(fm(stats), fm(running), f(i[0]), &Dims::from_params(p)),
        (Kernel::BnForward, [y]) => ops::bn_forward(fm(y), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p)),
        (Kernel::BnBackwardParams, [dp]) => {
            ops::bn_backward_params(fm(dp), f(i[0]), f(i[1]), f(i[2]), &Dims::from_params(p))
        }
        (Kernel::BnBackwardInput, [dx]) => {
            ops::bn_backward_input(fm(dx), f(i[0]), f(i[1]), f(i[2]), f(i[3]), f(i[4]), &Dims::from_params(p))
        }
        (Kernel::GapForward, [y]) => ops::gap_forward(fm(y), f(i[0]), &Dims::from_params(p)),
        (Kernel::GapBackward, [dx]) => ops::gap_backward(fm(dx), f(i[0]), &Dims::from_params(p)),
        // one pass over a batch's inputs, when a model standardises them: the twin;
        // the loss scale's kernels, which only a mixed-precision plan holds, too
        (Kernel::Normalize, o) => crate::cpu::twin(k)(o, i, p),
        (k, o) if k.is_loss_scale() => crate::cpu::twin(k)(o, i, p),
        (k, o) => unreachable!("{}: {} outputs bound", k.name(), o.len()),
    }
}

/// Whether a conv gradient carries one of the GPU fusion pass's epilogues.
fn gpu_fused(p: &Params) -> bool {
    ConvDims::from_params(p).flags & (FLAG_MASK | FLAG_UNPOOL | FLAG_GRAD_BIAS) != 0
}

impl Drop for Native {
    fn drop(&mut self) {
        let Some(p) = self.profile.take() else { return };
        let total: f64 = p.values().map(|e| e.1).sum();
        let mut rows: Vec<_> = p.into_iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        eprintln!("profile of {}: {:.3} s in ops", self.name(), total);
        for ((plan, op), (name, secs, runs)) in rows.iter().take(40) {
            let share = 100.0 * secs / total.max(1e-12);
            eprintln!(
                "  plan {plan} op {op:>3} {name:<26} {runs:>6} runs {:>9.3} ms each {share:>5.1}%",
                1e3 * secs / *runs as f64
            );
        }
    }
}

impl Runner for Native {
    fn name(&self) -> String {
        let conv = match self.conv {
            Conv::Winograd => "Winograd + direct AVX-512 conv",
            Conv::Direct => "direct AVX-512 conv",
            Conv::Gemm => "GEMM conv",
        };
        let s = if self.threads == 1 { "" } else { "s" };
        format!("native CPU ({} thread{s}, {conv})", self.threads)
    }
    fn planned(&mut self, ops: &mut Vec<Op>) {
        self.fused.push(fuse::plan(ops, self.conv));
    }
    fn run(&mut self, host: &mut Host, plan: PlanId) -> Result<()> {
        let mut work = Work {
            scratch: &self.scratch,
            direct: self.conv != Conv::Gemm,
            winograd: self.conv == Conv::Winograd,
            partials: &mut self.partials,
            reordered: &mut self.reordered,
            bias: &mut self.bias,
        };
        let fused = &self.fused[plan];
        let pool = &self.pool;
        let (mut profile, mut at) = (self.profile.as_mut(), 0);
        host.run(plan, |op, o, i| {
            let t = std::time::Instant::now();
            pool.install(|| dispatch(op.kernel, fused[at], o, i, &op.params, &mut work));
            if let Some(p) = profile.as_mut() {
                let e = p.entry((plan, at)).or_insert_with(|| (op.kernel.name().to_string(), 0.0, 0));
                (e.1, e.2) = (e.1 + t.elapsed().as_secs_f64(), e.2 + 1);
            }
            at += 1;
        });
        Ok(())
    }
    fn cleared(&mut self) {
        self.scratch = Scratch::new(self.threads);
        self.partials = Vec::new();
        self.reordered = Vec::new();
        self.bias = Vec::new();
        self.fused = Vec::new();
    }
}
