#!/usr/bin/env bash
# One-shot benchmark for a lent GPU machine, where nothing is built and only a few
# files come back. Prepare here (BENCHMARKS.md, "NVIDIA GPUs"):
#   cargo build --release && mkdir -p .bin && strip -o .bin/gpunet target/release/gpunet
#   and the Vulkan loader's packages in .gl/; both folders listed in .git/info/exclude
# Run there, carrying .gl and .bin, with a command limit of about 320 s:
#   OUT=$OUT bash scripts/gpu-bench.sh
# Check here first, on lavapipe with tiny sizes (CI runs this, tests/gpu_bench.rs):
#   OUT=/tmp/gb bash scripts/gpu-bench.sh --dry-run
#
# What it leaves in $OUT (8 files, all at its top: the machine hands back at most 8,
# two folders deep): summary.json (every headline figure, each step's exit and
# time, whether the timings can be trusted), log.txt, info.txt, selftest.txt,
# bench.json, cnn6-metrics.csv, torch.json, fast.json.
#
# The whole script ends within BUDGET seconds (default 290, kill grace included):
# each step's limit is cut to what is left, so a second run still fits a 15-minute
# window with two machine start-ups. The selftest runs first; if it fails, the
# summary marks every timing untrustworthy (the mixed selftest likewise its own
# figures: trustworthy_mixed). Each step runs under `timeout -k`.
set -uo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-290}
OUT=${OUT:-gpu-out}
. scripts/oneshot.sh
RUNS=$(mktemp -d)
STEPS=$RUNS/steps.jsonl
oneshot_log summary.json info.txt selftest.txt bench.json cnn6-metrics.csv torch.json fast.json

# step NAME LIMIT [into FILE] CMD...: runs CMD (its output into FILE) under a
# limit cut to the time left; records its exit and seconds in $STEPS; returns its
# exit (124 or 137: out of time)
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((START + BUDGET - $(date +%s) - 4))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -le 1 ]; then
    echo "== $name: skipped, the budget of ${BUDGET}s is spent"
    echo "{\"name\":\"$name\",\"exit\":null,\"seconds\":0,\"limit\":0}" >>"$STEPS"
    return 124
  fi
  echo "== $name (limit ${limit}s) $(date -u +%T)"
  local t0 rc ms secs
  t0=$(date +%s%N)
  if [ "$1" = into ]; then
    shift
    timeout -k 3 "$limit" sh -c 'f=$1; shift; exec "$@" >"$f" 2>&1' into "$@"
  else
    timeout -k 3 "$limit" "$@"
  fi
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  secs=$(printf "%d.%03d" $((ms / 1000)) $((ms % 1000)))
  echo "== $name: exit $rc after ${secs}s"
  echo "{\"name\":\"$name\",\"exit\":$rc,\"seconds\":$secs,\"limit\":$limit}" >>"$STEPS"
  return $rc
}

date -u
echo "gpu-bench: $([ $DRY = 1 ] && echo dry run || echo real run), budget ${BUDGET}s, binary $G, output $OUT"
oneshot_vulkan
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null
export NODEVICE_SELECT=1
# the WGSL kernels, never the native fallback (bench still adds the native column)
export GPUNET_DEVICE=gpu GPUNET_ADAPTER=$REQUIRE_ADAPTER

ADAPTER_OK=0
if [ ! -x "$G" ]; then
  echo "no binary at $G (strip -o .bin/gpunet target/release/gpunet)"
else
  step info 20 into "$OUT/info.txt" "$G" info
  cat "$OUT/info.txt"
  if grep -iq "$REQUIRE_ADAPTER" "$OUT/info.txt"; then
    ADAPTER_OK=1
  else
    echo "no adapter named like '$REQUIRE_ADAPTER' is listed: no figure is taken"
  fi
fi

if [ $ADAPTER_OK = 1 ]; then
  # 1. correctness first: every class's kernels and training steps on this adapter;
  #    the real run adds every core and cnn6's launches at batch 500 (under discrete)
  if [ $DRY = 1 ]; then sargs=(--class discrete); else sargs=(--full); fi
  step selftest 80 into "$OUT/selftest.txt" "$G" selftest "${sargs[@]}"
  tail -n 1 "$OUT/selftest.txt"

  # 2. kernels and training steps, GPU engine beside the native one; the JSON is
  #    rewritten as each record arrives
  if [ $DRY = 1 ]; then bargs=(--quick --only "matmul 256,train:cnn6"); else bargs=(--only "matmul,conv2d,train:cnn6"); fi
  clocks() { nvidia-smi --query-gpu=pstate,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null | sed "s/^/clocks $1: /"; }
  clocks "before bench"
  step bench 60 "$G" bench "${bargs[@]}" --json "$OUT/bench.json"
  clocks "after bench"

  # 3. cnn6 epochs (48,000 images, batch 500) for the comparison with PyTorch's
  if [ $DRY = 1 ]; then
    # 120 t10k images as a labelled IDX pair (two steps an epoch: a 2-core machine's
    # lavapipe without AVX-512 takes about 5 s a step of cnn6): no test set at the end
    python3 - "$RUNS" <<'PY'
