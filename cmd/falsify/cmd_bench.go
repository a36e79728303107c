package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/engine/synth"
	"github.com/falsify/falsify/internal/builtin"
	"github.com/falsify/falsify/internal/llamalib"
	"github.com/falsify/falsify/trace"
)

func init() {
	register("bench", "time falsify's forward (traced and untraced) against llama.cpp on generated models of real shapes", runBench)
}

// benchShape is a model shape the bench generates: the real model's
// hyperparameters with random weights.
type benchShape struct {
	name string
	spec synth.Spec
}

var benchShapes = []benchShape{
	{"qwen2-0.5b", synth.Spec{Arch: "qwen2", Layers: 24, Embd: 896, Heads: 14, KVHeads: 2, FF: 4864, Vocab: 151936, Tied: true, QKVBias: true, RopeTheta: 1e6}},
	{"qwen2-1.5b", synth.Spec{Arch: "qwen2", Layers: 28, Embd: 1536, Heads: 12, KVHeads: 2, FF: 8960, Vocab: 151936, Tied: true, QKVBias: true, RopeTheta: 1e6}},
	{"qwen2.5-7b", synth.Spec{Arch: "qwen2", Layers: 28, Embd: 3584, Heads: 28, KVHeads: 4, FF: 18944, Vocab: 152064, QKVBias: true, RopeTheta: 1e6}},
}

func shapeNames() []string {
	var names []string
	for _, s := range benchShapes {
		names = append(names, s.name)
	}
	return names
}

