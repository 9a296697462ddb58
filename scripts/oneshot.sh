# What the one-call scripts for a lent GPU share (gpu-bench.sh, records-gpu.sh),
# sourced from the repository's root after each sets BUDGET and OUT's default:
# the --dry-run flag, the clock, the binary, the adapter to insist on, the log
# (everything also into $OUT/log.txt), the Vulkan loader and NVIDIA's driver
# file, and an ending that lets the log's last lines reach the file.
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
START=$(date +%s)
G=${GPUNET:-.bin/gpunet}
if [ $DRY = 1 ]; then REQUIRE_ADAPTER=${REQUIRE_ADAPTER:-llvmpipe}; else REQUIRE_ADAPTER=${REQUIRE_ADAPTER:-nvidia}; fi

# oneshot_log FILE...: empties $OUT of the script's FILEs, then logs into $OUT/log.txt too
oneshot_log() {
  mkdir -p "$OUT"
  for f in "$@" log.txt; do rm -f "${OUT:?}/$f"; done
  exec > >(tee "$OUT/log.txt") 2>&1
  TEE=$!
}

# oneshot_vulkan: on a real run the carried loader (.gl), and NVIDIA's ICD where it is
oneshot_vulkan() {
  if [ $DRY = 0 ] && [ -d .gl ]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
}

# oneshot_end RC: closes the log, waits for tee to write it, exits RC
oneshot_end() {
  exec >&- 2>&-
  wait "$TEE"
  exit "$1"
}
