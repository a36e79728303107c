package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/trace"
)

// traceTiming is what `falsify trace --time` measured
// (docs/schemas/trace-time.schema.json): the forward pass untraced and
// traced on the same input and options. Times are milliseconds of the
// forward calls alone (no model load, no hashing, no writing).
type traceTiming struct {
	Model   string `json:"model"`
	Tokens  int    `json:"tokens"`
	Prefill int    `json:"prefill"` // 0: the prompt as one batch
	Backend string `json:"backend"`
	Matmul  string `json:"matmul"`
	Threads int    `json:"threads"`
	// Positions and Logits are what the traced run kept and computed
	// (--positions, --logits).
	Positions string `json:"positions"`
	Logits    string `json:"logits"`
	// WarmupMS is the first, untraced run: it reads the weights into the
	// page cache and is not compared.
	WarmupMS   float64   `json:"warmup_ms"`
	UntracedMS []float64 `json:"untraced_ms"`
	TracedMS   []float64 `json:"traced_ms"`
	// BestUntracedMS and BestTracedMS are the fastest runs; Ratio is
	// BestTracedMS / BestUntracedMS, the cost of tracing.
	BestUntracedMS float64 `json:"best_untraced_ms"`
	BestTracedMS   float64 `json:"best_traced_ms"`
	Ratio          float64 `json:"ratio"`
	// LogitsIdentical says whether every traced run's last-position logits
	// have the bits of every untraced run's (tracing must not change a
	// bit); false makes the command fail.
	LogitsIdentical bool `json:"logits_identical"`
}

// timeTrace runs the forward untraced once to warm up, then o.timeRuns
// rounds of one untraced and one traced run, and returns the last traced
// run's trace with the times.
func timeTrace(ctx context.Context, m *engine.Model, tokens []int32, opts engine.Options, o traceOptions, stderr io.Writer) (*trace.Trace, *traceTiming, error) {
	t := &traceTiming{Tokens: len(tokens), Prefill: o.prefill, Matmul: string(opts.Matmul), Positions: o.positions, Logits: o.logits, LogitsIdentical: true}
	ms := func(seconds float64) float64 { return math.Round(seconds*1e6) / 1e3 }
	var ref []float32
	untraced := func() (float64, error) {
		logits, d, err := engine.RunUntraced(m, tokens, opts)
		if err != nil {
			return 0, err
		}
		if ref == nil {
			ref = logits
		} else if !sameFloatBits(ref, logits) {
			t.LogitsIdentical = false
		}
		return ms(d.Seconds()), nil
	}
	fmt.Fprintf(stderr, "time: warm-up run, untraced\n")
	w, err := untraced()
	if err != nil {
		return nil, nil, err
	}
	t.WarmupMS = w
	var tr *trace.Trace
	for i := range o.timeRuns {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("trace --time: interrupted after %d of %d rounds (nothing compared): %w", i, o.timeRuns, err)
		}
		fmt.Fprintf(stderr, "time: round %d of %d, untraced then traced\n", i+1, o.timeRuns)
		u, err := untraced()
		if err != nil {
			return nil, nil, err
		}
		t.UntracedMS = append(t.UntracedMS, u)
		if tr, err = engine.Run(m, tokens, opts); err != nil {
			return nil, nil, err
		}
		t.TracedMS = append(t.TracedMS, ms(tr.Provenance.Seconds))
		if !sameFloatBits(ref, tr.Logits.Last) {
			t.LogitsIdentical = false
		}
	}
	t.Backend, t.Threads = tr.Provenance.Backend, tr.Provenance.Threads
	t.BestUntracedMS, t.BestTracedMS = slices.Min(t.UntracedMS), slices.Min(t.TracedMS)
	if t.BestUntracedMS > 0 {
		t.Ratio = math.Round(t.BestTracedMS/t.BestUntracedMS*1000) / 1000
	}
	return tr, t, nil
}

func sameFloatBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// printTiming prints what trace --time measured, as text or JSON; logits
// that tracing changed make it fail (exit 1) after printing.
func printTiming(w io.Writer, t *traceTiming, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		if err := enc.Encode(t); err != nil {
			return err
		}
	} else {
		steps := "one batch"
		if t.Prefill > 0 && t.Prefill < t.Tokens {
			steps = fmt.Sprintf("prefill %d, then %d decode steps", t.Prefill, t.Tokens-t.Prefill)
		}
		fmt.Fprintf(w, "%s: %d tokens (%s), %s backend, %s matmul, %d threads\n", t.Model, t.Tokens, steps, t.Backend, t.Matmul, t.Threads)
		fmt.Fprintf(w, "untraced  %10.1f ms  (best of %d; warm-up run %.1f ms)\n", t.BestUntracedMS, len(t.UntracedMS), t.WarmupMS)
		which := map[string]string{"last": "the last position's", "all": "every position's"}
		fmt.Fprintf(w, "traced    %10.1f ms  (best of %d; every capture point, %s vectors kept, %s logits)\n",
			t.BestTracedMS, len(t.TracedMS), which[t.Positions], which[t.Logits])
		fmt.Fprintf(w, "ratio     %10.3fx traced / untraced\n", t.Ratio)
		same := "identical"
		if !t.LogitsIdentical {
			same = "DIFFERENT"
		}
		fmt.Fprintf(w, "last-position logits traced vs untraced: %s bits\n", same)
	}
	if !t.LogitsIdentical {
		return verdictError{fmt.Errorf("trace --time: the traced run's last-position logits differ from the untraced run's: tracing changed a number (an engine bug)")}
	}
	return nil
}
