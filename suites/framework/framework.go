package framework

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var evidenceDir = flag.String("evidence-dir", "", "directory for evidence JSON (default $FALSIFY_EVIDENCE_DIR, else a temporary directory)")

// suiteRun is what the parallel processes of one suite share: the run id
// and the evidence directory, both chosen by process 1 (so a temporary
// directory is one directory). Ginkgo hands SynchronizedBeforeSuite's
// data to each process only through package state: this one value is set
// once per process before any spec runs and only read afterwards. Each
// contract's Runner lives in its own Ordered container, not here.
type suiteRun struct {
	ID      string    `json:"id"`
	Dir     string    `json:"dir"`
	Temp    bool      `json:"temp"`
	Started time.Time `json:"started"`
}

var thisRun suiteRun

// declared are the contracts DescribeContract declared, in tree order. It
// is filled while Ginkgo builds the tree (every parallel process builds
// the same one) and only read once specs run: the run report declares
// every gate before the first spec, so a run stopped at any point fails
// `falsify gate`.
var declared []*contracts.Contract

var _ = SynchronizedBeforeSuite(func() []byte {
	run := suiteRun{ID: evidence.NewRunID(time.Now()), Dir: *evidenceDir}
	if run.Dir == "" {
		run.Dir = os.Getenv("FALSIFY_EVIDENCE_DIR")
	}
	if run.Dir == "" {
		dir, err := os.MkdirTemp("", "falsify-evidence-")
		Expect(err).NotTo(HaveOccurred())
		run.Dir, run.Temp = dir, true
	}
	if len(declared) > 0 {
		run.Started = time.Now().UTC()
		_, err := evidence.StartRun(run.Dir, evidence.NewRunReport(run.ID, engine.Version, run.Started), harness.Declare(declared...))
		Expect(err).NotTo(HaveOccurred(), "starting the run's evidence in %s", run.Dir)
	}
	b, err := json.Marshal(run)
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(data []byte) {
	Expect(json.Unmarshal(data, &thisRun)).To(Succeed())
})

// After all processes finish: the run report, rewritten complete (or
// interrupted when Ginkgo was) with every record this run wrote and its
// digest, signed when $FALSIFY_SIGN_KEY names an ed25519 key; then the
// summary of everything in the evidence directory, rebuilt under its lock.
var _ = ReportAfterSuite("falsify evidence", func(rep Report) {
	run := thisRun
	if run.Dir == "" {
		return
	}
	if run.Temp {
		defer os.RemoveAll(run.Dir)
	}
	var counts evidence.Counts
	if len(declared) > 0 {
		var mine []*evidence.GateRecord
		if ev, err := evidence.Load(run.Dir); err == nil {
			for _, g := range ev.Gates {
				if g.RunID == run.ID {
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
		report := evidence.NewRunReport(run.ID, engine.Version, run.Started)
		report.Declared = harness.Declare(declared...)
		report, err := evidence.CompleteRun(run.Dir, report, mine, rep.EndTime, status, reason)
		Expect(err).NotTo(HaveOccurred())
		counts = report.Counts
		if keyPath := os.Getenv("FALSIFY_SIGN_KEY"); keyPath != "" {
			key, err := evidence.LoadSigningKey(keyPath)
			Expect(err).NotTo(HaveOccurred(), "FALSIFY_SIGN_KEY")
			_, err = evidence.SignRun(run.Dir, report, key)
			Expect(err).NotTo(HaveOccurred())
		}
	}
	summary, err := evidence.UpdateSummary(context.Background(), run.Dir)
	if errors.Is(err, evidence.ErrNoEvidence) {
		return // no gate ran (e.g. everything filtered out)
	}
	Expect(err).NotTo(HaveOccurred())
	if !run.Temp {
		// This suite's own counts; the directory's total is summary.md's.
		fmt.Fprintf(os.Stderr, "falsify: %s: %s; evidence in %s (all suites so far: %s)\n",
			rep.SuiteDescription, counts, run.Dir, summary.Counts)
	}
})

// DescribeContract declares the specs of a contract: name is a builtin
// contract ("apr-vs-gguf-forward-parity-v1") or a file path. The
// contract's gates run in an Ordered container (ContinueOnFailure: a
// failed gate does not stop the others) whose BeforeAll makes the
// contract's Runner and runs each subject the gates read once; the Runner
// is closed by DeferCleanup after the last gate. A contract that does not
// load or validate gets one failing It saying why.
func DescribeContract(name string) bool {
	c, err := loadContract(name)
	if err != nil {
		return Describe(name, Label(labelSafe(name)), func() {
			It("loads and validates", func() { Fail(err.Error()) })
		})
	}
	declared = append(declared, c)
	return Describe(fmt.Sprintf("%s (v%s)", c.ID, c.Version()), Ordered, ContinueOnFailure, Label(labelSafe(c.ID)), func() {
		var r *harness.Runner
		BeforeAll(func(ctx SpecContext) {
			r = harness.New(harness.Options{RunID: thisRun.ID, Log: GinkgoWriter, CommandDir: repoRoot()})
			DeferCleanup(r.Close)
			r.Prepare(ctx, c)
		})
		for _, t := range c.FalsificationTests {
			labels := Label(labelSafe(c.ID))
			if t.Gate != nil {
				labels = Label(labelSafe(c.ID), string(t.Gate.Kind))
			}
			It(t.ID+": "+t.Rule, labels, func(ctx SpecContext) {
				judgeGate(ctx, r, c, t.ID)
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
func judgeGate(ctx context.Context, r *harness.Runner, c *contracts.Contract, gateID string) {
	GinkgoHelper()
	rec, err := r.RecordGate(ctx, c, gateID, evidence.DirWriter(thisRun.Dir), fmt.Sprintf("ginkgo-%d", GinkgoParallelProcess()))
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