import gzip, sys
d = sys.argv[1]
for kind, head, size in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
    b = gzip.open(f"data/mnist/t10k-{kind}-ubyte.gz").read()
    hdr = bytearray(b[:head]); hdr[4:8] = (120).to_bytes(4, "big")
    open(f"{d}/dry-{kind}-ubyte", "wb").write(bytes(hdr) + b[head:head + 120 * size])
PY
    targs=(--train "$RUNS/dry-images-idx3-ubyte" --batch-size 48 --epochs 2)
  else
    targs=(--epochs 2)
  fi
  step cnn6 60 "$G" train --arch cnn6 "${targs[@]}" --out "$RUNS/cnn6"
  cp "$RUNS/cnn6/metrics.csv" "$OUT/cnn6-metrics.csv" 2>/dev/null
  # 3a. the same epochs with auto's tiles chosen by rows alone (GPUNET_FILL=off, as
  #     before the device's size counted): what filling the device is worth; the
  #     epochs' seconds go into the summary only (the dry run: one epoch)
  if [ $DRY = 1 ]; then rargs=(--train "$RUNS/dry-images-idx3-ubyte" --batch-size 48 --epochs 1); else rargs=("${targs[@]}"); fi
  GPUNET_FILL=off step cnn6-by-rows 45 "$G" train --arch cnn6 "${rargs[@]}" --out "$RUNS/cnn6-rows"

  # 3b. where a cnn6 step's time goes: every launch timed on the device apart
  #     (GPUNET_PROFILE), and the start-up of this, the run's latest process (its
  #     pipelines from the cache the earlier ones left, where the driver keeps one);
  #     into the log and the summary. A separate run: the profile waits on every
  #     launch, so the epochs above stay unprofiled.
  if [ $DRY = 1 ]; then
    pargs=(--train "$RUNS/dry-images-idx3-ubyte" --limit 60 --batch-size 48)
  else
    pargs=(--limit 2500)
  fi
  export GPUNET_PROFILE=1
  step profile 40 into "$RUNS/profile.txt" "$G" train --arch cnn6 "${pargs[@]}" --epochs 1 --out "$RUNS/profile"
  unset GPUNET_PROFILE
  cat "$RUNS/profile.txt"

  # 4. PyTorch eager, same net, data and batch: strict fp32 and TF32
  TORCH=0
  python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null && TORCH=1
  if [ $TORCH = 1 ]; then
    step torch 90 python3 scripts/torch_peer.py 2 --out "$OUT/torch.json"
  else
    echo "== torch: skipped, no PyTorch with CUDA here"
    echo '[{"skipped": "no PyTorch with CUDA on this machine"}]' >"$OUT/torch.json"
  fi

  # 4b. mixed precision (`--precision mixed`: every GEMM on the matrix units through
  #     cooperative matrices, f16 operands, f32 sums, the loss scaled dynamically)
  #     where the adapter offers them: its selftest under discrete (every GEMM case
  #     against the twin that rounds the same operands, the step checks, the loss
  #     scale's overflow), the 4096^3 GEMM and cnn6's steps, and cnn6 for 10 epochs
  #     to t10k (the dry run: 2 short ones). Into the summary (its "mixed"); the
  #     files stay in $RUNS, the machine handing back 8 at most.
  if grep -q "cooperative matrices: [0-9]" "$OUT/info.txt"; then
    step mixed-selftest 45 into "$RUNS/selftest-mixed.txt" "$G" --precision mixed selftest --class discrete
    tail -n 1 "$RUNS/selftest-mixed.txt"
    if [ $DRY = 1 ]; then margs=(--quick --only "matmul 256,train:cnn6"); else margs=(--only "matmul 4096,train:cnn6"); fi
    step mixed-bench 40 "$G" --precision mixed bench "${margs[@]}" --json "$RUNS/bench-mixed.json"
    if [ $DRY = 1 ]; then mtargs=("${targs[@]}"); else mtargs=(--epochs 10); fi
    step mixed-cnn6 60 into "$RUNS/cnn6-mixed.txt" "$G" --precision mixed train --arch cnn6 "${mtargs[@]}" --out "$RUNS/cnn6-mixed"
    tail -n 14 "$RUNS/cnn6-mixed.txt"
    cp "$RUNS/cnn6-mixed/metrics.csv" "$RUNS/cnn6-mixed-metrics.csv" 2>/dev/null
  else
    echo "== mixed: skipped, the adapter offers no cooperative matrices"
  fi

  # 5. time to 99%: the `fast` recipe, each seed a fresh process timed from its start
  #    to its exit, on this GPU; the same recipe in PyTorch (data on the device) beside it
  if [ $DRY = 1 ]; then fargs=(--seeds 1 -- --device gpu --limit 600); else fargs=(--seeds 3 -- --device gpu); fi
  [ $TORCH = 1 ] && fargs=(--torch python3 "${fargs[@]}")
  step fast 70 python3 scripts/time_to.py --gpunet "$G" --json "$OUT/fast.json" "${fargs[@]}"
