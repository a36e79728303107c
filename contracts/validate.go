package contracts

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/falsify/falsify/trace"
)

// Validate returns every finding for c, sorted by line: what the decoder
// found (duplicate keys, near-miss keys, wrong types, unknown gate kinds
// and parameters), pv's checks (non-empty version and references, unique
// test ids with a prediction, unique harness ids, total_obligations equal
// to the number of proof obligations) and ours (known slots, stats,
// samples, metrics; subjects exist; bands finite and ordered; requires
// resolve without cycles; the input is consistent).
//
// Value checks skip parameters the decoder already reported, so one
// mistake gives one finding.
func Validate(c *Contract) []Finding {
	out := slices.Clone(c.findings)
	if c.Root != nil || c.findings == nil {
		v := &validator{d: &decoder{file: c.Path}, c: c}
		if why := fileNameProblem(c.ID); why != "" {
			v.d.errorf(Pos{Line: 1}, RuleBadID, "the contract id %q (from the file name) names its evidence directory, and %s; rename the file", c.ID, why)
		}
		v.metadata()
		v.obligations()
		v.tests()
		v.harnesses()
		v.subjects()
		v.input()
		v.gates()
		v.requires()
		out = append(out, v.d.findings...)
	}
	sortFindings(out)
	return out
}

type validator struct {
	d *decoder
	c *Contract
}

func (v *validator) metadata() {
	m := v.c.Metadata
	if m.Pos.Line == 0 && v.c.Root != nil {
		if slices.Contains(v.c.nearMissed, "metadata") {
			return // reported as a near miss
		}
		v.d.errorf(posOf(v.c.Root), RuleMissingField, "the contract has no metadata block (version, description, references)")
		return
	}
	if strings.TrimSpace(m.Version) == "" {
		v.d.errorf(m.Pos, RuleMissingVersion, "metadata.version is empty")
	}
	if strings.TrimSpace(m.Description) == "" {
		v.d.errorf(m.Pos, RuleMissingField, "metadata.description is empty")
	}
	if len(m.References) == 0 {
		v.d.errorf(m.Pos, RuleMissingReferences, "metadata.references is empty: say where the claim comes from")
	}
}

func (v *validator) obligations() {
	for _, o := range v.c.ProofObligations {
		if v.c.notMapping[o.Pos] {
			continue // reported as not a mapping, its fields not again
		}
		switch {
		case o.Type == "":
			v.d.errorf(o.Pos, RuleMissingField, "proof obligation has no type")
		case !slices.Contains(ObligationTypes, o.Type):
			v.d.errorf(o.Pos, RuleUnknownObligationType, "proof obligation type %q is not one of pv's (%s)", o.Type, strings.Join(ObligationTypes, ", "))
		}
		if strings.TrimSpace(o.Property) == "" {
			v.d.errorf(o.Pos, RuleMissingField, "proof obligation has no property")
		}
	}
	if s := v.c.VerificationSummary; s != nil && s.HasTotal && s.TotalObligations != len(v.c.ProofObligations) {
		v.d.errorf(s.Pos, RuleObligationCount, "verification_summary.total_obligations is %d but the contract lists %d proof obligations", s.TotalObligations, len(v.c.ProofObligations))
	}
}

func (v *validator) tests() {
	if len(v.c.FalsificationTests) == 0 && v.c.Root != nil {
		v.d.warnf(posOf(v.c.Root), RuleNoTests, "the contract has no falsification tests")
	}
	first := map[string]int{}
	for i, t := range v.c.FalsificationTests {
		if v.c.notMapping[t.Pos] {
			continue // reported as not a mapping, its fields not again
		}
		name := testName(i, &t)
		if strings.TrimSpace(t.ID) == "" {
			v.d.errorf(t.Pos, RuleMissingID, "falsification test %s has no id", name)
		} else if line, dup := first[t.ID]; dup {
			v.d.errorf(t.Pos, RuleDuplicateID, "falsification test id %q is already used at line %d", t.ID, line)
		} else if why := fileNameProblem(t.ID); why != "" {
			v.d.errorf(t.Pos, RuleBadID, "falsification test id %q names its evidence file, and %s", t.ID, why)
			first[t.ID] = t.Pos.Line
		} else {
			first[t.ID] = t.Pos.Line
		}
		if strings.TrimSpace(t.Rule) == "" {
			v.d.errorf(t.Pos, RuleMissingField, "falsification test %s has no rule", name)
		}
		if strings.TrimSpace(t.Prediction) == "" {
			v.d.errorf(t.Pos, RuleMissingPrediction, "falsification test %s has an empty prediction", name)
		}
		if t.Gate == nil {
			v.d.warnf(t.Pos, RuleNoGate, "falsification test %s has no gate: the harness cannot judge it", name)
		}
	}
}

