#!/usr/bin/env bash
# gpunet's native CPU engine beside Keras/TensorFlow-CPU training the same colour-photo
# net on the same 32x32x3 pictures, one after the other in one run on this machine,
# so the ratio is measured under the same load. Nothing here is a test: it prints
# figures and their ratio.
#   VENV=/path/to/venv scripts/peer-cifar.sh [rows] [epochs] [batch]
# VENV holds tensorflow-cpu and numpy. The pictures are the colour digits as CIFAR-10
# batches (scripts/colour-digits.py --cifar10, written once into $DATA, by default
# /tmp/colour-cifar); rows (default 12,000: 9,600 train, 2,400 validate), epochs
# (default 5; the first is warm-up on both sides) and batch (default 256) are shared.
set -euo pipefail
ROWS=${1:-12000}
EPOCHS=${2:-5}
BATCH=${3:-256}
HERE=$(cd "$(dirname "$0")" && pwd)
G=$(realpath "${GPUNET:-target/release/gpunet}")
PY="$VENV/bin/python"
DATA=${DATA:-/tmp/colour-cifar}
NET=conv32k3lin,bn,relu,conv64k3lin,bn,relu,pool2,conv128k3lin,bn,relu,pool2,conv256k3lin,bn,relu,pool2,gap,out10
export NODEVICE_SELECT=1
[ -e "$DATA/test_batch.bin" ] || python3 "$HERE/colour-digits.py" "$DATA" --cifar10
W=$(mktemp -d)
date -u; nproc; lscpu | grep -m1 "Model name" || true

echo "== $NET: $EPOCHS epochs of $((ROWS * 4 / 5)) pictures 3x32x32, batch $BATCH, Adam 1e-3, pixels / 255"
"$G" train --device cpu --arch "$NET" --train "$DATA" --limit "$ROWS" --epochs "$EPOCHS" \
  --batch-size "$BATCH" --out "$W/gpunet" | grep -E "^engine|Epoch"
"$PY" "$HERE/peer_cifar.py" "$DATA" "$ROWS" "$EPOCHS" "$BATCH" 2>&1 | grep -E "RESULT|epoch" | tee "$W/keras.txt"

echo "== same-run ratio (gpunet native / Keras; above 1 means gpunet is faster)"
"$PY" - "$W" <<'PYEOF'
import csv, json, statistics, sys
w = sys.argv[1]
r = [json.loads(l.split("RESULT ", 1)[1]) for l in open(f"{w}/keras.txt") if "RESULT" in l][0]
mine = [float(row["seconds"]) for row in csv.DictReader(open(f"{w}/gpunet/metrics.csv"))][1:]
theirs = r["epoch_times_s"][1:]
g = r["n_train"] / statistics.median(mine)
print(f"pinned net      gpunet {g:7.1f} images/s  Keras {r['img_per_s']:7.1f}  ratio {g / r['img_per_s']:.2f}  (median train-only epoch after the first)")
print(f"{'':<15} gpunet {r['n_train'] / min(mine):7.1f} images/s  Keras {r['n_train'] / min(theirs):7.1f}  ratio {min(theirs) / min(mine):.2f}  (best epoch after the first: TensorFlow's are sometimes 2x apart on two cores)")
print(f"{'':<15} gpunet epochs {mine} s, Keras epochs {theirs} s; Keras {r['tf']}/{r['keras']}, {r['intra']} intra-op threads")
PYEOF
