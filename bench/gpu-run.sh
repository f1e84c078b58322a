#!/usr/bin/env bash
# The GPU benchmark, unattended, on a Linux x86-64 machine with an NVIDIA GPU but no Node and no
# network. Needs gpu-kit/ made by bench/make-gpu-kit.sh (node.xz, the Vulkan/glvnd .debs and
# app.tar.xz: dist/ with pruned node_modules), or, instead of app.tar.xz, this checkout's own
# dist/ and node_modules/ built elsewhere (`npm ci`).
#
#   bash bench/gpu-run.sh        # → $OUT/gpu-run.log (everything); OUT defaults to /tmp/gpu-out
#
# What it does: unpacks Node; installs the Vulkan loader and glvnd libraries where missing (into /
# as root, else into a private folder on LD_LIBRARY_PATH); points the Vulkan loader at the NVIDIA
# driver; then runs the webgpu tests (correctness against wasm/cpu, dispatch budget), `npm run
# bench -- gpu` and `npm run bench -- gpu-host` (on the GPU, then on Dawn's null adapter).
# Knobs: GPU_KIT, OUT, GPU_WORK (scratch, /tmp/poison-gpu), TEST_TIMEOUT (600), BENCH_TIMEOUT
# (1800), GPU_HOST_FLAGS (POISON_DAWN_FLAGS of the on-GPU gpu-host run, backend=vulkan), SKIP_TESTS=1, USE_KIT_APP=1 (the kit's app even where node_modules exists), PRIVATE_LIBS=1 (never install into /, even as root), and
# bench/bench.ts's BENCH_* variables.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIT="${GPU_KIT:-$ROOT/gpu-kit}"
OUT="${OUT:-/tmp/gpu-out}"
W="${GPU_WORK:-/tmp/poison-gpu}"
ARCHDIR=/usr/lib/x86_64-linux-gnu
mkdir -p "$OUT" "$W"

