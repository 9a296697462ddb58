#!/usr/bin/env bash
# One-shot benchmark for a lent GPU machine (no build there). Prepare here:
#   cargo build --release && mkdir -p .bin && cp target/release/gpunet .bin/
#   echo /.bin/ >> .git/info/exclude     # and fetch the Vulkan loader into .gl (see BENCHMARKS.md)
# Run there (carry .gl and .bin):  bash scripts/gpu-bench.sh
# Writes under $OUT (default ./gpu-out): info, selftest, bench JSON, the cnn6 run,
# PyTorch's figures, and a log of everything.
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
if [ -d .gl ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
G=${GPUNET:-.bin/gpunet}
date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
$G info
$G selftest --full > "$OUT/selftest.txt"; echo "selftest exit $? ($(tail -1 "$OUT/selftest.txt"))"
$G bench --json "$OUT/bench.json"
# cnn6: the peer's 33,600-image epochs (3), then the blog's 10 epochs on the full set
$G train --arch cnn6 --limit 42000 --epochs 3 --out "$OUT/cnn6-peer"
$G train --arch cnn6 --epochs 10 --out "$OUT/cnn6-full"
$G train --arch cnn8-dropout --epochs 30 --out "$OUT/cnn8-dropout" || true
python3 scripts/torch_peer.py 3
date -u
