# falsify: the two commands a user needs are `make falsify` (run every
# contract on the builtin models, write evidence) and `make test`.

SHELL     := /bin/bash
.SHELLFLAGS := -o pipefail -c
GO        ?= go
EVIDENCE  ?= out/evidence
BIN       := bin/falsify

.PHONY: all build test falsify vet fuzz bench bench-engine oracles ggml clean

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/falsify

# Unit tests, fixture checks against llama.cpp/ggml references, and the
# Ginkgo suites (which run under `go test` too). The summary at the end
# lists every skipped test with its reason (an oracle test that skipped
# checked nothing).
test:
	@bash scripts/fetch-llamacpp.sh >/dev/null || echo "make test: could not install llama.cpp (needs npm; see make oracles): the tests that compare with it will skip and say so" >&2
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 45m -json ./... | $(GO) run ./internal/testsummary
	@# The scalar kernels alone (-tags purego: no assembly), as on a CPU
	@# without AVX2 or another architecture.
	$(GO) vet -tags purego ./engine/... ./trace/...
	$(GO) test -count=1 -tags purego -json ./engine/cpu ./engine/quant ./trace | $(GO) run ./internal/testsummary

# Every contract, every gate: evidence JSON, Markdown summary, JUnit XML.
# Ginkgo runs as a go.mod tool, so its version is the one go.mod pins.
# --keep-going runs every suite even after one fails, and the gate runs
# whatever Ginkgo said, so every failure is in the evidence and the table;
# the exit status is Ginkgo's if it failed, else the gate's. The gate
# counts as passing the SKIPs of gates whose subject's backend is missing
# here (ALLOW_UNAVAILABLE, default vulkan: a machine without a Vulkan
# device skips cpu-vs-gpu-forward-parity-v1 and still exits 0); every
# other SKIP fails, and a plain `falsify gate` allows none.
ALLOW_UNAVAILABLE ?= vulkan
falsify: build
	@# The live llama.cpp contracts need llama.cpp's prebuilt library (npm:
	@# node-llama-cpp); installed here once so a fresh clone runs every gate.
	@bash scripts/fetch-llamacpp.sh >/dev/null || echo "make falsify: could not install llama.cpp (needs npm; see make oracles): the live llama.cpp gates will SKIP, and the gate refuses SKIPs" >&2
	rm -rf $(EVIDENCE)
	@status=0; \
	$(GO) tool ginkgo run -r --keep-going --fail-on-empty --fail-on-pending \
	  --junit-report=junit.xml --json-report=ginkgo.json --output-dir=$(EVIDENCE) ./suites/... \
	  -- -evidence-dir=$(abspath $(EVIDENCE)) || status=$$?; \
	$(BIN) gate --allow-unavailable "$(ALLOW_UNAVAILABLE)" $(EVIDENCE) || { gs=$$?; [ $$status -ne 0 ] || status=$$gs; }; \
	exit $$status

# Independent references used by tests when present (they skip, saying
# why, when absent): llama.cpp through node-llama-cpp.
oracles:
	bash scripts/fetch-llamacpp.sh

# ggml's own CPU libraries alone (same node-llama-cpp 3.21.1 build), which
# the engine/quant tests load through internal/ggmlref.
ggml:
	bash scripts/fetch-ggml.sh

# The contract decoder's and the format readers' fuzz targets, FUZZTIME each
# (seed corpora in the tests). Minimizing a new input is capped at
# FUZZMINIMIZE: left unbounded it ran at 0 execs/s for minutes.
FUZZTIME     ?= 60s
FUZZMINIMIZE ?= 5s
fuzz:
	$(GO) test ./contracts -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
	$(GO) test ./engine/gguf -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)
	$(GO) test ./engine/apr -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE)

# falsify against llama.cpp side by side on a generated Qwen2-0.5B-shaped
# model (generated once into the cache), 1 and 2 threads: prefill of 7 and
# 64 tokens untraced and traced, 16 decode steps, with the ratios.
# BENCHFLAGS adds flags (--json, --rounds 5, --shape qwen2-1.5b).
bench: build
	@bash scripts/fetch-llamacpp.sh >/dev/null || echo "make bench: could not install llama.cpp (needs npm; see make oracles)" >&2
	$(BIN) bench --shape qwen2-0.5b $(BENCHFLAGS)

# The engine's and the kernels' Go benchmarks.
bench-engine:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./engine/...

clean:
	rm -rf bin out junit.xml ginkgo.json
