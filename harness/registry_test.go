package harness

import (
	"slices"
	"testing"

	"github.com/falsify/falsify/contracts"
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
