package contracts

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/falsify/falsify/trace"
)

// gate decodes a test's gate mapping into its kind's typed params.
func (d *decoder) gate(n *yaml.Node, what string, at Pos) *Gate {
	n = resolve(n)
	g := &Gate{Pos: at, keyPos: map[string]Pos{}, Raw: map[string]any{}}
	if !d.mapping(n, what) {
		return g
	}
	pr := &paramReader{d: d, g: g, what: what, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}, used: map[string]bool{}}
	for _, p := range pairs(n) {
		pr.vals[p.key] = p.val
		pr.keys[p.key] = p.kNode
		g.keyPos[p.key] = posOf(p.val)
		var v any
		if err := p.val.Decode(&v); err == nil {
			g.Raw[p.key] = v
		}
	}
	kindNode, ok := pr.vals["kind"]
	if !ok {
		d.errorf(g.Pos, RuleMissingGateParam, "%s has no kind (one of %s)", what, kindList())
		return g
	}
	pr.used["kind"] = true
	kind, ok := d.str(kindNode, what+".kind")
	if !ok {
		return g
	}
	g.Kind = GateKind(kind)
	if !g.Kind.Known() {
		hint := ""
		if k, ok := nearMiss(kind, kindStrings()); ok {
			hint = fmt.Sprintf("; did you mean %q?", k)
		}
		d.errorf(posOf(kindNode), RuleUnknownGateKind, "unknown gate kind %q (known: %s)%s", kind, kindList(), hint)
		return g
	}
	g.Params = NewParams(g.Kind)
	g.Params.decode(pr)
	pr.reportUnused()
	return g
}

func kindStrings() []string {
	var out []string
	for _, k := range GateKinds() {
		out = append(out, string(k))
	}
	return out
}

func kindList() string { return strings.Join(kindStrings(), ", ") }

// paramReader reads one gate's parameters, remembering which were used
// and which were malformed (so Validate does not report them twice).
type paramReader struct {
	d    *decoder
	g    *Gate
	what string
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
	used map[string]bool
	// known collects every parameter name the kind reads, for hints.
	known []string
}

// compare reads what metric_max and metric_min share.
func (pr *paramReader) compare() Compare {
	c := Compare{
		Metric:    trace.Metric(pr.str("metric", true)),
		A:         pr.str("a", true),
		B:         pr.str("b", true),
		Slots:     pr.slots("slots"),
		Layers:    pr.layers("layers"),
		Positions: pr.positions(),
	}
	if c.Slots == nil {
		c.Slots = trace.LayerSlots()
	}
	return c
}

// positions reads "positions: last|all", or its synonym "sample:
// last_token|all_tokens"; default last.
func (pr *paramReader) positions() trace.Positions {
	pr.known = append(pr.known, "positions", "sample")
	_, hasPos := pr.vals["positions"]
	_, hasSample := pr.vals["sample"]
	if hasPos && hasSample {
		pr.take("positions", false)
		pr.d.errorf(pr.g.PosOf("sample"), RuleConflictingParam, "%s gives both positions and sample; they say the same thing, keep one", pr.what)
	}
	if hasSample {
		switch s := pr.str("sample", false); trace.Sample(s) {
		case trace.SampleLastToken:
			return trace.PositionsLast
		case trace.SampleAllTokens:
			return trace.PositionsAll
		default:
			return trace.Positions(s) // Validate reports it
		}
	}
	if p := pr.str("positions", false); p != "" {
		return trace.Positions(p)
	}
	return trace.PositionsLast
}

// take returns key's value node and marks it used; a required key that is
// absent is reported.
func (pr *paramReader) take(key string, required bool) *yaml.Node {
	pr.known = append(pr.known, key)
	n, ok := pr.vals[key]
	pr.used[key] = true
	if !ok {
		if required {
			pr.bad(key)
			pr.d.errorf(pr.g.Pos, RuleMissingGateParam, "%s (%s) needs %q", pr.what, pr.g.Kind, key)
		}
		return nil
	}
	return n
}

// bad marks a parameter as already reported.
func (pr *paramReader) bad(key string) {
	if pr.g.bad == nil {
		pr.g.bad = map[string]bool{}
	}
	pr.g.bad[key] = true
}

func (pr *paramReader) anyBad(keys ...string) bool {
	for _, k := range keys {
		if pr.g.bad[k] {
			return true
		}
	}
	return false
}

func (pr *paramReader) str(key string, required bool) string {
	n := pr.take(key, required)
	if n == nil {
		return ""
	}
	s, ok := pr.d.str(n, pr.what+"."+key)
	if !ok {
		pr.bad(key)
	}
	if required && ok && s == "" {
		pr.bad(key)
		pr.d.errorf(posOf(n), RuleMissingGateParam, "%s.%s is empty", pr.what, key)
	}
	return s
}

