#!/usr/bin/env bash
# Builds gpu-kit/ (git-ignored): what bench/gpu-run.sh needs on a GPU machine that has no Node and
# no network. Run on a Debian bookworm x86-64 machine with Node 20 and apt (root not needed for
# `apt-get download`, but its package lists must be current: `apt-get update` first if not).
#
#   bash bench/make-gpu-kit.sh     # → gpu-kit/node.xz, gpu-kit/debs/*.deb, gpu-kit/app.tar.xz, MANIFEST
#
# app.tar.xz is this checkout's built dist/ with a pruned copy of node_modules/ (production
# packages only, only the Node bundles of tfjs, only linux-x64's dawn.node): ≈ 45 MB for the
# whole kit instead of 600 MB of node_modules. Run `npm ci` here first. On the GPU machine,
# copy the checkout (dist/ and node_modules/ not needed) with gpu-kit/ and run
# `bash bench/gpu-run.sh`: it unpacks app.tar.xz where the checkout has no node_modules.
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

# The app: dist/ + production node_modules, pruned to what Node loads.
[ -f "$ROOT/dist/bench/bench.js" ] && [ -d "$ROOT/node_modules/webgpu" ] || { echo "make-gpu-kit: run npm ci first" >&2; exit 1; }
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -a "$ROOT/package.json" "$ROOT/package-lock.json" "$ROOT/dist" "$ROOT/bin" "$ROOT/src" "$ROOT/configs" "$stage/"
cp -a "$ROOT/node_modules" "$stage/node_modules"
(cd "$stage" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
find "$stage/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.md' -o -name '*.tsbuildinfo' \) -type f -delete
for d in "$stage"/node_modules/@tensorflow/*; do
  # Node loads each tfjs package through its "main", a CommonJS bundle dist/*.node.js; the wasm
  # backend also loads its .wasm files. The per-file ES modules, browser bundles and sources go.
  main="$(node -p "require('$d/package.json').main")"
  find "$d/dist" -mindepth 1 -maxdepth 1 ! -path "$d/$main" ! -name '*.wasm' ! -name '*worker*.js' -exec rm -rf {} +
  find "$d" -mindepth 1 -maxdepth 1 ! -name dist ! -name package.json -exec rm -rf {} +
  [ -f "$d/$main" ] || { echo "make-gpu-kit: pruning lost $d/$main" >&2; exit 1; }
done
find "$stage/node_modules/webgpu/dist" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
rm -rf "$stage/node_modules/.bin"
tar -C "$stage" -cf - package.json dist bin src configs node_modules | xz -T0 -9 > "$KIT/app.tar.xz"

{
  echo "made $(date -u +%FT%TZ) on $(uname -srm)"
  echo "app: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null)$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo +dirty)"
  echo "node $ver"
  for f in "$KIT"/debs/*.deb; do echo "$(basename "$f") $(dpkg-deb -f "$f" Version 2>/dev/null || echo '?')"; done
} > "$KIT/MANIFEST"
cat "$KIT/MANIFEST"
du -sh "$KIT"
