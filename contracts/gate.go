package contracts

import (
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/falsify/falsify/trace"
)

// GateKind names what a gate measures; each kind has its own params type.
type GateKind string

// Gate kinds.
const (
	KindRatioBand     GateKind = "ratio_band"
	KindCountParity   GateKind = "count_parity"
	KindCoverage      GateKind = "coverage"
	KindMetricMax     GateKind = "metric_max"
	KindMetricMin     GateKind = "metric_min"
	KindLogits        GateKind = "logits"
	KindBitExact      GateKind = "bit_exact"
	KindDeterministic GateKind = "deterministic"
	KindContractValid GateKind = "contract_valid"
	KindCommand       GateKind = "command"
)

// gateKinds is the one registry of gate kinds: each kind's name, a
// constructor of its params type (whose methods decode, validate and name
// the subjects: the kind's whole definition in this package), and whether
// it reads traces. A new kind is a params type below and one line here,
// plus its judge in the harness (harness.judges); a test in each package
// checks that every kind has both.
var gateKinds = []struct {
	kind    GateKind
	new     func() GateParams
	forward bool // reads subjects' traces, so the contract needs an input and subjects
}{
	{KindRatioBand, func() GateParams { return new(RatioBand) }, true},
	{KindCountParity, func() GateParams { return new(CountParity) }, true},
	{KindCoverage, func() GateParams { return new(Coverage) }, true},
	{KindMetricMax, func() GateParams { return new(MetricMax) }, true},
	{KindMetricMin, func() GateParams { return new(MetricMin) }, true},
	{KindLogits, func() GateParams { return new(Logits) }, true},
	{KindBitExact, func() GateParams { return new(BitExact) }, true},
	{KindDeterministic, func() GateParams { return new(Deterministic) }, true},
	{KindContractValid, func() GateParams { return new(ContractValid) }, false},
	{KindCommand, func() GateParams { return new(Command) }, false},
}

// GateKinds lists every known kind, in registry order.
func GateKinds() []GateKind {
	out := make([]GateKind, len(gateKinds))
	for i, k := range gateKinds {
		out[i] = k.kind
	}
	return out
}

// Known reports whether k is a known gate kind.
func (k GateKind) Known() bool { return slices.Contains(GateKinds(), k) }

// NeedsForward reports whether gates of this kind read traces, so the
// contract needs an input and subjects.
func (k GateKind) NeedsForward() bool {
	for _, d := range gateKinds {
		if d.kind == k {
			return d.forward
		}
	}
	return false
}

// NewParams returns empty params of kind k, or nil for an unknown kind.
func NewParams(k GateKind) GateParams {
	for _, d := range gateKinds {
		if d.kind == k {
			return d.new()
		}
	}
	return nil
}

// Gate is the machine form of a falsification test.
type Gate struct {
	Kind GateKind
	// Params holds the kind's typed parameters: one of *RatioBand,
	// *CountParity, *Coverage, *MetricMax, *MetricMin, *Logits, *BitExact,
	// *Deterministic, *ContractValid, *Command. It is nil when the kind is
	// unknown.
	Params GateParams
	// Raw is the gate mapping as plain YAML values (kind included), for
	// evidence records that list a gate's thresholds.
	Raw map[string]any
	Pos Pos
	// keyPos maps each parameter name to the line of its value.
	keyPos map[string]Pos
	// bad marks parameters the decoder already reported as malformed.
	bad map[string]bool
}

// PosOf returns the position of parameter key's value, or the gate's own
// position when the key is absent.
func (g *Gate) PosOf(key string) Pos {
	if p, ok := g.keyPos[key]; ok {
		return p
	}
	return g.Pos
}

// GateParams is implemented by every kind's params type; its methods are
// the kind's definition: what it is called, which subjects it reads, how
// its YAML parameters decode, how they validate.
type GateParams interface {
	// GateKind is the kind these params belong to.
	GateKind() GateKind
	// SubjectNames lists the subjects the gate reads, in the order the
	// gate names them (nil for kinds that run nothing).
	SubjectNames() []string
	// decode reads the kind's parameters (the kind key is read already);
	// malformed values are reported through pr and marked bad.
	decode(pr *paramReader)
	// validate checks the decoded values against the contract.
	validate(g *gateCheck)
	// slotsRead lists the slots the gate reads from its subjects and, per
	// SubjectNames entry, the parameter key that names it; no slots for
	// kinds that read no trace slot. Validate refuses an untraced subject
	// for a gate that reads slots other than logits.
	slotsRead() (slots []trace.Slot, keys []string)
}

