package contracts

import "testing"

// TestGateKindRegistry: every registered kind constructs params of its
// own kind, once, and an unknown kind constructs nothing.
func TestGateKindRegistry(t *testing.T) {
	seen := map[GateKind]bool{}
	for _, k := range GateKinds() {
		if seen[k] {
			t.Errorf("kind %s registered twice", k)
		}
		seen[k] = true
		p := NewParams(k)
		if p == nil || p.GateKind() != k {
			t.Errorf("NewParams(%s) = %T", k, p)
		}
		if !k.Known() {
			t.Errorf("%s not Known", k)
		}
	}
	if NewParams("no_such_kind") != nil || GateKind("no_such_kind").Known() || GateKind("no_such_kind").NeedsForward() {
		t.Error("an unknown kind is known")
	}
	if KindCommand.NeedsForward() || KindContractValid.NeedsForward() || !KindRatioBand.NeedsForward() {
		t.Error("NeedsForward wrong for command, contract_valid or ratio_band")
	}
}