// benchModelVersion names the generated files; bump it when the
// generation changes so old files are not taken for new ones.
const benchModelVersion = "q4_k_m-like-v1"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "bench [flags]\n\n"+
		"Times falsify's forward pass against llama.cpp's on the same GGUF file, the two\n"+
		"interleaved round by round, and prints each time with its ratio to llama.cpp's:\n"+
		"  ppN          a prefill of N tokens, untraced (last position's logits only,\n"+
		"               as llama-bench's pp test)\n"+
		"  ppN traced   falsify's traced prefill of N tokens as a contract's subject runs it\n"+
		"               by default: every capture point, every position's vectors kept, the\n"+
		"               last position's logits only (a gate that reads every position's logits\n"+
		"               adds their output matmul: falsify trace --time --logits all shows what\n"+
		"               that costs), against llama.cpp's untraced prefill\n"+
		"  tgG          G decode steps of one token from an empty cache (llama-bench's tg)\n"+
		"Times are the best of --rounds rounds (after one warm-up run each); --json gives\n"+
		"every run. The models are generated once with random weights in the shape of the\n"+
		"real ones ("+strings.Join(shapeNames(), ", ")+"), quantized as llama-quantize's\n"+
		"Q4_K_M would (Q4_K, Q6_K for attn_v and ffn_down of some layers and the output,\n"+
		"Q5_0/Q8_0 where rows are not whole 256-element blocks), under the cache directory's\n"+
		"bench/ ($FALSIFY_CACHE, else the user cache directory's falsify/; 'falsify cache clean'\n"+
		"removes them): about 0.4, 1.1 and 4.7 GB, minutes to generate the larger. --model times a\n"+
		"GGUF file of your own instead. --json follows docs/schemas/bench.schema.json. llama.cpp is the prebuilt library of the\n"+
		"node-llama-cpp install ("+llamalib.InstallCommand+"), loaded in process.\n\n"+
		"Each row is printed as soon as its last round is timed. Interrupted (Ctrl-C,\n"+
		"SIGTERM), the bench stops after the run in progress, prints the rows that\n"+
		"finished (--json: with \"interrupted\": true and the cause) and exits 3.", stderr)
	shapes := fs.String("shape", "qwen2-0.5b", "comma-separated model shapes to generate and time: "+strings.Join(shapeNames(), ", "))
	modelPath := fs.String("model", "", "time this GGUF file (or builtin:NAME) instead of generated shapes")
	threadsFlag := fs.String("t", "1,2", "comma-separated thread counts")
	fs.StringVar(threadsFlag, "threads", "1,2", "same as -t")
	promptFlag := fs.String("prompt", "7,64", "comma-separated prefill lengths in tokens")
	gen := fs.Int("gen", 16, "decode steps of the tg test (0: no tg test)")
	rounds := fs.Int("rounds", 3, "timed rounds of each test")
	noLlama := fs.Bool("no-llamacpp", false, "time falsify only (no llama.cpp column)")
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("bench takes no arguments, got %q", pos)
	}
	threads, err := parseIntList("-t", *threadsFlag, 1)
	if err != nil {
		return err
	}
	prompts, err := parseIntList("--prompt", *promptFlag, 1)
	if err != nil {
		return err
	}
	if *gen < 0 || *rounds < 1 {
		return usagef("--gen must be >= 0 and --rounds >= 1 (got %d, %d)", *gen, *rounds)
	}
	shapeSet := false
	fs.Visit(func(f *flag.Flag) { shapeSet = shapeSet || f.Name == "shape" })
	if *modelPath != "" && shapeSet {
		return usagef("--shape and --model exclude each other: --model times that file instead of generated shapes")
	}
	if *modelPath == "" {
		// Every name checked before the first shape is generated (minutes
		// for the larger ones).
		for _, name := range strings.Split(*shapes, ",") {
			if !slices.ContainsFunc(benchShapes, func(s benchShape) bool { return s.name == strings.TrimSpace(name) }) {
				return usagef("--shape: unknown shape %q (have %s)", name, strings.Join(shapeNames(), ", "))
			}
		}
	}
	type model struct{ name, path string }
	var models []model
	if *modelPath != "" {
		p, err := modelArg(*modelPath)
		if err != nil {
			return err
		}
		models = append(models, model{strings.TrimPrefix(filepath.Base(*modelPath), "builtin:"), p})
	} else {
		for _, name := range strings.Split(*shapes, ",") {
			if ctx.Err() != nil {
				break // interrupted: reported below with no rows
			}
			i := slices.IndexFunc(benchShapes, func(s benchShape) bool { return s.name == strings.TrimSpace(name) })
			if i < 0 {
				return usagef("--shape: unknown shape %q (have %s)", name, strings.Join(shapeNames(), ", "))
			}
			p, err := benchModel(benchShapes[i], stderr)
			if err != nil {
				return err
			}
			models = append(models, model{benchShapes[i].name, p})
		}
	}
	var version string
	if !*noLlama {
		if version, err = llamalib.Version(); err != nil {
			return fmt.Errorf("bench: %w (or pass --no-llamacpp to time falsify alone)", err)
		}
	}
	report := benchReport{LlamaCpp: version, CPU: benchCPU(), GoMaxProcs: runtime.GOMAXPROCS(0), Rounds: *rounds, Rows: []benchRow{}}
	nModels := 1
	if *modelPath == "" {
		nModels = len(strings.Split(*shapes, ","))
	}
	total := nModels * len(threads) * (2 * len(prompts))
	if *gen > 0 {
		total += nModels * len(threads)
	}
	// Text rows go out as they are final, so a run cut short keeps them.
	emit := func(r benchRow) { report.Rows = append(report.Rows, r) }
	if !*jsonOut {
		// Columns as wide as the longest model name and test label, known
		// before the first row prints.
		w := benchWidths{model: len("model"), test: len("test")}
		for _, m := range models {
			w.model = max(w.model, len(m.name))
		}
		for _, n := range prompts {
			w.test = max(w.test, len(benchRow{Test: fmt.Sprintf("pp%d", n), Traced: true}.label()))
		}
		w.test = max(w.test, len(fmt.Sprintf("tg%d", *gen)))
		printBenchHeader(stdout, report, w)
		emit = func(r benchRow) {
			report.Rows = append(report.Rows, r)
			printBenchRow(stdout, r, w)
		}
	}
	runErr := ctx.Err()
