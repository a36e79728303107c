package evidence

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/falsify/falsify/trace"
)

// Schema ids, the "schema" field of every record.
const (
	GateSchemaID = "falsify.gate/v1"
	RunSchemaID  = "falsify.run/v1"
)

// ErrInvalidRecord is wrapped by errors for records that break the rules
// of their schema (missing verdict, reason, ids).
var ErrInvalidRecord = errors.New("invalid evidence record")

// Verdict is a gate's outcome.
type Verdict string

// Verdicts (DESIGN.md): only PASS passes a release gate, unless the caller
// allows SKIP explicitly.
const (
	Pass    Verdict = "PASS"
	Fail    Verdict = "FAIL"
	Blocked Verdict = "BLOCKED" // a required gate did not pass
	Skip    Verdict = "SKIP"    // a subject cannot run here (e.g. no GPU)
	Error   Verdict = "ERROR"   // the harness could not measure
)

// Verdicts lists every verdict in report order.
func Verdicts() []Verdict { return []Verdict{Pass, Fail, Blocked, Skip, Error} }

// Valid reports whether v is one of the five verdicts.
func (v Verdict) Valid() bool {
	switch v {
	case Pass, Fail, Blocked, Skip, Error:
		return true
	}
	return false
}

// Measurement is one measured value, where it was measured, and the band
// it was judged against.
type Measurement struct {
	Layer *int       `json:"layer,omitempty"` // nil outside the layers (embed, logits) or for whole-trace values
	Slot  trace.Slot `json:"slot,omitempty"`  // capture point
	// Sample is the statistics sample (last_token, all_tokens) of a
	// statistic, or "A vs B" when a subject forced another sample than
	// its partner's.
	Sample string `json:"sample,omitempty"`
	// Positions are the token positions whose vectors a comparison used
	// (last, all).
	Positions trace.Positions `json:"positions,omitempty"`
	// Variant names the re-run a determinism measurement compares with
	// run 1 ("run 2", "4 threads").
	Variant string      `json:"variant,omitempty"`
	Subject string      `json:"subject,omitempty"` // the one subject measured
	Pair    []string    `json:"pair,omitempty"`    // the two subjects compared: [numerator, denominator] or [a, b]
	Name    string      `json:"name"`              // what the value is: std_ratio, count, nmse, top1_agreement, ...
	Value   trace.Float `json:"value"`
	Band    *trace.Band `json:"band,omitempty"`
	// Pass says whether this one value met its band; nil when the value is
	// informational.
	Pass *bool `json:"pass,omitempty"`
}

// Layer returns &i, for Measurement.Layer.
func Layer(i int) *int { return &i }

// Judge sets m.Band to b and m.Pass to whether the value is in it, and
// returns m.
func (m Measurement) Judge(b trace.Band) Measurement {
	m.Band = &b
	ok := b.Contains(float64(m.Value))
	m.Pass = &ok
	return m
}

func (m Measurement) String() string {
	var parts []string
	parts = append(parts, m.Name)
	switch {
	case len(m.Pair) == 2:
		parts = append(parts, m.Pair[0]+"/"+m.Pair[1])
	case m.Subject != "":
		parts = append(parts, m.Subject)
	}
	if m.Layer != nil {
		parts = append(parts, "layer "+strconv.Itoa(*m.Layer))
	}
	if m.Slot != "" {
		parts = append(parts, string(m.Slot))
	}
	if m.Sample != "" {
		parts = append(parts, m.Sample)
	}
	if m.Positions != "" {
		parts = append(parts, "positions "+string(m.Positions))
	}
	if m.Variant != "" {
		parts = append(parts, m.Variant+" vs run 1")
	}
	return strings.Join(parts, " ") + " = " + strconv.FormatFloat(float64(m.Value), 'g', 6, 64)
}

// ContractRef names the exact contract text a verdict came from.
type ContractRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Path    string `json:"path"`
}

