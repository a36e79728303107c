package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/falsify/falsify/internal/progress"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/internal/llamalib"
	"github.com/falsify/falsify/trace"
)

func init() {
	register("trace", "run a traced forward pass and print per-layer statistics", runTrace)
}

type traceOptions struct {
	tokens    string
	prompt    string
	asJSON    bool
	positions string
	logits    string
	time      bool
	timeRuns  int
	sample    string
	matmul    string
	threads   int
	strict    bool
	prefill   int
	out       string
	sidecar   string
	runtime   string
	kvType    string
	flashAttn bool
	backend   string
}

func runTrace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o traceOptions
	fs := newFlagSet("trace", "trace MODEL (--tokens 1,2,3 | -p PROMPT) [options]\n\n"+
		"MODEL is a .gguf or .apr file or builtin:NAME (see 'falsify models'). The table has one\n"+
		"line per layer and capture point (docs/capture-points.md) with its statistics.", stderr)
	fs.StringVar(&o.tokens, "tokens", "", "comma-separated token ids to run")
	fs.StringVar(&o.prompt, "prompt", "", "text to tokenize with the model's tokenizer (no BOS added)")
	fs.StringVar(&o.prompt, "p", "", "short for --prompt")
	fs.BoolVar(&o.asJSON, "json", false, "print the full trace as JSON (docs/trace-format.md; schema docs/schemas/trace.schema.json)")
	fs.StringVar(&o.positions, "positions", "last", "vectors to keep: last (last position) or all")
	fs.StringVar(&o.logits, "logits", "", "logits to compute: last (the last position's only, as an untraced run and\n"+
		"most gates need: the output matmul of no other position, the largest cost of tracing)\n"+
		"or all (every position's: a comparison of every position's logits needs them);\n"+
		"default last, and all with --positions all (the trace says which: logits_positions)")
	fs.BoolVar(&o.time, "time", false, "time the forward pass untraced and traced on the same input, with these options,\n"+
		"and print both times and their ratio (what tracing costs on this model) instead of\n"+
		"the table; --json prints them as JSON (docs/schemas/trace-time.schema.json); --out\n"+
		"still writes the trace. One untraced warm-up run first (page cache), then\n"+
		"--time-runs rounds of untraced and traced; the best of each is compared")
	fs.IntVar(&o.timeRuns, "time-runs", 3, "with --time: rounds of one untraced and one traced run (best of them compared)")
	fs.StringVar(&o.sample, "sample", string(trace.SampleLastToken), "statistics shown in the table: last_token or all_tokens")
	fs.StringVar(&o.matmul, "matmul", string(trace.MatmulQuantized), "matmul mode: quantized (as llama.cpp) or f32 (dequantized weights)")
	fs.IntVar(&o.threads, "threads", 0, "worker threads (0: all cores)")
	fs.IntVar(&o.prefill, "prefill", 0, "run the first N tokens as one batch, then the rest one token at a time through\n"+
		"the KV cache, as a generating model decodes (1: pure token-by-token decode;\n"+
		"0: the whole prompt as one batch); every position is recorded once either way")
	fs.IntVar(&o.threads, "t", 0, "short for --threads")
	fs.StringVar(&o.out, "out", "", "write the trace file (the --json format) to this path instead of printing")
	fs.StringVar(&o.out, "o", "", "short for --out")
	fs.StringVar(&o.sidecar, "sidecar", "", "with --out: put the vectors in a safetensors file of this name (a file name, not a\n"+
		"path: it goes in the trace file's directory)\n"+
		"(the JSON keeps statistics and its sha256; a 7B trace of 64 positions is ~0.8 GB\n"+
		"as a side-car against ~2 GB inline, docs/trace-format.md)")
	fs.StringVar(&o.runtime, "runtime", "engine", "what computes the trace: engine (falsify's own) or llamacpp (llama.cpp itself,\n"+
		"the node-llama-cpp libraries of scripts/fetch-llamacpp.sh loaded in process; GGUF only)")
	fs.StringVar(&o.kvType, "kv-type", "", "with --runtime llamacpp: KV cache type f32, f16 (llama.cpp's default) or q8_0")
	fs.BoolVar(&o.flashAttn, "flash-attn", false, "with --runtime llamacpp: flash attention on")
	fs.StringVar(&o.backend, "backend", "", "what the runtime computes on. --runtime engine: any backend this build registers\n"+
		"("+strings.Join(backend.Names(), ", ")+"; 'falsify backends' says which have a device here; default "+engine.DefaultBackend+"),\n"+
		"vulkan on the GPU FALSIFY_VULKAN_DEVICE picks (docs/gpu.md). --runtime llamacpp: cpu (default)\n"+
		"or vulkan (every layer on the Vulkan device FALSIFY_VULKAN_DEVICE picks; needs\n"+
		"scripts/fetch-llamacpp.sh --vulkan and a Vulkan driver)")
	fs.BoolVar(&o.strict, "strict", false, "refuse a model with tensors the engine does not use (llama.cpp refuses such files)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("trace takes one model file, got %d arguments", len(pos))
	}
	mode, err := trace.ParseMatmulMode(o.matmul)
	if err != nil {
		return usagef("--matmul: %v", err)
	}
	sample := trace.Sample(o.sample)
	if sample != trace.SampleLastToken && sample != trace.SampleAllTokens {
		return usagef("--sample %q: want last_token or all_tokens", o.sample)
	}
	if o.positions != "last" && o.positions != "all" {
		return usagef("--positions %q: want last or all", o.positions)
	}
	switch o.logits {
	case "":
		o.logits = o.positions
	case "last", "all":
	default:
		return usagef("--logits %q: want last or all", o.logits)
	}
	if isSet(fs, "time-runs") && !o.time {
		return usagef("--time-runs needs --time")
	}
	if o.timeRuns < 1 {
		return usagef("--time-runs %d: want at least 1", o.timeRuns)
	}
	hasTokens, hasPrompt := isSet(fs, "tokens"), isSet(fs, "prompt", "p")
	if hasTokens == hasPrompt {
		return usagef("give exactly one of --tokens and --prompt")
	}
	if o.runtime != "engine" && o.runtime != "llamacpp" {
		return usagef("--runtime %q: want engine or llamacpp", o.runtime)
	}
	if o.runtime != "llamacpp" && (o.kvType != "" || o.flashAttn) {
		return usagef("--kv-type and --flash-attn are llama.cpp settings: add --runtime llamacpp")
	}
	if err := checkBackendFlag("--backend", o.backend, o.runtime); err != nil {
		return err
	}
	if o.runtime == "llamacpp" && o.time {
		return usagef("--time times falsify's engine traced and untraced; llama.cpp has no traced run here (falsify bench times it untraced)")
	}
	if o.runtime == "llamacpp" && o.matmul != string(trace.MatmulQuantized) {
		return usagef("--matmul %s: llama.cpp computes as it does (quantized)", o.matmul)
	}
	if o.sidecar != "" && o.out == "" {
		return usagef("--sidecar needs --out: the side-car is written beside the trace file")
	}
	// Checked before any model runs: a forward pass on a 7B model takes
	// minutes, and these would only fail when writing.
	switch {
	case o.sidecar != "" && (o.sidecar != filepath.Base(o.sidecar) || o.sidecar == "." || o.sidecar == ".."):
		return usagef("--sidecar %q: a file name beside the trace file, not a path", o.sidecar)
	case o.sidecar != "" && o.sidecar == filepath.Base(o.out):
		return usagef("--sidecar %q: the same file as --out", o.sidecar)
	case o.kvType != "" && o.kvType != "f32" && o.kvType != "f16" && o.kvType != "q8_0":
		return usagef("--kv-type %q: want f32, f16 or q8_0", o.kvType)
	}
	if o.out != "" {
		if st, err := os.Stat(o.out); err == nil && st.IsDir() {
			return usagef("--out %s is a directory: give a file name", o.out)
		}
	}
	if o.prefill < 0 {
		return usagef("--prefill %d: want 0 (whole prompt) or a token count", o.prefill)
	}
	if hasPrompt && o.prompt == "" {
		return usagef("--prompt is empty: give a text to tokenize")
	}
	if hasTokens && strings.TrimSpace(o.tokens) == "" {
		return usagef("--tokens is empty: give comma-separated token ids")
	}
	if err := checkThreads(o.threads); err != nil {
		return err
	}
	path, err := modelArg(pos[0])
	if err != nil {
		return err
	}
	m, err := engine.Load(path)
	if err != nil {
		return err
	}
	defer m.Close()
	if o.strict {
		if err := m.CheckStrict(); err != nil {
			return err
		}
	}
	tokens, err := traceTokens(m, o)
	if err != nil {
		return err
	}
	if err := checkContext(pos[0], len(tokens), m.Hyper.NCtx); err != nil {
		return err
	}
	for _, w := range m.Warnings(len(tokens)) {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if o.prefill > len(tokens) {
		return usagef("--prefill %d: the prompt has %d tokens", o.prefill, len(tokens))
	}
	steps := ""
	if o.prefill > 0 && o.prefill < len(tokens) {
		steps = fmt.Sprintf(", prefill %d then %d decode steps", o.prefill, len(tokens)-o.prefill)
	}
	on := ""
	if o.backend != "" {
		on = ", on " + o.backend
	}
	fmt.Fprintf(stderr, "tracing %d tokens through %s (%s, %d layers, %s matmul%s%s, %s logits)\n", len(tokens), pos[0], m.Hyper.Arch, m.Hyper.NLayer, mode, steps, on, o.logits)
	var tr *trace.Trace
	var timing *traceTiming
	opts := engine.Options{Backend: o.backend, Matmul: mode, Threads: o.threads, AllPositions: o.positions == "all", AllLogits: o.logits == "all",
		Prefill: o.prefill, Progress: progress.Layers(stderr, "tracing", 5*time.Second)}
	switch {
	case o.runtime == "llamacpp":
		if m.Format != "gguf" {
			return usagef("--runtime llamacpp reads GGUF files; %s is %s", pos[0], m.Format)
		}
		tr, err = llamalib.Run(path, tokens, llamalib.Options{Threads: o.threads, KVType: o.kvType, FlashAttn: o.flashAttn, Prefill: o.prefill, Backend: o.backend})
		if err == nil && o.positions != "all" {
			tr.DropPositions()
		}
		if err == nil && o.logits == "last" {
			tr.KeepLastLogits() // the shape the engine's trace has with the same flags
		}
	case o.time:
		tr, timing, err = timeTrace(ctx, m, tokens, opts, o, stderr)
	default:
		tr, err = engine.Run(m, tokens, opts)
	}
	if err != nil {
		if errors.Is(err, engine.ErrBackendUnavailable) {
			// Registered, but no device or driver here: a broken setup (3).
			return fmt.Errorf("--backend %s: %w", o.backend, err)
		}
		return err
	}
	// A backend reports what went wrong on the device at Close (with
	// FALSIFY_VULKAN_VALIDATE=1, the validation layer's messages): that
	// must fail the trace before it is written, not vanish in the
	// deferred Close. Closing twice is harmless.
	if err := m.Close(); err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if o.out != "" {
		if err := trace.WriteFile(o.out, tr, o.sidecar); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", o.out)
		if timing == nil {
			return nil
		}
	}
	if timing != nil {
		timing.Model = pos[0]
		return printTiming(stdout, timing, o.asJSON)
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(tr)
	}
	return printTraceTable(stdout, tr, sample)
}