run:
	for _, m := range models {
		for _, t := range threads {
			if runErr = ctx.Err(); runErr != nil {
				break run
			}
			if runErr = benchModelThreads(ctx, m.name, m.path, t, prompts, *gen, *rounds, !*noLlama, stderr, emit); runErr != nil {
				break run
			}
		}
	}
	if runErr != nil && ctx.Err() != nil {
		// Interrupted: the finished rows are the result, marked as such.
		report.Interrupted, report.InterruptedBy = true, context.Cause(ctx).Error()
		runErr = fmt.Errorf("bench: interrupted (%s): %d of %d rows finished", report.InterruptedBy, len(report.Rows), total)
		if !*jsonOut {
			fmt.Fprintf(stdout, "\ninterrupted (%s): %d of %d rows finished\n", report.InterruptedBy, len(report.Rows), total)
		}
	} else if runErr != nil {
		return runErr
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	}
	return runErr
}

// parseIntList parses "1,2,3" into positive integers (at least lo).
func parseIntList(flagName, s string, lo int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < lo {
			return nil, usagef("%s: %q is not a list of integers >= %d", flagName, s, lo)
		}
		out = append(out, v)
	}
	return out, nil
}

// benchReport is what --json prints.
type benchReport struct {
	LlamaCpp   string     `json:"llama_cpp,omitempty"`
	CPU        string     `json:"cpu"`
	GoMaxProcs int        `json:"gomaxprocs"`
	Rounds     int        `json:"rounds"`
	Rows       []benchRow `json:"rows"`
	// Interrupted: the run was stopped (signal, cancelled context) and
	// Rows hold only the tests that finished; InterruptedBy is the cause.
	Interrupted   bool   `json:"interrupted,omitempty"`
	InterruptedBy string `json:"interrupted_by,omitempty"`
}

// benchRow is one test on one model at one thread count; times in ms.
type benchRow struct {
	Model    string    `json:"model"`
	Threads  int       `json:"threads"`
	Test     string    `json:"test"` // ppN or tgG
	Traced   bool      `json:"traced"`
	Falsify  []float64 `json:"falsify_ms"`
	LlamaCpp []float64 `json:"llamacpp_ms,omitempty"` // llama.cpp untraced, the same test
	// Ratio is falsify's best time over llama.cpp's best (0 without llama.cpp).
	Ratio float64 `json:"ratio,omitempty"`
}

func (r benchRow) label() string {
	if r.Traced {
		return r.Test + " traced"
	}
	return r.Test
}

func benchCPU() string {
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// benchPrompt returns n token ids (inside every Qwen2 vocabulary).
func benchPrompt(n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32((i*7919 + 13) % 4096)
	}
	return p
}