// SubjectProvenance is what one subject ran on and how (one entry per
// subject a gate used): the provenance of its trace, plus what the
// harness knows around it. In JSON the trace provenance's fields sit
// beside Subject.
type SubjectProvenance struct {
	Subject string `json:"subject"`
	// Provenance is the trace's; its Model is the resolved model path,
	// "builtin:NAME", or the golden file, as the contract named it.
	trace.Provenance
	ConvertedFrom string `json:"converted_from,omitempty"` // the GGUF an APR was converted from
	// Sample is the forced sample override, when the subject has one.
	Sample trace.Sample `json:"sample,omitempty"`
	// LogitsPositions says which positions' logits the subject's trace
	// holds (trace.Trace.LogitsPositions): all, or last when the engine
	// computed the last position's only (its default);
	// AllLogitsFor names the gate whose reading of every position's
	// logits made the harness compute them (harness.NeedsAllLogits).
	LogitsPositions trace.Positions `json:"logits_positions,omitempty"`
	AllLogitsFor    string          `json:"all_logits_for,omitempty"`
	// Duration is the harness's wall time for the subject: model load
	// (first use), conversion and run.
	Duration time.Duration `json:"duration_ns"`
}

// GateRecord is the evidence for one gate of one contract in one run.
type GateRecord struct {
	Schema   string      `json:"schema"` // GateSchemaID
	RunID    string      `json:"run_id"`
	Contract ContractRef `json:"contract"`
	GateID   string      `json:"gate_id"`
	Kind     string      `json:"kind"`
	Rule     string      `json:"rule,omitempty"`
	// Params are the gate's parameters and thresholds as written in the
	// contract (kind included).
	Params   map[string]any `json:"params,omitempty"`
	Requires []string       `json:"requires,omitempty"`
	Verdict  Verdict        `json:"verdict"`
	// Reason says why, in words; required for every verdict but PASS.
	Reason string `json:"reason,omitempty"`
	// UnavailableBackend is, for a SKIP, the engine backend a subject
	// could not run on here (not in this build, or no device or driver
	// for it, e.g. "vulkan" on a machine without a Vulkan device).
	// `falsify gate --allow-unavailable NAME` counts such SKIPs as
	// passing; every other SKIP still needs --allow-skip.
	UnavailableBackend string        `json:"unavailable_backend,omitempty"`
	Measurements       []Measurement `json:"measurements"`
	// FirstOffending is the first measurement (in layer, then slot order)
	// that failed its band: it names the offending layer and slot.
	FirstOffending *Measurement        `json:"first_offending,omitempty"`
	Subjects       []SubjectProvenance `json:"subjects"`
	Started        time.Time           `json:"started"`
	Finished       time.Time           `json:"finished"`
	Shard          string              `json:"shard,omitempty"`

	// source is the file the record was loaded from ("" when built here);
	// digest is the sha256 (hex) of its bytes on disk, set by WriteGate
	// and Load.
	source string
	digest string
}

// Digest is the sha256 (lower-case hex) of the record's file as written
// or loaded; "" for a record never written or read.
func (g *GateRecord) Digest() string { return g.digest }

// Source is the file the record was loaded from ("" when not loaded).
func (g *GateRecord) Source() string { return g.source }

// NewGateRecord starts a record for one gate of a run.
func NewGateRecord(runID string, c ContractRef, gateID, kind string) *GateRecord {
	return &GateRecord{Schema: GateSchemaID, RunID: runID, Contract: c, GateID: gateID, Kind: kind,
		Measurements: []Measurement{}, Subjects: []SubjectProvenance{}}
}

