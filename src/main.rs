//! The gpunet command line: parse, call the library, print.

use clap::{Args, Parser, Subcommand};
use gpunet::device::{self, Choice, Device, Target};
use gpunet::engine::Engine;
use gpunet::gpu::{context, AdapterChoice, Class};
use gpunet::model::checkpoint;
use gpunet::model::spec::{self, Spec};
use gpunet::native::{self, NativeEngine};
use gpunet::selftest::{self, sweep};
use gpunet::train::{self, Progress, Settings};
use gpunet::{data, infer, Error, Result, Stage, Trainer};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Parser)]
#[command(
    name = "gpunet",
    version,
    about = "Train CNNs on any Vulkan/Metal/DX12 adapter with hand-written WGSL kernels"
)]
struct Cli {
    /// Pick the adapter whose name contains this (case-insensitive)
    #[arg(long, global = true, env = "GPUNET_ADAPTER")]
    adapter: Option<String>,
    /// Restrict to one backend: vulkan, metal, dx12 or gl
    #[arg(long, global = true, env = "GPUNET_BACKEND")]
    backend: Option<String>,
    /// Engine: auto (the GPU engine on a real GPU, else the native CPU engine), gpu (the WGSL kernels on an adapter, CPU adapters included) or cpu
    #[arg(long, global = true, env = "GPUNET_DEVICE", default_value = "auto")]
    device: Device,
    /// Threads of the native CPU engine [default: one per core]
    #[arg(long, global = true, env = "GPUNET_THREADS", default_value_t = 0, hide_default_value = true)]
    threads: usize,
    /// GEMM arithmetic: fp32, or mixed (operands rounded to f16 on an adapter's cooperative matrices, sums in f32)
    #[arg(long, global = true, env = "GPUNET_PRECISION", default_value = "fp32", value_parser = ["fp32", "mixed"])]
    precision: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List adapters with backend, type, driver and key limits
    Info,
    /// Run every kernel against its CPU twin on random shapes, and training steps against the reference engine, under each adapter class; exit 0 only if all pass
    Selftest {
        /// Seed for the random shapes' contents
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Add larger shapes, every GEMM core and kind of sums, and --production (slow on CPU adapters)
        #[arg(long)]
        full: bool,
        /// Whose choices a GPU runs: cpu, integrated, discrete (GEMM core, split-K, workgroup sums) or all
        #[arg(long, default_value = "all")]
        class: String,
        /// Also cnn6's GEMM launches at batch 500 (under discrete on a GPU)
        #[arg(long)]
        production: bool,
    },
    /// Compile every shader variant with a Vulkan driver that reports pipeline statistics and print registers, spills, scratch and occupancy, one JSON object a line (scripts/shader-stats.sh runs it on Mesa's RADV for AMD chips, no GPU needed)
    ShaderStats {
        /// Also write each variant's internal representations (RADV: NIR and the ACO disassembly) into this directory
        #[arg(long)]
        ir: Option<PathBuf>,
    },
    /// Time every kernel family (GPU and CPU reference) and training steps
    Bench {
        /// Small batches: minutes on a CPU adapter
        #[arg(long)]
        quick: bool,
        /// Also write the records as JSON
        #[arg(long)]
        json: Option<PathBuf>,
        /// Only the records whose "kernel shape" contains this, or any of several comma-separated: matmul, "matmul 4096", conv2d, train:cnn6, train, ...
        #[arg(long)]
        only: Option<String>,
    },
    /// List the named architectures with their specs and parameter counts
    Archs,
    /// Draw loss and accuracy per epoch of one or more runs (their metrics.csv) as an SVG or PNG
    Plot {
        /// Run directories written by `gpunet train`
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// .svg or .png
        #[arg(long, default_value = "curves.svg")]
        out: PathBuf,
        /// Draw the loss on a logarithmic axis
        #[arg(long)]
        log_loss: bool,
    },
    /// Draw what --augment (or an --arch's recipe) does: ten training images as they are and as successive training steps see them
    ShowAugment {
        /// The training data, as `train --train` takes it [default: embedded MNIST]
        #[arg(long)]
        train: Option<PathBuf>,
        /// As `train`'s: --augment, --arch (its recipe's augmentation), --seed (the draws are those of its run's steps), and the flags that read the data
        #[command(flatten)]
        run: RunFlags,
        /// Rows of augmented copies
        #[arg(long, default_value_t = 4)]
        steps: usize,
        /// .png or .svg
        #[arg(long, default_value = "augment.png")]
        out: PathBuf,
    },
    /// Train a network (embedded MNIST unless --train is given)
    Train(TrainArgs),
    /// Write a Kaggle submission (ImageId,Label) for test images
    Predict {
        /// A run directory (its current model; DIR/best for its best), or a model.safetensors; repeat for an ensemble (probabilities averaged)
        #[arg(long, required = true)]
        model: Vec<PathBuf>,
        /// Kaggle test.csv (pixel0..pixel783), a labelled CSV or an IDX image file; or pictures of digits (PNG, JPEG, ...) and directories of them, as many as given
        #[arg(long, required = true, num_args = 1..)]
        input: Vec<PathBuf>,
        /// Where to write ImageId,Label [default: submission.csv]; for pictures, file,digit,p0..p9 [default: none]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write ImageId,p0..p9
        #[arg(long)]
        probs: Option<PathBuf>,
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Test-time augmentation: read each image in 1 view (off), 5 (and its one-pixel shifts) or 9 (and the diagonal ones), probabilities averaged
        #[arg(long, default_value_t = 1)]
        tta: usize,
    },
    /// Write one self-contained HTML page: it reads hand-drawn digits with the model(s), trains a network (--train), or runs every selftest kernel case (--selftest), on the browser's WebGPU adapter
    ExportWeb {
        /// A model.safetensors written by `gpunet train`; repeat for an ensemble (probabilities averaged)
        #[arg(long, required_unless_present_any = ["selftest", "train"])]
        model: Vec<PathBuf>,
        /// A page that runs every kernel case of `gpunet selftest` against its CPU twin's outputs, under each adapter class's kernel choices
        #[arg(long, conflicts_with_all = ["model", "train"])]
        selftest: bool,
        /// A page that trains --arch in the browser on the embedded MNIST or --data (bundled, compressed), with the training flags below
        #[arg(long, conflicts_with = "model")]
        train: bool,
        /// With --train: the data the page trains on, as `train --train` takes it (IDX, CSV, class folders) [default: embedded MNIST]
        #[arg(long, requires = "train")]
        data: Option<PathBuf>,
        /// With --train: a labelled test set of your own [default: the one that comes with the data, if any]
        #[arg(long, requires = "train")]
        test: Option<PathBuf>,
        #[command(flatten)]
        run: RunFlags,
        /// With --train: bundle only the first N test images [default: all 10,000]
        #[arg(long, requires = "train")]
        test_limit: Option<usize>,
        /// [default: digits.html, selftest.html or train.html]
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a model as an ONNX graph (opset 17) for ONNX Runtime, TensorRT, OpenVINO, tract...: input pixels (N,C,H,W) valued 0..255, normalised inside as the model says, output probs (N,classes)
    ExportOnnx {
        /// A run directory (DIR/best for its best), or a model.safetensors
        #[arg(long)]
        model: PathBuf,
        #[arg(long, default_value = "model.onnx")]
        out: PathBuf,
    },
    /// Verify a run (every generation), a generation or a checkpoint file as a load would: every tensor's and header's sha256, and that a generation's files belong together; exit 0 only if all hold
    Check {
        /// Run directories, generations (DIR/best, DIR/gen-000003) or .safetensors files
        #[arg(required = true)]
        targets: Vec<PathBuf>,
        /// Write anew the sums of a file or generation you vouch for (one changed on purpose, or from before header sums)
        #[arg(long)]
        repair: bool,
    },
    /// Loss, accuracy and confusion matrix of a model on labelled images
    Eval {
        /// A run directory (DIR/best for its best), or a model.safetensors; repeat for an ensemble: each member is reported, then their average
        #[arg(long, required = true)]
        model: Vec<PathBuf>,
        /// A labelled Kaggle CSV (label,pixel0..) or IDX image file with its labels beside it
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Also draw the misclassified images (the first 200), captioned "true > predicted", into this .png (or .svg)
        #[arg(long)]
        errors: Option<PathBuf>,
        /// Test-time augmentation: read each image in 1 view (off), 5 (and its one-pixel shifts) or 9 (and the diagonal ones), probabilities averaged
        #[arg(long, default_value_t = 1)]
        tta: usize,
    },
}

/// What a run trains and how: the flags `train` and `export-web --train` share.
/// Serialized, each field is the settings' field of that name (`Settings`).
#[derive(Args, serde::Serialize)]
struct RunFlags {
    /// A named arch (see `gpunet archs`), mlp:H1,H2,..., or a layer spec
    #[arg(long)]
    arch: Option<String>,
    /// Total epochs [default: a resumed run's own total, else the blog's count for a named arch, else 10]
    #[arg(long)]
    #[serde(skip)]
    epochs: Option<usize>,
    /// [default: 500]
    #[arg(long)]
    batch_size: Option<usize>,
    /// [default: 0.001]
    #[arg(long)]
    lr: Option<f32>,
    /// const, exp:G (lr·G^epoch), cosine (per step, to 0 at the end) or onecycle (PyTorch's OneCycleLR, max = --lr) [default: const]
    #[arg(long)]
    lr_schedule: Option<String>,
    /// Random affine maps of each training image on the device: rotate=DEGREES,zoom=FRACTION,shift=FRACTION (any subset), or none [default: none]
    #[arg(long)]
    augment: Option<String>,
    /// adam, adamw (decoupled weight decay) or sgd [default: adam]
    #[arg(long)]
    optimizer: Option<String>,
    /// Weight decay: adamw shrinks every weight by lr·W a step; adam and sgd add W·w to its gradient (L2) [default: 0]
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Label smoothing S: train towards (1 - S)·onehot + S/10 (the training loss printed includes it; validation and test losses are plain) [default: 0]
    #[arg(long)]
    label_smoothing: Option<f32>,
    /// Keep a moving average of the weights with this decay per step (e.g. 0.999): validation, the test and the saved model use the average [default: none]
    #[arg(long)]
    ema: Option<f32>,
    /// Adam's decay rates of the gradient's mean and square, B1,B2 [default: 0.9,0.999]
    #[arg(long)]
    adam_betas: Option<String>,
    /// SGD momentum [default: 0.9]
    #[arg(long)]
    momentum: Option<f32>,
    /// SGD with Nesterov momentum
    #[arg(long)]
    nesterov: bool,
    /// Fraction held out for validation [default: 0.2]
    #[arg(long)]
    val_split: Option<f64>,
    /// Keep only the first N labelled rows
    #[arg(long)]
    limit: Option<usize>,
    /// Seed of the split, the shuffles, the init and dropout [default: 42]
    #[arg(long)]
    seed: Option<u64>,
    /// Pixel divisor: 255, or 256 as the blog did [default: 255]
    #[arg(long)]
    scale: Option<f32>,
    /// scale (pixels / --scale), or standard: then each channel less its mean, over its deviation, both measured on the training rows and kept with the model [default: scale]
    #[arg(long)]
    normalize: Option<String>,
    /// A folder of pictures read as 1 (grey) or 3 (RGB) channels [default: 3 if any picture has colour, else 1]
    #[arg(long)]
    channels: Option<usize>,
    /// A folder of pictures resized to H,W (a triangle filter: bilinear) [default: the pictures' one size]
    #[arg(long)]
    resize: Option<String>,
    /// A folder of pictures: leave out (and count) pictures that cannot be read instead of stopping
    #[arg(long)]
    skip_bad_images: bool,
    /// CIFAR-100's labels: fine (100 classes) or coarse (20) [default: fine]
    #[arg(long)]
    labels: Option<String>,
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    run: RunFlags,
    /// Kaggle train.csv (label,pixel0..pixel783), an IDX image file, or a folder of IDX files as MNIST's come (train-images-idx3-ubyte[.gz], and t10k-images-idx3-ubyte[.gz] as its test set) [default: embedded MNIST]
    #[arg(long)]
    train: Option<PathBuf>,
    /// The labelled test set scored after training, a CSV or IDX file [default: the one that comes with the training data, if any]
    #[arg(long)]
    test: Option<PathBuf>,
    /// Run directory [default: runs/<arch>-<unix time>, or the resumed run's]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue a run: its directory (from its last complete save), a generation in it (e.g. DIR/best), or a model.safetensors with its optimizer state beside it
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Older checkpoint generations kept in the run directory, besides the current one and the best
    #[arg(long, default_value_t = 2)]
    keep: usize,
}

static STOP: AtomicBool = AtomicBool::new(false);

/// When the process began (the first thing `main` does), for GPUNET_PROFILE's start-up line.
static BEGAN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Milliseconds since the process began.
fn since_start() -> f64 {
    BEGAN.get().map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3)
}