fi

# 6. the summary, from the files above
python3 - "$OUT" "$STEPS" "$DRY" "$START" "$REQUIRE_ADAPTER" "$ADAPTER_OK" "$RUNS/profile.txt" \
  "$RUNS/cnn6-rows/metrics.csv" "$RUNS" <<'PY'
import csv, json, os, re, sys, time
out, steps_path, dry, start, want, adapter_ok, profile, by_rows, runs = sys.argv[1:10]
def load(name, default=None):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default
steps = []
if os.path.exists(steps_path):
    steps = [json.loads(l) for l in open(steps_path) if l.strip()]
s = {"dry_run": dry == "1", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
     "required_adapter": want, "adapter_found": adapter_ok == "1", "steps": steps}
info = open(os.path.join(out, "info.txt")).read() if os.path.exists(os.path.join(out, "info.txt")) else ""
s["adapters"] = [l for l in info.splitlines() if l and not l.startswith(" ") and not l.startswith("engine:")]
lines = open(os.path.join(out, "selftest.txt")).read().splitlines() if os.path.exists(os.path.join(out, "selftest.txt")) else []
m = re.match(r"selftest: (\d+) of (\d+) cases passed", lines[-1]) if lines else None
sel = {"line": lines[-1] if lines else None, "ok": bool(m) and m.group(1) == m.group(2)}
if m:
    sel.update(passed=int(m.group(1)), total=int(m.group(2)))
sel["engine"] = lines[0] if lines else None
sel["failures"] = [l for l in lines if " FAIL" in l][:20]
# each configuration's tally: "[discrete: auto gemm, ...] kernel ..." lines
by = {}
for l in lines:
    if l.startswith("[") and "]" in l:
        t = by.setdefault(l[1:l.index("]")], {"passed": 0, "failed": 0})
        t["passed" if l.endswith(" pass") else "failed"] += 1
sel["by_config"] = by
s["selftest"] = sel
s["trustworthy"] = sel["ok"]
bench = load("bench.json", {})
recs = bench.get("records", [])
s["bench_complete"] = bench.get("complete")
mm = [r for r in recs if r["name"] == "matmul" and r.get("gflops_gpu")]
if mm:
    big = max(mm, key=lambda r: int(r["shape"].split("x")[0]))
    s["matmul"] = {"shape": big["shape"], "gpu_tflops": round(big["gflops_gpu"] / 1e3, 3),
                   "cpu_tflops": round(big["gflops_cpu"] / 1e3, 3) if big.get("gflops_cpu") else None}
tr = [r for r in recs if r["name"] == "train:cnn6"]
s["cnn6_steps"] = [{"engine": r.get("engine"), "batch": r.get("batch"), "images_per_s": r.get("images_per_s")} for r in tr]
def epochs(p):
    return [float(r["seconds"]) for r in csv.DictReader(open(p))] if os.path.exists(p) else []
ep = epochs(os.path.join(out, "cnn6-metrics.csv"))
s["cnn6_epoch_s"] = {"all": ep, "best": min(ep) if ep else None}
rows = epochs(by_rows)
s["cnn6_epoch_s_by_rows"] = {"all": rows, "best": min(rows) if rows else None}
torch = load("torch.json", [])
t = {r["name"]: r for r in torch if "name" in r}
s["torch"] = {"skipped": next((r["skipped"] for r in torch if "skipped" in r), None)}
for mode in ("fp32", "tf32", "amp"):
    c, mt = t.get(f"torch_cnn6_{mode}"), t.get(f"torch_matmul4096_{mode}")
    if c:
        s["torch"][f"cnn6_epoch_s_{mode}"] = c["median_s_per_epoch_after_warmup"]
        if ep:
            s.setdefault("ratios", {})[f"gpunet_epoch_over_torch_{mode}"] = round(min(ep) / c["median_s_per_epoch_after_warmup"], 3)
    if mt:
        s["torch"][f"matmul4096_tflops_{mode}"] = mt["tflops"]
    if c or mt:
        s["torch"]["device"] = (c or mt).get("device")