unxz_to() {  # SRC DST, with python's lzma where xz is missing
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

deb_x() {  # DEB DIR: dpkg-deb, else an ar + tar reader in python (bookworm debs: data.tar.xz)
  if command -v dpkg-deb >/dev/null 2>&1; then dpkg-deb -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
blob = open(sys.argv[1], 'rb').read()
at = 8  # after "!<arch>\n"
while at < len(blob):
    name = blob[at:at + 16].decode().strip().rstrip('/')
    size = int(blob[at + 48:at + 58].decode().strip())
    at += 60
    if name.startswith('data.tar'):
        tarfile.open(fileobj=io.BytesIO(blob[at:at + size])).extractall(sys.argv[2])
        break
    at += size + (size % 2)
PY
}

has_lib() {  # SONAME found by the dynamic linker (cache or LD_LIBRARY_PATH)?
  ldconfig -p 2>/dev/null | grep -q "[[:space:]]$1 " && return 0
  local d; IFS=: read -ra ds <<< "${LD_LIBRARY_PATH:-}"
  for d in "${ds[@]}"; do [ -n "$d" ] && [ -e "$d/$1" ] && return 0; done
  return 1
}

lib_path() {  # first file matching NAME in the linker cache or the usual driver folders
  local p; p="$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n {print $NF; exit}')"
  [ -n "$p" ] && { echo "$p"; return; }
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib "$ARCHDIR" /usr/lib64 /usr/lib; do
    [ -e "$d/$1" ] && { echo "$d/$1"; return; }
  done
}

main() {
  echo "=== poison gpu-run $(date -u +%FT%TZ) $(uname -srm) uid=$(id -u)"
  git -C "$ROOT" rev-parse HEAD 2>/dev/null | sed 's/^/commit /'
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  [ -f "$KIT/node.xz" ] || { echo "!! $KIT/node.xz missing: make the kit with bench/make-gpu-kit.sh"; return 1; }
  local app="$ROOT"
  if [ -f "$KIT/app.tar.xz" ] && { [ ! -d "$ROOT/node_modules/webgpu" ] || [ "${USE_KIT_APP:-0}" = 1 ]; }; then
    app="$W/app"; rm -rf "$app"; mkdir -p "$app"
    if command -v xz >/dev/null 2>&1; then xz -dc "$KIT/app.tar.xz" | tar -C "$app" -xf -
    else python3 -c 'import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(sys.argv[2])' "$KIT/app.tar.xz" "$app"; fi
    echo "app: unpacked $KIT/app.tar.xz into $app"
  fi
  [ -f "$app/dist/bench/bench.js" ] || { echo "!! $app/dist/ is not built: run npm ci elsewhere (or make the kit's app.tar.xz)"; return 1; }
  [ -d "$app/node_modules/webgpu" ] || { echo "!! $app/node_modules/webgpu missing: make the kit's app.tar.xz, or copy a node_modules made by npm ci"; return 1; }

  local node="$W/node"
  unxz_to "$KIT/node.xz" "$node" && chmod +x "$node"
  echo "node $("$node" --version)"

  # NVIDIA driver folders of GPU containers are not always in the linker cache.
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  done
  local pair pkg so relink=0
  for pair in libvulkan1:libvulkan.so.1 libglvnd0:libGLdispatch.so.0 libopengl0:libOpenGL.so.0 libglx0:libGLX.so.0 \
              libgl1:libGL.so.1 libegl1:libEGL.so.1 libgles2:libGLESv2.so.2 libmd0:libmd.so.0 libbsd0:libbsd.so.0 \
              libxau6:libXau.so.6 libxdmcp6:libXdmcp.so.6 libxcb1:libxcb.so.1 libx11-6:libX11.so.6 libxext6:libXext.so.6; do
    pkg="${pair%%:*}"; so="${pair#*:}"
    if has_lib "$so"; then echo "  $so present"; continue; fi
    [ -f "$KIT/debs/$pkg.deb" ] || { echo "  $so missing and no $pkg.deb in the kit"; continue; }
    if [ "$(id -u)" = 0 ] && [ -w "$ARCHDIR" ] && [ "${PRIVATE_LIBS:-0}" != 1 ]; then
      echo "  $so missing: installing $pkg.deb into /"; deb_x "$KIT/debs/$pkg.deb" / && relink=1
    else
      echo "  $so missing: unpacking $pkg.deb into $W/root"; deb_x "$KIT/debs/$pkg.deb" "$W/root"
      case ":${LD_LIBRARY_PATH:-}:" in *":$W/root$ARCHDIR:"*) ;; *) export LD_LIBRARY_PATH="$W/root$ARCHDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;; esac
    fi
  done
  [ "$relink" = 1 ] && ldconfig

  # The NVIDIA Vulkan ICD: a standard one, else the container's, else one written for its library.
  local icd="" f lib
  for f in /etc/vulkan/icd.d/nvidia*.json /usr/share/vulkan/icd.d/nvidia*.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    [ -e "$f" ] && { icd="$f"; break; }
  done
  if [ -z "$icd" ]; then
    lib="$(lib_path libGLX_nvidia.so.0)"; [ -n "$lib" ] || lib="$(lib_path libEGL_nvidia.so.0)"
    if [ -n "$lib" ]; then
      icd="$W/nvidia_icd.json"
      printf '{ "file_format_version": "1.0.1", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$lib" > "$icd"
    fi
  fi
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    echo "Vulkan ICD: $icd"
  else
    echo "!! no NVIDIA Vulkan driver found (NVIDIA_DRIVER_CAPABILITIES must include graphics, or be all)"
  fi
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  mkdir -p "$W/xdg" && chmod 700 "$W/xdg" && export XDG_RUNTIME_DIR="$W/xdg"

  cd "$app" || return 1
  if [ "${SKIP_TESTS:-0}" != 1 ]; then
    echo "--- webgpu tests (against wasm and cpu)"
    VK_LOADER_DEBUG=error timeout "${TEST_TIMEOUT:-600}" "$node" --test --test-concurrency=1 \
      dist/test/webgpu.test.js dist/test/webgpu-host.test.js dist/test/webgpu-dispatch-budget.test.js 2>&1 | grep -v '^    at '
    echo "webgpu tests exit: ${PIPESTATUS[0]}"
  fi
  echo "--- npm run bench -- gpu"
  timeout "${BENCH_TIMEOUT:-1800}" "$node" dist/bench/bench.js gpu 2>&1
  local rc=$?
  echo "bench exit: $rc"
  # Host cost per step and per batch, stock vs the project's kernels and host path: on the GPU
  # (Vulkan: counts plus the GPU's own time) and on Dawn's null adapter (the host's share alone).
  local flags hrc
  for flags in "${GPU_HOST_FLAGS:-backend=vulkan}" backend=null; do
    echo "--- npm run bench -- gpu-host (POISON_DAWN_FLAGS=$flags)"
    POISON_DAWN_FLAGS="$flags" timeout "${BENCH_TIMEOUT:-1800}" "$node" dist/bench/bench.js gpu-host 2>&1 | grep -v '^ - While\|^    at '
    hrc=${PIPESTATUS[0]}
    echo "gpu-host bench exit: $hrc"
    [ "$hrc" = 0 ] || rc=1
  done
  echo "=== done $(date -u +%FT%TZ)"
  return "$rc"
}

main "$@" 2>&1 | tee "$OUT/gpu-run.log"
rc=${PIPESTATUS[0]}
echo "log: $OUT/gpu-run.log"
exit "$rc"