/// println! that shrugs off a closed stdout (`gpunet train | head`): the work,
/// and the files it writes, go on.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

fn main() -> ExitCode {
    BEGAN.get_or_init(std::time::Instant::now);
    // Mesa's device-select layer, loaded with every Vulkan instance, probes for a
    // display and prints two "error: XDG_RUNTIME_DIR is invalid" lines on a
    // headless machine before anything has gone wrong. It only reorders adapters
    // for a desktop session; gpunet ranks adapters itself. Set before any thread
    // exists, so no one reads the environment meanwhile.
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(Error::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// How the engine is chosen: adapter, backend, device and threads.
/// Opens the engine `c` asks for and prints which it is and why, as the first line.
fn open(c: &Choice) -> Result<device::Opened> {
    let opened = device::open(c)?;
    say!("{}", opened.line());
    Ok(opened)
}

fn run(cli: Cli) -> Result<ExitCode> {
    // the flags (clap reads GPUNET_DEVICE, GPUNET_BACKEND, GPUNET_ADAPTER and
    // GPUNET_THREADS for them), then every other GPUNET_* variable, once
    let mut adapter = AdapterChoice { backend: cli.backend, name: cli.adapter, ..AdapterChoice::from_env()? };
    adapter.overrides.mixed = cli.precision == "mixed";
    let c = Choice { device: cli.device, adapter, threads: cli.threads, native: native::Options::from_env()? };
    match cli.cmd {
        Cmd::Info => info(&c),
        Cmd::ShaderStats { ir } => shader_stats_cmd(ir),
        Cmd::Selftest { seed, full, class, production } => {
            let classes = match class.as_str() {
                "all" => Class::ALL.to_vec(),
                one => vec![Class::parse(one)?],
            };
            selftest_cmd(
                &c,
                sweep::Options { seed, classes, large: full, every_variant: full, production: production || full },
            )
        }
        Cmd::Bench { quick, json, only } => bench_cmd(&c, quick, json, only),
        Cmd::Archs => archs_cmd(),
        Cmd::Train(args) => train_cmd(&c, args),
        Cmd::ShowAugment { train, run, steps, out } => show_augment_cmd(run, train, steps, out),
        Cmd::Plot { runs, out, log_loss } => {
            let n = gpunet::plot::plot(&runs, &out, log_loss)?;
            say!("wrote {} ({n} run{})", out.display(), if n == 1 { "" } else { "s" });
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Predict { model, input, out, probs, batch_size, tta } => {
            predict_cmd(&c, model, input, out, probs, batch_size, infer::tta_shifts(tta)?)
        }
        Cmd::ExportWeb { selftest: true, out, .. } => export_selftest_cmd(out),
        Cmd::ExportWeb { train: true, run, data, test, test_limit, out, .. } => {
            export_train_cmd(run, [data, test], test_limit, out)
        }
        Cmd::ExportWeb { model, out, .. } => export_digits_cmd(model, out),
        Cmd::ExportOnnx { model, out } => export_onnx_cmd(model, out),
        Cmd::Check { targets, repair } => check_cmd(&targets, repair),
        Cmd::Eval { model, input, batch_size, errors, tta } => {
            eval_cmd(&c, model, input, batch_size, errors, infer::tta_shifts(tta)?)
        }
    }
}

/// `shader-stats`: a driver's statistics of every shader variant, one JSON line each.
fn shader_stats_cmd(ir: Option<PathBuf>) -> Result<ExitCode> {
    if let Some(dir) = &ir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    for s in gpunet::gpu::stats::collect(ir.is_some())? {
        if let (Some(dir), Some(text)) = (&ir, &s.ir) {
            gpunet::io::write_atomic(&dir.join(s.ir_file()), |w| w.write_all(text.as_bytes()))?;
        }
        say!("{}", s.json());
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench`: the kernel and training records, a row each as it is measured.
fn bench_cmd(c: &Choice, quick: bool, json: Option<PathBuf>, only: Option<String>) -> Result<ExitCode> {
    let (mut gpu, mut cpu) = device::compared(c)?;
    let names: Vec<String> = [gpu.as_ref().map(|e| e.name()), Some(cpu.name())].into_iter().flatten().collect();
    say!("gpu column: {}", gpu.as_ref().map_or("-".into(), |e| e.gpu.describe()));
    say!("cpu column: {}; oracle: the plain CPU twins, one thread", cpu.name());
    say!("{}", gpunet::bench::HEADER);
    // the JSON is rewritten (atomically) as each record arrives, so a run cut
    // short by a time limit still leaves every figure it measured
    let mut done = Vec::new();
    let save = |records: &[serde_json::Value], complete: bool| match &json {
        Some(path) => {
            let doc = serde_json::json!({ "engines": names, "quick": quick, "complete": complete, "records": records });
            gpunet::io::write_atomic(path, |w| writeln!(w, "{doc:#}"))
        }
        None => Ok(()),
    };
    let mut failed = None;
    gpunet::bench::run(gpu.as_mut().map(|e| e as &mut dyn Engine), Some(&mut cpu), quick, only.as_deref(), |r| {
        say!("{}", r.row());
        done.push(r.json());
        if let Err(e) = save(&done, false) {
            failed.get_or_insert(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    save(&done, true)?;
    Ok(ExitCode::SUCCESS)
}

/// `archs`: the named networks and the spec grammar.
fn archs_cmd() -> Result<ExitCode> {
    for (name, text, epochs, about) in spec::NAMED {
        let spec = Spec::parse(text)?;
        say!("{name:<13} {:>10} params  {epochs:>2} epochs  {about}\n              {text}", spec.param_count());
    }
    say!("mlp:H1,H2,... any hidden sizes, e.g. mlp:10,20,10 (the blog's scikit-learn grid)");
    say!("or a layer list: {}, ending in out{{N}} of the data's N classes (lin: without the ReLU); a named arch ends in the data's classes itself", gpunet::model::Layer::SYNTAX.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// `predict`: a submission (or, for pictures, each file's digit) from one model or an ensemble.
fn predict_cmd(
    c: &Choice,
    model: Vec<PathBuf>,
    input: Vec<PathBuf>,
    out: Option<PathBuf>,
    probs: Option<PathBuf>,
    batch_size: usize,
    tta: &[(i32, i32)],
) -> Result<ExitCode> {
    // the models first: a wrong one is known before a large input is read
    let models = gpunet::run::load_models(&model)?;
    let classes = infer::shared_shape(&models, &model)?.1;
    models.iter().try_for_each(|m| gpunet::model::net::check_batch(batch_size, &m.spec))?;
    if input.iter().any(|p| p.is_dir() || data::picture::is_picture(p)) {
        return predict_pictures(c, &models, &input, out.as_deref(), batch_size, tta);
    }
    let [input] = &input[..] else {
        return Err(Error::usage("--input takes one CSV or IDX file (several only of pictures)"));
    };
    let out = out.unwrap_or_else(|| PathBuf::from("submission.csv"));
    let images = data::load(input)?;
    let mut engine = open(c)?.engine;
    let t = std::time::Instant::now();
    let members = infer::predict_each(&mut *engine, &models, &images, batch_size, tta)?;
    let p = infer::mean(&members);
    let secs = t.elapsed().as_secs_f64();
    data::csv::write_submission(&out, &infer::argmax(&p, classes))?;
    if let Some(path) = probs {
        data::csv::write_probs(&path, &p, classes, &models[0].spec.names)?;
    }
    say!(
        "wrote {} predictions to {}{}{} ({secs:.2} s on the engine, {:.0} images/s)",
        images.len(),
        out.display(),
        if models.len() > 1 { format!(", the mean of {} models", models.len()) } else { String::new() },
        if tta.len() > 1 { format!(", each over {} shifted views", tta.len()) } else { String::new() },
        (images.len() * models.len() * tta.len()) as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// `export-web --selftest`.
fn export_selftest_cmd(out: Option<PathBuf>) -> Result<ExitCode> {
    let out = out.unwrap_or_else(|| PathBuf::from("selftest.html"));
    let page = gpunet::web::selftest_page(1)?;
    gpunet::io::write_atomic(&out, |w| w.write_all(page.as_bytes()))?;
    say!(
        "wrote {} ({} KiB): every selftest kernel case with its twin's outputs, the WGSL kernels and a WebGPU runtime in one file; open it in a browser",
        out.display(),
        page.len().div_ceil(1024)
    );
    Ok(ExitCode::SUCCESS)
}

/// `show-augment`: the first ten of the training rows a run with these flags
/// would have, and what its augmentation makes of them.
fn show_augment_cmd(mut run: RunFlags, train: Option<PathBuf>, steps: usize, out: PathBuf) -> Result<ExitCode> {
    use gpunet::plot::Format;
    let format = Format::of(&out, &[Format::Png, Format::Svg], "show-augment")?;
    if !(1..=20).contains(&steps) {
        return Err(Error::usage(format!("--steps must be 1..=20, got {steps}")));
    }
    // no arch: the blog's settings, whose recipe augments nothing
    run.arch.get_or_insert_with(|| "mlp".into());
    let settings = run_settings(&run, None, &[("train", &train)])?;
    let Some(a) = settings.augment else {
        return Err(Error::usage(format!(
            "show-augment needs an augmentation: --augment, or an --arch whose recipe has one ({} has none)",
            settings.arch
        )));
    };
    let data = train::load_data(&settings)?;
    gpunet::plot::augment::save(&out, format, &data.train, a, settings.seed, steps)?;
    say!(
        "wrote {}: ten training images, then {steps} training steps' views of them under {}",
        out.display(),
        gpunet::augment::Augment::text(Some(a))
    );
    Ok(ExitCode::SUCCESS)
}

/// `export-web --train`.
fn export_train_cmd(
    run: RunFlags,
    [data, test]: [Option<PathBuf>; 2],
    test_limit: Option<usize>,
    out: Option<PathBuf>,
) -> Result<ExitCode> {
    let out = out.unwrap_or_else(|| PathBuf::from("train.html"));
    let settings = run_settings(&run, None, &[("train", &data), ("test", &test)])?;
    let epochs = run.epochs.unwrap_or_else(|| spec::default_epochs(&settings.arch));
    let page = gpunet::web::train_page(&settings, epochs, test_limit)?;
    gpunet::io::write_atomic(&out, |w| w.write_all(page.as_bytes()))?;
    say!(
        "wrote {} ({:.1} MiB): {} to train in a browser on its WebGPU adapter, with {}, the WGSL kernels and their plans in one file; open it in a browser",
        out.display(),
        page.len() as f64 / (1 << 20) as f64,
        settings.arch,
        settings.train.as_ref().map_or("MNIST".into(), |p| p.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}

/// `export-web --model ...`: the drawing page.
fn export_digits_cmd(model: Vec<PathBuf>, out: Option<PathBuf>) -> Result<ExitCode> {
    let out = out.unwrap_or_else(|| PathBuf::from("digits.html"));
    let members = model.iter().map(|p| gpunet::web::Member::load(p)).collect::<Result<Vec<_>>>()?;
    let page = gpunet::web::page(&members)?;
    gpunet::io::write_atomic(&out, |w| w.write_all(page.as_bytes()))?;
    say!(
        "wrote {} ({} KiB): {} model{}, the WGSL kernels and a WebGPU runtime in one file; open it in a browser",
        out.display(),
        page.len().div_ceil(1024),
        members.len(),
        if members.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `export-onnx`.
fn export_onnx_cmd(model: PathBuf, out: PathBuf) -> Result<ExitCode> {
    let m = gpunet::run::load_model(&model)?;
    let bytes = gpunet::onnx::export(&m);
    gpunet::io::write_atomic(&out, |w| w.write_all(&bytes))?;
    let (c, h, w) = m.spec.input;
    say!(
        "wrote {} ({} KiB): {} as ONNX (opset 17); input 'pixels' (N,{c},{h},{w}) valued 0..255, taken as {}; output 'probs' (N,{})",
        out.display(),
        bytes.len().div_ceil(1024),
        m.spec.text(),
        m.norm.text(),
        m.spec.classes()
    );
    Ok(ExitCode::SUCCESS)
}

/// `check`: a line per generation or file, and the exit status says whether all
/// hold; with `repair`, a line per file whose sums were written anew.
fn check_cmd(targets: &[PathBuf], repair: bool) -> Result<ExitCode> {
    if repair {
        for t in targets {
            for line in gpunet::run::check::repair(t)? {
                say!("{line}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = 0;
    for t in targets {
        for f in gpunet::run::check::check(t)? {
            match f.found {
                Ok(line) => say!("{}: {line}", f.path.display()),
                Err(e) => {
                    failed += 1;
                    // an error names the file it is about; say which target it came from where that differs
                    let (path, e) = (f.path.display().to_string(), e.to_string());
                    if e.starts_with(&path) {
                        say!("FAILS: {e}");
                    } else {
                        say!("{path}: FAILS: {e}");
                    }
                }
            }
        }
    }
    if failed > 0 {
        eprintln!("error: {failed} check{} failed", if failed == 1 { "" } else { "s" });
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `eval`: loss, accuracy and the confusion matrix; with `errors`, the misread images drawn.
fn eval_cmd(
    c: &Choice,
    model: Vec<PathBuf>,
    input: PathBuf,
    batch_size: usize,
    errors: Option<PathBuf>,
    tta: &[(i32, i32)],
) -> Result<ExitCode> {
    use gpunet::plot::Format;
    let errors = errors.map(|p| Format::of(&p, &[Format::Png, Format::Svg], "--errors").map(|f| (p, f))).transpose()?;
    let models = gpunet::run::load_models(&model)?;
    let classes = infer::shared_shape(&models, &model)?.1;
    models.iter().try_for_each(|m| gpunet::model::net::check_batch(batch_size, &m.spec))?;
    let spec = &models[0].spec;
    let images = match input.is_dir() {
        // a folder of class folders, read as the model's own were
        true => {
            let read = data::folder::Options::to(spec.input, &Default::default());
            data::load_test(&input, &read, &spec.names, &mut |line: &str| eprintln!("{line}"))?
        }
        false => data::load(&input)?,
    };
    gpunet::model::net::check_input(spec, &images).map_err(|e| Error::input(&input, 0, e.to_string()))?;
    if let Some((i, why)) = images.labels.as_deref().and_then(|l| infer::label_past(l, classes)) {
        return Err(Error::input(&input, i + 1, why));
    }
    let Some(labels) = images.labels.clone() else {
        return Err(Error::input(
            &input,
            1,
            "evaluation needs labels (a 'label' column, or an IDX labels file beside the images)",
        ));
    };
    let mut engine = open(c)?.engine;
    let members = infer::predict_each(&mut *engine, &models, &images, batch_size, tta)?;
    let p = infer::mean(&members);
    say!("{} images from {}", images.len(), input.display());
    if tta.len() > 1 {
        say!("test-time augmentation: each model's probabilities averaged over {} shifted views", tta.len());
    }
    if models.len() > 1 {
        for (path, probs) in model.iter().zip(&members) {
            let e = infer::evaluate(probs, &labels, classes);
            say!("member {}: loss {:.4} - accuracy {:.4}", path.display(), e.loss, e.accuracy);
        }
        say!("ensemble of {} (mean probabilities):", models.len());
    }
    let mut e = infer::evaluate(&p, &labels, classes);
    e.names = models[0].spec.names.clone();
    print!("{e}");
    if let Some((path, format)) = errors {
        match gpunet::plot::grid::save_mistakes(&path, format, &images, &labels, &infer::argmax(&p, classes))? {
            None => say!("no misclassified images; {} not written", path.display()),
            Some((wrong, shown)) => say!(
                "wrote {}: {wrong} misclassified image(s), {shown} shown, captioned true > predicted",
                path.display()
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `predict` on pictures: each file's digit and probabilities, and with `out` a
/// CSV of them (file,digit,p0..p9).
fn predict_pictures(
    c: &Choice,
    models: &[checkpoint::Model],
    input: &[PathBuf],
    out: Option<&Path>,
    batch_size: usize,
    tta: &[(i32, i32)],
) -> Result<ExitCode> {
    let spec = &models[0].spec;
    let (files, images) = infer::read_pictures(spec, input)?;
    let mut engine = open(c)?.engine;
    let p = infer::mean(&infer::predict_each(&mut *engine, models, &images, batch_size, tta)?);
    let classes = spec.classes();
    let picked = infer::argmax(&p, classes);
    let rows: Vec<&[f32]> = p.chunks(classes).collect();
    for ((f, &k), probs) in files.iter().zip(&picked).zip(&rows) {
        let all: Vec<String> = probs.iter().take(10).map(|v| format!("{v:.3}")).collect();
        let more = if classes > 10 { " ..." } else { "" };
        say!(
            "{}: {} ({:.1}%)  [{}{more}]",
            f.display(),
            spec.name(k as usize),
            probs[k as usize] * 100.0,
            all.join(" ")
        );
    }
    if let Some(out) = out {
        data::csv::write_pictures(out, &files, &picked, &p, &spec.names)?;
        say!("wrote {} predictions to {}", files.len(), out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `selftest`: the sweep `opts` asks for, on the engine or adapter chosen.
fn selftest_cmd(c: &Choice, opts: sweep::Options) -> Result<ExitCode> {
    let mut report = |label: &str, o: &selftest::Outcome| say!("{label} {}", o.line());
    let tally = match device::target(c)? {
        (Target::Cpu(mut engine), why) => {
            say!("engine: {} — {why}", engine.name());
            sweep::on_engine(engine.as_mut(), &opts, &mut report)?
        }
        (Target::Gpu(gpu), why) => {
            say!("engine: GPU — {why}; adapter: {}", gpu.describe_validated()?);
            sweep::on_gpu(&gpu, &opts, &mut report)?
        }
    };
    say!("{}", tally.line());
    Ok(if tally.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The flags over the resumed run's settings (which win; a flag that contradicts
/// them is an error) or the defaults; `data` is the training file, if any.
fn run_settings(a: &RunFlags, resumed: Option<Settings>, data: &[(&str, &Option<PathBuf>)]) -> Result<Settings> {
    let arch = match (&a.arch, &resumed) {
        (Some(arch), _) => arch.clone(),
        (None, Some(r)) => r.arch.clone(),
        (None, None) => return Err(Error::usage("--arch is required (see `gpunet archs`), unless --resume is given")),
    };
    let base = resumed.as_ref().cloned().unwrap_or_else(|| Settings::new(&arch));
    // the flags given, as the settings' JSON names them: what was not given
    // (none, or a switch left off) drops out
    let mut given = match serde_json::to_value(a) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => unreachable!("RunFlags serialize as an object"),
    };
    given.retain(|_, v| !v.is_null() && *v != serde_json::Value::Bool(false));
    for (key, path) in data {
        if let Some(p) = path {
            given.insert(key.to_string(), p.to_string_lossy().into());
        }
    }
    let s = base.with_flags(&given, resumed.is_some())?;
    if s.train.is_none() && resumed.is_none() {
        // the embedded digits: the net is known before any data is read (a
        // resumed run's was, when it began)
        let spec = Spec::for_data(&s.arch, data::MNIST, data::CLASSES)?;
        gpunet::model::net::check_batch(s.batch, &spec)?;
    }
    s.validate()?;
    Ok(s)
}

fn train_cmd(c: &Choice, a: TrainArgs) -> Result<ExitCode> {
    // a resumed run is locked before anything is read from it, and its settings
    // (which win; a flag that contradicts them is an error) come from the
    // generation it continues
    let mut resumed = a.resume.as_deref().map(Trainer::resume).transpose()?;
    let data = [("train", &a.train), ("test", &a.test)];
    let settings = run_settings(&a.run, resumed.as_mut().map(|t| t.settings().clone()), &data)?;
    let mut trainer = match resumed {
        Some(t) => t,
        None => Trainer::new(&settings.arch)?,
    };
    // a resumed run keeps its total (its schedule spans it) unless told otherwise
    if let Some(epochs) = a.run.epochs {
        trainer = trainer.epochs(epochs);
    }
    *trainer.settings() = settings;
    let mut ui = Console { bar: None, profile: c.native.profile, marks: Vec::new() };
    if let Some(out) = &a.out {
        trainer = trainer.out(out);
    }
    // the run directory is checked and locked before any data is read, and
    // every input read and checked before the device is opened or anything written
    let run = trainer.keep(a.keep).start_files(&mut ui)?;
    // SIGINT, SIGTERM and SIGHUP all save. `timeout` and a terminal's process group
    // can deliver one signal twice within microseconds, so a second one counts only
    // once the first has been acknowledged for a moment a person would notice.
    static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let _ = ctrlc::set_handler(|| {
        if !STOP.swap(true, Ordering::SeqCst) {
            let _ = FIRST.set(std::time::Instant::now());
            eprintln!("\ninterrupt: finishing the step in flight and saving (interrupt again to quit at once)");
        } else if FIRST.get().is_some_and(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
            eprintln!("\nsecond interrupt: exiting without saving");
            std::process::exit(130);
        }
    });
    let mut engine = open(c)?.engine;
    ui.marks.push(since_start());
    let trained = run.fit(&mut *engine, &STOP, &mut ui)?;
    say!("{:.1} images/s over the run; peak memory {}", trained.images_per_s, gpunet::bench::peak_rss_text());
    engine.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// Epoch lines on stdout; a progress bar on stderr when it is a terminal.
struct Console {
    bar: Option<indicatif::ProgressBar>,
    /// Under GPUNET_PROFILE, the start-up breakdown is printed after the first step.
    profile: bool,
    /// Milliseconds after the process began that each part of the run's start
    /// was done: settings and run directory ready, data read, engine open,
    /// network and data on it.
    marks: Vec<f64>,
}

impl Progress for Console {
    fn line(&mut self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => say!("{text}"),
        }
    }
    fn epoch_start(&mut self, epoch: usize, epochs: usize, batches: usize, done: usize) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let bar = indicatif::ProgressBar::new(batches as u64).with_position(done as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("Epoch {prefix} [{bar:30}] {pos}/{len} {elapsed}<{eta} {msg}")
                .unwrap()
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{}/{}", epoch + 1, epochs));
        self.bar = Some(bar);
    }
    fn started(&mut self, _: Stage) {
        self.marks.push(since_start());
    }
    fn step(&mut self, status: Option<&str>) {
        if std::mem::take(&mut self.profile) {
            // under the profile every launch has been waited for: the step is done
            let m = |i: usize| self.marks.get(i).copied().unwrap_or(f64::NAN);
            let line = format!(
                "start-up of this run: settings and run directory ready {:.0} ms after the process began, data read by \
                 {:.0} ms, engine open by {:.0} ms, network and data on it by {:.0} ms, first step done by {:.0} ms",
                m(0),
                m(1),
                m(2),
                m(3),
                since_start()
            );
            match &self.bar {
                Some(b) => b.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            }
        }
        if let Some(b) = &self.bar {
            b.inc(1);
            if let Some(s) = status {
                b.set_message(s.to_string());
            }
        }
    }
    fn epoch_end(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

fn info(c: &Choice) -> Result<ExitCode> {
    let adapters = context::adapters(&c.adapter)?;
    if adapters.is_empty() {
        say!("no GPU adapter found");
    }
    for a in adapters {
        let (i, l) = (a.get_info(), a.limits());
        say!("{}", context::describe(&i));
        say!(
            "    max_buffer_size {} MiB, max_storage_buffer_binding_size {} MiB, workgroups/dim {}, invocations/workgroup {}, workgroup storage {} KiB, timestamps {}",
            l.max_buffer_size >> 20,
            l.max_storage_buffer_binding_size >> 20,
            l.max_compute_workgroups_per_dimension,
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_storage_size >> 10,
            a.features().contains(wgpu::Features::TIMESTAMP_QUERY)
        );
        // what faster kernels could use (gpunet's kernels need none of it)
        let offered = [
            (wgpu::Features::SUBGROUP, "subgroups"),
            (wgpu::Features::SHADER_F16, "shader-f16"),
            (wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX, "cooperative-matrix"),
        ];
        let has: Vec<&str> = offered.iter().filter(|(f, _)| a.features().contains(*f)).map(|(_, n)| *n).collect();
        say!(
            "    features: {}",
            if has.is_empty() { "none of subgroups, shader-f16, cooperative-matrix".into() } else { has.join(", ") }
        );
        let units = gpunet::gpu::units::compute_units(&a);
        let coop = context::coop_shape(&a, &i);
        match coop {
            Some(k) => say!(
                "    cooperative matrices: {0}x{0} f16 x f16 -> f32 fragments on subgroups of {1} (--precision mixed)",
                k.frag,
                k.lanes
            ),
            None => say!("    cooperative matrices: none that --precision mixed can use"),
        }
        let sg = a.features().contains(wgpu::Features::SUBGROUP);
        // an adapter that cannot run --precision mixed is still listed, as in fp32
        let unmixed =
            (coop.is_none() && c.adapter.overrides.mixed).then_some(" (fp32: it has no cooperative matrices)");
        let overrides =
            gpunet::gpu::Overrides { mixed: unmixed.is_none() && c.adapter.overrides.mixed, ..c.adapter.overrides };
        let tuning = overrides.apply(&i, sg, units.map(|u| u.0), coop)?;
        let asked = if c.adapter.overrides.class.is_some() { " (GPUNET_ADAPTER_CLASS)" } else { "" };
        match units {
            Some((n, from)) => say!("    compute units: {n} ({from})"),
            None => say!("    compute units: not said by the driver (the class's defaults stand)"),
        }
        say!("    GPU engine runs it as {}{asked}{}", tuning.describe(), unmixed.unwrap_or_default());
    }
    let (device, why) = device::resolve(c.device, &c.adapter)?;
    let engine = match device {
        Device::Cpu => NativeEngine::with_options(c.threads, c.native)?.name(),
        _ => "GPU".into(),
    };
    say!("engine: {engine} — {why}");
    Ok(ExitCode::SUCCESS)
}
