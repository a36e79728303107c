#!/usr/bin/env bash
# Device check of the engine's Vulkan backend on a machine with a real GPU
# (a lent NVIDIA H200: no Go toolchain, no network, 16 cores). Two halves:
#
#   scripts/device-check.sh build   HERE, with Go: builds (CGO_ENABLED=0) the
#       falsify binary and the test binaries (go test -c) of the Vulkan
#       packages (engine/vulkan holds the CPU-vs-GPU forward tests and the GPU
#       benchmarks) and of the engine (the CPU benchmarks),
#       copies the fixture models the tests look for (as many as fit the
#       carry budget), and downloads the libvulkan1 .deb in case the GPU
#       machine's image lacks the loader; everything goes into .device/
#       (git-ignored), one gzip'd tar plus the .deb, under DEVICE_BUDGET_MB
#       (default: what the working tree leaves of the 64 MiB the device
#       tool carries in all, less 2 MiB).
#
#   scripts/device-check.sh run     THERE, in the repository's working tree
#       with .device/ carried along: unpacks, finds or unpacks the Vulkan
#       loader, points the loader at NVIDIA's ICD when one is installed,
#       prints the device list, runs the Vulkan tests (-test.v), the
#       cpu-vs-gpu-forward-parity-v1 contract on the builtin and fixture
#       models (evidence JSON), and the benchmarks (prefill 7 traced and
#       untraced, decode tokens/s on a generated Qwen2-0.5B-shape model).
#       Every step has its own time limit and the whole stays under
#       DEVICE_TOTAL_S (default 450 s); a failing step never stops the
#       others. Each step's exit status and time go to $OUT/summary.txt, its
#       output to $OUT/<step>.log.
#
# With the device tool:
#   scripts/device-check.sh build
#   run(command="OUT=$OUT scripts/device-check.sh run", carry=[".device"], timeout_s=540)
# A dry run here (lavapipe): scripts/device-check.sh build && OUT=/tmp/out scripts/device-check.sh run
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEV="$ROOT/.device"

# The test binaries: name, package. A package that does not exist in this
# checkout is reported and left out.
TEST_PKGS=(
  "vk ./engine/vulkan/vk"
  "vulkan ./engine/vulkan"
  "backendtest ./engine/backend/backendtest"
  "engine ./engine"
)

# Fixture files (paths under ../shared/fixtures), in priority order: the
# tokenizer the 0.5B benchmark model takes its vocabulary from, the F32
# golden and its model, then the fixture models testdata/ and the binary do not already
# hold (testdata has q6_k and q8_0, the binary q4_k_m), then the goldens.
FIXTURES=(
  tokenizer/ggml-vocab-qwen2.gguf
  golden/forward/qwen2-tiny-f32.json.gz models/qwen2-tiny-f32.gguf
  models/qwen2-tiny-q4_0.gguf models/qwen2-tiny-q4_1.gguf models/qwen2-tiny-q5_0.gguf
  models/qwen2-tiny-q5_1.gguf models/qwen2-tiny-q2_k.gguf models/qwen2-tiny-q3_k_m.gguf
  models/qwen2-tiny-q5_k_m.gguf models/qwen2-tiny-f16.gguf
  models/qwen2-tiny-bf16.gguf
  golden/forward/qwen2-tiny-q8_0.json.gz golden/forward/qwen2-tiny-q6_k.json.gz
)

