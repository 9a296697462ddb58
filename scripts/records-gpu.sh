#!/usr/bin/env bash
# The accuracy records on a lent GPU, in one call: SEEDS runs of one declared
# recipe (deotte's net and training with the accuracy tools), one after another,
# each a fresh process under what is left of the budget, then their t10k accuracy
# alone and as an ensemble, plain and with test-time augmentation. On an H200 one
# deotte run took 2 min 20 s (BENCHMARKS, "First run on a real GPU").
#
# Prepare here as for scripts/gpu-bench.sh (.bin/gpunet stripped, .gl with the
# Vulkan loader), then run there, carrying .gl and .bin, with a limit of ~560 s:
#   OUT=$OUT bash scripts/records-gpu.sh
# Check here first, on lavapipe with a tiny recipe (tests/records_gpu.rs):
#   OUT=/tmp/rg bash scripts/records-gpu.sh --dry-run
#
# Declare the recipe and seeds before the run (BENCHMARKS); nothing here chooses
# on t10k. RECIPE and SEEDS override the defaults below.
#
# What it leaves in $OUT (at most 8 files at its top): log.txt, seeds.csv (every
# epoch of every seed: seed,epoch,seconds,loss,...), eval.txt (each member's and
# the ensemble's t10k loss and accuracy, without and with --tta 5), summary.json,
# and the models m<seed>.safetensors of up to four finished seeds.
set -uo pipefail
cd "$(dirname "$0")/.."
BUDGET=${BUDGET:-540}
OUT=${OUT:-records-out}
. scripts/oneshot.sh
if [ $DRY = 1 ]; then
  RECIPE=${RECIPE:---arch conv8k3,bn,pool2,fc32,out10 --epochs 1 --limit 600 --batch-size 64 --augment rotate=10,elastic=2 --ema 0.99 --label-smoothing 0.1}
  SEEDS=${SEEDS:-1 2}
else
  RECIPE=${RECIPE:---arch deotte --augment rotate=10,zoom=0.1,shift=0.1,elastic=2 --ema 0.999 --label-smoothing 0.1}
  SEEDS=${SEEDS:-1 2 3}
fi
RUNS=$(mktemp -d)
rm -f "$OUT"/m*.safetensors
oneshot_log seeds.csv eval.txt summary.json

date -u
echo "records-gpu: $([ $DRY = 1 ] && echo dry run || echo real run), budget ${BUDGET}s, seeds $SEEDS, recipe: $RECIPE"
oneshot_vulkan
export NODEVICE_SELECT=1 GPUNET_DEVICE=gpu GPUNET_ADAPTER=$REQUIRE_ADAPTER

# the t10k set as an IDX pair for eval (the embedded copy, unpacked; its first
# 500 images in a dry run)
python3 - "$RUNS" "$DRY" <<'PY'
import gzip, sys
d, dry = sys.argv[1], sys.argv[2] == "1"
for kind, head, size in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
    b = gzip.open(f"data/mnist/t10k-{kind}-ubyte.gz").read()
    if dry:
        hdr = bytearray(b[:head]); hdr[4:8] = (500).to_bytes(4, "big")
        b = bytes(hdr) + b[head:head + 500 * size]
    open(f"{d}/t10k-{kind}-ubyte", "wb").write(b)
PY

done_seeds=()
echo "seed,epoch,seconds,loss,accuracy,val_loss,val_accuracy,lr" >"$OUT/seeds.csv"
for s in $SEEDS; do
  left=$((START + BUDGET - $(date +%s) - 30))
  if [ $left -le 10 ]; then
    echo "== seed $s: skipped, the budget is spent"
    continue
  fi
  echo "== seed $s (limit ${left}s) $(date -u +%T)"
  # shellcheck disable=SC2086
  timeout -k 5 -s INT "$left" "$G" train $RECIPE --seed "$s" --out "$RUNS/s$s" | grep -v '^\s*$' | tail -n 4
  rc=${PIPESTATUS[0]}
  echo "== seed $s: exit $rc"
  tail -n +2 "$RUNS/s$s/metrics.csv" 2>/dev/null | sed "s/^/$s,/" >>"$OUT/seeds.csv"
  if [ "$rc" = 0 ]; then
    done_seeds+=("$s")
    [ ${#done_seeds[@]} -le 4 ] && cp "$RUNS/s$s/model.safetensors" "$OUT/m$s.safetensors"
  fi
done

models=()
for s in "${done_seeds[@]}"; do models+=(--model "$RUNS/s$s/model.safetensors"); done
if [ ${#models[@]} -gt 0 ]; then
  for tta in 1 5; do
    echo "== eval --tta $tta"
    "$G" eval "${models[@]}" --input "$RUNS/t10k-images-idx3-ubyte" --tta "$tta" |
      grep -E '^(member|ensemble|loss|test-time)' | sed "s/^/tta $tta: /" | tee -a "$OUT/eval.txt"
  done
fi

python3 - "$OUT" "$START" "$DRY" "${done_seeds[*]:-}" "$RECIPE" <<'PY'
import json, os, re, sys, time
out, start, dry, seeds, recipe = sys.argv[1:6]
lines = open(os.path.join(out, "eval.txt")).read().splitlines() if os.path.exists(os.path.join(out, "eval.txt")) else []
def accs(tta):
    rows = [l for l in lines if l.startswith(f"tta {tta}: ")]
    members = [float(m.group(1)) for l in rows if (m := re.search(r"member .*accuracy ([0-9.]+)", l))]
    plain = [float(m.group(1)) for l in rows if (m := re.match(r"tta \d: loss [0-9.]+ - accuracy ([0-9.]+)", l))]
    return {"members": members, "mean": sum(members) / len(members) if members else (plain[0] if plain else None),
            "ensemble": plain[-1] if plain else None}
s = {"dry_run": dry == "1", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "recipe": recipe,
     "finished_seeds": seeds.split(), "t10k": {"plain": accs(1), "tta5": accs(5)},
     "seconds": round(time.time() - int(start), 1)}
with open(os.path.join(out, "summary.json.tmp"), "w") as f:
    json.dump(s, f, indent=1)
os.replace(os.path.join(out, "summary.json.tmp"), os.path.join(out, "summary.json"))
print(json.dumps(s))
sys.exit(0 if s["finished_seeds"] else 1)
PY
rc=$?
rm -rf "$RUNS"
date -u
oneshot_end $rc