# the profile: the training step's plan (ending in the optimizer, the most runs),
# the slowest launches, the start-up
prof = open(profile).read().splitlines() if os.path.exists(profile) else []
plans = [re.match(r"  plan (\d+): (\d+) dispatches a run \((\S+) \.\. (\S+)\), (\d+) runs, ([0-9.]+) ms a run", l) for l in prof]
trained = [m for m in plans if m and m.group(4) == "adam"]
top = max(trained, key=lambda m: int(m.group(5)), default=None)
s["profile"] = {
    "step_dispatches": int(top.group(2)) if top else None,
    "step_ms": float(top.group(6)) if top else None,
    "slowest": [l.strip() for l in prof if re.match(r"  plan \d+ op ", l)][:8],
    "startup": next((l.strip() for l in prof if l.strip().startswith("start-up: ")), None),
}
# mixed precision: its selftest, GEMM and steps, and its epochs beside PyTorch's
def text(path):
    return open(path).read().splitlines() if os.path.exists(path) else []
sel_m = text(os.path.join(runs, "selftest-mixed.txt"))
if not sel_m:
    s["mixed"] = {"skipped": "the adapter offers no cooperative matrices"
                  if "cooperative matrices: none" in info or "cooperative matrices:" not in info
                  else "the mixed steps did not run"}
else:
    mm_ = re.match(r"selftest: (\d+) of (\d+) cases passed", sel_m[-1])
    mx = {"selftest": {"line": sel_m[-1], "ok": bool(mm_) and mm_.group(1) == mm_.group(2),
                       "coop_cases": sum(1 for l in sel_m if " mixed " in l and l.endswith(" pass")),
                       "failures": [l for l in sel_m if " FAIL" in l][:20]}}
    try:
        brec = json.load(open(os.path.join(runs, "bench-mixed.json"))).get("records", [])
    except (OSError, ValueError):
        brec = []
    mmx = [r for r in brec if r["name"] == "matmul" and r.get("gflops_gpu")]
    if mmx:
        big = max(mmx, key=lambda r: int(r["shape"].split("x")[0]))
        mx["matmul"] = {"shape": big["shape"], "gpu_tflops": round(big["gflops_gpu"] / 1e3, 3)}
    mx["cnn6_steps"] = [{"engine": r.get("engine"), "batch": r.get("batch"), "images_per_s": r.get("images_per_s")}
                        for r in brec if r["name"] == "train:cnn6"]
    mep = epochs(os.path.join(runs, "cnn6-mixed-metrics.csv"))
    mx["cnn6_epoch_s"] = {"all": mep, "best": min(mep) if mep else None}
    log_m = text(os.path.join(runs, "cnn6-mixed.txt"))
    test_m = [re.search(r"accuracy ([0-9.]+)$", l) for l in log_m if l.startswith("test (")]
    mx["cnn6_test_accuracy"] = float(test_m[-1].group(1)) if test_m and test_m[-1] else None
    mx["loss_scale"] = [re.search(r"loss scale: .*$", l).group(0) for l in log_m if "loss scale: " in l]
    for mode in ("tf32", "amp"):
        tm = s["torch"].get(f"cnn6_epoch_s_{mode}")
        if mep and tm:
            s.setdefault("ratios", {})[f"gpunet_mixed_epoch_over_torch_{mode}"] = round(min(mep) / tm, 3)
    s["mixed"] = mx
    s["trustworthy_mixed"] = mx["selftest"]["ok"]
fast = load("fast.json", {})
s["fast"] = [{k: r.get(k) for k in ("name", "seeds", "mean_accuracy", "median_wall_s", "min_wall_s")}
             for r in fast.get("results", [])]
s["seconds"] = round(time.time() - int(start), 1)
if not s["trustworthy"]:
    ran = next((t for t in steps if t["name"] == "selftest"), None)
    why = ("no adapter named like '%s' was listed" % want if adapter_ok != "1"
           else "the selftest ran out of time" if ran and ran["exit"] in (124, 137)
           else "the selftest did not pass on this adapter")
    s["note"] = why + ": no timing here can be trusted"
tmp = os.path.join(out, "summary.json.tmp")
with open(tmp, "w") as f:
    json.dump(s, f, indent=1)
os.replace(tmp, os.path.join(out, "summary.json"))
print(json.dumps({k: s.get(k) for k in ("trustworthy", "matmul", "cnn6_epoch_s", "cnn6_epoch_s_by_rows", "torch", "ratios",
                                        "mixed", "fast", "seconds")}))
sys.exit(0 if s["trustworthy"] else 1)
PY
rc=$?
rm -rf "$RUNS"
date -u
oneshot_end $rc