func (pr *paramReader) integer(key string, required bool) (int, bool) {
	n := pr.take(key, required)
	if n == nil {
		return 0, false
	}
	v, ok := pr.d.integer(n, pr.what+"."+key)
	if !ok {
		pr.bad(key)
	}
	return v, ok
}

func (pr *paramReader) number(key string, required bool) (float64, bool) {
	n := pr.take(key, required)
	if n == nil {
		return 0, false
	}
	v, ok := pr.d.number(n, pr.what+"."+key)
	if !ok {
		pr.bad(key)
	}
	return v, ok
}

func (pr *paramReader) optNumber(key string) *float64 {
	if v, ok := pr.number(key, false); ok {
		return &v
	}
	return nil
}

func (pr *paramReader) slot(key string, required bool) trace.Slot {
	return trace.Slot(pr.str(key, required))
}

// slots reads a list of slot names; nil when absent.
func (pr *paramReader) slots(key string) []trace.Slot {
	n := pr.take(key, false)
	if n == nil {
		return nil
	}
	names, ok := pr.d.strList(n, pr.what+"."+key)
	if !ok {
		pr.bad(key)
		return nil
	}
	out := make([]trace.Slot, len(names))
	for i, s := range names {
		out[i] = trace.Slot(s)
	}
	return out
}

// samples reads "sample": one sample, "both", or a list; default both.
func (pr *paramReader) samples(key string) []trace.Sample {
	n := pr.take(key, false)
	if n == nil {
		return trace.Samples()
	}
	if n.Kind == yaml.ScalarNode {
		s, ok := pr.d.str(n, pr.what+"."+key)
		if !ok {
			pr.bad(key)
			return trace.Samples()
		}
		if s == "both" {
			return trace.Samples()
		}
		return []trace.Sample{trace.Sample(s)}
	}
	names, ok := pr.d.strList(n, pr.what+"."+key)
	if !ok {
		pr.bad(key)
		return trace.Samples()
	}
	// "both" in a list is both samples too (the validator lists it as a
	// value); each sample once. An empty list stays empty (not nil), for
	// the validator to refuse as it refuses an empty slot list.
	out := []trace.Sample{}
	for _, s := range names {
		add := []trace.Sample{trace.Sample(s)}
		if s == "both" {
			add = trace.Samples()
		}
		for _, a := range add {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// layers reads "all" or a list of layer indices; default all.
func (pr *paramReader) layers(key string) Layers {
	n := pr.take(key, false)
	if n == nil {
		return AllLayers
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if n.Value == "all" {
			return AllLayers
		}
		pr.bad(key)
		pr.d.errorf(posOf(n), RuleWrongType, "%s.%s must be \"all\" or a list of layer indices, not %q", pr.what, key, n.Value)
		return AllLayers
	}
	list, ok := pr.d.intList(n, pr.what+"."+key+" (\"all\" or a list of layer indices)")
	if !ok {
		pr.bad(key)
		return AllLayers
	}
	return Layers{List: list}
}

// band reads a required [lo, hi] pair.
func (pr *paramReader) band(key string) trace.Band {
	n := pr.take(key, true)
	if n == nil {
		return trace.Band{}
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		pr.bad(key)
		pr.d.errorf(posOf(n), RuleWrongType, "%s.%s must be a list [lo, hi] of two numbers", pr.what, key)
		return trace.Band{}
	}
	lo, ok1 := pr.d.number(n.Content[0], pr.what+"."+key+"[0]")
	hi, ok2 := pr.d.number(n.Content[1], pr.what+"."+key+"[1]")
	if !ok1 || !ok2 {
		pr.bad(key)
	}
	return trace.Band{Lo: lo, Hi: hi}
}

// reportUnused reports parameters the kind does not have.
func (pr *paramReader) reportUnused() {
	var keys []string
	for k := range pr.vals {
		if !pr.used[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	sort.Strings(pr.known)
	pr.known = slices.Compact(pr.known)
	for _, k := range keys {
		hint := ""
		if m, ok := nearMiss(k, pr.known); ok {
			hint = fmt.Sprintf("; did you mean %q?", m)
		}
		params := "none"
		if len(pr.known) > 0 {
			params = strings.Join(pr.known, ", ")
		}
		pr.d.errorf(posOf(pr.keys[k]), RuleUnknownGateParam, "%s gate has no parameter %q (it takes: %s)%s", pr.g.Kind, k, params, hint)
	}
}
