package harness

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/trace"
)

// TestNeedsAllLogitsBuiltin: which subjects of each builtin contract
// compute the logits of every position, and for which gate. The apr and
// gguf subjects of the APR/GGUF contract (7B models in CI) compute the
// last position's only; every subject of a gate over every position's
// logits computes them all.
func TestNeedsAllLogitsBuiltin(t *testing.T) {
	want := map[string]map[string]string{
		"apr-vs-gguf-forward-parity-v1": {"f32_matmul": "FALSIFY-APR-GGUF-PARITY-005", "f32_quantized": "FALSIFY-APR-GGUF-PARITY-005"},
		"cpu-vs-gpu-forward-parity-v1": {"cpu_f32": "FALSIFY-CPU-GPU-028", "cpu_quantized": "FALSIFY-CPU-GPU-013",
			"gpu_f32": "FALSIFY-CPU-GPU-028", "gpu_quantized": "FALSIFY-CPU-GPU-013"},
		"decode-path-parity-v1": {"engine_decode": "FALSIFY-DECODE-PATH-001", "engine_prefill": "FALSIFY-DECODE-PATH-001",
			"llamacpp_decode_f32kv": "FALSIFY-DECODE-PATH-003"},
		"engine-vs-llamacpp-golden-v1": {"engine": "FALSIFY-ENGINE-GOLDEN-004", "golden": "FALSIFY-ENGINE-GOLDEN-004"},
		"engine-vs-llamacpp-live-v1":   {"engine": "FALSIFY-ENGINE-LIVE-004", "llamacpp": "FALSIFY-ENGINE-LIVE-004"},
		// The deterministic gates' re-runs compute their own logits, and
		// quantized compares its logits with a `trace: false` subject's
		// (bit_exact), which keep the last position only, so no subject of
		// this contract computes every position's.
		"trace-determinism-v1": {},
	}
	cs, err := contracts.LoadAllBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(want) {
		t.Errorf("%d builtin contracts, the table has %d", len(cs), len(want))
	}
	for _, c := range cs {
		w, ok := want[c.ID]
		if !ok {
			t.Errorf("builtin contract %s is not in the table", c.ID)
			continue
		}
		if got := NeedsAllLogits(c); !maps.Equal(got, w) {
			t.Errorf("%s: %v, want %v", c.ID, got, w)
		}
	}
}

