package harness

import (
	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
)

// Declare lists, for the run report a run writes before its first gate,
// every gate each contract declares, so `falsify gate` can tell a complete
// run from one that stopped early.
func Declare(cs ...*contracts.Contract) []evidence.DeclaredContract {
	out := make([]evidence.DeclaredContract, 0, len(cs))
	for _, c := range cs {
		d := evidence.DeclaredContract{ID: c.ID, SHA256: c.SHA256, Gates: []string{}}
		for _, t := range c.FalsificationTests {
			d.Gates = append(d.Gates, t.ID)
		}
		out = append(out, d)
	}
	return out
}
