//! What a discrete GPU, an integrated one and a CPU adapter would run, proven
//! where no such GPU exists: `gpunet selftest --device gpu` under every adapter
//! class (`GPUNET_ADAPTER_CLASS`: GEMM core, split-K target, workgroup sums) on
//! two Vulkan implementations, lavapipe (subgroups 8 wide) and SwiftShader's
//! Vulkan driver, which Chromium ships (4 wide), both under the Khronos validation
//! layer with synchronization validation, where any message fails the run. Each
//! run is the kernel cases and training steps of cnn8-dropout and of a batch-norm,
//! strided net against the reference engine under each class, and on lavapipe
//! cnn6's launches at batch 500 under `discrete` (split-K 95-256, 3,063
//! workgroups).
//!
//! Each implementation is opened alone through `VK_DRIVER_FILES`. A missing one is
//! a skip, unless GPUNET_REQUIRE_GPU=1 (lavapipe) or GPUNET_REQUIRE_BROWSER=1
//! (SwiftShader, which comes with Chromium) makes it a failure, as in CI; so is a
//! missing validation layer under GPUNET_REQUIRE_GPU=1.

use std::path::{Path, PathBuf};
use std::process::Command;

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// The first of `paths` that exists.
fn first(paths: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    paths.into_iter().find(|p| p.exists())
}

fn lavapipe_icd() -> Option<PathBuf> {
    let dirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
    let names = ["lvp_icd.x86_64.json", "lvp_icd.aarch64.json", "lvp_icd.json"];
    first(dirs.iter().flat_map(|d| names.iter().map(move |n| Path::new(d).join(n))))
}

/// SwiftShader's Vulkan manifest beside the Chromium binary (GPUNET_CHROMIUM, or
/// Debian's /usr/lib/chromium).
fn swiftshader_icd() -> Option<PathBuf> {
    let mut dirs = vec![PathBuf::from("/usr/lib/chromium")];
    if let Ok(c) = std::env::var("GPUNET_CHROMIUM") {
        let c = std::fs::canonicalize(&c).unwrap_or(PathBuf::from(c));
        dirs.extend(c.parent().map(Path::to_path_buf));
    }
    first(dirs.into_iter().map(|d| d.join("vk_swiftshader_icd.json")))
}

/// `gpunet selftest --device gpu ARGS` on the driver of manifest `icd` alone,
/// validated; its stdout, or None (printed) where the layer is missing and not required.
fn validated_selftest(icd: &Path, args: &[&str]) -> Option<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_gpunet"))
        .args(["selftest", "--device", "gpu"])
        .args(args)
        .env("VK_DRIVER_FILES", icd)
        .env("GPUNET_VALIDATION", "1")
        .env("NODEVICE_SELECT", "1")
        .env_remove("GPUNET_ADAPTER")
        .env_remove("GPUNET_ADAPTER_CLASS")
        .output()
        .unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string());
    if err.contains("no Khronos validation layer loaded") && !required("GPUNET_REQUIRE_GPU") {
        eprintln!("skipping: {err} (set GPUNET_REQUIRE_GPU=1 to make this a failure)");
        return None;
    }
    let tail: Vec<&str> = out.lines().filter(|l| !l.ends_with(" pass")).collect();
    assert!(o.status.success(), "selftest on {} failed:\n{}\n{err}", icd.display(), tail.join("\n"));
    Some(out)
}

/// The checks every validated class sweep must show: the layer active with
/// synchronization validation, each class's choices with its cases and training
/// steps, every case passed, and at least `least` of them.
fn check_sweep(out: &str, adapter: &str, least: usize) {
    let head = out.lines().next().unwrap();
    assert!(head.contains(adapter), "not {adapter}: {head}");
    assert!(head.ends_with("Khronos validation layer active, with synchronization validation"), "{head}");
    for (class, choices) in [
        ("cpu", "register gemm, no split-K, tree sums"),
        ("integrated", "auto gemm, split-K to 256 workgroups, subgroup sums, fill 256"),
        ("discrete", "auto gemm, split-K to 1024 workgroups, subgroup sums, fill 1024"),
    ] {
        let label = format!("[{class}: {choices}]");
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with(&label)).collect();
        // cnn8-dropout, the batch-norm net and the pooled net (selftest::steps::all)
        assert_eq!(lines.iter().filter(|l| l.contains("] train steps ")).count(), 3, "{label}:\n{out}");
    }
    // the kernel cases run under the block core with tree sums and under the
    // GPU cores with subgroup sums (once: integrated and discrete choose alike by
    // rows, which is how the cases pick a core: no fill in their label)
    let kernel = |label: &str| out.lines().filter(|l| l.starts_with(label) && !l.contains("train steps")).count();
    assert!(kernel("[cpu: ") > 150 && kernel("[integrated: ") > 150, "{out}");
    let last = out.lines().last().unwrap();
    let n = out.lines().filter(|l| l.ends_with(" pass")).count();
    assert_eq!(last, format!("selftest: {n} of {n} cases passed"));
    assert!(n >= least, "only {n} cases");
}

