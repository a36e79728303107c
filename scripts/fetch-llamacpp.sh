#!/usr/bin/env bash
# Installs node-llama-cpp 3.21.1 (llama.cpp v0.4.0, prebuilt for linux-x64,
# CPU only) into a cache directory and prints that directory. Tests use it
# as an independent llama.cpp: to load GGUF files this project writes and
# to compare what llama.cpp computes with what the engine computes. They
# skip, saying why, when it is absent.
#
#   FALSIFY_NODE_LLAMA_CPP   install directory (default ~/.cache/falsify/node-llama-cpp)
set -euo pipefail
dir="${FALSIFY_NODE_LLAMA_CPP:-$HOME/.cache/falsify/node-llama-cpp}"
version=3.21.1
if [ -f "$dir/node_modules/node-llama-cpp/package.json" ] &&
   grep -q "\"version\": \"$version\"" "$dir/node_modules/node-llama-cpp/package.json" &&
   [ -d "$dir/node_modules/@node-llama-cpp/linux-x64/bins" ]; then
  echo "$dir"; exit 0
fi
command -v npm >/dev/null || { echo "fetch-llamacpp: npm not found (install Node.js 20+)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || echo '{"name":"falsify-llamacpp-oracle","private":true}' > package.json
# --omit=optional skips the CUDA/Vulkan/other-platform binaries (700 MB);
# the CPU linux-x64 binaries are named explicitly instead.
npm install --no-audit --no-fund --ignore-scripts --omit=optional \
  "node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version" >&2
echo "$dir"
