#!/usr/bin/env bash
# gpunet beside the Keras/TensorFlow-CPU peer (../shared/peer) on this machine,
# one after the other in one run, so the ratio is measured under the same load.
#   PEER=../shared/peer MNIST_DIR=/path/to/mnist-idx VENV=/path/to/venv scripts/peer-bench.sh [fraction]
# fraction: the share of the peer's 33,600 training images per epoch (default 0.1).
set -euo pipefail
FRACTION=${1:-0.1}
PEER=${PEER:-../shared/peer}
G=${GPUNET:-target/release/gpunet}
ROWS=$(python3 -c "print(round(42000 * $FRACTION))")   # 80% of these train: 33,600 x fraction
date -u; nproc; lscpu | grep -m1 "Model name" || true
$G info 2>/dev/null | head -1
echo "== gpunet: cnn6 and mlp, batch 500, 2 epochs of $((ROWS * 4 / 5)) images"
$G train --arch cnn6 --limit "$ROWS" --epochs 2 --out "$(mktemp -d)/cnn6" 2>/dev/null
$G train --arch mlp --limit 42000 --epochs 2 --out "$(mktemp -d)/mlp" 2>/dev/null
echo "== Keras/TensorFlow-CPU peer"
"$VENV/bin/python" "$PEER/bench_keras.py" cnn6 2 "$FRACTION" 2>&1 | grep -E "RESULT|epoch"
"$VENV/bin/python" "$PEER/bench_keras.py" mlp 2 2>&1 | grep -E "RESULT|epoch"