// RatioBand judges stat(numerator) / stat(denominator) for one slot and
// sample on each selected layer: every ratio must be finite, > 0 and in
// Band (inclusive). With Layers "all" the number of ratios must equal the
// model's layer count (and ExpectLayers, when set).
//
//	gate: {kind: ratio_band, slot: ffn_swiglu_inner, stat: std, sample: last_token,
//	       layers: all, numerator: apr, denominator: gguf, band: [0.5, 2.0]}
type RatioBand struct {
	Slot        trace.Slot
	Stat        trace.Stat
	Sample      trace.Sample
	Layers      Layers // default all; ignored for embed/final_norm/logits
	Numerator   string
	Denominator string
	Band        trace.Band
	// ExpectLayers is the layer count the model must have (0: not checked).
	ExpectLayers int
}

// CountParity judges count(A) == count(B) for every selected layer, slot
// and sample: equal counts mean both traces took statistics over the same
// sample, the precondition of every ratio gate.
//
//	gate: {kind: count_parity, subjects: [apr, gguf]}
type CountParity struct {
	Subjects [2]string
	Slots    []trace.Slot   // default: the ten layer slots
	Samples  []trace.Sample // default: both
}

// Coverage judges that Subject's trace has Slot populated (count > 0) on
// at least MinLayers layers, or on every layer when AllLayers.
//
//	gate: {kind: coverage, subject: gguf, slot: ffn_swiglu_inner, sample: last_token, min_layers: all}
type Coverage struct {
	Subject   string
	Slot      trace.Slot
	Sample    trace.Sample // default last_token
	MinLayers int          // when !AllLayers, >= 1
	AllLayers bool
}

// Compare is what metric_max and metric_min share: Metric between the
// vectors of A and B (B is the reference) for each slot and layer.
type Compare struct {
	Metric    trace.Metric
	A, B      string
	Slots     []trace.Slot    // default: the ten layer slots
	Layers    Layers          // default all
	Positions trace.Positions // default last; "sample: last_token|all_tokens" is accepted as a synonym
}

// MetricMax judges Metric <= Max on every compared vector.
//
//	gate: {kind: metric_max, metric: nmse, a: engine, b: golden, layers: all, positions: all, max: 5e-3}
type MetricMax struct {
	Compare
	Max float64
}

// MetricMin judges Metric >= Min on every compared vector.
//
//	gate: {kind: metric_min, metric: cosine, a: engine, b: golden, min: 0.999}
type MetricMin struct {
	Compare
	Min float64
}

// Logits compares the logits of A and B at the selected positions. Each
// set criterion must hold: top-1 agreement rate >= Top1Min, KL(B||A) <=
// KLMax (B the reference), mean top-K overlap fraction >= TopKOverlapMin.
//
//	gate: {kind: logits, a: engine, b: golden, positions: all, top1_min: 1.0, kl_max: 1e-2, topk: 10, topk_overlap_min: 0.8}
type Logits struct {
	A, B           string
	Positions      trace.Positions // default last
	Top1Min        *float64        // in [0, 1]
	KLMax          *float64        // >= 0
	TopK           int             // required with TopKOverlapMin
	TopKOverlapMin *float64        // in [0, 1]
}

// BitExact judges that A's and B's traces are bit-identical: every value
// of every slot, embed, final_norm, logits and the tokens; or only Slots
// when set.
//
//	gate: {kind: bit_exact, a: f32, b: f32q}
type BitExact struct {
	A, B  string
	Slots []trace.Slot // nil: the whole trace
}

// Deterministic judges that Runs runs of Subject, and a run at each of
// Threads thread counts, give bit-identical traces.
//
//	gate: {kind: deterministic, subject: engine, runs: 3, threads: [1, 2]}
type Deterministic struct {
	Subject string
	Runs    int   // >= 2
	Threads []int // optional; each >= 0 (0: all cores)
}