// benchModelThreads times every test on one model at one thread count,
// falsify and llama.cpp alternating (who goes first swaps every round),
// and passes each row to emit as soon as its last round is timed. A
// cancelled ctx stops it between two timed runs with ctx's error.
func benchModelThreads(ctx context.Context, name, path string, threads int, prompts []int, gen, rounds int, llama bool, stderr io.Writer, emit func(benchRow)) error {
	m, err := engine.Load(path)
	if err != nil {
		return err
	}
	defer m.Close()
	// A prefill past the trained context is refused as trace refuses it
	// (its attention alone would run for hours on a long --prompt).
	for _, n := range append(slices.Clone(prompts), gen) {
		if err := checkContext(name, max(n, 1), m.Hyper.NCtx); err != nil {
			return err
		}
	}
	var lb *llamalib.Bench
	if llama {
		if lb, err = llamalib.OpenBench(path, threads); err != nil {
			return fmt.Errorf("bench %s: %w", name, err)
		}
		defer lb.Close()
	}
	type test struct {
		row     benchRow
		falsify func() (time.Duration, error)
		llama   func() (time.Duration, error)
	}
	var tests []*test
	for _, n := range prompts {
		prompt := benchPrompt(n)
		for _, traced := range []bool{false, true} {
			// The traced row runs what a contract's subject runs by default
			// (harness: AllPositions, AllLogits only when a gate needs them).
			s, err := engine.NewSession(m, engine.Options{Threads: threads, Trace: traced, AllPositions: traced}, n, n)
			if err != nil {
				return err
			}
			defer s.Close()
			t := &test{row: benchRow{Model: name, Threads: threads, Test: fmt.Sprintf("pp%d", n), Traced: traced}}
			t.falsify = func() (time.Duration, error) {
				s.Reset()
				var tr *trace.Trace
				if traced {
					tr = &trace.Trace{}
				}
				start := time.Now()
				err := s.Forward(prompt, tr)
				return time.Since(start), err
			}
			if lb != nil {
				t.llama = func() (time.Duration, error) { return lb.Prefill(prompt) }
			}
			tests = append(tests, t)
		}
	}
	if gen > 0 {
		s, err := engine.NewSession(m, engine.Options{Threads: threads}, 1, gen)
		if err != nil {
			return err
		}
		defer s.Close()
		tok := benchPrompt(1)
		t := &test{row: benchRow{Model: name, Threads: threads, Test: fmt.Sprintf("tg%d", gen)}}
		t.falsify = func() (time.Duration, error) {
			s.Reset()
			start := time.Now()
			for range gen {
				if err := s.Forward(tok, nil); err != nil {
					return 0, err
				}
			}
			return time.Since(start), nil
		}
		if lb != nil {
			t.llama = func() (time.Duration, error) { return lb.Decode(tok[0], gen) }
		}
		tests = append(tests, t)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	// The traced rows compare with llama.cpp's untraced run of the same
	// prefill (llama.cpp has no traced run to compare with); the untraced
	// test comes first in tests, so its times are final by then.
	untraced := map[string][]float64{}
	for round := 0; round <= rounds; round++ { // round 0 warms up
		if round == 0 {
			fmt.Fprintf(stderr, "bench: %s, %s: warm-up run\n", name, plural(threads, "thread"))
		} else {
			fmt.Fprintf(stderr, "bench: %s, %s: round %d of %d\n", name, plural(threads, "thread"), round, rounds)
		}
		for _, t := range tests {
			if err := ctx.Err(); err != nil {
				return err
			}
			first := 0 // falsify first in even rounds, llama.cpp first in odd ones
			if round%2 == 1 {
				first = 1
			}
			for k := range 2 {
				isFalsify := (first+k)%2 == 0
				run := t.falsify
				if !isFalsify {
					run = t.llama
				}
				if run == nil {
					continue
				}
				d, err := run()
				if err != nil {
					return fmt.Errorf("bench %s %s: %w", name, t.row.label(), err)
				}
				switch {
				case round == 0:
				case isFalsify:
					t.row.Falsify = append(t.row.Falsify, ms(d))
				default:
					t.row.LlamaCpp = append(t.row.LlamaCpp, ms(d))
				}
			}
			if round < rounds {
				continue
			}
			r := t.row
			if !r.Traced {
				untraced[r.Test] = r.LlamaCpp
			} else {
				r.LlamaCpp = untraced[r.Test]
			}
			if len(r.LlamaCpp) > 0 {
				r.Ratio = slices.Min(r.Falsify) / slices.Min(r.LlamaCpp)
			}
			emit(r)
		}
	}
	return nil
}

// benchWidths are the text table's model and test column widths.
type benchWidths struct{ model, test int }

func printBenchHeader(w io.Writer, r benchReport, cw benchWidths) {
	if r.LlamaCpp != "" {
		fmt.Fprintf(w, "llama.cpp: %s\n", r.LlamaCpp)
	}
	fmt.Fprintf(w, "cpu: %s (GOMAXPROCS %d); best of %d rounds, ms\n\n", r.CPU, r.GoMaxProcs, r.Rounds)
	fmt.Fprintf(w, "%-*s %7s  %-*s %10s %10s %7s\n", cw.model, "model", "threads", cw.test, "test", "falsify", "llama.cpp", "ratio")
}

func printBenchRow(w io.Writer, row benchRow, cw benchWidths) {
	ll, ratio := "-", "-"
	if len(row.LlamaCpp) > 0 {
		ll = fmt.Sprintf("%.1f", slices.Min(row.LlamaCpp))
		ratio = fmt.Sprintf("%.2fx", row.Ratio)
	}
	fmt.Fprintf(w, "%-*s %7d  %-*s %10.1f %10s %7s\n", cw.model, row.Model, row.Threads, cw.test, row.label(), slices.Min(row.Falsify), ll, ratio)
}

// plural is "1 thread", "2 threads".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// benchDir is where the generated models are kept (falsify cache lists
// and cleans it).
func benchDir() string { return filepath.Join(filepath.Dir(builtin.CacheDir()), "bench") }

// benchModel returns the generated model of shape s, generating it (once)
// under the cache directory.
func benchModel(s benchShape, stderr io.Writer) (string, error) {
	dir := benchDir()
	path := filepath.Join(dir, s.name+"-"+benchModelVersion+".gguf")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	tok, err := benchTokenizer(s.spec.Vocab)
	if err != nil {
		return "", err
	}
	spec := s.spec
	spec.Name, spec.Seed, spec.Tokenizer = s.name+"-shape", 1, tok
	spec.TypeFor = q4KMLike(spec.Layers, spec.Tied)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	fmt.Fprintf(stderr, "bench: generating %s (once; random weights)\n", path)
	start := time.Now()
	if err := synth.Write(path, spec); err != nil {
		return "", fmt.Errorf("bench: generating %s: %w", path, err)
	}
	fmt.Fprintf(stderr, "bench: generated in %.0f s\n", time.Since(start).Seconds())
	return path, nil
}

// benchTokenizer is the Qwen2 tokenizer of the builtin qwen2-tiny model,
// padded to vocab tokens with plain tokens "<|bench_pad_N|>" (ASCII, so
// valid byte-level BPE tokens) that no prompt of the bench uses: the
// output matrix then has the real model's rows.
func benchTokenizer(vocab int) (*gguf.Metadata, error) {
	p, err := builtin.Path("qwen2-tiny-q4_k_m.gguf")
	if err != nil {
		return nil, err
	}
	f, err := gguf.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	md := gguf.NewMetadata()
	for _, kv := range f.Metadata.KVs() {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			if err := md.Set(kv.Key, kv.Value); err != nil {
				return nil, err
			}
		}
	}
	tokens, err := md.Strings(gguf.KeyTokenizerTokens)
	if err != nil {
		return nil, err
	}
	types, err := md.Ints("tokenizer.ggml.token_type")
	if err != nil {
		return nil, err
	}
	if len(types) != len(tokens) || len(tokens) > vocab {
		return nil, fmt.Errorf("bench: builtin tokenizer has %d tokens and %d types (vocab %d)", len(tokens), len(types), vocab)
	}
	t32 := make([]int32, 0, vocab)
	for _, t := range types {
		t32 = append(t32, int32(t))
	}
	for i := len(tokens); i < vocab; i++ {
		tokens = append(tokens, fmt.Sprintf("<|bench_pad_%d|>", i))
		t32 = append(t32, 1) // normal
	}
	if err := md.Set(gguf.KeyTokenizerTokens, gguf.Array{Elem: gguf.TypeString, Values: tokens}); err != nil {
		return nil, err
	}
	if err := md.Set("tokenizer.ggml.token_type", gguf.Array{Elem: gguf.TypeInt32, Values: t32}); err != nil {
		return nil, err
	}
	return md, nil
}

