#!/usr/bin/env bash
# Mesa 26's lavapipe, which has VK_KHR_cooperative_matrix (8x8x8 f16 x f16 -> f32
# on subgroups of 8), for a binary built on Debian 12: Debian trixie's libraries
# in a tree of their own, run through that tree's own dynamic loader (no chroot
# entered at run time, nothing of the host replaced).
#
#   scripts/mesa26.sh setup             builds the tree at $MESA26 (default
#                                       /opt/trixie) once: debootstrap, then
#                                       trixie-backports' mesa-vulkan-drivers and
#                                       the tree's own validation layer (Debian
#                                       12's is too old for cooperative matrices);
#                                       about a minute and 500 MB, needs root
#   scripts/mesa26.sh run CMD [ARGS]    runs CMD against the tree's lavapipe, with
#                                       its validation layer for GPUNET_VALIDATION=1
#   scripts/mesa26.sh stats [FAMILY..]  scripts/shader-stats.sh with the RADV of
#                                       Mesa 25.0.7 (bookworm-backports, which setup
#                                       unpacks into the tree's radv25/; Mesa 26
#                                       dropped RADV_FORCE_FAMILY): cooperative
#                                       matrices on a null RDNA3 (default navi31)
set -euo pipefail
DIR=${MESA26:-/opt/trixie}
LIBS=$DIR/usr/lib/x86_64-linux-gnu
ICD=$DIR/lvp_icd.absolute.json
RADV=$DIR/radv25
RADV_LIBS=$RADV/usr/lib/x86_64-linux-gnu

MOUNTED=()
unmount() {
  for m in "${MOUNTED[@]}"; do umount "$m" || true; done
  MOUNTED=()
}

# A driver manifest pointing at its library by absolute path (the host's
# loader reads it): absolute_icd MANIFEST LIBRARY OUT
absolute_icd() {
  sed "s#\"library_path\": \"[^\"]*\"#\"library_path\": \"$2\"#" "$1" >"$3"
}

# the mirror the host's apt already uses
mirror() {
  local m
  m=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
  m=${m:-$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -1)}
  echo "${m:-http://deb.debian.org/debian}"
}

# Debian trixie with trixie-backports' Mesa and validation layer, from MIRROR
tree() {
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
  echo "mesa26: debootstrap trixie into $DIR from $1"
  [ -x "$DIR/usr/bin/apt-get" ] || debootstrap --variant=minbase trixie "$DIR" "$1" >/dev/null
  echo "deb $1 trixie-backports main" >"$DIR/etc/apt/sources.list.d/backports.list"
  # package scripts may want proc, dev and sys; the binds go again whatever happens
  MOUNTED=()
  trap unmount EXIT
  for m in proc dev sys; do
    if mount --bind "/$m" "$DIR/$m" 2>/dev/null; then MOUNTED+=("$DIR/$m"); fi
  done
  chroot "$DIR" apt-get -o Acquire::Check-Valid-Until=false update -qq
  chroot "$DIR" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie-backports \
    mesa-vulkan-drivers libvulkan1 vulkan-validationlayers >/dev/null
  unmount
  absolute_icd "$DIR/usr/share/vulkan/icd.d/lvp_icd.json" "$LIBS/libvulkan_lvp.so" "$ICD"
  echo "mesa26: lavapipe $(grep -o 'api_version[^,]*' "$ICD")"
}

# RADV 25.0.7 and the libdrm it needs, unpacked from MIRROR's bookworm-backports
# (they run on the host's Debian 12 libraries with LD_LIBRARY_PATH)
radv25() {
  local lists=$RADV.apt
  mkdir -p "$lists/lists/partial" "$lists/debs" "$RADV"
  echo "deb $1 bookworm-backports main" >"$lists/sources.list"
  local apt=(-o "Dir::Etc::SourceList=$lists/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$lists/lists" -o Acquire::Check-Valid-Until=false)
  apt-get "${apt[@]}" update -qq
  (cd "$lists/debs" && apt-get "${apt[@]}" download -qq mesa-vulkan-drivers/bookworm-backports \
    libdrm-amdgpu1/bookworm-backports libdrm2/bookworm-backports 2>/dev/null)
  for d in "$lists"/debs/*.deb; do dpkg-deb -x "$d" "$RADV"; done
  absolute_icd "$RADV/usr/share/vulkan/icd.d/radeon_icd.json" "$RADV_LIBS/libvulkan_radeon.so" \
    "$RADV/radeon_icd.absolute.json"
  local version
  version=$(dpkg-deb -f "$lists"/debs/mesa-vulkan-drivers_*.deb Version)
  rm -rf "$lists"
  echo "mesa26: RADV $version in $RADV"
}

setup() {
  local mirror
  mirror=$(mirror)
  [ -f "$ICD" ] && [ -f "$LIBS/libvulkan_lvp.so" ] && [ -f "$LIBS/libVkLayer_khronos_validation.so" ] || tree "$mirror"
  [ -f "$RADV/radeon_icd.absolute.json" ] || radv25 "$mirror"
  echo "mesa26: the tree at $DIR is ready"
}

stats() {
  [ -f "$RADV/radeon_icd.absolute.json" ] || { echo "mesa26: no RADV 25 at $RADV; run scripts/mesa26.sh setup first" >&2; exit 2; }
  [ $# -gt 0 ] || set -- navi31
  RADV_ICD=$RADV/radeon_icd.absolute.json LD_LIBRARY_PATH=$RADV_LIBS exec "$(dirname "$0")/shader-stats.sh" "$@"
}

run() {
  [ -f "$ICD" ] || { echo "mesa26: no tree at $DIR; run scripts/mesa26.sh setup first" >&2; exit 2; }
  VK_DRIVER_FILES=$ICD VK_LAYER_PATH=$DIR/usr/share/vulkan/explicit_layer.d \
    exec "$DIR/lib64/ld-linux-x86-64.so.2" --library-path "$LIBS:$DIR/lib/x86_64-linux-gnu" "$@"
}

case "${1:-}" in
  setup) setup ;;
  run) shift; run "$@" ;;
  stats) shift; stats "$@" ;;
  *) echo "usage: scripts/mesa26.sh setup | run CMD [ARGS...] | stats [FAMILY...]" >&2; exit 2 ;;
esac