// checkBackendFlag checks a backend flag's value before any model loads:
// for the engine, a backend this build registers (whether it has a device
// is known only when it opens); for llama.cpp, cpu or vulkan. "" is the
// runtime's default.
func checkBackendFlag(flag, name, runtime string) error {
	if name == "" {
		return nil
	}
	if runtime == "llamacpp" {
		if name != "cpu" && name != "vulkan" {
			return usagef("%s %q: --runtime llamacpp runs on cpu or vulkan", flag, name)
		}
		return nil
	}
	if !slices.Contains(backend.Names(), name) {
		return usagef("%s %q: the engine has no such backend (this build registers %s; see 'falsify backends')", flag, name, strings.Join(backend.Names(), ", "))
	}
	return nil
}

func traceTokens(m *engine.Model, o traceOptions) ([]int32, error) {
	if o.prompt != "" {
		return m.Tokenize(o.prompt)
	}
	var tokens []int32
	for _, f := range strings.Split(o.tokens, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil {
			return nil, usagef("--tokens: %q is not a token id", f)
		}
		tokens = append(tokens, int32(v))
	}
	return tokens, nil
}

// printTraceTable prints one line per (layer, slot) with the sample's
// statistics, and marks anomalies: NaN/Inf, a slot that is all zero or
// constant, and a std more than 10x (or under 1/10) the same slot's in the
// previous layer.
func printTraceTable(w io.Writer, tr *trace.Trace, sample trace.Sample) error {
	fmt.Fprintf(w, "tokens %v  model %s  %s/%s  sample %s\n\n", tr.Tokens, tr.Provenance.Model, tr.Provenance.Backend, tr.Provenance.Matmul, sample)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\tslot\tcount\tmean\tstd\tmin\tmax\tflags\t")
	row := func(layer, slot string, st *trace.SlotTrace, prevStd float64) {
		s, _ := st.Stats(sample)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n", layer, slot, s.Count, num(s.Mean), num(s.Std), num(s.Min), num(s.Max), anomalies(s, prevStd))
	}
	row("-", "embed", &tr.Embed, math.NaN())
	var prev [trace.NumLayerSlots]float64
	for i := range prev {
		prev[i] = math.NaN()
	}
	for _, l := range tr.Layers {
		for s, name := range trace.LayerSlots() {
			st := &l.Slots[s]
			row(strconv.Itoa(l.Layer), string(name), st, prev[s])
			stats, _ := st.Stats(sample)
			prev[s] = stats.Std
		}
	}
	row("-", "final_norm", &tr.FinalNorm, math.NaN())
	if sample == trace.SampleAllTokens && !tr.HasAllLogits() {
		// Not empty: only the last position's logits were computed.
		fmt.Fprintf(tw, "-\tlogits\t-\t-\t-\t-\t-\tlast position only (--logits all)\t\n")
	} else {
		row("-", "logits", &tr.Logits, math.NaN())
	}
	return tw.Flush()
}

func num(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x, 'g', 5, 64)
}

func anomalies(s trace.Stats, prevStd float64) string {
	var flags []string
	if s.Count == 0 {
		return "EMPTY"
	}
	if s.NaNCount > 0 {
		flags = append(flags, fmt.Sprintf("NaN:%d", s.NaNCount))
	}
	if s.InfCount > 0 {
		flags = append(flags, fmt.Sprintf("Inf:%d", s.InfCount))
	}
	if s.ZeroCount == s.Count {
		flags = append(flags, "ALL-ZERO")
	} else if s.Std == 0 && s.Count > 1 {
		flags = append(flags, "CONSTANT")
	}
	if prevStd > 0 && s.Std > 0 {
		if r := s.Std / prevStd; r > 10 || r < 0.1 {
			flags = append(flags, fmt.Sprintf("STD-JUMP:%.3gx", r))
		}
	}
	if len(flags) > 0 {
		return "!! " + strings.Join(flags, " ")
	}
	return ""
}
