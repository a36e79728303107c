#!/usr/bin/env bash
# Installs node-llama-cpp 3.21.1 (llama.cpp v0.4.0, prebuilt for linux-x64)
# into a cache directory and prints that directory. Tests use it as an
# independent llama.cpp: to load GGUF files this project writes and to
# compare what llama.cpp computes with what the engine computes. They
# skip, saying why, when it is absent.
#
#   scripts/fetch-llamacpp.sh            the CPU build (29 MB)
#   scripts/fetch-llamacpp.sh --vulkan   also ggml's Vulkan backend (81 MB)
#                                        for `backend: vulkan` llama.cpp
#                                        subjects; it needs libvulkan.so.1
#                                        and a Vulkan driver (no GPU:
#                                        apt-get install mesa-vulkan-drivers
#                                        libvulkan1 gives lavapipe)
#
#   FALSIFY_NODE_LLAMA_CPP   install directory (default ~/.cache/falsify/node-llama-cpp)
set -euo pipefail
vulkan=0
for a in "$@"; do
  case "$a" in
    --vulkan) vulkan=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "fetch-llamacpp: unknown argument $a (only --vulkan)" >&2; exit 2 ;;
  esac
done
dir="${FALSIFY_NODE_LLAMA_CPP:-$HOME/.cache/falsify/node-llama-cpp}"
version=3.21.1
have() { # package dir (under @node-llama-cpp), bins dir
  [ -f "$dir/node_modules/@node-llama-cpp/$1/package.json" ] &&
    grep -q "\"version\": \"$version\"" "$dir/node_modules/@node-llama-cpp/$1/package.json" &&
    [ -d "$dir/node_modules/@node-llama-cpp/$1/bins/$1" ]
}
want=()
if ! { [ -f "$dir/node_modules/node-llama-cpp/package.json" ] &&
       grep -q "\"version\": \"$version\"" "$dir/node_modules/node-llama-cpp/package.json" &&
       have linux-x64; }; then
  want+=("node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version")
fi
if [ "$vulkan" = 1 ] && ! have linux-x64-vulkan; then
  want+=("@node-llama-cpp/linux-x64-vulkan@$version")
fi
if [ ${#want[@]} = 0 ]; then
  echo "$dir"; exit 0
fi
command -v npm >/dev/null || { echo "fetch-llamacpp: npm not found (install Node.js 20+)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"falsify-llamacpp-oracle","private":true}' > package.json
# --omit=optional skips the CUDA/other-platform binaries (700 MB); the
# linux-x64 binaries wanted are named explicitly instead.
npm install --no-audit --no-fund --ignore-scripts --omit=optional "${want[@]}" >&2
echo "$dir"
