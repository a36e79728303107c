package evidence_test

import (
	"fmt"
	"os"
	"time"

	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/trace"
)

// Write one gate's record and the run report, read the directory back and
// render the table CI shows.
func Example() {
	dir, _ := os.MkdirTemp("", "evidence")
	defer os.RemoveAll(dir)
	start := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	contract := evidence.ContractRef{ID: "apr-vs-gguf-forward-parity-v1", Version: "1.2.0"}

	g := evidence.NewGateRecord("run1", contract, "FALSIFY-APR-GGUF-PARITY-002", "ratio_band")
	g.Measurements = append(g.Measurements, evidence.Measurement{
		Layer: evidence.Layer(3), Slot: "ffn_swiglu_inner", Pair: []string{"apr", "gguf"},
		Name: "std_ratio", Value: 2.5,
	}.Judge(trace.Band{Lo: 0.5, Hi: 2.0}))
	g.FirstOffending = &g.Measurements[0]
	g.Verdict, g.Reason = evidence.Fail, "layer 3 outside the band"
	g.Started, g.Finished = start, start.Add(time.Second)

	run := evidence.NewRunReport("run1", "dev", start)
	run.Add(g)
	run.Finished = g.Finished
	evidence.WriteGate(dir, g)
	evidence.WriteRun(dir, run)

	ev, err := evidence.Load(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	rep := ev.Report()
	fmt.Print(evidence.Markdown(rep))
	fmt.Println("passed:", rep.Passed(false))
	// Output:
	// ### falsify: 1 FAIL (1 gate, run run1)
	//
	// | contract | gate | verdict | measured | band | models | reason |
	// |---|---|---|---|---|---|---|
	// | apr-vs-gguf-forward-parity-v1 | FALSIFY-APR-GGUF-PARITY-002 | **FAIL** | std_ratio apr/gguf layer 3 ffn_swiglu_inner = 2.5 | [0.5, 2] |  | layer 3 outside the band |
	// passed: false
}
