// Package framework is what every Ginkgo suite under suites/ shares: it
// turns a contract into a Describe (labelled with the contract id) holding
// one It per gate (its text starts with the gate id), evaluates the gate
// with a harness.Runner shared by the suite process, writes the gate's
// evidence, and after the suite writes the run report and the Markdown
// summary. Suites stay one file: a `var _ = framework.DescribeContract(...)`
// and the usual `func TestX(t *testing.T)` calling RunSpecs (the suite file
// must import Ginkgo itself, or the Ginkgo CLI treats it as a plain Go test
// and drops the pass-through flags).
//
// The evidence directory is the test binary's -evidence-dir flag
// (`ginkgo ... -- -evidence-dir=DIR`), else $FALSIFY_EVIDENCE_DIR, else a
// temporary directory removed after the suite (so `go test ./...` leaves
// nothing behind but still writes and checks every record).
//
// Each suite process is one run: before the first spec, the run report is
// written marked running and declaring every gate of every described
// contract; after the suite it is rewritten complete (or interrupted),
// with the digest of every record, and signed when $FALSIFY_SIGN_KEY
// names an ed25519 key. `command` gates run only with
// FALSIFY_ALLOW_COMMANDS=1. A focused run judges some gates only, so
// `falsify gate` refuses its evidence as incomplete.
package framework

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var evidenceDir = flag.String("evidence-dir", "", "directory for evidence JSON (default $FALSIFY_EVIDENCE_DIR, else a temporary directory)")

var (
	mu        sync.Mutex
	runner    *harness.Runner
	runID     string
	outDir    string
	tempOut   bool
	setupOnce sync.Once
	// declared are the contracts DescribeContract declared (every process
	// builds the same tree), for the run report.
	declared []*contracts.Contract
	started  time.Time
)

// setup shares one run id and evidence directory across parallel
// processes (process 1 makes them and writes the run report marked
// running, declaring every gate, before any spec runs) and creates each
// process's Runner.
var _ = SynchronizedBeforeSuite(func() []byte {
	id := evidence.NewRunID(time.Now())
	dir, temp := *evidenceDir, false
	if dir == "" {
		dir = os.Getenv("FALSIFY_EVIDENCE_DIR")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "falsify-evidence-")
		Expect(err).NotTo(HaveOccurred())
		dir, temp = d, true
	}
	if len(declared) > 0 {
		started = time.Now().UTC()
		_, err := evidence.StartRun(dir, evidence.NewRunReport(id, engine.Version, started), harness.Declare(declared...))
		Expect(err).NotTo(HaveOccurred(), "starting the run's evidence in %s", dir)
	}
	return []byte(fmt.Sprintf("%s\x00%s\x00%t", id, dir, temp))
}, func(data []byte) {
	mu.Lock()
	defer mu.Unlock()
	parts := strings.SplitN(string(data), "\x00", 3)
	runID, outDir = parts[0], parts[1]
	tempOut = GinkgoParallelProcess() == 1 && parts[2] == "true"
	runner = harness.New(harness.Options{RunID: runID, Log: GinkgoWriter, CommandDir: repoRoot()})
})

var _ = SynchronizedAfterSuite(func() {
	mu.Lock()
	defer mu.Unlock()
	if runner != nil {
		runner.Close()
	}
}, func() {})

// After all processes finish: the run report for this run and the summary
// of everything in the evidence directory.
var _ = ReportAfterSuite("falsify evidence", func(rep Report) {
	dir := outDir
	if dir == "" {
		return
	}
	var suiteCounts evidence.Counts
	if len(declared) > 0 {
		// The run report, written last: every record this run wrote, with
		// its digest; interrupted when Ginkgo was.
		var mine []*evidence.GateRecord
		if ev, err := evidence.Load(dir); err == nil {
			for _, g := range ev.Gates {
				if g.RunID == runID {
					mine = append(mine, g)
				}
			}
		}
		status, reason := evidence.StatusComplete, ""
		for _, r := range rep.SpecialSuiteFailureReasons {
			if strings.Contains(r, "Interrupted") || strings.Contains(r, "Timeout") {
				status, reason = evidence.StatusInterrupted, "ginkgo: "+r
			}
		}
		run := evidence.NewRunReport(runID, engine.Version, started)
		run.Declared = harness.Declare(declared...)
		run, err := evidence.CompleteRun(dir, run, mine, rep.EndTime, status, reason)
		Expect(err).NotTo(HaveOccurred())
		suiteCounts = run.Counts
		if keyPath := os.Getenv("FALSIFY_SIGN_KEY"); keyPath != "" {
			key, err := evidence.LoadSigningKey(keyPath)
			Expect(err).NotTo(HaveOccurred(), "FALSIFY_SIGN_KEY")
			_, err = evidence.SignRun(dir, run, key)
			Expect(err).NotTo(HaveOccurred())
		}
	}
	if _, err := evidence.Load(dir); err != nil {
		if tempOut {
			os.RemoveAll(dir)
		}
		return // no gate ran (e.g. everything filtered out)
	}
	// summary.md is rebuilt from the whole directory under its lock, so
	// suites sharing it add rows instead of replacing them.
	summary, err := evidence.UpdateSummary(context.Background(), dir)
	Expect(err).NotTo(HaveOccurred())
	if tempOut {
		os.RemoveAll(dir)
	} else {
		// This suite's own counts; the directory's total is summary.md's.
		fmt.Fprintf(os.Stderr, "falsify: %s: %s; evidence in %s (all suites so far: %s)\n",
			rep.SuiteDescription, suiteCounts, dir, summary.Counts)
	}
})