#[test]
fn every_class_on_lavapipe_with_production_shapes_under_validation() {
    let Some(icd) = lavapipe_icd() else {
        assert!(!required("GPUNET_REQUIRE_GPU"), "GPUNET_REQUIRE_GPU=1 but lavapipe's manifest is missing");
        return eprintln!("skipping: no lavapipe (mesa-vulkan-drivers)");
    };
    let Some(out) = validated_selftest(&icd, &["--production"]) else { return };
    check_sweep(&out, "llvmpipe", 380);
    // cnn6's launches at batch 500 under discrete: the 32-channel convs over 3,000
    // workgroups, weight gradients split into 95 chunks or more
    let prod: Vec<&str> = out.lines().filter(|l| l.starts_with("[discrete: ") && l.contains(" cnn6 b500 ")).collect();
    assert!(prod.len() >= 40, "{} production cases:\n{}", prod.len(), prod.join("\n"));
    assert!(prod.iter().any(|l| l.contains("conv2d_forward") && l.contains("N500 Ci32 Co32 28x28 k5")));
    let splits: Vec<u32> = prod
        .iter()
        .filter(|l| l.contains("conv2d_backward_weight"))
        .map(|l| l.rsplit("split-K ").next().unwrap().split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(splits.len() == 6 && splits.iter().all(|&s| s >= 95), "weight-gradient splits {splits:?}");
}

#[test]
fn every_class_on_swiftshader_vulkan_under_validation() {
    let Some(icd) = swiftshader_icd() else {
        let need = required("GPUNET_REQUIRE_BROWSER");
        assert!(!need, "GPUNET_REQUIRE_BROWSER=1 but Chromium's vk_swiftshader_icd.json is missing");
        return eprintln!("skipping: no SwiftShader Vulkan driver (it comes with Debian's chromium)");
    };
    let Some(out) = validated_selftest(&icd, &[]) else { return };
    check_sweep(&out, "SwiftShader", 340);
}

/// `GPUNET_ADAPTER_CLASS` makes any adapter run a class's choices, which `info`
/// and the engine line name; single overrides still apply over it.
/// The binary with `env` over a plain environment (no class asked for): exit
/// code, stdout, stderr.
fn run(env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gpunet"));
    c.args(args).env("NODEVICE_SELECT", "1").env_remove("GPUNET_ADAPTER_CLASS").env_remove("GPUNET_PROFILE");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string())
}

