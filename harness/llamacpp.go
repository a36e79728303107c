package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/internal/llamalib"
)

// runLlamaCpp runs a `runtime: llamacpp` subject in llama.cpp itself
// (internal/llamalib): SKIP with the reason and the install command when
// the library is missing, or for the Vulkan backend, which needs the GPU
// loader of issue 11.
func (r *Runner) runLlamaCpp(ctx context.Context, rs *resolvedSubject, tokens []int32, opts engine.Options, _ bool) *subjectRun {
	s := rs.spec
	if s.Backend == contracts.BackendVulkan {
		return &subjectRun{skip: fmt.Sprintf("subject %q: backend vulkan: not built yet (issue 11)", s.Name)}
	}
	if err := ctx.Err(); err != nil {
		return &subjectRun{err: err}
	}
	o := llamalib.Options{Threads: opts.Threads, KVType: s.KVType, FlashAttn: s.FlashAttn, Prefill: s.Prefill}
	r.logf("running %s in llama.cpp (%d threads, KV %s, %d tokens)", rs.display, o.Threads, o.KVTypeName(), len(tokens))
	start := time.Now()
	tr, err := llamalib.Run(rs.path, tokens, o)
	if errors.Is(err, llamalib.ErrUnavailable) {
		return &subjectRun{skip: fmt.Sprintf("subject %q needs llama.cpp: %v", s.Name, err)}
	}
	if err != nil {
		return &subjectRun{err: err}
	}
	run := &subjectRun{trace: tr, opts: opts}
	run.prov = evidence.SubjectProvenance{Provenance: tr.Provenance, Duration: time.Since(start)}
	run.prov.Model = rs.display
	return run
}