// DescribeContract declares the specs of a contract: name is a builtin
// contract ("apr-vs-gguf-forward-parity-v1") or a file path. A contract
// that does not load or validate gets one failing It saying why.
func DescribeContract(name string) bool {
	c, err := loadContract(name)
	if err != nil {
		return Describe(name, Label(labelSafe(name)), func() {
			It("loads and validates", func() { Fail(err.Error()) })
		})
	}
	declared = append(declared, c)
	return Describe(fmt.Sprintf("%s (v%s)", c.ID, c.Version()), Label(labelSafe(c.ID)), func() {
		for _, t := range c.FalsificationTests {
			labels := Label(labelSafe(c.ID))
			if t.Gate != nil {
				labels = Label(labelSafe(c.ID), string(t.Gate.Kind))
			}
			It(t.ID+": "+t.Rule, labels, func(ctx SpecContext) {
				judgeGate(ctx, c, t.ID)
			})
		}
	})
}

func loadContract(name string) (*contracts.Contract, error) {
	refs, err := contracts.Resolve(name)
	if err != nil {
		return nil, err
	}
	if len(refs) != 1 {
		return nil, fmt.Errorf("contract %s names %d contracts; DescribeContract takes one", name, len(refs))
	}
	c, err := contracts.Open(refs[0])
	if err != nil {
		return nil, err
	}
	if err := contracts.Check(c); err != nil {
		return nil, fmt.Errorf("contract %s does not validate:\n%w", c.Path, err)
	}
	return c, nil
}

// judgeGate evaluates one gate, records its evidence, and turns the
// verdict into the spec's outcome: PASS passes, SKIP skips with the
// reason, anything else fails with the measured values.
func judgeGate(ctx context.Context, c *contracts.Contract, gateID string) {
	GinkgoHelper()
	mu.Lock()
	r, dir := runner, outDir
	mu.Unlock()
	rec := r.Evaluate(ctx, c, gateID)
	rec.Shard = fmt.Sprintf("ginkgo-%d", GinkgoParallelProcess())
	_, err := evidence.WriteGate(dir, rec)
	Expect(err).NotTo(HaveOccurred(), "writing the evidence of %s", gateID)
	AddReportEntry("verdict", string(rec.Verdict), ReportEntryVisibilityFailureOrVerbose)
	AddReportEntry("measurements", rec.Measurements, ReportEntryVisibilityNever)
	if rec.Verdict == evidence.Skip {
		Skip(rec.Reason)
	}
	Expect(rec.Verdict).To(Equal(evidence.Pass), FailureMessage(rec))
}

// FailureMessage is the failure message of a gate: verdict, reason, and the
// measurements against their bands (the failed ones first).
func FailureMessage(rec *evidence.GateRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s\n", rec.GateID, rec.Verdict, rec.Reason)
	if rec.FirstOffending != nil {
		fmt.Fprintf(&b, "first offending: %s (band %s)\n", rec.FirstOffending, rec.FirstOffending.Band)
	}
	shown := 0
	for _, m := range rec.Measurements {
		if shown == 12 {
			fmt.Fprintf(&b, "... %d more measurements in the evidence file\n", len(rec.Measurements)-shown)
			break
		}
		status := "   "
		if m.Pass != nil && !*m.Pass {
			status = "!! "
		}
		band := ""
		if m.Band != nil {
			band = " in " + m.Band.String()
		}
		fmt.Fprintf(&b, "%s%s%s\n", status, m, band)
		shown++
	}
	return b.String()
}

// labelSafe removes the characters Ginkgo labels may not hold.
func labelSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune("&|!,()/:", r) {
			return '-'
		}
		return r
	}, s)
}

// repoRoot is where `command` gates run: the directory holding go.mod
// above the working directory (suites run in their package directory).
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// ContractFiles expands a $FALSIFY_CONTRACTS value (files, directories
// and builtin names separated by the path-list separator) with
// contracts.Resolve; empty means none (the builtins have their own suites).
func ContractFiles(spec string) ([]string, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	refs, err := contracts.Resolve(spec)
	if err != nil {
		return nil, fmt.Errorf("FALSIFY_CONTRACTS: %w", err)
	}
	return refs, nil
}