// ContractValid judges that the contract itself validates without error
// findings.
//
//	gate: {kind: contract_valid}
type ContractValid struct{}

// Command judges that a shell command exits with ExpectExit within
// Timeout: the escape hatch for checks no other kind expresses.
//
//	gate: {kind: command, run: "go test ./engine/quant/", expect_exit: 0, timeout: 10m}
type Command struct {
	Run        string
	ExpectExit int
	Timeout    time.Duration // 0: the harness's default
	// Env names the environment variables the command may see besides
	// PATH, HOME and LANG (the harness gives it nothing else); their
	// values are masked in what the evidence records of its output.
	Env []string
}

// GateKind implements GateParams.
func (*RatioBand) GateKind() GateKind     { return KindRatioBand }
func (*CountParity) GateKind() GateKind   { return KindCountParity }
func (*Coverage) GateKind() GateKind      { return KindCoverage }
func (*MetricMax) GateKind() GateKind     { return KindMetricMax }
func (*MetricMin) GateKind() GateKind     { return KindMetricMin }
func (*Logits) GateKind() GateKind        { return KindLogits }
func (*BitExact) GateKind() GateKind      { return KindBitExact }
func (*Deterministic) GateKind() GateKind { return KindDeterministic }
func (*ContractValid) GateKind() GateKind { return KindContractValid }
func (*Command) GateKind() GateKind       { return KindCommand }

// SubjectNames implements GateParams.
func (p *RatioBand) SubjectNames() []string     { return []string{p.Numerator, p.Denominator} }
func (p *CountParity) SubjectNames() []string   { return p.Subjects[:] }
func (p *Coverage) SubjectNames() []string      { return []string{p.Subject} }
func (p *Compare) SubjectNames() []string       { return []string{p.A, p.B} }
func (p *Logits) SubjectNames() []string        { return []string{p.A, p.B} }
func (p *BitExact) SubjectNames() []string      { return []string{p.A, p.B} }
func (p *Deterministic) SubjectNames() []string { return []string{p.Subject} }
func (*ContractValid) SubjectNames() []string   { return nil }
func (*Command) SubjectNames() []string         { return nil }

func (p *RatioBand) decode(pr *paramReader) {
	p.Slot = pr.slot("slot", true)
	p.Stat = trace.Stat(pr.str("stat", true))
	p.Sample = trace.Sample(pr.str("sample", true))
	p.Layers = pr.layers("layers")
	p.Numerator = pr.str("numerator", true)
	p.Denominator = pr.str("denominator", true)
	p.Band = pr.band("band")
	p.ExpectLayers, _ = pr.integer("expect_layers", false)
}

func (p *RatioBand) validate(g *gateCheck) {
	g.slot("slot", p.Slot)
	g.enum("stat", string(p.Stat), p.Stat.Known(), trace.StatNames())
	g.enum("sample", string(p.Sample), p.Sample.Known(), trace.Samples())
	g.layers("layers", p.Layers, p.ExpectLayers)
	if p.Slot.Known() && !p.Slot.IsLayer() && !p.Layers.All {
		g.errorf("layers", RuleInvalidValue, "slot %s is not per layer; drop layers", p.Slot)
	}
	g.pair("numerator", p.Numerator, "denominator", p.Denominator)
	g.band("band", p.Band)
	if p.ExpectLayers < 0 {
		g.errorf("expect_layers", RuleInvalidValue, "expect_layers %d is negative", p.ExpectLayers)
	}
}

func (p *RatioBand) slotsRead() ([]trace.Slot, []string) {
	return []trace.Slot{p.Slot}, []string{"numerator", "denominator"}
}

func (p *CountParity) decode(pr *paramReader) {
	p.Slots, p.Samples = pr.slots("slots"), pr.samples("sample")
	if n := pr.take("subjects", true); n != nil {
		names, ok := pr.d.strList(n, pr.what+".subjects")
		switch {
		case !ok:
			pr.bad("subjects")
		case len(names) != 2:
			pr.bad("subjects")
			pr.d.errorf(posOf(n), RuleInvalidValue, "%s.subjects must name exactly two subjects, not %d", pr.what, len(names))
		default:
			p.Subjects = [2]string{names[0], names[1]}
		}
	}
	if p.Slots == nil {
		p.Slots = trace.LayerSlots()
	}
}

