package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot/vg"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/internal/mmapfile"
	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

func init() {
	register("diff", "compare two models or traces: per-layer NMSE, cosine, std ratio, first divergence", runDiff)
}

type diffOptions struct {
	matmulA, matmulB string
	backendA         string
	backendB         string
	threads          int
	tokens, prompt   string
	positions        string
	metric           string
	threshold        string
	noiseFloor       bool
	floorFactor      float64
	topK             int
	plot             string
	asJSON           bool
}

// diffSide is A or B: a model run here, or a saved trace.
type diffSide struct {
	name  string // "a" or "b"
	path  string
	model *engine.Model // nil for a trace file
	opts  engine.Options
	trace *trace.Trace
}

// closeSides closes the sides' models once every forward pass and replay
// has run, before a result is printed: a backend reports what went wrong
// on the device at Close (with FALSIFY_VULKAN_VALIDATE=1, every message
// of the validation layer), which must fail the command, not vanish in a
// deferred Close. Closing a model twice is harmless.
func closeSides(sides []*diffSide) error {
	var errs []error
	for _, s := range sides {
		if s.model != nil {
			if err := s.model.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.path, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (s *diffSide) describe() string {
	if s.model == nil {
		p := s.trace.Provenance
		// The run options that change the numbers or the path taken
		// (prefill: the decode path, whose bits match the batch path's).
		opts := ""
		for _, k := range slices.Sorted(maps.Keys(p.Options)) {
			opts += fmt.Sprintf(", %s %s", k, p.Options[k])
		}
		return fmt.Sprintf("%s (saved trace of %s, %s matmul%s)", s.path, orDash(p.Model), orDash(string(p.Matmul)), opts)
	}
	be := s.opts.Backend
	if be == "" {
		be = engine.DefaultBackend
	}
	return fmt.Sprintf("%s (%s model, %s matmul, %s backend)", s.path, s.model.Format, s.opts.Matmul, be)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o diffOptions
	fs := newFlagSet("diff", "diff A B [options]\n\n"+
		"A and B are model files or builtin:NAME (run here on --tokens or --prompt) or trace JSON files\n"+
		"(falsify trace --json --positions all). B is the reference: NMSE = sum((a-b)^2)/sum(b^2),\n"+
		"std ratio = std(a)/std(b), KL(B||A). When both are models, every layer is also replayed\n"+
		"on the other side's input (teacher forcing): local = A's layer on B's input vs B, the error\n"+
		"the layer adds by itself; propagated = B's layer on A's input vs B, the error it inherits.\n"+
		"The same model on two backends: diff --backend-a vulkan --backend-b cpu MODEL MODEL.", stderr)
	fs.StringVar(&o.matmulA, "matmul-a", string(trace.MatmulQuantized), "matmul mode of model A: quantized or f32")
	fs.StringVar(&o.matmulB, "matmul-b", string(trace.MatmulQuantized), "matmul mode of model B: quantized or f32")
	backendHelp := "engine backend that runs model %s: one this build registers (" + strings.Join(backend.Names(), ", ") +
		"; 'falsify backends' says which have a device here; default " + engine.DefaultBackend + ")"
	fs.StringVar(&o.backendA, "backend-a", "", fmt.Sprintf(backendHelp, "A"))
	fs.StringVar(&o.backendB, "backend-b", "", fmt.Sprintf(backendHelp, "B"))
	fs.IntVar(&o.threads, "threads", 0, "worker threads (0: all cores)")
	fs.IntVar(&o.threads, "t", 0, "short for --threads")
	fs.StringVar(&o.tokens, "tokens", "", "comma-separated token ids to run (default: the tokens of a trace argument)")
	fs.StringVar(&o.prompt, "prompt", "", "text to tokenize with model A's tokenizer (no BOS added)")
	fs.StringVar(&o.prompt, "p", "", "short for --prompt")
	fs.StringVar(&o.positions, "positions", "auto", "positions compared: last, all, or auto (all when both sides hold every position's\n"+
		"vectors and logits: a model side computes them, a trace file needs falsify trace\n"+
		"--positions all; a trace with the last position's logits is refused by all)")
	fs.StringVar(&o.metric, "metric", string(trace.MetricNMSE), "metric of the first divergence: nmse, cosine, sqnr, max_abs, rel_l2")
	fs.StringVar(&o.threshold, "threshold", "", "first divergence: first site whose metric crosses this (default per metric: nmse 1e-3, cosine 0.999,\n"+
		"sqnr 30 dB, rel_l2 0.0316, max_abs 0.01; 0 (or 1 for cosine) means the first site that differs at all;\n"+
		"see docs/diff.md)")
	fs.BoolVar(&o.noiseFloor, "noise-floor", false, "measure each model's noise floor (embedding nudged one ULP) and show it; the first divergence must then exceed --floor-factor x floor")
	fs.Float64Var(&o.floorFactor, "floor-factor", 10, "with --noise-floor: how far above the floor a site must be to count as diverged")
	fs.IntVar(&o.topK, "topk", 10, "logits: width of the top-k overlap")
	fs.StringVar(&o.plot, "plot", "", "draw the per-layer curves to this .png or .svg file")
	fs.BoolVar(&o.asJSON, "json", false, "print the comparison as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("diff takes two arguments (models or trace files), got %d", len(pos))
	}
	metric, err := trace.ParseMetric(o.metric)
	if err != nil {
		return usagef("--metric: %v", err)
	}
	limit := defaultThreshold(metric)
	if o.threshold != "" {
		if limit, err = strconv.ParseFloat(o.threshold, 64); err != nil {
			return usagef("--threshold %q: not a number", o.threshold)
		}
	}
	if o.plot != "" {
		if ext := strings.ToLower(filepath.Ext(o.plot)); ext != ".png" && ext != ".svg" {
			return usagef("--plot %q: the file must end in .png or .svg", o.plot)
		}
	}
	if o.positions != "auto" {
		if _, err := trace.ParsePositions(o.positions); err != nil {
			return usagef("--positions %q: want last, all or auto", o.positions)
		}
	}
	if isSet(fs, "tokens") && isSet(fs, "prompt", "p") {
		return usagef("give at most one of --tokens and --prompt")
	}
	if isSet(fs, "prompt", "p") && o.prompt == "" {
		return usagef("--prompt is empty: give a text to tokenize")
	}
	if isSet(fs, "tokens") && strings.TrimSpace(o.tokens) == "" {
		return usagef("--tokens is empty: give comma-separated token ids")
	}
	if err := checkThreads(o.threads); err != nil {
		return err
	}
	if err := checkBackendFlag("--backend-a", o.backendA, "engine"); err != nil {
		return err
	}
	if err := checkBackendFlag("--backend-b", o.backendB, "engine"); err != nil {
		return err
	}
	if o.topK < 1 {
		return usagef("--topk %d: must be at least 1", o.topK)
	}
	sides, err := openSides(pos, o)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range sides {
			if s.model != nil {
				s.model.Close()
			}
		}
	}()
	if err := runSides(ctx, sides, o, stderr); err != nil {
		return err
	}
	a, b := sides[0], sides[1]
	res, err := analyze(ctx, a, b, o, metric, limit, stderr)
	if err != nil {
		return err
	}
	if err := closeSides(sides); err != nil {
		return err
	}
	if o.plot != "" {
		if err := writeDiffPlot(o.plot, res); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "diff: wrote %s\n", o.plot)
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(diffToJSON(res, a, b))
	}
	return printDiff(stdout, a, b, res)
}

// defaultThreshold is the first-divergence threshold when --threshold is
// not given. Like Polygraphy's atol/rtol it is a tolerance, not zero: two
// quantizations differ at the embedding already, so "first site that
// differs" would always name embed. The values are one consistent level,
// an error power one thousandth of the signal's: NMSE 1e-3 = SQNR 30 dB =
// relative L2 error sqrt(1e-3) ~ 0.0316, and cosine >= 0.999 (for small
// errors 1 - cos ~ NMSE/2, so 0.999 is slightly looser). max_abs has no
// scale-free meaning; 0.01 suits activations of order 1. Documented in
// docs/diff.md.
func defaultThreshold(m trace.Metric) float64 {
	switch m {
	case trace.MetricNMSE:
		return 1e-3
	case trace.MetricCosine:
		return 0.999
	case trace.MetricSQNR:
		return 30
	case trace.MetricRelL2:
		return math.Sqrt(1e-3)
	case trace.MetricMaxAbs:
		return 0.01
	}
	return m.Identity()
}

// openSides loads each argument as a model or a trace JSON file (by its
// first non-space byte: '{' is JSON).
func openSides(paths []string, o diffOptions) ([]*diffSide, error) {
	var sides []*diffSide
	for i, p := range paths {
		s := &diffSide{name: string(rune('a' + i)), path: p}
		mode, be := o.matmulA, o.backendA
		if i == 1 {
			mode, be = o.matmulB, o.backendB
		}
		mm, err := trace.ParseMatmulMode(mode)
		if err != nil {
			return nil, usagef("--matmul-%s: %v", s.name, err)
		}
		// Every position's vectors for the layer replays; every position's
		// logits unless only the last position is compared.
		s.opts = engine.Options{Backend: be, Matmul: mm, Threads: o.threads, AllPositions: true, AllLogits: o.positions != "last"}
		if p, err = modelArg(p); err != nil {
			return nil, err
		}
		isJSON, err := looksLikeJSON(p)
		if err != nil {
			return nil, fmt.Errorf("diff: %s: %w", s.name, err)
		}
		if isJSON && be != "" {
			return nil, usagef("--backend-%s %s: %s is a saved trace, which ran where it ran (its provenance says where)", s.name, be, s.path)
		}
		if isJSON {
			if s.trace, err = readTrace(p); err != nil {
				return nil, fmt.Errorf("diff: %s: %w", s.name, err)
			}
		} else if s.model, err = engine.Load(p); err != nil {
			return nil, fmt.Errorf("diff: %s: %w", s.name, err)
		}
		sides = append(sides, s)
	}
	return sides, nil
}

func looksLikeJSON(path string) (bool, error) {
	// A FIFO would block this peek (and the load after it).
	f, err := mmapfile.OpenRegular(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		c, err := r.ReadByte()
		if err != nil {
			return false, nil
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{', nil
	}
}

func readTrace(path string) (*trace.Trace, error) {
	f, err := mmapfile.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// One reader for every trace file (format, fields, side-car).
	return trace.Decode(path, bufio.NewReader(f))
}

// runSides runs the model sides on the prompt: --tokens, --prompt (A's
// tokenizer, or B's when A is a trace), or a trace side's tokens.
func runSides(ctx context.Context, sides []*diffSide, o diffOptions, stderr io.Writer) error {
	var tokens []int32
	switch {
	case o.tokens != "":
		t, err := traceTokens(nil, traceOptions{tokens: o.tokens})
		if err != nil {
			return err
		}
		tokens = t
	case o.prompt != "":
		for _, s := range sides {
			if s.model != nil {
				t, err := s.model.Tokenize(o.prompt)
				if err != nil {
					return fmt.Errorf("diff: tokenize with %s: %w", s.name, err)
				}
				tokens = t
				break
			}
		}
		if tokens == nil {
			return usagef("--prompt needs a model argument to tokenize with")
		}
	default:
		for _, s := range sides {
			if s.trace != nil {
				tokens = s.trace.Tokens
				break
			}
		}
		if tokens == nil {
			return usagef("give --tokens or --prompt to run two models")
		}
	}
	for _, s := range sides {
		if s.model == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checkContext(s.path, len(tokens), s.model.Hyper.NCtx); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "diff: tracing %d tokens through %s\n", len(tokens), s.describe())
		tr, err := engine.Run(s.model, tokens, s.opts)
		if errors.Is(err, engine.ErrBackendUnavailable) {
			// Registered, but no device or driver here: a broken setup (3).
			return fmt.Errorf("diff: --backend-%s %s: %w", s.name, s.opts.Backend, err)
		}
		if err != nil {
			return fmt.Errorf("diff: %s: %w", s.name, err)
		}
		s.trace = tr
	}
	return nil
}

func analyze(ctx context.Context, a, b *diffSide, o diffOptions, metric trace.Metric, limit float64, stderr io.Writer) (*parity.DiffResult, error) {
	pos := trace.Positions(o.positions)
	if o.positions == "auto" {
		pos = ""
	}
	r, err := parity.Diff(ctx, a.side(), b.side(), [2]string{a.name, b.name}, parity.DiffOptions{
		Positions: pos, Metric: metric, Limit: limit, TopK: o.topK, NoiseFloor: o.noiseFloor, FloorFactor: o.floorFactor,
		Log: func(format string, args ...any) { fmt.Fprintf(stderr, "diff: "+format+"\n", args...) },
	})
	switch {
	case errors.Is(err, parity.ErrNoRerun):
		return nil, usagef("--noise-floor needs at least one model argument (a saved trace cannot be re-run)")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("diff: %w", err)
	}
	return r, nil
}

// side is s for parity: its trace, and for a model the layer replay and
// re-run (the noise floor's nudge is the engine option NudgeEmbedding,
// set here) that parity asks for; a saved trace has neither.
func (s *diffSide) side() parity.Side {
	p := parity.Side{Trace: s.trace}
	if s.model == nil {
		return p
	}
	m, opts := s.model, s.opts
	p.Replay = func(l int, input [][]float32) (*trace.LayerTrace, error) {
		return engine.ReplayLayer(m, l, input, opts)
	}
	p.Rerun = func(tokens []int32, nudge bool) (*trace.Trace, error) {
		o := opts
		o.AllPositions, o.AllLogits, o.NudgeEmbedding = true, true, nudge
		return engine.Run(m, tokens, o)
	}
	return p
}

// printDiff writes the per-site table and the findings.
func printDiff(w io.Writer, a, b *diffSide, r *parity.DiffResult) error {
	fmt.Fprintf(w, "a: %s\nb: %s (reference)\n", a.describe(), b.describe())
	fmt.Fprintf(w, "tokens %v, positions %s (sample %s)\n", r.Comparison.Tokens, r.Comparison.Positions, r.Comparison.Positions.Sample())
	if r.Floor != nil {
		fmt.Fprintf(w, "floor: %s\n", r.FloorNote)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "layer\tslot\tcount\tstd_ratio\tnmse\tcosine\tsqnr_db\tmax_abs\t"
	if r.Floor != nil {
		head += "floor_nmse\t"
	}
	if r.Split != nil {
		head += "local_nmse\tpropagated_nmse\t"
	}
	fmt.Fprintln(tw, head)
	for i, s := range r.Comparison.Sites {
		layer := "-"
		if s.Layer >= 0 {
			layer = strconv.Itoa(s.Layer)
		}
		if s.Empty {
			fmt.Fprintf(tw, "%s\t%s\t0\tEMPTY\t\t\t\t\t", layer, s.Slot)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t", layer, s.Slot, s.Count, fnum(s.StdRatio, 5), fnum(s.NMSE, 3), fcos(s.Cosine), fnum(s.SQNR, 4), fnum(s.MaxAbs, 3))
		}
		if r.Floor != nil {
			fmt.Fprintf(tw, "%s\t", fnum(r.Floor.Sites[i].NMSE, 3))
		}
		if r.Split != nil {
			if s.Layer >= 0 {
				ls := r.Split.Layers[s.Layer]
				k := i - 1 - s.Layer*trace.NumLayerSlots
				fmt.Fprintf(tw, "%s\t%s\t", fnum(ls.Local[k].NMSE, 3), fnum(ls.Propagated[k].NMSE, 3))
			} else {
				fmt.Fprint(tw, "\t\t")
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	crit := fmt.Sprintf("%s crosses %s", r.Metric, fnum(r.Limit, 4))
	if r.Floor != nil {
		crit += " and the noise floor x factor"
	}
	if r.First != nil {
		fmt.Fprintf(w, "first divergence (%s): %s\n", crit, r.First)
	} else {
		fmt.Fprintf(w, "first divergence (%s): none\n", crit)
	}
	if r.Split != nil {
		if r.Local != nil {
			fmt.Fprintf(w, "first local divergence (%s crosses %s): %s\n", r.Metric, fnum(r.Limit, 4), r.Local)
		} else {
			fmt.Fprintf(w, "first local divergence: none (no layer adds error by itself)\n")
		}
	}
	lc := r.Logits
	fmt.Fprintf(w, "logits over %d positions: top-1 agreement %.4f, top-%d overlap %.4f, KLD(b||a) mean %s p99 %s max %s, Δp mean %s rms %s min %s max %s",
		len(lc.Positions), lc.Top1Agreement, lc.TopK, lc.TopKOverlap, fnum(lc.KLD.Mean, 4), fnum(lc.KLD.P99, 4), fnum(lc.KLD.Max, 4),
		fnum(lc.DeltaP.Mean, 3), fnum(lc.DeltaP.RMS, 3), fnum(lc.DeltaP.Min, 3), fnum(lc.DeltaP.Max, 3))
	if !math.IsNaN(lc.PPLA) {
		fmt.Fprintf(w, ", prompt PPL a %s b %s", fnum(lc.PPLA, 5), fnum(lc.PPLB, 5))
	}
	fmt.Fprintln(w)
	for _, f := range lc.Flips {
		fmt.Fprintf(w, "  top-1 flips at position %d: a %d (p %.4f), b %d (p %.4f; a gives it %.4f), KLD %s\n",
			f.Position, f.TokenA, f.ProbA, f.TokenB, f.ProbB, f.ProbAOfB, fnum(f.KLD, 4))
	}
	return nil
}

func fnum(x float64, prec int) string {
	switch {
	case math.IsNaN(x):
		return "-"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(x, 'g', prec, 64)
}

// fcos shows how far a cosine is from 1, which 'g' formatting hides.
func fcos(x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return strconv.FormatFloat(x, 'f', 9, 64)
}

// The JSON form of a diff. Floats go through trace.Float, which writes
// NaN and the infinities as strings (plain JSON numbers cannot hold them).
type (
	jf = trace.Float

	diffJSON struct {
		A               sideJSON        `json:"a"`
		B               sideJSON        `json:"b"`
		Tokens          []int32         `json:"tokens"`
		Positions       string          `json:"positions"`
		Reference       string          `json:"reference"`
		Sites           []siteJSON      `json:"sites"`
		FirstDivergence *divergenceJSON `json:"first_divergence"`
		FirstLocal      *divergenceJSON `json:"first_local_divergence,omitempty"`
		NoiseFloor      string          `json:"noise_floor,omitempty"`
		Logits          logitsJSON      `json:"logits"`
	}
	sideJSON struct {
		Path       string           `json:"path"`
		Kind       string           `json:"kind"` // model or trace
		Provenance trace.Provenance `json:"provenance"`
	}
	metricsJSON struct {
		NMSE   jf `json:"nmse"`
		Cosine jf `json:"cosine"`
		SQNR   jf `json:"sqnr_db"`
		MaxAbs jf `json:"max_abs"`
		RelL2  jf `json:"rel_l2"`
	}
	siteJSON struct {
		Layer *int       `json:"layer"`
		Slot  trace.Slot `json:"slot"`
		Count int        `json:"count"`
		Empty bool       `json:"empty,omitempty"`
		metricsJSON
		StdA       jf           `json:"std_a"`
		StdB       jf           `json:"std_b"`
		StdRatio   jf           `json:"std_ratio"`
		Floor      *metricsJSON `json:"floor,omitempty"`
		Local      *metricsJSON `json:"local,omitempty"`
		Propagated *metricsJSON `json:"propagated,omitempty"`
	}
	neighbourJSON struct {
		Layer *int       `json:"layer"`
		Slot  trace.Slot `json:"slot"`
		Value jf         `json:"value"`
	}
	divergenceJSON struct {
		Layer  *int           `json:"layer"`
		Slot   trace.Slot     `json:"slot"`
		Metric string         `json:"metric"`
		Value  jf             `json:"value"`
		Limit  jf             `json:"limit"`
		Before *neighbourJSON `json:"before"`
		After  *neighbourJSON `json:"after"`
	}
	flipJSON struct {
		Position int `json:"position"`
		TokenA   int `json:"token_a"`
		TokenB   int `json:"token_b"`
		ProbA    jf  `json:"prob_a"`
		ProbB    jf  `json:"prob_b"`
		ProbAOfB jf  `json:"prob_a_of_token_b"`
		KLD      jf  `json:"kld"`
	}
	summaryJSON struct {
		Mean   jf `json:"mean"`
		Min    jf `json:"min"`
		Median jf `json:"median"`
		P99    jf `json:"p99"`
		Max    jf `json:"max"`
		RMS    jf `json:"rms"`
	}
	logitsJSON struct {
		Positions     []int       `json:"positions"`
		Top1Agreement jf          `json:"top1_agreement"`
		TopK          int         `json:"topk"`
		TopKOverlap   jf          `json:"topk_overlap"`
		KLD           summaryJSON `json:"kld"`
		KLDs          []jf        `json:"kld_per_position"`
		DeltaP        summaryJSON `json:"delta_p"`
		DeltaPs       []jf        `json:"delta_p_per_position"`
		Targets       []int       `json:"delta_p_targets"`
		PPLA          jf          `json:"ppl_a"`
		PPLB          jf          `json:"ppl_b"`
		Flips         []flipJSON  `json:"flips"`
	}
)

func layerPtr(l int) *int {
	if l < 0 {
		return nil
	}
	return &l
}

func metricsOf(s *parity.SlotComparison) *metricsJSON {
	return &metricsJSON{jf(s.NMSE), jf(s.Cosine), jf(s.SQNR), jf(s.MaxAbs), jf(s.RelL2)}
}

func divergenceOf(d *parity.Divergence) *divergenceJSON {
	if d == nil {
		return nil
	}
	n := func(s *parity.SlotComparison) *neighbourJSON {
		if s == nil {
			return nil
		}
		return &neighbourJSON{layerPtr(s.Layer), s.Slot, jf(s.Value(d.Metric))}
	}
	return &divergenceJSON{Layer: layerPtr(d.Layer), Slot: d.Slot, Metric: string(d.Metric), Value: jf(d.Value), Limit: jf(d.Limit), Before: n(d.Before), After: n(d.After)}
}

func summaryOf(s parity.Summary) summaryJSON {
	return summaryJSON{jf(s.Mean), jf(s.Min), jf(s.Median), jf(s.P99), jf(s.Max), jf(s.RMS)}
}

func floats(v []float64) []jf {
	out := make([]jf, len(v))
	for i, x := range v {
		out[i] = jf(x)
	}
	return out
}

func diffToJSON(r *parity.DiffResult, a, b *diffSide) diffJSON {
	side := func(s *diffSide) sideJSON {
		kind := "trace"
		if s.model != nil {
			kind = "model"
		}
		return sideJSON{Path: s.path, Kind: kind, Provenance: s.trace.Provenance}
	}
	out := diffJSON{A: side(a), B: side(b), Tokens: r.Comparison.Tokens, Positions: string(r.Comparison.Positions), Reference: "b",
		FirstDivergence: divergenceOf(r.First), FirstLocal: divergenceOf(r.Local), NoiseFloor: r.FloorNote}
	for i := range r.Comparison.Sites {
		s := &r.Comparison.Sites[i]
		js := siteJSON{Layer: layerPtr(s.Layer), Slot: s.Slot, Count: s.Count, Empty: s.Empty, metricsJSON: *metricsOf(s),
			StdA: jf(s.StdA), StdB: jf(s.StdB), StdRatio: jf(s.StdRatio)}
		if r.Floor != nil {
			js.Floor = metricsOf(&r.Floor.Sites[i])
		}
		if r.Split != nil && s.Layer >= 0 {
			k := i - 1 - s.Layer*trace.NumLayerSlots
			js.Local = metricsOf(&r.Split.Layers[s.Layer].Local[k])
			js.Propagated = metricsOf(&r.Split.Layers[s.Layer].Propagated[k])
		}
		out.Sites = append(out.Sites, js)
	}
	lc := r.Logits
	out.Logits = logitsJSON{Positions: lc.Positions, Top1Agreement: jf(lc.Top1Agreement), TopK: lc.TopK, TopKOverlap: jf(lc.TopKOverlap),
		KLD: summaryOf(lc.KLD), KLDs: floats(lc.KLDs), DeltaP: summaryOf(lc.DeltaP), DeltaPs: floats(lc.DeltaPs), Targets: lc.Targets,
		PPLA: jf(lc.PPLA), PPLB: jf(lc.PPLB), Flips: []flipJSON{}}
	for _, f := range lc.Flips {
		out.Logits.Flips = append(out.Logits.Flips, flipJSON{f.Position, f.TokenA, f.TokenB, jf(f.ProbA), jf(f.ProbB), jf(f.ProbAOfB), jf(f.KLD)})
	}
	return out
}

// diffCharts are the per-layer curves: NMSE per slot (log scale), local
// and propagated NMSE when both sides are models, and the std ratio.
func diffCharts(r *parity.DiffResult) []evidence.LayerChart {
	perSlot := func(title, ylabel string, log bool, value func(l, s int) float64) evidence.LayerChart {
		c := evidence.LayerChart{Title: title, YLabel: ylabel, LogY: log}
		for s, name := range trace.LayerSlots() {
			ser := evidence.ChartSeries{Name: string(name)}
			for l := range r.Comparison.NumLayers {
				ser.X = append(ser.X, float64(l))
				ser.Y = append(ser.Y, value(l, s))
			}
			c.Series = append(c.Series, ser)
		}
		return c
	}
	where := fmt.Sprintf("positions %s, b the reference", r.Comparison.Positions)
	total := perSlot("NMSE(a, b) per layer, "+where, "NMSE", true, func(l, s int) float64 { return r.Comparison.Layer(l)[s].NMSE })
	if r.Floor != nil {
		fl := evidence.ChartSeries{Name: "noise floor (worst slot)"}
		for l := range r.Comparison.NumLayers {
			worst := 0.0
			for _, s := range r.Floor.Layer(l) {
				if !s.Empty && s.NMSE > worst {
					worst = s.NMSE
				}
			}
			fl.X, fl.Y = append(fl.X, float64(l)), append(fl.Y, worst)
		}
		total.Series = append(total.Series, fl)
	}
	charts := []evidence.LayerChart{total}
	if r.Split != nil {
		charts = append(charts,
			perSlot("local NMSE: a's layer on b's input vs b (error the layer adds)", "NMSE", true, func(l, s int) float64 { return r.Split.Layers[l].Local[s].NMSE }),
			perSlot("propagated NMSE: b's layer on a's input vs b (error inherited)", "NMSE", true, func(l, s int) float64 { return r.Split.Layers[l].Propagated[s].NMSE }))
	}
	charts = append(charts, perSlot("std ratio std(a)/std(b), "+where, "std ratio", false, func(l, s int) float64 { return r.Comparison.Layer(l)[s].StdRatio }))
	return charts
}

func writeDiffPlot(path string, r *parity.DiffResult) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	var b bytes.Buffer
	if err := evidence.WriteCharts(&b, format, diffCharts(r), 8*vg.Inch, 4*vg.Inch); err != nil {
		return fmt.Errorf("diff: plot: %w", err)
	}
	if err := evidence.WriteFileAtomic(path, b.Bytes()); err != nil {
		return fmt.Errorf("diff: plot: %w", err)
	}
	return nil
}