build() {
  export PATH="/usr/local/go/bin:$PATH"
  command -v go >/dev/null || { echo "device-check build: needs Go (go not on PATH)" >&2; return 2; }
  # The device tool carries at most 64 MiB in all: the working tree's
  # tracked and unignored files count too, so the default budget is what
  # they leave, less 2 MiB.
  local tree
  tree=$(git -C "$ROOT" ls-files -z -co --exclude-standard | (cd "$ROOT" && xargs -0 stat -c %s 2>/dev/null) | awk '{s += $1} END {print s + 0}')
  local stage="$DEV/stage" budget=$(( ${DEVICE_BUDGET_MB:-0} * 1024 * 1024 ))
  [ "$budget" -gt 0 ] || budget=$(( (62 * 1024 * 1024) - tree ))
  echo "device-check build: working tree $((tree / 1024 / 1024)) MiB, bundle budget $((budget / 1024 / 1024)) MiB"
  rm -rf "$DEV" && mkdir -p "$stage/bin" "$stage/fixtures" || return 3
  local flags=(-trimpath -ldflags "-s -w")
  echo "device-check build: falsify"
  (cd "$ROOT" && CGO_ENABLED=0 go build "${flags[@]}" -o "$stage/bin/falsify" ./cmd/falsify) || return 3
  local built=""
  for entry in "${TEST_PKGS[@]}"; do
    set -- $entry
    if ! (cd "$ROOT" && go list "$2" >/dev/null 2>&1); then
      echo "device-check build: $2 is not in this checkout; left out"
      continue
    fi
    echo "device-check build: go test -c $2"
    if (cd "$ROOT" && CGO_ENABLED=0 go test -c "${flags[@]}" -o "$stage/bin/$1.test" "$2"); then
      built="$built $1"
    else
      echo "device-check build: $2 did not build; left out" >&2
    fi
  done
  echo "$built" >"$stage/bin/TESTS"
  git -C "$ROOT" rev-parse HEAD >"$stage/REVISION" 2>/dev/null
  git -C "$ROOT" status --short >>"$stage/REVISION" 2>/dev/null
  # The loader's .deb, for an image without libvulkan.so.1.
  # Unpacked here too, so the device needs no dpkg to use it.
  (cd "$DEV" && apt-get download libvulkan1 >/dev/null 2>&1 && mv libvulkan1_*.deb libvulkan1.deb) ||
    echo "device-check build: apt-get download libvulkan1 failed; the device must have the loader" >&2
  [ -f "$DEV/libvulkan1.deb" ] && command -v dpkg >/dev/null && dpkg -x "$DEV/libvulkan1.deb" "$stage/loader"
  # NVIDIA's Vulkan driver is libGLX_nvidia.so.0, which needs glvnd's
  # libraries (libGLdispatch): an image without them fails vkCreateInstance
  # with VK_ERROR_INCOMPATIBLE_DRIVER (seen on the H200 image). Carried
  # unpacked, used only where the system lacks them.
  local glvnd
  glvnd=$(mktemp -d) && (cd "$glvnd" && apt-get download libglvnd0 libglx0 libgl1 libegl1 libopengl0 >/dev/null 2>&1) &&
    for f in "$glvnd"/*.deb; do dpkg -x "$f" "$stage/glvnd"; done ||
    echo "device-check build: apt-get download of glvnd's libraries failed; the device must have them" >&2
  rm -rf "$glvnd"
  local shared="${FALSIFY_FIXTURES:-$ROOT/../shared/fixtures}" f
  for f in "${FIXTURES[@]}"; do
    [ -f "$shared/$f" ] || { echo "device-check build: no fixture $shared/$f; left out"; continue; }
    mkdir -p "$stage/fixtures/$(dirname "$f")" && cp "$shared/$f" "$stage/fixtures/$f"
  done
  # Pack; drop fixtures from the end of the list until the carry fits.
  local i=${#FIXTURES[@]} size
  while :; do
    tar -C "$stage" -czf "$DEV/bundle.tar.gz" . || return 3
    size=$(( $(stat -c %s "$DEV/bundle.tar.gz") + $(stat -c %s "$DEV/libvulkan1.deb" 2>/dev/null || echo 0) ))
    [ "$size" -le "$budget" ] && break
    local removed=""
    while [ "$i" -gt 0 ]; do
      i=$((i - 1))
      if [ -f "$stage/fixtures/${FIXTURES[$i]}" ]; then
        rm "$stage/fixtures/${FIXTURES[$i]}" && removed=${FIXTURES[$i]}
        echo "device-check build: over budget ($size bytes), left out $removed"
        break
      fi
    done
    [ -n "$removed" ] || { echo "device-check build: $size bytes without any fixture, over the budget" >&2; return 3; }
  done
  rm -rf "$stage"
  echo "device-check build: $DEV: $(du -sh "$DEV" | cut -f1) (tests:$built)"
  ls -la "$DEV"
}

# --- run ------------------------------------------------------------------

START=$(date +%s)

# step NAME LIMIT_S CMD...: runs CMD with its output in $OUT/NAME.log,
# within LIMIT_S and what is left of DEVICE_TOTAL_S, and appends its exit
# status and time to the summary. Never fails.
step() {
  local name=$1 limit=$2; shift 2
  local left=$(( TOTAL - ($(date +%s) - START) - 5 ))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 5 ]; then
    printf '%-28s rc=skipped  (no time left of %ss)\n' "$name" "$TOTAL" >>"$OUT/summary.txt"
    return 0
  fi
  local t0=$(date +%s) rc
  echo "== $name (limit ${limit}s): $*" | tee -a "$OUT/$name.log"
  timeout -k 5 "$limit" "$@" >>"$OUT/$name.log" 2>&1
  rc=$?
  local note=""
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && note=" TIMEOUT"
  printf '%-28s rc=%-4s %4ss%s\n' "$name" "$rc" "$(( $(date +%s) - t0 ))" "$note" | tee -a "$OUT/summary.txt"
  tail -n 3 "$OUT/$name.log" | sed 's/^/    /'
  return 0
}

run() {
  : "${OUT:?device-check run: set OUT to the directory for logs and evidence}"
  TOTAL=${DEVICE_TOTAL_S:-450}
  mkdir -p "$OUT" || exit 3
  : >"$OUT/summary.txt"
  [ -f "$DEV/bundle.tar.gz" ] || { echo "device-check run: no $DEV/bundle.tar.gz: run 'scripts/device-check.sh build' first and carry .device" | tee -a "$OUT/summary.txt"; exit 3; }
  local work="${TMPDIR:-/tmp}/falsify-device-$$"
  mkdir -p "$work" && tar -C "$work" -xzf "$DEV/bundle.tar.gz" || { echo "device-check run: cannot unpack the bundle" | tee -a "$OUT/summary.txt"; exit 3; }
  local bin="$work/bin"
  export FALSIFY_FIXTURES="$work/fixtures" FALSIFY_CACHE="$work/cache"
  export MESA_SHADER_CACHE_DIR="$work/mesa-shader-cache"
  {
    echo "revision: $(head -n 1 "$work/REVISION" 2>/dev/null)"
    echo "host: $(uname -srm), $(nproc) cores, $(date -u +%FT%TZ)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
  } | tee -a "$OUT/summary.txt"

  # The Vulkan loader: the system's, else the carried .deb unpacked.
  # (DEVICE_CARRIED_LOADER=1 uses the carried one even when the system has one.)
  if [ -n "${DEVICE_CARRIED_LOADER:-}" ] || { ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 ' && ! ls /usr/lib/*/libvulkan.so.1 /usr/lib64/libvulkan.so.1 >/dev/null 2>&1; }; then
    local lib=""
    [ -d "$work/loader" ] || { [ -f "$DEV/libvulkan1.deb" ] && command -v dpkg >/dev/null && dpkg -x "$DEV/libvulkan1.deb" "$work/loader" 2>/dev/null; }
    [ -d "$work/loader" ] && lib=$(find "$work/loader" -name 'libvulkan.so.1' | head -n 1)
    if [ -n "$lib" ]; then
      lib=$(dirname "$lib")
      export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "loader: libvulkan1.deb's, unpacked in $lib" | tee -a "$OUT/summary.txt"
    else
      echo "loader: none on the system and none carried: the Vulkan steps will report no loader" | tee -a "$OUT/summary.txt"
    fi
  else
    echo "loader: the system's libvulkan.so.1" | tee -a "$OUT/summary.txt"
  fi
  if ! ldconfig -p 2>/dev/null | grep -q 'libGLdispatch\.so\.0 ' && [ -d "$work/glvnd" ]; then
    lib=$(find "$work/glvnd" -name 'libGLdispatch.so.0' | head -n 1)
    [ -n "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" &&
      echo "glvnd: carried libraries in $(dirname "$lib") (the system has no libGLdispatch.so.0)" | tee -a "$OUT/summary.txt"
  fi
  # NVIDIA's ICD, where the driver put one outside the loader's search path.
  local icd=""
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia*.json /usr/share/vulkan/icd.d/nvidia*.json /usr/local/nvidia/vulkan/icd.d/nvidia*.json; do
    [ -f "$f" ] && { icd=$f; break; }
  done
  if [ -n "$icd" ]; then
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    echo "icd: $icd ($(tr -d '\n ' <"$icd" | grep -o '"library_path":"[^"]*"'))" | tee -a "$OUT/summary.txt"
  else
    echo "icd: no NVIDIA ICD file found; the loader's default search" | tee -a "$OUT/summary.txt"
  fi
  # Validation only where the layer is installed (it is not carried).
  if ls /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >/dev/null 2>&1; then
    export FALSIFY_VULKAN_VALIDATE=1
  fi
  echo "tests built: $(cat "$bin/TESTS")" | tee -a "$OUT/summary.txt"

  step devices 30 bash -c "'$bin/falsify' backends && '$bin/falsify' backends --json >'$OUT/backends.json'"
  grep -v '^==' "$OUT/devices.log" >>"$OUT/summary.txt"
  if command -v vulkaninfo >/dev/null; then
    timeout 20 vulkaninfo --summary >"$OUT/vulkaninfo.log" 2>&1
    grep -E 'GPU[0-9]+:|deviceType|deviceName|driverName|driverInfo|apiVersion' "$OUT/vulkaninfo.log" | sed 's/^[[:space:]]*/vulkaninfo: /' >>"$OUT/summary.txt"
  fi
  # In order of what matters most when time runs short: the contract, the
  # Vulkan package tests (the CPU-vs-GPU forward on every fixture model in
  # both modes is one of them), the benchmarks, then the
  # extras (the 0.5B model on the CLI, the contract per fixture model, the
  # ggml conformance tests, which need ggml's Vulkan library: not carried).
  local tests=" $(cat "$bin/TESTS") "
  has() { [[ "$tests" == *" $1 "* ]]; }
  step contract 90 "$bin/falsify" run --evidence "$OUT/evidence" cpu-vs-gpu-forward-parity-v1
  grep -E '^run: [0-9]' "$OUT/contract.log" | sed 's/^/contract: /' >>"$OUT/summary.txt"
  step contract-gate 10 "$bin/falsify" gate "$OUT/evidence"
  has vk && step test-vk 45 bash -c "cd '$ROOT/engine/vulkan/vk' && '$bin/vk.test' -test.v -test.count=1"
  has vulkan && step test-vulkan 150 bash -c "cd '$ROOT/engine/vulkan' && '$bin/vulkan.test' -test.v -test.count=1 -test.timeout 140s"
  local log
  for log in test-vk test-vulkan; do
    [ -f "$OUT/$log.log" ] && grep -E '^(--- (FAIL|SKIP)|FAIL|ok|PASS$|panic)' "$OUT/$log.log" | head -n 20 | sed "s/^/$log: /" >>"$OUT/summary.txt"
  done
  # Benchmarks on the generated Qwen2-0.5B shape (written once under
  # $TMPDIR/falsify-bench from the carried tokenizer): the GPU's
  # (engine/vulkan BenchmarkVulkan*: prefill 7 traced and untraced, decode,
  # both matmul modes), then the CPU's for comparison (engine: 2 threads).
  if has vulkan; then
    step bench-gpu 150 env FALSIFY_VULKAN_BENCH_MODEL=0.5b FALSIFY_VULKAN_VALIDATE= bash -c "cd '$ROOT/engine/vulkan' && '$bin/vulkan.test' -test.run '^\$' -test.bench BenchmarkVulkan -test.benchtime 5x -test.timeout 145s"
    grep -E '^(Benchmark|--- SKIP|    bench)' "$OUT/bench-gpu.log" | sed 's/^/bench-gpu: /' >>"$OUT/summary.txt"
  fi
  if has engine; then
    step bench-cpu 90 bash -c "cd '$ROOT/engine' && '$bin/engine.test' -test.run '^\$' -test.bench 'Prefill7|Decode' -test.benchtime 5x -test.timeout 85s"
    grep -E '^Benchmark' "$OUT/bench-cpu.log" | sed 's/^/bench-cpu: /' >>"$OUT/summary.txt"
  fi
  # The 0.5B-shape model the benchmark generated: end-to-end traced
  # prefill of 7 tokens through the CLI on each backend (wall time, model
  # load and weight upload included), and the GPU-vs-CPU diff on it
  # (24 layers, every slot; JSON to $OUT).
  local big="${TMPDIR:-/tmp}/falsify-bench/qwen2-0.5b-shape-q4k-q8_0-v1.gguf"
  if [ -f "$big" ]; then
    step trace-0.5b 90 bash -c '
      for be in vulkan cpu; do for mode in quantized f32; do
        t0=$(date +%s%N)
        "'"$bin"'/falsify" trace --backend $be --matmul $mode --tokens 3838,374,220,17,10,17,30 "'"$big"'" >/dev/null 2>&1
        rc=$?
        echo "trace 0.5B $be $mode: exit $rc, $(( ($(date +%s%N) - t0) / 1000000 )) ms wall"
      done; done'
    grep -E '^trace 0.5B' "$OUT/trace-0.5b.log" >>"$OUT/summary.txt"
    step diff-0.5b 90 bash -c "'$bin/falsify' diff --backend-a vulkan --backend-b cpu --tokens 3838,374,220,17,10,17,30 '$big' '$big' && '$bin/falsify' diff --json --backend-a vulkan --backend-b cpu --tokens 3838,374,220,17,10,17,30 '$big' '$big' >'$OUT/diff-0.5b.json'"
  else
    echo "no generated 0.5B model at $big (the bench steps make it): trace-0.5b and diff-0.5b not run" >>"$OUT/summary.txt"
  fi
  # The contract's quantized-mode gates with each fixture model in place
  # of the builtin (FALSIFY_GGUF_MODEL): evidence per model.
  local models=() m
  for m in "$ROOT"/testdata/models/*.gguf "$work"/fixtures/models/*.gguf; do
    [ -f "$m" ] && models+=("$m")
  done
  step contract-fixtures 120 bash -c '
    for m in "$@"; do
      n=$(basename "$m" .gguf)
      FALSIFY_GGUF_MODEL="$m" "'"$bin"'/falsify" run --evidence "'"$OUT"'/evidence-fixtures/$n" -k "quantized mode:" cpu-vs-gpu-forward-parity-v1 >/dev/null 2>"'"$OUT"'/evidence-fixtures-$n.log"
      echo "$n: exit $? ($(tail -n 1 "'"$OUT"'/evidence-fixtures-$n.log"))"
    done' _ "${models[@]}"
  grep -E '^qwen2' "$OUT/contract-fixtures.log" | sed 's/^/fixtures: /' >>"$OUT/summary.txt"
  has backendtest && step test-backendtest 60 bash -c "cd '$ROOT/engine/backend/backendtest' && '$bin/backendtest.test' -test.v -test.count=1 -test.timeout 55s"
  echo "total $(( $(date +%s) - START ))s of ${TOTAL}s" | tee -a "$OUT/summary.txt"
  # The device tool brings back at most 8 files: everything but the
  # summary goes into one archive.
  (cd "$OUT" && tar -czf "${TMPDIR:-/tmp}/device-check-$$.tgz" --exclude=summary.txt . &&
    find . -mindepth 1 -maxdepth 1 ! -name summary.txt -exec rm -rf {} + &&
    mv "${TMPDIR:-/tmp}/device-check-$$.tgz" device-check.tgz)
  rm -rf "$work"
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  *) echo "usage: scripts/device-check.sh build|run (see the header)" >&2; exit 2 ;;
esac
