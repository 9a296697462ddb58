#!/usr/bin/env bash
# One-shot benchmark for a lent GPU machine (no build there). Prepare here:
#   cargo build --release && mkdir -p .bin && cp target/release/gpunet .bin/
#   echo /.bin/ >> .git/info/exclude     # and fetch the Vulkan loader into .gl (see BENCHMARKS.md)
# Run there, carrying .gl and .bin:  OUT=$OUT bash scripts/gpu-bench.sh
# Every step has its own time limit so the whole fits one 10-minute command, and
# the most important figures come first. At most 8 files land in $OUT (what a lent
# machine sends back): the log, selftest, bench JSON and three metrics files.
set -uo pipefail
OUT=${OUT:-gpu-out}
RUNS=$(mktemp -d)
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
if [ -d .gl ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export NODEVICE_SELECT=1
export GPUNET_DEVICE=gpu   # the WGSL kernels, never the native fallback; bench still adds the native column
G=${GPUNET:-.bin/gpunet}
step() { local limit=$1; shift; echo "== $* (limit ${limit}s) $(date -u +%T)"; timeout "$limit" "$@"; echo "== exit $?"; }
date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
step 20 $G info
step 60 sh -c "'$G' selftest --full > '$OUT/selftest.txt'"; tail -1 "$OUT/selftest.txt"
step 120 $G bench --json "$OUT/bench.json"
# the peer's workload: three epochs of 33,600 images, batch 500
step 120 $G train --arch cnn6 --limit 42000 --epochs 3 --out "$RUNS/cnn6-peer"
cp "$RUNS/cnn6-peer/metrics.csv" "$OUT/cnn6-peer-metrics.csv" 2>/dev/null
step 150 python3 scripts/torch_peer.py 3
# the blog's runs: cnn6 10 epochs, cnn8-dropout 30 epochs (the latter as far as time allows)
step 150 $G train --arch cnn6 --epochs 10 --out "$RUNS/cnn6-full"
cp "$RUNS/cnn6-full/metrics.csv" "$OUT/cnn6-full-metrics.csv" 2>/dev/null
step 120 $G train --arch cnn8-dropout --epochs 30 --out "$RUNS/cnn8-dropout"
cp "$RUNS/cnn8-dropout/metrics.csv" "$OUT/cnn8-dropout-metrics.csv" 2>/dev/null
date -u
