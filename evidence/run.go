package evidence

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// ErrNotWritable wraps the error of an evidence directory that cannot be
// written (checked before any model runs).
var ErrNotWritable = errors.New("evidence directory is not writable")

// CheckWritable creates dir if needed and proves a file can be created,
// synced and removed in it, so a run fails before its first model runs
// rather than after the traces.
func CheckWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrNotWritable, err)
	}
	f, err := os.CreateTemp(dir, ".falsify-probe-*")
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotWritable, dir, err)
	}
	name := f.Name()
	_, werr := f.Write([]byte("probe\n"))
	if werr == nil {
		werr = f.Sync()
	}
	f.Close()
	os.Remove(name)
	if werr != nil {
		return fmt.Errorf("%w: %s: %v", ErrNotWritable, dir, werr)
	}
	return nil
}

// CheckDeclared refuses a run whose contracts cannot be told apart in
// evidence: two contracts with one id but different content (one would be
// judged for both), and ids or gate ids that cannot be file names.
func CheckDeclared(decl []DeclaredContract) error {
	seen := map[string]string{}
	for _, d := range decl {
		if err := checkName(d.ID); err != nil {
			return fmt.Errorf("contract id: %w", err)
		}
		if sha, ok := seen[d.ID]; ok && sha != d.SHA256 {
			return fmt.Errorf("two different contracts have the id %s (sha256 %s and %s): a run evaluates one contract per id; rename one or run them separately",
				d.ID, short(sha), short(d.SHA256))
		}
		seen[d.ID] = d.SHA256
		for _, g := range d.Gates {
			if err := checkName(g); err != nil {
				return fmt.Errorf("contract %s: gate id: %w", d.ID, err)
			}
		}
	}
	return nil
}

// Run writes one run's evidence as a unit: StartRun writes the run report
// marked running (declaring every gate it will judge) before any gate,
// Gate writes each record and remembers its digest, and Finish rewrites
// the report, complete, last. A run killed at any point leaves a report
// that is not complete, and `falsify gate` fails on it. Safe for
// concurrent use.
type Run struct {
	dir  string
	mu   sync.Mutex
	rep  *RunReport
	gate []*GateRecord
	done bool
}

// StartRun checks that dir is writable and decl consistent, then writes
// rep (its gates empty) marked running, declaring decl.
func StartRun(dir string, rep *RunReport, decl []DeclaredContract) (*Run, error) {
	if err := CheckDeclared(decl); err != nil {
		return nil, err
	}
	if err := CheckWritable(dir); err != nil {
		return nil, err
	}
	rep.Status, rep.StatusReason = StatusRunning, "the run started and has not finished; if nothing is running, it was interrupted"
	rep.Declared = dedupDeclared(decl)
	if _, err := WriteRun(dir, rep); err != nil {
		return nil, err
	}
	return &Run{dir: dir, rep: rep}, nil
}

func dedupDeclared(decl []DeclaredContract) []DeclaredContract {
	var out []DeclaredContract
	seen := map[string]bool{}
	for _, d := range decl {
		if !seen[d.ID] {
			seen[d.ID] = true
			d.Gates = append([]string{}, d.Gates...)
			out = append(out, d)
		}
	}
	return out
}

// Report is the run's report as written so far.
func (w *Run) Report() *RunReport { return w.rep }

// Gate writes g and adds it, with its digest, to the report.
func (w *Run) Gate(g *GateRecord) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return "", fmt.Errorf("write gate record %s/%s: run %s already finished", g.Contract.ID, g.GateID, w.rep.RunID)
	}
	path, err := WriteGate(w.dir, g)
	if err != nil {
		return "", err
	}
	w.gate = append(w.gate, g)
	return path, nil
}

// Finish writes the complete run report (last) and returns it.
func (w *Run) Finish(finished time.Time) (*RunReport, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	return CompleteRun(w.dir, w.rep, w.gate, finished, StatusComplete, "")
}

// Interrupt writes the report marked interrupted with the reason, once;
// after Finish it does nothing. It is best effort: the running marker
// already fails the gate if this write fails too.
func (w *Run) Interrupt(reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	_, err := CompleteRun(w.dir, w.rep, w.gate, time.Now().UTC(), StatusInterrupted, reason)
	return err
}

// CompleteRun fills rep with the summaries (and digests) of gates, the
// models each declared contract's subjects used, and the counts, marks it
// status (StatusComplete, or StatusInterrupted with reason), and writes it.
// The gates must have been written or loaded (their digests known). Suites
// whose records are written by several processes call it once, at the
// end, with the records loaded back.
func CompleteRun(dir string, rep *RunReport, gates []*GateRecord, finished time.Time, status, reason string) (*RunReport, error) {
	rep.Gates, rep.Counts, rep.Contracts = []GateSummary{}, Counts{}, []ContractRef{}
	subjects := map[string]map[string]SubjectModel{}
	for _, g := range gates {
		if g.digest == "" {
			return nil, fmt.Errorf("write run report: gate %s/%s was never written (no digest)", g.Contract.ID, g.GateID)
		}
		rep.Add(g)
		for _, p := range g.Subjects {
			if subjects[g.Contract.ID] == nil {
				subjects[g.Contract.ID] = map[string]SubjectModel{}
			}
			subjects[g.Contract.ID][p.Subject] = SubjectModel{Subject: p.Subject, Model: p.Model, SHA256: p.SHA256}
		}
	}
	sort.SliceStable(rep.Gates, func(i, j int) bool {
		a, b := rep.Gates[i], rep.Gates[j]
		if a.Contract != b.Contract {
			return a.Contract < b.Contract
		}
		return a.GateID < b.GateID
	})
	for i := range rep.Declared {
		d := &rep.Declared[i]
		d.Subjects = nil
		for _, s := range subjects[d.ID] {
			d.Subjects = append(d.Subjects, s)
		}
		sort.Slice(d.Subjects, func(a, b int) bool { return d.Subjects[a].Subject < d.Subjects[b].Subject })
	}
	rep.Finished = finished.UTC()
	rep.Status, rep.StatusReason = status, reason
	if status == StatusComplete {
		rep.StatusReason = ""
	}
	if _, err := WriteRun(dir, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// runDir is the evidence directory a loaded run report names its gate
// files relative to.
func (r *RunReport) runDir() string { return filepath.Dir(r.source) }

// DirWriter writes gate records straight into an evidence directory
// (WriteGate), for writers that share one run across processes (the
// Ginkgo suites); the run's report is then completed from the records
// loaded back (CompleteRun).
type DirWriter string

// Gate writes g into the directory.
func (d DirWriter) Gate(g *GateRecord) (string, error) { return WriteGate(string(d), g) }