// Check reports what makes g break its schema: the ids, a known verdict,
// a reason for every verdict but PASS, timestamps. The errors wrap
// ErrInvalidRecord.
func (g *GateRecord) Check() error {
	var problems []string
	if g.Schema != GateSchemaID {
		problems = append(problems, fmt.Sprintf("schema is %q, want %q", g.Schema, GateSchemaID))
	}
	for _, f := range []struct{ name, val string }{{"run_id", g.RunID}, {"contract.id", g.Contract.ID}, {"gate_id", g.GateID}} {
		if err := checkName(f.val); err != nil {
			problems = append(problems, f.name+": "+err.Error())
		}
	}
	if g.Kind == "" {
		problems = append(problems, "kind is empty")
	}
	if !g.Verdict.Valid() {
		problems = append(problems, fmt.Sprintf("verdict %q is not one of PASS, FAIL, BLOCKED, SKIP, ERROR", g.Verdict))
	} else if g.Verdict != Pass && strings.TrimSpace(g.Reason) == "" {
		problems = append(problems, fmt.Sprintf("verdict %s needs a reason", g.Verdict))
	}
	if g.Started.IsZero() || g.Finished.IsZero() {
		problems = append(problems, "started and finished must be set")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: gate %s/%s: %s", ErrInvalidRecord, g.Contract.ID, g.GateID, strings.Join(problems, "; "))
	}
	return nil
}

// checkName accepts an id that is safe as one path component.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..", strings.ContainsAny(s, `/\`+"\x00"), strings.HasPrefix(s, "."):
		return fmt.Errorf("%q cannot be a file name", s)
	case s == SummaryFile || (strings.HasPrefix(s, "run-") && (strings.HasSuffix(s, ".json") || strings.HasSuffix(s, ".dsse"))):
		return fmt.Errorf("%q is the name of a file the evidence directory holds beside the contracts' directories", s)
	}
	return nil
}

// Key is the measurement a one-line summary shows: the first offending one
// when there is one, else the one closest to the edge of its band, else
// the first.
func (g *GateRecord) Key() *Measurement {
	if g.FirstOffending != nil {
		return g.FirstOffending
	}
	best, bestMargin := -1, math.Inf(1)
	for i, m := range g.Measurements {
		if m.Band == nil {
			continue
		}
		if mg := margin(float64(m.Value), *m.Band); mg < bestMargin {
			best, bestMargin = i, mg
		}
	}
	if best >= 0 {
		return &g.Measurements[best]
	}
	if len(g.Measurements) > 0 {
		return &g.Measurements[0]
	}
	return nil
}

// margin is how far inside its band v lies, relative to the size of the
// nearer end (negative outside; -Inf for NaN and infinities).
func margin(v float64, b trace.Band) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return math.Inf(-1)
	}
	m := math.Inf(1)
	for _, end := range []struct {
		x    float64
		sign float64
	}{{float64(b.Lo), 1}, {float64(b.Hi), -1}} {
		if math.IsInf(end.x, 0) {
			continue
		}
		scale := math.Max(math.Abs(end.x), 1e-300)
		m = math.Min(m, end.sign*(v-end.x)/scale)
	}
	return m
}

// GateSummary is one gate's line in a run report.
type GateSummary struct {
	Contract string  `json:"contract"` // contract id
	GateID   string  `json:"gate_id"`
	Kind     string  `json:"kind"`
	Verdict  Verdict `json:"verdict"`
	Reason   string  `json:"reason,omitempty"`
	// UnavailableBackend is the record's (GateRecord.UnavailableBackend).
	UnavailableBackend string       `json:"unavailable_backend,omitempty"`
	Key                *Measurement `json:"key,omitempty"`
	RunID              string       `json:"run_id"`
	Finished           time.Time    `json:"finished"`
	// File is the gate record's path relative to the evidence directory.
	File string `json:"file,omitempty"`
	// SHA256 is the digest of the record file's bytes as written, so
	// `falsify gate` notices a record edited, replaced or deleted after
	// the run.
	SHA256 string `json:"sha256,omitempty"`
	// Models are the models the gate's subjects ran on, so a summary
	// shows which files a verdict is about.
	Models []ModelRef `json:"models,omitempty"`
}