func (v *validator) harnesses() {
	first := map[string]int{}
	for _, h := range v.c.KaniHarnesses {
		if v.c.notMapping[h.Pos] {
			continue // reported as not a mapping, its fields not again
		}
		if strings.TrimSpace(h.ID) == "" {
			v.d.errorf(h.Pos, RuleMissingID, "kani harness has no id")
			continue
		}
		if line, dup := first[h.ID]; dup {
			v.d.errorf(h.Pos, RuleDuplicateHarnessID, "kani harness id %q is already used at line %d", h.ID, line)
			continue
		}
		first[h.ID] = h.Pos.Line
	}
}

func (v *validator) subjects() {
	for i := range v.c.Subjects {
		s := &v.c.Subjects[i]
		if v.c.notMapping[s.Pos] {
			continue // reported as not a mapping, its fields not again
		}
		if s.Backend != BackendDefault && !validBackendName(s.Backend) {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: backend %q is not a backend name (lowercase letters, digits, '_' or '-', e.g. cpu, vulkan)", s.Name, s.Backend)
		}
		if s.Runtime != "" && s.Runtime != RuntimeLlamaCpp {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: runtime %q is not llamacpp (leave it out for the embedded engine)", s.Name, s.Runtime)
		}
		if (s.KVType != "" || s.FlashAttn) && s.Kind != SubjectLlamaCpp {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: kv_type and flash_attn are llama.cpp options; add runtime: llamacpp", s.Name)
		}
		if s.KVType != "" && s.KVType != "f32" && s.KVType != "f16" && s.KVType != "q8_0" {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: kv_type %q is not f32, f16 or q8_0", s.Name, s.KVType)
		}
		if s.Prefill != 0 && s.Kind != SubjectModel && s.Kind != SubjectLlamaCpp {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: prefill runs a model through its KV cache; a %s subject runs none", s.Name, s.Kind)
		}
		if !s.Trace && s.Kind != SubjectModel {
			// Only the embedded engine has a run without capture hooks;
			// every other source yields its whole trace, so the key
			// would be ignored.
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: trace: false runs the embedded engine without capture hooks; a %s subject always records its whole trace (leave trace out)", s.Name, s.Kind)
		}
		if s.Prefill < 0 {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: prefill %d is negative (0: the whole prompt as one batch)", s.Name, s.Prefill)
		}
		// With the tokens known here (input.tokens, or the expect_tokens
		// a prompt must give), a prefill past them would only ERROR at
		// run time.
		if in := v.c.Input; in != nil && s.Prefill > 0 {
			n := len(in.Tokens)
			if n == 0 {
				n = len(in.ExpectTokens)
			}
			if n > 0 && s.Prefill > n {
				v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: prefill %d is past the input's %d tokens (at most %d; 0: the whole prompt as one batch)", s.Name, s.Prefill, n, n)
			}
		}
		if s.Timeout < 0 {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: timeout %s is negative", s.Name, s.Timeout)
		}
		if (len(s.Env) > 0 || s.Timeout != 0) && s.Kind != SubjectCommand {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: env and timeout belong to a command subject", s.Name)
		}
		if s.Matmul != trace.MatmulF32 && s.Matmul != trace.MatmulQuantized {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: matmul %q is not f32 or quantized", s.Name, s.Matmul)
		}
		if s.Threads < 0 {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: threads %d is negative (0 means all cores)", s.Name, s.Threads)
		}
		if s.Sample != "" && !s.Sample.Known() {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: sample %q is not last_token or all_tokens", s.Name, s.Sample)
		}
		model, errM := Expand(s.Model, nil)
		if errM != nil {
			v.d.errorf(s.Pos, RuleBadExpansion, "subject %q model: %v", s.Name, errM)
		}
		if _, err := Expand(s.Golden, nil); err != nil {
			v.d.errorf(s.Pos, RuleBadExpansion, "subject %q golden: %v", s.Name, err)
		}
		switch {
		case !slices.Contains(SubjectKinds(), s.Kind):
			v.d.errorf(s.Pos, RuleBadSubject, "subject %q: kind %q is not one of %v", s.Name, s.Kind, SubjectKinds())
		case (s.Kind == SubjectTraceFile || s.Kind == SubjectCommand) && (s.Model != "" || s.From != "" || s.Golden != ""):
			v.d.errorf(s.Pos, RuleBadSubject, "subject %q: a %s subject reads the trace its source writes; it takes no model, from or golden", s.Name, s.Kind)
		case s.Kind == SubjectTraceFile && s.TraceFile == "":
			v.d.errorf(s.Pos, RuleMissingModel, "subject %q: trace is empty; name a trace file", s.Name)
		case s.Kind == SubjectCommand && (len(s.Command) == 0 || s.Command[0] == ""):
			v.d.errorf(s.Pos, RuleMissingModel, "subject %q: command is empty; give the tracer's argv as a list", s.Name)
		case s.Kind == SubjectLlamaCpp && (s.Model == "" || s.From != "" || s.Golden != ""):
			v.d.errorf(s.Pos, RuleBadSubject, "subject %q: runtime llamacpp runs a GGUF model; give model (no from or golden)", s.Name)
		case s.Kind == SubjectGolden && (s.Model != "" || s.From != ""):
			v.d.errorf(s.Pos, RuleBadSubject, "subject %q: a golden subject replays a trace file; it takes no model or from", s.Name)
		case s.Kind == SubjectGolden && s.Golden == "":
			v.d.errorf(s.Pos, RuleMissingModel, "subject %q: golden is empty; name a golden forward file", s.Name)
		case s.Kind == SubjectModel && s.Model == "" && s.From == "":
			v.d.errorf(s.Pos, RuleMissingModel, "subject %q has no model, from or golden", s.Name)
		case s.Kind == SubjectModel && errM == nil && model == "" && s.From == "":
			v.d.errorf(s.Pos, RuleMissingModel, "subject %q: model %q is empty unless its variable is set; add a default or a from subject to convert", s.Name, s.Model)
		}
		if s.From != "" {
			v.from(s)
		}
		if s.SHA256 != "" && !isSHA256Hex(s.SHA256) {
			v.d.errorf(s.Pos, RuleInvalidValue, "subject %q: sha256 %q is not 64 lower-case hex digits", s.Name, s.SHA256)
		}
	}
}

