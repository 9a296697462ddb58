"""Time to accuracy: a training recipe over several seeds, each a fresh process
timed from its start to its exit (start-up, data, training, the t10k test and the
save all counted), with each seed's t10k accuracy; then the same recipe in
Keras/TensorFlow-CPU in the same run, when a Python with TensorFlow is given.
Nothing is chosen on t10k here: the recipe and the seeds are fixed before the run.

usage: python3 scripts/time_to.py [--gpunet BIN] [--arch fast] [--seeds 10]
           [--target 0.99] [--keras PYTHON] [--torch PYTHON [--torch-tf32]] [--json out.json]
           [-- extra gpunet train flags]

--keras PYTHON: a python with tensorflow-cpu; runs scripts/time_to_keras.py, the
`fast` recipe written in Keras (the same net, batch, one-cycle rate and Adam
betas), over the same seeds.
--torch PYTHON: a python with PyTorch; runs scripts/time_to_torch.py, the same
recipe on its CUDA device (strict fp32; --torch-tf32 adds a TF32 run), over the
same seeds: the peer for `-- --device gpu` on a GPU machine.
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd, env=None):
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return out.stdout, wall


def summary(name, runs, target):
    accs = [r["test_accuracy"] for r in runs]
    walls = [r["wall_s"] for r in runs]
    s = {
        "name": name,
        "seeds": len(runs),
        "mean_accuracy": statistics.mean(accs),
        "min_accuracy": min(accs),
        "reached": sum(a >= target for a in accs),
        "median_wall_s": statistics.median(walls),
        "mean_wall_s": statistics.mean(walls),
        "min_wall_s": min(walls),
        "runs": runs,
    }
    print(f"{name}: mean t10k {100 * s['mean_accuracy']:.2f}% (min {100 * s['min_accuracy']:.2f}%, "
          f"{s['reached']} of {len(runs)} seeds >= {100 * target:g}%), wall median {s['median_wall_s']:.2f} s, "
          f"mean {s['mean_wall_s']:.2f} s, min {s['min_wall_s']:.2f} s", flush=True)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpunet", default=os.path.join(HERE, "..", "target", "release", "gpunet"))
    ap.add_argument("--arch", default="fast")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--target", type=float, default=0.99)
    ap.add_argument("--keras", help="a python with tensorflow-cpu, for the peer")
    ap.add_argument("--torch", help="a python with PyTorch (CUDA for figures), for the GPU peer")
    ap.add_argument("--torch-tf32", action="store_true", help="with --torch, also PyTorch with TF32 allowed")
    ap.add_argument("--json")
    ap.add_argument("extra", nargs="*", help="more `gpunet train` flags, after --")
    a = ap.parse_args()
    env = dict(os.environ, NODEVICE_SELECT="1")
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(k, None)
    info = subprocess.run([a.gpunet, "info"], capture_output=True, text=True, env=env).stdout
    print(time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), f"{os.cpu_count()} cores", flush=True)
    results = []
    runs = []
    with tempfile.TemporaryDirectory() as d:
        for seed in range(1, a.seeds + 1):
            cmd = [a.gpunet, "train", "--arch", a.arch, "--seed", str(seed), "--out", os.path.join(d, f"s{seed}"), *a.extra]
            out, wall = timed(cmd, env)
            m = re.search(r"test .*?accuracy:? ([0-9.]+)", out) or sys.exit(f"no test accuracy in:\n{out}")
            acc = float(m.group(1))
            acc = acc / 100 if acc > 1 else acc
            engine = out.splitlines()[0]
            runs.append({"seed": seed, "test_accuracy": acc, "wall_s": wall})
            print(f"gpunet {a.arch} seed {seed:2d}: t10k {100 * acc:.2f}%  {wall:.2f} s", flush=True)
        results.append(summary(f"gpunet {a.arch} ({engine.split(' — ')[0].removeprefix('engine: ')})", runs, a.target))
    peers = []
    if a.keras:
        peers.append(("keras/tensorflow-cpu", [a.keras, os.path.join(HERE, "time_to_keras.py")]))
    if a.torch:
        peers.append(("pytorch fp32", [a.torch, os.path.join(HERE, "time_to_torch.py")]))
        if a.torch_tf32:
            peers.append(("pytorch tf32", [a.torch, os.path.join(HERE, "time_to_torch.py"), "--tf32"]))
    write(a.json, info, a.target, results)
    for name, cmd in peers:
        runs = []
        for seed in range(1, a.seeds + 1):
            out, wall = timed([*cmd, str(seed)], env)
            m = re.search(r"RESULT test_accuracy ([0-9.]+)(.*)", out) or sys.exit(f"no RESULT line in:\n{out}")
            runs.append({"seed": seed, "test_accuracy": float(m.group(1)), "wall_s": wall})
            print(f"{name} fast seed {seed:2d}: t10k {100 * runs[-1]['test_accuracy']:.2f}%  {wall:.2f} s{m.group(2)}", flush=True)
        results.append(summary(f"{name} fast", runs, a.target))
        g, p = results[0], results[-1]
        print(f"same-run ratio of median wall times ({name} / gpunet): {p['median_wall_s'] / g['median_wall_s']:.2f}x", flush=True)
        write(a.json, info, a.target, results)


def write(path, info, target, results):
    """The JSON so far, replaced whole at each result: a time limit keeps what ran."""
    if not path:
        return
    doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "target": target, "info": info,
           "results": results}
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
