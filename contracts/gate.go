package contracts

import (
	"slices"
	"time"

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

// GateKinds lists every known kind.
func GateKinds() []GateKind {
	return []GateKind{KindRatioBand, KindCountParity, KindCoverage, KindMetricMax,
		KindMetricMin, KindLogits, KindBitExact, KindDeterministic,
		KindContractValid, KindCommand}
}

// Known reports whether k is a known gate kind.
func (k GateKind) Known() bool { return slices.Contains(GateKinds(), k) }

// NeedsForward reports whether gates of this kind read traces, so the
// contract needs an input and subjects.
func (k GateKind) NeedsForward() bool {
	return k.Known() && k != KindContractValid && k != KindCommand
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

// GateParams is implemented by every kind's params type.
type GateParams interface {
	// GateKind is the kind these params belong to.
	GateKind() GateKind
	// SubjectNames lists the subjects the gate reads, in the order the
	// gate names them (nil for kinds that run nothing).
	SubjectNames() []string
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