// isSHA256Hex reports whether s is a SHA-256 digest in lower-case hex.
func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// from checks that s.From names another subject that runs a GGUF model.
func (v *validator) from(s *Subject) {
	t, ok := v.c.Subject(s.From)
	switch {
	case !ok:
		v.d.errorf(s.Pos, RuleUnknownSubject, "subject %q: from names subject %q, which does not exist (subjects: %s)", s.Name, s.From, v.subjectList())
	case t.Name == s.Name:
		v.d.errorf(s.Pos, RuleBadSubject, "subject %q converts from itself", s.Name)
	case t.Kind != SubjectModel || t.From != "":
		v.d.errorf(s.Pos, RuleBadSubject, "subject %q: from must name a subject that runs a GGUF model; %q does not", s.Name, s.From)
	}
}

func (v *validator) subjectList() string {
	var names []string
	for _, s := range v.c.Subjects {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (v *validator) input() {
	in := v.c.Input
	if in == nil {
		for _, t := range v.c.FalsificationTests {
			if t.Gate != nil && t.Gate.Kind.NeedsForward() {
				v.d.errorf(t.Gate.Pos, RuleMissingInput, "%s gate runs a forward pass but the contract has no input block", t.Gate.Kind)
				return
			}
		}
		return
	}
	switch {
	case in.Prompt == "" && len(in.Tokens) == 0:
		v.d.errorf(in.Pos, RuleMissingInput, "input needs a prompt or tokens")
	case in.Prompt != "" && len(in.Tokens) > 0:
		v.d.errorf(in.Pos, RuleConflictingInput, "input gives both prompt and tokens; give one (expect_tokens checks a prompt's tokenization)")
	}
	for _, list := range [][]int{in.Tokens, in.ExpectTokens} {
		for _, t := range list {
			if t < 0 {
				v.d.errorf(in.Pos, RuleInvalidValue, "input token id %d is negative", t)
				break
			}
		}
	}
	if len(in.Tokens) > 0 && len(in.ExpectTokens) > 0 && !slices.Equal(in.Tokens, in.ExpectTokens) {
		v.d.errorf(in.Pos, RuleInconsistentTokens, "input.tokens %v and input.expect_tokens %v differ", in.Tokens, in.ExpectTokens)
	}
}

// testName is how findings name falsification test i: its id, or its
// place in the list (falsification_tests[i]) when it has none.
func testName(i int, t *FalsificationTest) string {
	if strings.TrimSpace(t.ID) == "" {
		return fmt.Sprintf("falsification_tests[%d]", i)
	}
	return t.ID
}

func (v *validator) gates() {
	for i := range v.c.FalsificationTests {
		t := &v.c.FalsificationTests[i]
		if t.Gate == nil || t.Gate.Params == nil {
			continue
		}
		g := &gateCheck{v: v, g: t.Gate, id: testName(i, t)}
		g.untraced(t.Gate)
		t.Gate.Params.validate(g)
	}
}

// untraced reports a gate that reads from a subject run without capture
// hooks (trace: false), which records only the last position's logits:
// slots other than logits, or the logits of every position
// (EveryPositionLogits), which the judges would refuse at run time.
func (g *gateCheck) untraced(gate *Gate) {
	untraced := func(name string) bool {
		s, ok := g.v.c.Subject(name)
		return ok && !s.Trace && !s.IsGolden()
	}
	refused := map[string]bool{}
	slots, keys := gate.Params.slotsRead()
	onlyLogits := true
	for _, s := range slots {
		onlyLogits = onlyLogits && s == trace.SlotLogits
	}
	if !onlyLogits {
		// Name what the gate reads (the default is every layer slot).
		var other []string
		for _, s := range slots {
			if s != trace.SlotLogits {
				other = append(other, string(s))
			}
		}
		reads := strings.Join(other, ", ")
		if len(other) > 3 {
			reads = strings.Join(other[:3], ", ") + fmt.Sprintf(" and %d more", len(other)-3)
		}
		for i, name := range gate.Params.SubjectNames() {
			if untraced(name) && !refused[name] {
				refused[name] = true
				g.errorf(keys[i], RuleInvalidValue, "subject %q runs without capture hooks (trace: false) and records only logits; this gate reads other slots (%s): read only logits, or trace the subject", name, reads)
			}
		}
	}
	names, keys := g.v.c.EveryPositionLogits(gate)
	for i, name := range names {
		if untraced(name) && !refused[name] {
			refused[name] = true
			g.errorf(keys[i], RuleInvalidValue, "subject %q runs without capture hooks (trace: false) and computes the last position's logits only; "+
				"this gate reads the logits of every position (compare the last position: positions: last or sample: last_token, or trace the subject)", name)
		}
	}
}

// gateCheck validates one gate's values, skipping parameters the decoder
// already reported.
type gateCheck struct {
	v  *validator
	g  *Gate
	id string
}

func (g *gateCheck) errorf(key, rule, format string, args ...any) {
	// The id is an argument, not part of the format: an id may hold a %.
	g.v.d.errorf(g.g.PosOf(key), rule, "%s: "+format, append([]any{g.id}, args...)...)
}

func (g *gateCheck) skip(key string) bool { return g.g.bad[key] }

func (g *gateCheck) subject(key, name string) {
	if name == "" || g.skip(key) {
		return
	}
	if _, ok := g.v.c.Subject(name); !ok {
		g.errorf(key, RuleUnknownSubject, "%s names subject %q, which does not exist (subjects: %s)", key, name, g.v.subjectList())
	}
}

// pair checks two subjects that a gate compares.
func (g *gateCheck) pair(keyA, a, keyB, b string) {
	g.subject(keyA, a)
	g.subject(keyB, b)
	if a != "" && a == b && !g.skip(keyA) && !g.skip(keyB) {
		g.errorf(keyB, RuleSameSubject, "%s and %s are both %q: a subject compared with itself proves nothing", keyA, keyB, a)
	}
}

func (g *gateCheck) slot(key string, s trace.Slot) {
	if s == "" || g.skip(key) {
		return
	}
	if !s.Known() {
		hint := ""
		if known, ok := slotAliases[string(s)]; ok {
			hint = fmt.Sprintf("; %q is %s, here called %q", s, known.where, known.slot)
		}
		g.errorf(key, RuleUnknownSlot, "unknown slot %q (slots: %s)%s", s, slotList(), hint)
	}
}

func (g *gateCheck) slots(key string, ss []trace.Slot) {
	if g.skip(key) {
		return
	}
	if ss != nil && len(ss) == 0 {
		g.errorf(key, RuleInvalidValue, "%s is empty; omit it for the default", key)
	}
	for _, s := range ss {
		g.slot(key, s)
	}
}

// slotAliases maps the names other tools give a capture point
// (capture-points.md) to ours, for hints.
var slotAliases = map[string]struct {
	slot  trace.Slot
	where string
}{
	"ffn_swigl":     {trace.SlotFFNSwigluInner, "aprender's trace name"},
	"ffn_silu":      {trace.SlotFFNSiluGate, "aprender's trace name"},
	"ffn_swiglu":    {trace.SlotFFNSwigluInner, "llama.cpp's graph name"},
	"l_out":         {trace.SlotOutput, "llama.cpp's graph name"},
	"embd":          {trace.SlotEmbed, "llama.cpp's graph name"},
	"result_norm":   {trace.SlotFinalNorm, "llama.cpp's graph name"},
	"result_output": {trace.SlotLogits, "llama.cpp's graph name"},
}

func slotList() string {
	var names []string
	for _, s := range append(trace.LayerSlots(), trace.GlobalSlots()...) {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

func (g *gateCheck) enum(key, val string, ok bool, allowed any) {
	if val == "" || ok || g.skip(key) {
		return
	}
	g.errorf(key, RuleInvalidValue, "%s %q is not one of %v", key, val, allowed)
}

func (g *gateCheck) layers(key string, l Layers, expect int) {
	if l.All || g.skip(key) {
		return
	}
	if len(l.List) == 0 {
		g.errorf(key, RuleInvalidValue, "%s is an empty list; use \"all\" or name layers", key)
	}
	seen := map[int]bool{}
	for _, i := range l.List {
		switch {
		case i < 0:
			g.errorf(key, RuleInvalidValue, "layer %d is negative", i)
		case expect > 0 && i >= expect:
			g.errorf(key, RuleInvalidValue, "layer %d does not exist in a model of expect_layers %d", i, expect)
		case seen[i]:
			g.errorf(key, RuleInvalidValue, "layer %d is listed twice", i)
		}
		seen[i] = true
	}
}

func (g *gateCheck) finite(key string, x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		g.errorf(key, RuleNonFiniteBand, "%s is %v; thresholds must be finite", key, x)
		return false
	}
	return true
}

func (g *gateCheck) band(key string, b trace.Band) {
	if g.skip(key) {
		return
	}
	okLo, okHi := g.finite(key, b.Lo), g.finite(key, b.Hi)
	if okLo && okHi && b.Lo > b.Hi {
		g.errorf(key, RuleInvertedBand, "band [%g, %g] is inverted: lo %g > hi %g, so nothing can pass", b.Lo, b.Hi, b.Lo, b.Hi)
	}
}

func (g *gateCheck) fraction(key string, x *float64) {
	if x == nil || g.skip(key) {
		return
	}
	if g.finite(key, *x) && (*x < 0 || *x > 1) {
		g.errorf(key, RuleInvalidValue, "%s %g is a fraction and must lie in [0, 1]", key, *x)
	}
}

func (g *gateCheck) compare(c *Compare, key string, limit float64, isMin bool) {
	g.enum("metric", string(c.Metric), c.Metric.Known(), trace.Metrics())
	g.pair("a", c.A, "b", c.B)
	g.slots("slots", c.Slots)
	g.layers("layers", c.Layers, 0)
	g.enum("positions", string(c.Positions), c.Positions.Known(), []trace.Positions{trace.PositionsLast, trace.PositionsAll})
	if g.skip(key) || !g.finite(key, limit) || !c.Metric.Known() {
		return
	}
	if c.Metric.HigherIsBetter() != isMin {
		better := "smaller"
		if c.Metric.HigherIsBetter() {
			better = "larger"
		}
		g.v.d.warnf(g.g.PosOf("metric"), RuleMetricDirection, "%s: %s is better when %s; check that %s gate means what it says", g.id, c.Metric, better, g.g.Kind)
	}
	switch c.Metric {
	case trace.MetricNMSE, trace.MetricMaxAbs, trace.MetricRelL2:
		if limit < 0 {
			g.errorf(key, RuleInvalidValue, "%s %g is negative; %s is >= 0", key, limit, c.Metric)
		}
	case trace.MetricCosine:
		if limit < -1 || limit > 1 {
			g.errorf(key, RuleInvalidValue, "%s %g is outside [-1, 1], the range of cosine", key, limit)
		}
	}
}

// requires checks that every requires entry names a test of the contract
// and that the requires graph has no cycle.
func (v *validator) requires() {
	index := v.c.testIndex()
	for i, t := range v.c.FalsificationTests {
		for _, r := range t.Requires {
			if _, ok := index[r]; !ok {
				v.d.errorf(t.RequiresPos, RuleDanglingRequires, "%s requires %q, which is not a test of this contract", testName(i, &t), r)
			}
		}
	}
	// Each cycle is reported once, at the first of its tests in the file.
	var roots []*FalsificationTest
	for _, t := range v.c.FalsificationTests {
		if t, ok := index[t.ID]; ok {
			roots = append(roots, t)
		}
	}
	reported := map[string]bool{}
	v.c.walkRequires(roots, func(*FalsificationTest) bool { return true },
		func(cycle []string) bool { v.reportCycle(cycle, index, reported); return true })
}

func (v *validator) reportCycle(cycle []string, index map[string]*FalsificationTest, reported map[string]bool) {
	key := slices.Clone(cycle)
	sort.Strings(key)
	if reported[strings.Join(key, "\x00")] {
		return
	}
	reported[strings.Join(key, "\x00")] = true
	// Start the printed cycle at the test that comes first in the file.
	first := 0
	for i, id := range cycle {
		if index[id].Pos.Line < index[cycle[first]].Pos.Line {
			first = i
		}
	}
	rot := append(slices.Clone(cycle[first:]), cycle[:first]...)
	t := index[rot[0]]
	v.d.errorf(t.RequiresPos, RuleRequiresCycle, "%s -> %s: a cycle, so none of these gates could ever run", strings.Join(rot, " -> "), rot[0])
}

// fileNameProblem says why an id cannot be one path component of an
// evidence file on every system falsify runs on ("" when it can): ids
// become DIR/<contract-id>/<gate-id>.json, and refusing them here beats
// failing after the traces ran.
func fileNameProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case id == "." || id == "..":
		return "is a directory name"
	case id == "summary.md" || (strings.HasPrefix(id, "run-") && (strings.HasSuffix(id, ".json") || strings.HasSuffix(id, ".dsse"))):
		return "is the name of a file falsify writes beside the contracts' directories (summary.md, run-<id>.json, run-<id>.dsse)"
	case strings.HasPrefix(id, "."):
		return "starts with a dot (a hidden file that evidence loading skips)"
	case strings.ContainsAny(id, "/\\"):
		return "holds a path separator"
	case strings.ContainsAny(id, `:*?"<>|`):
		return "holds a character Windows file names cannot (:*?\"<>|)"
	case len(id) > 200:
		return "is longer than 200 bytes"
	case id != strings.TrimSpace(id):
		return "starts or ends with white space"
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return "holds a control character"
		}
	}
	return ""
}