func (p *CountParity) validate(g *gateCheck) {
	g.pair("subjects", p.Subjects[0], "subjects", p.Subjects[1])
	g.slots("slots", p.Slots)
	if p.Samples != nil && len(p.Samples) == 0 && !g.skip("sample") {
		g.errorf("sample", RuleInvalidValue, "sample is empty; omit it for the default")
	}
	for _, s := range p.Samples {
		g.enum("sample", string(s), s.Known(), append(trace.Samples(), "both"))
	}
}

func (p *CountParity) slotsRead() ([]trace.Slot, []string) {
	return p.Slots, []string{"subjects", "subjects"}
}

func (p *Coverage) decode(pr *paramReader) {
	p.Subject, p.Slot, p.Sample = pr.str("subject", true), pr.slot("slot", true), trace.Sample(pr.str("sample", false))
	if p.Sample == "" {
		p.Sample = trace.SampleLastToken
	}
	if n := pr.take("min_layers", true); n != nil {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && n.Value == "all" {
			p.AllLayers = true
		} else if v, ok := pr.d.integer(n, pr.what+".min_layers (an integer or \"all\")"); ok {
			p.MinLayers = v
		} else {
			pr.bad("min_layers")
		}
	}
}

func (p *Coverage) validate(g *gateCheck) {
	g.subject("subject", p.Subject)
	g.slot("slot", p.Slot)
	if p.Slot.Known() && !p.Slot.IsLayer() {
		g.errorf("slot", RuleInvalidValue, "coverage counts layers; slot %s is not per layer", p.Slot)
	}
	g.enum("sample", string(p.Sample), p.Sample.Known(), trace.Samples())
	if !p.AllLayers && p.MinLayers < 1 && !g.g.bad["min_layers"] {
		g.errorf("min_layers", RuleInvalidValue, "min_layers must be at least 1 or \"all\", not %d", p.MinLayers)
	}
}

func (p *Coverage) slotsRead() ([]trace.Slot, []string) {
	return []trace.Slot{p.Slot}, []string{"subject"}
}

func (p *Compare) slotsRead() ([]trace.Slot, []string) { return p.Slots, []string{"a", "b"} }

func (p *MetricMax) decode(pr *paramReader) {
	p.Compare = pr.compare()
	p.Max, _ = pr.number("max", true)
}

func (p *MetricMax) validate(g *gateCheck) { g.compare(&p.Compare, "max", p.Max, false) }

func (p *MetricMin) decode(pr *paramReader) {
	p.Compare = pr.compare()
	p.Min, _ = pr.number("min", true)
}

func (p *MetricMin) validate(g *gateCheck) { g.compare(&p.Compare, "min", p.Min, true) }

func (p *Logits) decode(pr *paramReader) {
	p.A, p.B, p.Positions = pr.str("a", true), pr.str("b", true), pr.positions()
	p.Top1Min = pr.optNumber("top1_min")
	p.KLMax = pr.optNumber("kl_max")
	p.TopK, _ = pr.integer("topk", false)
	p.TopKOverlapMin = pr.optNumber("topk_overlap_min")
	if p.Top1Min == nil && p.KLMax == nil && p.TopKOverlapMin == nil && !pr.anyBad("top1_min", "kl_max", "topk_overlap_min") {
		pr.d.errorf(pr.g.Pos, RuleMissingGateParam, "%s (logits) sets no criterion: give top1_min, kl_max or topk_overlap_min", pr.what)
	}
}

func (p *Logits) validate(g *gateCheck) {
	g.pair("a", p.A, "b", p.B)
	g.enum("positions", string(p.Positions), p.Positions.Known(), []trace.Positions{trace.PositionsLast, trace.PositionsAll})
	g.fraction("top1_min", p.Top1Min)
	g.fraction("topk_overlap_min", p.TopKOverlapMin)
	if p.KLMax != nil {
		g.finite("kl_max", *p.KLMax)
		if *p.KLMax < 0 {
			g.errorf("kl_max", RuleInvalidValue, "kl_max %g is negative; KL divergence is >= 0", *p.KLMax)
		}
	}
	switch {
	case p.TopKOverlapMin != nil && p.TopK == 0 && !g.g.bad["topk"]:
		g.errorf("topk_overlap_min", RuleMissingGateParam, "topk_overlap_min needs topk (how many top logits to compare)")
	case p.TopK < 0:
		g.errorf("topk", RuleInvalidValue, "topk %d is negative", p.TopK)
	}
}

