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
// the library is missing (for `backend: vulkan` also when ggml's Vulkan
// build, the Vulkan loader or a Vulkan device is missing).
func (r *Runner) runLlamaCpp(ctx context.Context, rs *resolvedSubject, tokens []int32, opts engine.Options, _ bool) *subjectRun {
	s := rs.spec
	if err := ctx.Err(); err != nil {
		return &subjectRun{err: err}
	}
	o := llamalib.Options{Threads: opts.Threads, KVType: s.KVType, FlashAttn: s.FlashAttn, Prefill: s.Prefill}
	if s.Backend == contracts.BackendVulkan {
		o.Backend = "vulkan"
	}
	r.logf("running %s in llama.cpp (%s, %d threads, KV %s, %d tokens)", rs.display, o.BackendName(), o.Threads, o.KVTypeName(), len(tokens))
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