// ModelRef names the model one subject of a gate ran on.
type ModelRef struct {
	Subject string `json:"subject"`
	Model   string `json:"model"` // path or builtin:NAME
	SHA256  string `json:"sha256,omitempty"`
	// ConvertedFrom is the GGUF model an APR subject was converted from
	// (its Model is then the conversion cache's file).
	ConvertedFrom string `json:"converted_from,omitempty"`
}

// Summarize returns g's line for a run report.
func Summarize(g *GateRecord) GateSummary {
	s := GateSummary{Contract: g.Contract.ID, GateID: g.GateID, Kind: g.Kind, Verdict: g.Verdict,
		Reason: g.Reason, UnavailableBackend: g.UnavailableBackend, RunID: g.RunID, Finished: g.Finished, File: GatePath(g.Contract.ID, g.GateID),
		SHA256: g.digest}
	for _, p := range g.Subjects {
		s.Models = append(s.Models, ModelRef{Subject: p.Subject, Model: p.Model, SHA256: p.SHA256, ConvertedFrom: p.ConvertedFrom})
	}
	if k := g.Key(); k != nil {
		kc := *k
		s.Key = &kc
	}
	return s
}

// Counts tallies verdicts.
type Counts struct {
	Pass    int `json:"PASS"`
	Fail    int `json:"FAIL"`
	Blocked int `json:"BLOCKED"`
	Skip    int `json:"SKIP"`
	Error   int `json:"ERROR"`
}

func (c *Counts) slot(v Verdict) *int {
	switch v {
	case Pass:
		return &c.Pass
	case Fail:
		return &c.Fail
	case Blocked:
		return &c.Blocked
	case Skip:
		return &c.Skip
	case Error:
		return &c.Error
	}
	return nil
}

// Add counts one verdict (unknown verdicts are ignored).
func (c *Counts) Add(v Verdict) {
	if p := c.slot(v); p != nil {
		*p++
	}
}

// Get returns the count of v.
func (c Counts) Get(v Verdict) int {
	if p := c.slot(v); p != nil {
		return *p
	}
	return 0
}

// Total is the number of gates counted.
func (c Counts) Total() int { return c.Pass + c.Fail + c.Blocked + c.Skip + c.Error }

func (c Counts) String() string {
	var parts []string
	for _, v := range Verdicts() {
		if n := c.Get(v); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, v))
		}
	}
	if len(parts) == 0 {
		return "no gates"
	}
	return strings.Join(parts, ", ")
}

// RunReport summarizes one run (or, from Evidence.Report, several merged).
type RunReport struct {
	Schema        string        `json:"schema"` // RunSchemaID
	RunID         string        `json:"run_id"`
	Host          string        `json:"host"`
	GoVersion     string        `json:"go_version"`
	EngineVersion string        `json:"engine_version"`
	Started       time.Time     `json:"started"`
	Finished      time.Time     `json:"finished"`
	Contracts     []ContractRef `json:"contracts"`
	Gates         []GateSummary `json:"gates"`
	Counts        Counts        `json:"counts"`
	Shard         string        `json:"shard,omitempty"`
	// MergedFrom lists the run ids a merged report combines.
	MergedFrom []string `json:"merged_from,omitempty"`
	// Notes say what merging decided (a gate seen twice, which was kept).
	Notes []string `json:"notes,omitempty"`
	// Status is StatusRunning in the marker a run writes before its first
	// gate, StatusComplete once every gate record is written, and
	// StatusInterrupted (with StatusReason) when the run stopped early.
	// `falsify gate` passes only complete runs. Merged reports leave it
	// empty.
	Status       string `json:"status,omitempty"`
	StatusReason string `json:"status_reason,omitempty"`
	// Declared lists, per contract, every gate the contract declares and
	// the subjects' models the run used: what `falsify gate` expects to
	// find, whatever the run managed to write.
	Declared []DeclaredContract `json:"declared,omitempty"`

	source string
}

// Run report statuses.
const (
	StatusRunning     = "running"
	StatusComplete    = "complete"
	StatusInterrupted = "interrupted"
)

