#!/usr/bin/env bash
# One-shot benchmark for a lent GPU machine (nothing is built there). Prepare here:
#   cargo build --release && mkdir -p .bin && strip -o .bin/gpunet target/release/gpunet
#   echo /.bin/ >> .git/info/exclude     # and fetch the Vulkan loader into .gl (BENCHMARKS.md)
# Run there, carrying .gl and .bin, with a command limit that leaves room for a rerun:
#   OUT=$OUT bash scripts/gpu-bench.sh
# Every step runs under `timeout -k` (train traps SIGTERM and saves; -k makes sure it
# ends), the limits add up to under 500 s, and the most important figures come
# first. Files land in $OUT as they are made: log, selftest, bench JSON (rewritten
# as each record arrives), metrics of each training run.
# REQUIRE_ADAPTER (default nvidia) is the adapter name the script insists on;
# a dry run on a CPU adapter sets it to llvmpipe.
set -uo pipefail
OUT=${OUT:-gpu-out}
REQUIRE_ADAPTER=${REQUIRE_ADAPTER:-nvidia}
RUNS=$(mktemp -d)
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
if [ -d .gl ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$ICD" ]; then export VK_DRIVER_FILES=$ICD; fi
export NODEVICE_SELECT=1
export GPUNET_DEVICE=gpu   # the WGSL kernels, never the native fallback; bench still adds the native column
G=${GPUNET:-.bin/gpunet}
step() { local limit=$1; shift; echo "== $* (limit ${limit}s) $(date -u +%T)"; timeout -k 5 "$limit" "$@"; echo "== exit $? $(date -u +%T)"; }
date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
[ -x "$G" ] || { echo "no binary at $G (strip -o .bin/gpunet target/release/gpunet)"; exit 2; }
timeout -k 5 30 "$G" info > "$OUT/info.txt" 2>&1; cat "$OUT/info.txt"
if ! grep -iq "$REQUIRE_ADAPTER" "$OUT/info.txt"; then
  echo "no adapter named like '$REQUIRE_ADAPTER' is listed: stopping before any figure is taken"
  exit 3
fi
export GPUNET_ADAPTER=$REQUIRE_ADAPTER
# 1. correctness on this adapter: every kernel under every GEMM core
step 60 sh -c "'$G' selftest --full > '$OUT/selftest.txt' 2>&1"; tail -1 "$OUT/selftest.txt"
# 2. the kernel and training table (GPU column, native CPU column), 4096^3 matmul included
step 90 "$G" bench --json "$OUT/bench.json"
# 3. A/B of this session's GPU changes, one cnn6 step record each
for ab in "GPUNET_GEMM=tiled" "GPUNET_SHADER_CHECKS=on" "GPUNET_SPLIT_K=off" "GPUNET_SUBGROUPS=off"; do
  step 20 env "$ab" "$G" bench --device gpu --only train:cnn6 --json "$OUT/ab-${ab%%=*}.json"
done
# 4. the cnn6 epoch against PyTorch eager: 48,000 training images, batch 500, 3 epochs
step 60 "$G" train --arch cnn6 --epochs 3 --out "$RUNS/cnn6"
cp "$RUNS/cnn6/metrics.csv" "$OUT/cnn6-metrics.csv" 2>/dev/null
step 90 python3 scripts/torch_peer.py 3
# 5. the blog's best: cnn8-dropout, 30 epochs, t10k accuracy and wall time
step 95 "$G" train --arch cnn8-dropout --epochs 30 --out "$RUNS/cnn8-dropout"
cp "$RUNS/cnn8-dropout/metrics.csv" "$OUT/cnn8-dropout-metrics.csv" 2>/dev/null
date -u