// TestGateNeedsAllLogits: the rule for each gate kind, with and without
// the logits slot over every position, and a subject's forced sample.
func TestGateNeedsAllLogits(t *testing.T) {
	c := &contracts.Contract{Subjects: []contracts.Subject{{Name: "a"}, {Name: "b"}, {Name: "all", Sample: trace.SampleAllTokens}, {Name: "last", Sample: trace.SampleLastToken},
		{Name: "untraced", Kind: contracts.SubjectModel, Trace: false}, {Name: "traced", Kind: contracts.SubjectModel, Trace: true}}}
	logits, layer := []trace.Slot{trace.SlotFinalNorm, trace.SlotLogits}, []trace.Slot{trace.SlotQKV}
	cmp := func(pos trace.Positions, slots []trace.Slot) contracts.Compare {
		return contracts.Compare{Metric: trace.MetricNMSE, A: "a", B: "b", Positions: pos, Slots: slots}
	}
	cases := []struct {
		name string
		p    contracts.GateParams
		want string
	}{
		{"ratio_band logits all_tokens", &contracts.RatioBand{Slot: trace.SlotLogits, Sample: trace.SampleAllTokens, Numerator: "a", Denominator: "b"}, "a b"},
		{"ratio_band logits last_token", &contracts.RatioBand{Slot: trace.SlotLogits, Sample: trace.SampleLastToken, Numerator: "a", Denominator: "b"}, ""},
		{"ratio_band logits last_token, forced all_tokens", &contracts.RatioBand{Slot: trace.SlotLogits, Sample: trace.SampleLastToken, Numerator: "all", Denominator: "b"}, "all"},
		{"ratio_band logits all_tokens, forced last_token", &contracts.RatioBand{Slot: trace.SlotLogits, Sample: trace.SampleAllTokens, Numerator: "last", Denominator: "b"}, "b"},
		{"ratio_band layer slot all_tokens", &contracts.RatioBand{Slot: trace.SlotQKV, Sample: trace.SampleAllTokens, Numerator: "a", Denominator: "b"}, ""},
		{"count_parity default slots", &contracts.CountParity{Subjects: [2]string{"a", "b"}}, ""},
		{"count_parity logits both samples", &contracts.CountParity{Subjects: [2]string{"a", "b"}, Slots: logits}, "a b"},
		{"count_parity logits last_token", &contracts.CountParity{Subjects: [2]string{"a", "all"}, Slots: logits, Samples: []trace.Sample{trace.SampleLastToken}}, "all"},
		{"count_parity logits, forced last_token", &contracts.CountParity{Subjects: [2]string{"last", "b"}, Slots: logits}, "b"},
		{"coverage", &contracts.Coverage{Subject: "all", Slot: trace.SlotQKV, Sample: trace.SampleAllTokens}, ""},
		{"metric_max logits all", &contracts.MetricMax{Compare: cmp(trace.PositionsAll, logits)}, "a b"},
		{"metric_max logits last", &contracts.MetricMax{Compare: cmp(trace.PositionsLast, logits)}, ""},
		{"metric_max default slots all", &contracts.MetricMax{Compare: cmp(trace.PositionsAll, nil)}, ""},
		{"metric_min logits all", &contracts.MetricMin{Compare: cmp(trace.PositionsAll, logits)}, "a b"},
		{"metric_min layer slot all", &contracts.MetricMin{Compare: cmp(trace.PositionsAll, layer)}, ""},
		{"logits all", &contracts.Logits{A: "a", B: "b", Positions: trace.PositionsAll}, "a b"},
		{"logits last", &contracts.Logits{A: "a", B: "b", Positions: trace.PositionsLast}, ""},
		{"logits default", &contracts.Logits{A: "a", B: "b"}, ""},
		{"bit_exact whole trace", &contracts.BitExact{A: "a", B: "b"}, "a b"},
		{"bit_exact logits", &contracts.BitExact{A: "a", B: "b", Slots: logits}, "a b"},
		{"bit_exact layer slot", &contracts.BitExact{A: "a", B: "b", Slots: layer}, ""},
		{"bit_exact logits, traced model subjects", &contracts.BitExact{A: "traced", B: "a", Slots: logits}, "traced a"},
		{"bit_exact logits against a trace: false subject (last position only)", &contracts.BitExact{A: "traced", B: "untraced", Slots: logits}, ""},
		{"deterministic (its re-runs compute their own)", &contracts.Deterministic{Subject: "a", Runs: 2}, ""},
		{"contract_valid", &contracts.ContractValid{}, ""},
		{"command", &contracts.Command{Run: "true"}, ""},
	}
	for _, tc := range cases {
		got := strings.Join(gateNeedsAllLogits(c, &contracts.Gate{Kind: tc.p.GateKind(), Params: tc.p}), " ")
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDeterministicRerunsAllLogits: a deterministic gate's re-runs are its
// own and compute every position's logits, so it PASSes whether or not
// the subject's run computed them (a `trace: false` subject computes the
// last position's only; the gate used to be BLOCKED on it, naming the
// subject, though no contract could make it compute more).
func TestDeterministicRerunsAllLogits(t *testing.T) {
	m, tokens := loadTinyModel(t)
	r := New(Options{Env: func(string) (string, bool) { return "", false }, WorkDir: t.TempDir()})
	defer r.Close()
	for _, allLogits := range []bool{false, true} {
		opts := engine.Options{Threads: 2, AllPositions: true, AllLogits: allLogits}
		tr, err := engine.Run(m, tokens, opts)
		if err != nil {
			t.Fatal(err)
		}
		run := &subjectRun{name: "s", model: m, opts: opts, trace: tr}
		rec := &record{}
		r.judgeDeterministic(context.Background(), &contracts.Deterministic{Subject: "s", Runs: 2}, run, rec)
		if rec.Verdict != evidence.Pass {
			t.Errorf("subject's run with AllLogits %v: %s: %s, want PASS", allLogits, rec.Verdict, rec.Reason)
		}
	}
}