#[test]
fn the_adapter_class_switch_is_reported_and_checked() {
    let (code, _, err) = run(&[("GPUNET_ADAPTER_CLASS", "laptop")], &["info"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown adapter class 'laptop': expected cpu, integrated or discrete"), "{err}");
    if gpunet::gpu::for_tests().is_none() {
        return;
    }
    let (code, out, err) = run(&[("GPUNET_ADAPTER_CLASS", "discrete"), ("GPUNET_SPLIT_K", "64")], &["info"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("GPU engine runs it as discrete: auto gemm, split-K to 64 workgroups, "),
        "the class with the split-K override over it:\n{out}"
    );
    // lavapipe has neither NVIDIA's nor AMD's extension for its compute units
    assert!(out.contains("    compute units: not said by the driver (the class's defaults stand)\n"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let args = ["train", "--device", "gpu", "--arch", "conv4k3,pool2,out10", "--epochs", "1", "--limit", "300"];
    let out_dir = dir.path().join("run");
    let mut args = args.to_vec();
    args.extend(["--out", out_dir.to_str().unwrap()]);
    let (code, out, err) = run(&[("GPUNET_ADAPTER_CLASS", "integrated")], &args);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let first = out.lines().next().unwrap();
    assert!(first.contains("[integrated: auto gemm, split-K to 256 workgroups, "), "{first}");
}

/// 300 labelled rows of a Kaggle CSV in `dir` (no test set comes with it, so a
/// run ends without scoring t10k): bright pixels where (i·label + row) mod 7 is 0.
fn small_csv(dir: &Path) -> PathBuf {
    let mut csv = format!("label,{}\n", (0..784).map(|i| format!("pixel{i}")).collect::<Vec<_>>().join(","));
    for r in 0..300 {
        let label = r % 10;
        let px: Vec<&str> = (0..784).map(|i| if (i * label + r) % 7 == 0 { "200" } else { "0" }).collect();
        csv += &format!("{label},{}\n", px.join(","));
    }
    let path = dir.join("train.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// `gpunet train --device gpu` on the CSV `data` into `out` with `flags` and
/// `env`, which must succeed: its stderr.
fn train_gpu(data: &Path, out: &Path, flags: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec!["train", "--device", "gpu", "--train", data.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend(flags);
    let (code, stdout, err) = run(env, &args);
    assert_eq!(code, Some(0), "{stdout}\n{err}");
    err
}

/// `GPUNET_PROFILE=1` on the GPU engine times every launch of every run (on
/// lavapipe by its timestamp queries), lists each plan's dispatches and runs,
/// and changes nothing the run computes.
#[test]
fn the_gpu_profile_times_every_launch_and_changes_nothing() {
    if gpunet::gpu::for_tests().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = small_csv(dir.path());
    let train = |profile: &str| {
        let out = dir.path().join(format!("run{profile}"));
        let env: &[(&str, &str)] = if profile.is_empty() { &[] } else { &[("GPUNET_PROFILE", profile)] };
        let err =
            train_gpu(&data, &out, &["--arch", "conv4k3,pool2,out10", "--epochs", "2", "--batch-size", "100"], env);
        let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
        // every column but the seconds
        let rows: Vec<String> =
            metrics.lines().map(|l| l.split(',').enumerate().filter(|c| c.0 != 1).map(|c| c.1).collect()).collect();
        (rows, std::fs::read(out.join("model.safetensors")).unwrap(), err)
    };
    let (plain, plain_model, plain_err) = train("");
    let (profiled, profiled_model, report) = train("1");
    assert!(!plain_err.contains("profile of"), "{plain_err}");
    assert_eq!(plain, profiled, "the profile changed the metrics");
    assert!(plain_model == profiled_model, "the profile changed the model");
    // the run's own start-up: five moments since the process began, in order
    // (settings, data read, engine open, network and data on it, first step done)
    let startup =
        report.lines().find(|l| l.starts_with("start-up of this run: ")).unwrap_or_else(|| panic!("{report}"));
    let at: Vec<f64> = startup.split([' ', ',']).filter_map(|w| w.parse().ok()).collect();
    assert!(at.len() == 5 && at.windows(2).all(|w| w[0] <= w[1]), "{startup}");
    let head = report.lines().find(|l| l.starts_with("profile of ")).unwrap_or_else(|| panic!("{report}"));
    assert!(head.contains("llvmpipe") && head.ends_with("(device timestamps, a pass per launch)"), "{head}");
    // the training plans (ending in the optimizer): 240 training images at
    // batch 100 make 3 steps an epoch, two of 100 and one of 40, 6 in all
    let plans: Vec<(usize, u64, String)> = report
        .lines()
        .filter_map(|l| l.strip_prefix("  plan ")?.split_once(": ").map(|(_, r)| r.to_string()))
        .map(|r| {
            let n: Vec<u64> = r.split([' ', '(', ')']).filter_map(|w| w.parse().ok()).collect();
            (n[0] as usize, n[1], r)
        })
        .collect();
    let steps: u64 = plans.iter().filter(|p| p.2.contains(" .. adam), ")).map(|p| p.1).sum();
    assert_eq!(steps, 6, "{report}");
    let launches: Vec<&str> = report.lines().filter(|l| l.contains(" runs ") && l.ends_with('%')).collect();
    assert_eq!(launches.len(), plans.iter().map(|p| p.0).sum::<usize>().min(40), "{report}");
    // each launch as it ran: its workgroups ("2x1x1"), and a GEMM's core (the
    // adapter class's: lavapipe's block core in the convs)
    let grid = |w: &str| w.split('x').count() == 3 && w.split('x').all(|n| n.parse::<u32>().is_ok());
    assert!(launches.iter().all(|l| l.split_whitespace().any(grid)), "{report}");
    assert!(launches.iter().any(|l| l.contains(" conv2d_forward block ")), "{report}");
}

/// Pipelines are built as plans need them, each once: a device opened fresh has
/// none, a pipeline asked for twice (or twice in one call) is built once, the
/// same kernel under another GEMM core is another pipeline, and a variant the
/// adapter has no module for (cooperative matrices outside --precision mixed) is
/// refused by name.
#[test]
fn pipelines_are_built_as_plans_need_them_and_once() {
    use gpunet::kernels::{shaders::Gemm, Kernel};
    if gpunet::gpu::for_tests().is_none() {
        return;
    }
    // a device of its own: the shared one's count moves with the other tests
    let gpu = gpunet::gpu::Gpu::new(&gpunet::gpu::AdapterChoice::from_env().unwrap()).unwrap();
    let built = |gpu: &gpunet::gpu::Gpu| -> usize {
        let s = gpu.startup();
        let count = s.split(" pipelines built in ").next().and_then(|p| p.rsplit(' ').next()?.parse().ok());
        count.unwrap_or_else(|| panic!("{s}"))
    };
    assert_eq!(built(&gpu), 0, "{}", gpu.startup());
    let relu = (Kernel::ReluForward, Gemm::Tiled, false);
    let got = gpu.pipelines(&[relu, relu]).unwrap();
    assert_eq!((got.len(), built(&gpu)), (2, 1), "{}", gpu.startup());
    gpu.pipelines(&[relu]).unwrap();
    assert_eq!(built(&gpu), 1, "{}", gpu.startup());
    // ReLU's file has no GEMM core: any core asked for is its one pipeline
    gpu.pipelines(&[(Kernel::ReluForward, Gemm::Wide, false)]).unwrap();
    assert_eq!(built(&gpu), 1, "{}", gpu.startup());
    let conv = |g| (Kernel::Conv2dForward, g, false);
    gpu.pipelines(&[conv(Gemm::Tiled), conv(Gemm::Narrow), relu]).unwrap();
    assert_eq!(built(&gpu), 3, "{}", gpu.startup());
    let coop = gpunet::kernels::shaders::Coop::choose([8u32], 8).expect("an 8x8 core");
    if !gpu.tuning.mixed() {
        let err = gpu.pipelines(&[conv(Gemm::Coop(coop))]).unwrap_err().to_string();
        assert!(err.contains("conv2d_forward: no coop pipeline"), "{err}");
        assert_eq!(built(&gpu), 3, "{}", gpu.startup());
    }
}

/// A warm start: where the driver's pipeline cache keeps compiled pipelines, the
/// first start of `train --arch fast` saves it and the second finds every
/// pipeline in it (the file unchanged: nothing was compiled again); where it
/// keeps none (Mesa 22's lavapipe) that is said and no file is written. Either
/// way a damaged file is refused with a note and never fatal, and
/// `GPUNET_CACHE_DIR=off` keeps no cache.
#[test]
fn a_second_start_takes_every_pipeline_from_the_cache() {
    if gpunet::gpu::for_tests().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = small_csv(dir.path());
    let cache = dir.path().join("cache");
    let start = |cache_dir: &str, name: &str| {
        let env = [("GPUNET_CACHE_DIR", cache_dir), ("GPUNET_PROFILE", "1")];
        let err = train_gpu(&data, &dir.path().join(name), &["--arch", "fast", "--epochs", "1"], &env);
        err.lines()
            .find_map(|l| l.trim_start().strip_prefix("start-up: "))
            .unwrap_or_else(|| panic!("{err}"))
            .to_string()
    };
    let files = || -> Vec<PathBuf> {
        std::fs::read_dir(&cache).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default()
    };
    let first = start(cache.to_str().unwrap(), "a");
    let path = PathBuf::from(first.split("pipeline cache: ").nth(1).unwrap().split(' ').next().unwrap());
    assert!(path.starts_with(&cache), "{first}");
    assert!(first.contains(" not there yet; "), "{first}");
    if first.contains("the driver keeps no compiled pipelines in it") {
        assert!(first.ends_with(": nothing saved") && files().is_empty(), "{first}: {:?}", files());
    } else {
        assert!(first.ends_with(" bytes saved") && files() == [path.clone()], "{first}");
        let saved = std::fs::read(&path).unwrap();
        let second = start(cache.to_str().unwrap(), "b");
        assert!(second.ends_with(", unchanged: every pipeline came from it"), "{second}");
        assert!(std::fs::read(&path).unwrap() == saved, "the second start changed the cache");
    }
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(&path, b"not a pipeline cache").unwrap();
    let damaged = start(cache.to_str().unwrap(), "c");
    assert!(damaged.contains(" refused (") && damaged.contains("started afresh"), "{damaged}");
    let left = std::fs::read(&path).unwrap_or_default();
    assert!(left != b"not a pipeline cache", "the damaged file was left as it was");
    let off = start("off", "d");
    assert!(off.ends_with("pipeline cache: none on this adapter (or GPUNET_CACHE_DIR=off)"), "{off}");
}