// slotsRead: logits only, which an untraced subject records.
func (*Logits) slotsRead() ([]trace.Slot, []string) { return nil, nil }

func (p *BitExact) decode(pr *paramReader) {
	p.A, p.B, p.Slots = pr.str("a", true), pr.str("b", true), pr.slots("slots")
}

func (p *BitExact) validate(g *gateCheck) {
	g.pair("a", p.A, "b", p.B)
	g.slots("slots", p.Slots)
}

func (p *BitExact) slotsRead() ([]trace.Slot, []string) {
	if p.Slots == nil {
		return trace.LayerSlots(), []string{"a", "b"} // the whole trace
	}
	return p.Slots, []string{"a", "b"}
}

func (p *Deterministic) decode(pr *paramReader) {
	p.Subject = pr.str("subject", true)
	p.Runs, _ = pr.integer("runs", true)
	if n := pr.take("threads", false); n != nil {
		var ok bool
		if p.Threads, ok = pr.d.intList(n, pr.what+".threads"); !ok {
			pr.bad("threads")
		}
	}
}

func (p *Deterministic) validate(g *gateCheck) {
	g.subject("subject", p.Subject)
	if s, ok := g.v.c.Subject(p.Subject); ok && s.IsGolden() {
		g.errorf("subject", RuleInvalidValue, "subject %q is a golden trace; determinism needs a model run", p.Subject)
	}
	if p.Runs < 2 && !g.g.bad["runs"] {
		g.errorf("runs", RuleInvalidValue, "runs must be at least 2 to compare, not %d", p.Runs)
	}
	for _, n := range p.Threads {
		if n < 0 {
			g.errorf("threads", RuleInvalidValue, "thread count %d is negative (0 means all cores)", n)
		}
	}
}

// slotsRead: a determinism gate compares a subject's own re-runs, which
// the harness traces itself.
func (*Deterministic) slotsRead() ([]trace.Slot, []string) { return nil, nil }

func (*ContractValid) decode(*paramReader)                 {}
func (*ContractValid) validate(*gateCheck)                 {}
func (*ContractValid) slotsRead() ([]trace.Slot, []string) { return nil, nil }

func (p *Command) decode(pr *paramReader) {
	p.Run = pr.str("run", true)
	p.ExpectExit, _ = pr.integer("expect_exit", false)
	if s := pr.str("timeout", false); s != "" {
		t, err := time.ParseDuration(s)
		if err != nil {
			pr.bad("timeout")
			pr.d.errorf(pr.g.PosOf("timeout"), RuleWrongType, "%s.timeout must be a duration like 30s or 10m: %v", pr.what, err)
		}
		p.Timeout = t
	}
	if n := pr.take("env", false); n != nil {
		names, ok := pr.d.strList(n, pr.what+".env")
		for _, name := range names {
			if !validVarName(name) {
				ok = false
				pr.d.errorf(posOf(n), RuleInvalidValue, "%s.env: %q is not an environment variable name", pr.what, name)
			}
		}
		if !ok {
			pr.bad("env")
		}
		p.Env = names
	}
}

func (p *Command) validate(g *gateCheck) {
	if p.Timeout < 0 {
		g.errorf("timeout", RuleInvalidValue, "timeout %s is negative", p.Timeout)
	}
	env := "PATH, HOME and LANG"
	if len(p.Env) > 0 {
		env += " plus " + strings.Join(p.Env, ", ")
	}
	g.v.d.warnf(g.g.PosOf("run"), RuleCommand, "%s: runs the shell command %q as you, with %s, in its own process group; it runs only with --allow-commands or FALSIFY_ALLOW_COMMANDS=1",
		g.id, p.Run, env)
}

func (*Command) slotsRead() ([]trace.Slot, []string) { return nil, nil }
