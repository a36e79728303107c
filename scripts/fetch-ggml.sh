#!/usr/bin/env bash
# Downloads ggml's prebuilt CPU libraries (libggml-base.so and the
# libggml-cpu-<variant>.so family) from the npm package
# @node-llama-cpp/linux-x64@3.21.1 (llama.cpp release "v0.4.0", ggml 0.23.0,
# the build the goldens in testdata/golden came from), unpacks them into a
# cache directory and prints that directory. internal/ggmlref loads them so
# the engine/quant tests can compare against ggml itself; those tests skip,
# saying why, when the libraries are absent.
#
# Idempotent: a complete directory is reused without touching the network.
#
#   FALSIFY_GGML_DIR   target directory (default ~/.cache/falsify/ggml/v0.4.0)
set -euo pipefail

pkg="@node-llama-cpp/linux-x64"
version=3.21.1
# dist.integrity of that tarball on the npm registry.
integrity="sha512-Totj6RTDMGo3FoK2yNUaz/oGmZD0olAqTrRluFUWmu0kW2i9TOzHSW0OWCAiGkzRCVX0WsU2CyUQo/W2NYtdPA=="
dir="${FALSIFY_GGML_DIR:-$HOME/.cache/falsify/ggml/v0.4.0}"
stamp="$dir/.complete-$version"

if [ -f "$stamp" ] && [ -f "$dir/libggml-base.so" ]; then
  echo "$dir"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-ggml: npm not found: install Node.js 20+ (npm) to fetch $pkg@$version" >&2; exit 1; }
for tool in tar openssl base64; do
  command -v "$tool" >/dev/null || { echo "fetch-ggml: $tool not found" >&2; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null) || { echo "fetch-ggml: npm pack $pkg@$version failed" >&2; exit 1; }
tgz="$(ls "$tmp"/*.tgz)"

got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "fetch-ggml: $tgz: integrity $got, want $integrity" >&2
  exit 1
fi

tar -xzf "$tgz" -C "$tmp"
src="$tmp/package/bins/linux-x64"
[ -f "$src/libggml-base.so" ] || { echo "fetch-ggml: $pkg@$version has no bins/linux-x64/libggml-base.so" >&2; exit 1; }

mkdir -p "$dir"
cp "$src"/libggml-base.so "$src"/libggml-cpu-*.so "$dir"/
touch "$stamp"
echo "$dir"
