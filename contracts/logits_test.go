package contracts

import (
	"fmt"
	"strings"
	"testing"
)

// TestUntracedEveryPositionLogits: a gate that reads the logits of every
// position from a `trace: false` subject (which computes the last
// position's only, so the judge would BLOCK the gate) is refused at
// validation, naming the file, the gate and the subject; a gate that
// reads the last position's logits, or re-runs or compares the last
// position itself, is not. Subject t is traced, u is not, fu is not and
// forces sample all_tokens, lu is not and forces last_token.
func TestUntracedEveryPositionLogits(t *testing.T) {
	cases := []struct {
		gate    string
		refused string // the refused subject, "" for none
	}{
		{"{kind: logits, a: t, b: u, positions: all, top1_min: 1.0}", "u"},
		{"{kind: logits, a: u, b: t, positions: all, top1_min: 1.0}", "u"},
		{"{kind: logits, a: t, b: u, positions: last, top1_min: 1.0}", ""},
		{"{kind: logits, a: t, b: u, top1_min: 1.0}", ""},
		{"{kind: metric_max, metric: nmse, a: t, b: u, slots: [logits], positions: all, max: 1.0}", "u"},
		{"{kind: metric_max, metric: nmse, a: t, b: u, slots: [logits], positions: last, max: 1.0}", ""},
		{"{kind: metric_min, metric: cosine, a: t, b: u, slots: [logits], positions: all, min: 0.9}", "u"},
		{"{kind: ratio_band, slot: logits, stat: std, sample: all_tokens, numerator: t, denominator: u, band: [0.5, 2.0]}", "u"},
		{"{kind: ratio_band, slot: logits, stat: std, sample: last_token, numerator: t, denominator: u, band: [0.5, 2.0]}", ""},
		{"{kind: ratio_band, slot: logits, stat: std, sample: last_token, numerator: t, denominator: fu, band: [0.5, 2.0]}", "fu"},
		{"{kind: ratio_band, slot: logits, stat: std, sample: all_tokens, numerator: t, denominator: lu, band: [0.5, 2.0]}", ""},
		{"{kind: count_parity, subjects: [t, u], slots: [logits]}", "u"},
		{"{kind: count_parity, subjects: [t, u], slots: [logits], sample: last_token}", ""},
		{"{kind: bit_exact, a: t, b: u, slots: [logits]}", ""},
		{"{kind: deterministic, subject: u, runs: 2}", ""},
	}
	for _, tc := range cases {
		c := untracedContract(t, "untraced.yaml", tc.gate)
		var refusals []Finding
		for _, f := range Validate(c) {
			switch {
			case f.Severity == SeverityError && strings.Contains(f.Message, "logits of every position"):
				refusals = append(refusals, f)
			case f.Severity == SeverityError:
				t.Errorf("%s: unexpected finding %s", tc.gate, f)
			}
		}
		if tc.refused == "" {
			for _, f := range refusals {
				t.Errorf("%s: refused: %s", tc.gate, f)
			}
			continue
		}
		if len(refusals) != 1 {
			t.Errorf("%s: %d refusals, want one of subject %q: %v", tc.gate, len(refusals), tc.refused, refusals)
			continue
		}
		f := refusals[0]
		if f.Rule != RuleInvalidValue || f.File != "untraced.yaml" || f.Line != 16 ||
			!strings.HasPrefix(f.Message, "T-001: ") || !strings.Contains(f.Message, fmt.Sprintf("subject %q", tc.refused)) {
			t.Errorf("%s: %s; want invalid-value at untraced.yaml:16 naming T-001 and subject %q", tc.gate, f, tc.refused)
		}
	}
}

// TestCountParitySampleBothInList: count_parity's sample takes one
// sample, "both" or a list; "both" inside a list means both samples (the
// validator's message lists it as a value, and used to refuse it there:
// `sample "both" is not one of [last_token all_tokens both]`), each
// sample once, and makes an untraced subject's logits refused as "both"
// alone does.
func TestCountParitySampleBothInList(t *testing.T) {
	cases := []struct {
		sample  string
		want    string
		refused bool
	}{
		{"both", "last_token all_tokens", true},
		{"[both]", "last_token all_tokens", true},
		{"[last_token, both]", "last_token all_tokens", true},
		{"[all_tokens, all_tokens]", "all_tokens", true},
		{"[last_token]", "last_token", false},
	}
	for _, tc := range cases {
		c := untracedContract(t, "samples.yaml", "{kind: count_parity, subjects: [t, u], slots: [logits], sample: "+tc.sample+"}")
		p := c.FalsificationTests[0].Gate.Params.(*CountParity)
		var got []string
		for _, s := range p.Samples {
			got = append(got, string(s))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("sample %s: samples %v, want %s", tc.sample, got, tc.want)
		}
		var other []Finding
		refused := false
		for _, f := range Validate(c) {
			if f.Severity == SeverityError && strings.Contains(f.Message, `subject "u" runs without capture hooks`) {
				refused = true
			} else if f.Severity == SeverityError {
				other = append(other, f)
			}
		}
		if len(other) > 0 || refused != tc.refused {
			t.Errorf("sample %s: untraced refused %v (want %v), other errors %v", tc.sample, refused, tc.refused, other)
		}
	}
}

// untracedContract parses a one-gate contract (file name name) whose
// subjects are t (traced), u (trace: false), fu and lu (trace: false,
// sample forced to all_tokens and last_token).
func untracedContract(t *testing.T, name, gate string) *Contract {
	t.Helper()
	src := fmt.Sprintf(`metadata:
  version: 1.0.0
  description: d
  references: [logits_test.go]
subjects:
  t: {model: "builtin:a.gguf"}
  u: {model: "builtin:a.gguf", trace: false}
  fu: {model: "builtin:a.gguf", trace: false, sample: all_tokens}
  lu: {model: "builtin:a.gguf", trace: false, sample: last_token}
input:
  prompt: "What is 2+2?"
falsification_tests:
- id: T-001
  rule: r
  prediction: p
  gate: %s
`, gate)
	c, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("%s: %v", gate, err)
	}
	return c
}
