package harness

import (
	"context"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
)

// Prepare runs every subject the gates of c read, once (the runs are
// cached for the gates). A subject that fails or cannot run here is not
// an error of Prepare: the gates that read it record why.
func (r *Runner) Prepare(ctx context.Context, c *contracts.Contract) {
	for _, s := range c.UsedSubjects() {
		if ctx.Err() != nil {
			return
		}
		r.subject(ctx, c, s.Name)
	}
}

// RecordGate evaluates one gate of c (Evaluate), stamps shard on the
// record when set (the Ginkgo process that judged it), and writes the
// record into the evidence directory dir. `falsify run` and the Ginkgo
// suites record every gate through it.
func (r *Runner) RecordGate(ctx context.Context, c *contracts.Contract, gateID, dir, shard string) (*evidence.GateRecord, error) {
	rec := r.Evaluate(ctx, c, gateID)
	if shard != "" {
		rec.Shard = shard
	}
	if _, err := evidence.WriteGate(dir, rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// FinishRun closes run runID in the evidence directory dir: it writes the
// run report (started to finished) and the Markdown summary of everything
// dir holds, and returns both. The run report lists judged first, in the
// order given (the gates this process recorded), then every other gate
// record of the run in dir (those other processes of a parallel run wrote),
// in file order. With no gate of the run anywhere it writes no run report
// and returns a nil one. It fails with evidence.ErrNoEvidence when dir
// holds no evidence at all.
func FinishRun(dir, runID string, started, finished time.Time, judged []*evidence.GateRecord) (run, summary *evidence.RunReport, err error) {
	ev, err := evidence.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	run = evidence.NewRunReport(runID, engine.Version, started.UTC())
	run.Finished = finished.UTC()
	done := map[string]bool{}
	key := func(g *evidence.GateRecord) string { return g.Contract.ID + "\x00" + g.GateID }
	for _, g := range judged {
		run.Add(g)
		done[key(g)] = true
	}
	for _, g := range ev.Gates {
		if g.RunID == runID && !done[key(g)] {
			run.Add(g)
		}
	}
	if len(run.Gates) == 0 {
		run = nil
	} else if _, err := evidence.WriteRun(dir, run); err != nil {
		return nil, nil, err
	}
	summary = ev.Report()
	if _, err := evidence.WriteSummary(dir, summary); err != nil {
		return run, nil, err
	}
	return run, summary, nil
}
