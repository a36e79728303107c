package harness

import (
	"context"

	"github.com/falsify/falsify/contracts"
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

// GateWriter stores a judged gate's record: *evidence.Run when one
// process owns the run (`falsify run`), evidence.DirWriter when parallel
// Ginkgo processes share it and the run report is completed from the
// directory after the suite.
type GateWriter interface {
	Gate(g *evidence.GateRecord) (path string, err error)
}

// RecordGate evaluates one gate of c (Evaluate), stamps shard on the
// record when set (the Ginkgo process that judged it), and stores the
// record with w. `falsify run` and the Ginkgo suites record every gate
// through it. The record is returned even when storing it failed.
func (r *Runner) RecordGate(ctx context.Context, c *contracts.Contract, gateID string, w GateWriter, shard string) (*evidence.GateRecord, error) {
	rec := r.Evaluate(ctx, c, gateID)
	if shard != "" {
		rec.Shard = shard
	}
	if _, err := w.Gate(rec); err != nil {
		return rec, err
	}
	return rec, nil
}
