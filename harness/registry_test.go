package harness

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
)

// TestEveryGateKindHasAJudge: each kind contracts knows has a judge here,
// and there is no judge for a kind contracts does not know.
func TestEveryGateKindHasAJudge(t *testing.T) {
	for _, k := range contracts.GateKinds() {
		if judges[k] == nil {
			t.Errorf("gate kind %s has no judge", k)
		}
	}
	for k := range judges {
		if !k.Known() {
			t.Errorf("judge for unknown gate kind %s", k)
		}
	}
}

// TestEverySubjectKindHasASource: each subject kind contracts knows has a
// trace source here, and no source serves an unknown kind.
func TestEverySubjectKindHasASource(t *testing.T) {
	for _, k := range contracts.SubjectKinds() {
		if s, ok := sources[k]; !ok || s.tokens == nil || s.run == nil {
			t.Errorf("subject kind %s has no source", k)
		}
	}
	for k := range sources {
		if !slices.Contains(contracts.SubjectKinds(), k) {
			t.Errorf("source for unknown subject kind %s", k)
		}
	}
}

// TestRequiresCycleIsAnError: a gate on a requires cycle is an ERROR that
// names the cycle (the harness does not recurse forever), and a gate
// requiring a test that does not exist is BLOCKED by that test's ERROR.
func TestRequiresCycleIsAnError(t *testing.T) {
	b, err := os.ReadFile("../contracts/testdata/requires-cycle.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "falsification_tests:\n", "falsification_tests:\n- id: T-004\n  rule: r\n  prediction: p\n  requires: [T-404]\n  gate: {kind: contract_valid}\n", 1)
	c, err := contracts.Parse("cycle.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	r := New(Options{Threads: 1})
	defer r.Close()
	for _, id := range []string{"T-001", "T-002", "T-003"} {
		rec := r.Evaluate(context.Background(), c, id)
		if rec.Verdict != evidence.Error || !strings.Contains(rec.Reason, "requires cycle") {
			t.Errorf("%s: %s %q, want ERROR naming the cycle", id, rec.Verdict, rec.Reason)
		}
	}
	rec := r.Evaluate(context.Background(), c, "T-004")
	if rec.Verdict != evidence.Blocked || !strings.Contains(rec.Reason, "requires T-404, which is ERROR: contract") {
		t.Errorf("T-004: %s %q", rec.Verdict, rec.Reason)
	}
}
