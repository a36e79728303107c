package contracts

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// mergeBomb nests merge keys: each level merges the previous one `width`
// times, so the expanded mapping has width^levels entries.
func mergeBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 {a: 1, b: 2}\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), width), ", ")
		fmt.Fprintf(&b, "l%d: &l%d {<<: [%s], k%d: %d}\n", i, i, refs, i, i)
	}
	fmt.Fprintf(&b, "metadata:\n  <<: *l%d\n", levels)
	return b.String()
}

// aliasBomb is the classic "billion laughs": lists of aliases of lists.
func aliasBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= levels; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), width), ", ")
		fmt.Fprintf(&b, "a%d: &a%d [%s]\n", i, i, refs)
	}
	fmt.Fprintf(&b, "metadata: {description: *a%d}\n", levels)
	return b.String()
}

// TestYAMLBombs: self-referencing and exponentially nested merge keys and
// aliases are findings with a line, found before anything expands them
// (bounded allocation; the time is logged, not asserted).
func TestYAMLBombs(t *testing.T) {
	cases := []struct {
		name, text, rule string
		line             int
	}{
		{"self merge (22 bytes)", "metadata: &m\n  <<: *m\n", RuleYAMLAliasCycle, 2},
		{"merge of an ancestor", "metadata: &m\n  description: x\n  nested:\n    deeper: {<<: *m}\n", RuleYAMLAliasCycle, 4},
		{"alias inside its anchor", "a: &a [1, *a]\n", RuleYAMLAliasCycle, 1},
		{"nested merge keys", mergeBomb(12, 8), RuleYAMLBudget, 0},
		{"billion laughs", aliasBomb(9, 10), RuleYAMLBudget, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			ct, err := Parse("bomb.yaml", []byte(c.text))
			var fs []Finding
			if err == nil {
				fs = Validate(ct)
			}
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes of YAML: %v, %.1f MB allocated", len(c.text), took, float64(alloc)/1e6)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if alloc > 100<<20 {
				t.Errorf("allocated %d bytes, want < 100 MB", alloc)
			}
			var hit *Finding
			for i := range fs {
				if fs[i].Rule == c.rule {
					hit = &fs[i]
				}
			}
			if hit == nil || hit.Severity != SeverityError || hit.Line < 1 || (c.line > 0 && hit.Line != c.line) {
				t.Fatalf("want a %s error at line %d, got %v", c.rule, c.line, fs)
			}
			if err := Check(ct); err == nil {
				t.Error("Check accepts the bomb")
			}
		})
	}
}

// TestYAMLAliasesWithinBudget: ordinary anchors, aliases and merge keys
// still work.
func TestYAMLAliasesWithinBudget(t *testing.T) {
	text := `metadata:
  version: 1.0.0
  description: merged
  references: [x]
defaults: &band {kind: ratio_band, slot: ffn_swiglu_inner, stat: std, sample: last_token, layers: all, numerator: a, denominator: b}
subjects:
  a: {model: "builtin:qwen2-tiny-q4_k_m.gguf", matmul: f32}
  b: {model: "builtin:qwen2-tiny-q4_k_m.gguf", matmul: quantized}
input: {prompt: "What is 2+2?"}
falsification_tests:
- id: T-1
  rule: r
  prediction: p
  gate: {<<: *band, band: [0.5, 2.0]}
`
	c, err := Parse("ok.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Validate(c) {
		if f.Rule == RuleYAMLBudget || f.Rule == RuleYAMLAliasCycle || f.Severity == SeverityError {
			t.Errorf("%s", f)
		}
	}
}

func TestEncodings(t *testing.T) {
	base := "metadata:\n  version: 1.0.0\n  description: café\n  references: [x]\nfalsification_tests: []\n"
	u16 := func(bom bool) []byte {
		var out []byte
		if bom {
			out = append(out, 0xff, 0xfe)
		}
		for _, u := range utf16.Encode([]rune(base)) {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	latin1 := []byte(strings.ReplaceAll(base, "é", "\xe9"))
	cases := []struct {
		name string
		data []byte
		rule string
		sev  Severity
		line int
		msg  string
	}{
		{"utf-8 with BOM", append([]byte{0xef, 0xbb, 0xbf}, base...), "", "", 0, ""},
		{"utf-16 with BOM", u16(true), RuleEncoding, SeverityWarning, 1, "UTF-16"},
		{"utf-16 without BOM", u16(false), RuleEncoding, SeverityError, 1, "UTF-16 without a byte order mark"},
		{"latin-1", latin1, RuleEncoding, SeverityError, 3, "byte 0xE9 at line 3 column 19 is not UTF-8"},
		{"tab indentation", []byte(strings.Replace(base, "\n  version", "\n\tversion", 1)), RuleYAMLSyntax, SeverityError, 2, "indented with a tab; YAML indents with spaces only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fs []Finding
			ct, err := Parse("enc.yaml", c.data)
			var se *SyntaxError
			switch {
			case err == nil:
				fs = Validate(ct)
			case errors.As(err, &se):
				fs = []Finding{se.Finding()}
			default:
				t.Fatal(err)
			}
			var hit *Finding
			for i := range fs {
				if fs[i].Rule == RuleEncoding || fs[i].Rule == RuleYAMLSyntax {
					hit = &fs[i]
				}
			}
			if c.rule == "" {
				if hit != nil {
					t.Errorf("unexpected %s", hit)
				}
				if ct == nil || ct.Metadata.Description != "café" {
					t.Errorf("description not read through the BOM")
				}
				return
			}
			if hit == nil || hit.Rule != c.rule || hit.Severity != c.sev || hit.Line != c.line || !strings.Contains(hit.Message, c.msg) {
				t.Errorf("want %s %s at line %d mentioning %q, got %v", c.sev, c.rule, c.line, c.msg, fs)
			}
		})
	}
}

// TestUnknownKeyWarns: a key no block knows is a warning naming the known
// keys (pv contracts may carry keys falsify does not read); a near miss,
// transpositions included, is an error with a "did you mean".
func TestUnknownKeyWarns(t *testing.T) {
	text := `metadata:
  version: 1.0.0
  description: d
  references: [x]
  flavour: vanilla
falsification_tests:
- id: T-1
  rule: r
  prediction: p
  requries: [T-2]
`
	c, err := Parse("k.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var warn, miss *Finding
	fs := Validate(c)
	for i, f := range fs {
		switch {
		case f.Rule == RuleUnknownField && f.Line == 5:
			warn = &fs[i]
		case f.Rule == RuleNearMissKey && f.Line == 10:
			miss = &fs[i]
		}
	}
	if warn == nil || warn.Severity != SeverityWarning || !strings.Contains(warn.Message, `"flavour" is not one falsify knows; it is ignored`) {
		t.Errorf("unknown key: %v", fs)
	}
	if miss == nil || miss.Severity != SeverityError || !strings.Contains(miss.Message, `did you mean "requires"?`) {
		t.Errorf("near miss: %v", fs)
	}
}