// DeclaredContract is one contract as a run declared it up front.
type DeclaredContract struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
	// Gates are the ids of every falsification test, in file order.
	Gates []string `json:"gates"`
	// Subjects are the models the run used, filled in when it finishes
	// (from the gate records' provenance).
	Subjects []SubjectModel `json:"subjects,omitempty"`
}

// SubjectModel is the model one subject of a contract ran on.
type SubjectModel struct {
	Subject string `json:"subject"`
	Model   string `json:"model"`
	SHA256  string `json:"sha256,omitempty"`
}

// Source is the file the report was loaded from ("" when not loaded).
func (r *RunReport) Source() string { return r.source }

// NewRunReport starts a report for run id on this host and Go toolchain.
func NewRunReport(runID, engineVersion string, started time.Time) *RunReport {
	host, _ := os.Hostname()
	return &RunReport{Schema: RunSchemaID, RunID: runID, Host: host, GoVersion: runtime.Version(),
		EngineVersion: engineVersion, Started: started, Contracts: []ContractRef{}, Gates: []GateSummary{}}
}

// Add records a gate's summary in the report, its contract among the
// report's contracts, and its verdict in the counts.
func (r *RunReport) Add(g *GateRecord) {
	r.addContract(g.Contract)
	r.Gates = append(r.Gates, Summarize(g))
	r.Counts.Add(g.Verdict)
}

func (r *RunReport) addContract(c ContractRef) {
	for _, have := range r.Contracts {
		if have.ID == c.ID && have.SHA256 == c.SHA256 {
			return
		}
	}
	r.Contracts = append(r.Contracts, c)
}

// Passed reports whether every gate passed (SKIP counts as passed only
// with allowSkip) and at least one gate ran and PASSed: a report with no
// gates, or only SKIPs, never passes.
func (r *RunReport) Passed(allowSkip bool) bool {
	return r.PassedAllowing(allowSkip, nil)
}

// PassedAllowing is Passed, where a SKIP also counts as passed when its
// gate could not run because one of the named backends is unavailable
// here (GateSummary.UnavailableBackend): `make falsify` allows "vulkan"
// so a machine without a Vulkan device still passes, while every other
// SKIP, and a report in which nothing PASSed, still fails.
func (r *RunReport) PassedAllowing(allowSkip bool, unavailable []string) bool {
	passed := 0
	for _, g := range r.Gates {
		switch {
		case g.Verdict == Pass:
			passed++
		case allowSkip && g.Verdict == Skip:
		case g.Verdict == Skip && g.UnavailableBackend != "" && slices.Contains(unavailable, g.UnavailableBackend):
		default:
			return false
		}
	}
	// allowSkip never lets a report pass in which nothing was measured.
	return passed > 0
}

// Check reports what makes r break its schema; errors wrap
// ErrInvalidRecord.
func (r *RunReport) Check() error {
	var problems []string
	if r.Schema != RunSchemaID {
		problems = append(problems, fmt.Sprintf("schema is %q, want %q", r.Schema, RunSchemaID))
	}
	if err := checkName(r.RunID); err != nil {
		problems = append(problems, "run_id: "+err.Error())
	}
	var tally Counts
	for _, g := range r.Gates {
		if !g.Verdict.Valid() {
			problems = append(problems, fmt.Sprintf("gate %s/%s: verdict %q is not one of PASS, FAIL, BLOCKED, SKIP, ERROR", g.Contract, g.GateID, g.Verdict))
		} else if g.Verdict != Pass && strings.TrimSpace(g.Reason) == "" {
			problems = append(problems, fmt.Sprintf("gate %s/%s: verdict %s needs a reason", g.Contract, g.GateID, g.Verdict))
		}
		tally.Add(g.Verdict)
	}
	if tally != r.Counts {
		problems = append(problems, fmt.Sprintf("counts %+v do not match the gates listed (%+v)", r.Counts, tally))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: run %s: %s", ErrInvalidRecord, r.RunID, strings.Join(problems, "; "))
	}
	return nil
}
