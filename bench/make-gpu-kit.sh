#!/usr/bin/env bash
# Builds gpu-kit/ (git-ignored): what bench/gpu-run.sh needs on a GPU machine that has no Node and
# no network. Run on a Debian bookworm x86-64 machine with Node 20 and apt (root not needed for
# `apt-get download`, but its package lists must be current: `apt-get update` first if not).
#
#   bash bench/make-gpu-kit.sh            # → gpu-kit/node.xz, gpu-kit/debs/*.deb, gpu-kit/MANIFEST
#
# Then copy the checkout WITH its built dist/ and node_modules/ (npm ci here: dawn.node ships in
# the npm package `webgpu`) plus gpu-kit/ to the GPU machine and run `bash bench/gpu-run.sh`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIT="${1:-$ROOT/gpu-kit}"
mkdir -p "$KIT/debs"

node_bin="$(command -v node)"
ver="$("$node_bin" --version)"
case "$ver" in v20.*) ;; *) echo "make-gpu-kit: need Node 20 (found $ver at $node_bin)" >&2; exit 1 ;; esac
[ "$(uname -m)" = x86_64 ] || { echo "make-gpu-kit: need linux-x64 (this is $(uname -m))" >&2; exit 1; }
echo "node $ver from $node_bin → $KIT/node.xz"
xz -T0 -9 -c "$node_bin" > "$KIT/node.xz"

# The Vulkan loader and the glvnd libraries the NVIDIA Vulkan driver needs (../shared/gpu/README.md),
# plus the X11 client libraries libGLX_nvidia links against, absent from most CUDA images.
pkgs=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2
      libx11-6 libx11-data libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0)
(cd "$KIT/debs" && rm -f ./*.deb && apt-get download "${pkgs[@]}")
# Stable names: gpu-run.sh looks packages up by name.
for f in "$KIT"/debs/*_*.deb; do mv "$f" "$KIT/debs/$(basename "$f" | cut -d_ -f1).deb"; done

{
  echo "made $(date -u +%FT%TZ) on $(uname -srm)"
  echo "node $ver"
  for f in "$KIT"/debs/*.deb; do echo "$(basename "$f") $(dpkg-deb -f "$f" Version 2>/dev/null || echo '?')"; done
} > "$KIT/MANIFEST"
cat "$KIT/MANIFEST"
du -sh "$KIT"
