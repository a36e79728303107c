// Package framework is what every Ginkgo suite under suites/ shares: it
// turns a contract into a Describe (labelled with the contract id) holding
// one It per gate (its text starts with the gate id) in an Ordered
// container whose BeforeAll runs the contract's subjects once, records
// each gate with harness.Runner.RecordGate (the path `falsify run` takes
// too), and after the suite writes the run report and the Markdown summary
// with harness.FinishRun. Suites stay one file: a `var _ = framework.DescribeContract(...)`
// and the usual `func TestX(t *testing.T)` calling RunSpecs (the suite file
// must import Ginkgo itself, or the Ginkgo CLI treats it as a plain Go test
// and drops the pass-through flags).
//
// The evidence directory is the test binary's -evidence-dir flag
// (`ginkgo ... -- -evidence-dir=DIR`), else $FALSIFY_EVIDENCE_DIR, else a
// temporary directory removed after the suite (so `go test ./...` leaves
// nothing behind but still writes and checks every record).
package framework