// q4KMLike picks each matrix's type as llama-quantize's Q4_K_M does for a
// dense model (llama_tensor_get_type): Q6_K for the output (the tied
// embedding when there is no output matrix), and for attn_v and ffn_down
// in the layers use_more_bits picks (the first and last eighth, and every
// third between); Q4_K elsewhere; where a row is not whole 256-element
// blocks, Q5_0 for Q4_K and Q8_0 for Q6_K, as its fallback does.
func q4KMLike(layers int, tied bool) func(name string, rows, cols int) quant.Type {
	moreBits := func(i int) bool { return i < layers/8 || i >= 7*layers/8 || (i-layers/8)%3 == 2 }
	return func(name string, _, cols int) quant.Type {
		t := quant.Q4_K
		switch {
		case name == "output.weight" || (tied && name == "token_embd.weight"):
			t = quant.Q6_K
		case strings.HasSuffix(name, ".attn_v.weight") || strings.HasSuffix(name, ".ffn_down.weight"):
			var l int
			if _, err := fmt.Sscanf(name, "blk.%d.", &l); err == nil && moreBits(l) {
				t = quant.Q6_K
			}
		}
		if cols%t.BlockSize() != 0 {
			if t == quant.Q6_K {
				return quant.Q8_0
			}
			return quant.Q5_0
		}
		return t
	}
}
