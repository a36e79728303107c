package harness

import (
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
