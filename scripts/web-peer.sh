#!/usr/bin/env bash
# gpunet's training page beside TensorFlow.js in the same headless Chromium run
# (WebGPU on SwiftShader, TF.js's webgpu and webgl backends): the blog's mlp at
# batch 500 and cnn6 at batch 100, Adam, images/s side by side (BENCHMARKS.md);
# then, in the same browser, the adapter's compute ceiling (web-ceiling.html).
# TF.js (4.22.0) and playwright-core (1.49.1, driving Debian's chromium) come
# pinned from npm into WORK (default /tmp/gpunet-web-peer) the first time.
# usage: scripts/web-peer.sh        GPUNET=path (default target/release/gpunet)
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GPUNET:-target/release/gpunet}
WORK=${WORK:-${TMPDIR:-/tmp}/gpunet-web-peer}
mkdir -p "$WORK"
if [ ! -d "$WORK/node_modules/@tensorflow/tfjs-backend-webgpu" ]; then
  (cd "$WORK" && npm init -y >/dev/null &&
    npm install --silent playwright-core@1.49.1 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-webgpu@4.22.0)
fi
# gpunet's pages: a few thousand rows are plenty for timing steps
"$G" export-web --train --arch mlp --batch-size 500 --limit 6000 --test-limit 100 --out "$WORK/gpunet-mlp.html"
"$G" export-web --train --arch cnn6 --batch-size 100 --limit 2000 --test-limit 100 --out "$WORK/gpunet-cnn6.html"
cp scripts/web-peer.html scripts/web-ceiling.html "$WORK/"
node scripts/web_peer.mjs "$WORK"
