#!/usr/bin/env bash
# Every shader variant gpunet builds (file x GEMM core x kind of sums, each entry
# point), compiled by AMD's production shader compiler (ACO, in Mesa's RADV) for
# real chips, with no GPU: RADV_FORCE_FAMILY makes a null device whose pipelines
# compile and never run. Prints one JSON object a line per variant, entry point
# and chip: shader, entry, core, sums, target, vgprs, sgprs, spilled_vgprs,
# spilled_sgprs, scratch_bytes, lds_bytes, waves_per_simd, instructions, and the
# driver's own statistics under "driver".
#
# usage: scripts/shader-stats.sh [FAMILY ...]   (default: navi21 gfx1100 vega10,
#        that is RDNA2, RDNA3 and GCN5 (wave64); Debian 12's Mesa 22.3 knows these)
#   GPUNET=path        the binary (default target/release/gpunet)
#   IR=DIR             also keep each variant's NIR and ACO disassembly in DIR/FAMILY/
set -euo pipefail
cd "$(dirname "$0")/.."
G=${GPUNET:-target/release/gpunet}
ICD=${RADV_ICD:-$(ls /usr/share/vulkan/icd.d/radeon_icd.*.json 2>/dev/null | head -n 1)}
if [ -z "$ICD" ] || [ ! -f "$ICD" ]; then
  echo "shader-stats: no RADV manifest (Debian: apt-get install mesa-vulkan-drivers)" >&2
  exit 2
fi
[ -x "$G" ] || { echo "shader-stats: no binary at $G (cargo build --release)" >&2; exit 2; }
families=("$@")
[ ${#families[@]} -gt 0 ] || families=(navi21 gfx1100 vega10)
for f in "${families[@]}"; do
  ir=()
  [ -n "${IR:-}" ] && ir=(--ir "$IR/$f")
  # a fresh compile every time: no statistics from an earlier build's cache
  MESA_SHADER_CACHE_DISABLE=true RADV_FORCE_FAMILY=$f VK_DRIVER_FILES=$ICD NODEVICE_SELECT=1 \
    "$G" shader-stats "${ir[@]}"
done
