package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/internal/builtin"
)

// Options configure a Runner.
type Options struct {
	// Env looks up environment variables for ${VAR:-default} in subject
	// models; nil means os.LookupEnv.
	Env func(string) (string, bool)
	// Set overrides subjects' models by subject name (`--set apr=PATH`).
	Set map[string]string
	// Threads is used for subjects that do not fix their own (0: all cores).
	Threads int
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// WorkDir holds files the run makes (APR conversions); default: the
	// builtin cache directory's parent.
	WorkDir string
	// CommandDir is where `command` gates run (default: the working
	// directory).
	CommandDir string
	// RunID names the run in evidence; default evidence.NewRunID(now).
	RunID string
	// AllowCommands lets `command` gates run (as does
	// FALSIFY_ALLOW_COMMANDS=1 in Env); otherwise they SKIP saying how
	// to allow them.
	AllowCommands bool
}

// Runner evaluates gates. It caches models, subject runs and verdicts, so
// one Runner is one run: every distinct subject runs once however many
// gates read it. It is safe for concurrent use.
type Runner struct {
	opts Options

	mu       sync.Mutex
	models   map[string]*engine.Model
	runs     map[runKey]*subjectRun
	verdicts map[string]*evidence.GateRecord // contract id + "\x00" + gate id
	hashes   map[string]string               // content hashes of conversion sources, by path
}

// New returns a Runner.
func New(opts Options) *Runner {
	if opts.Env == nil {
		opts.Env = os.LookupEnv
	}
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Dir(builtin.CacheDir())
	}
	if opts.RunID == "" {
		opts.RunID = evidence.NewRunID(time.Now())
	}
	return &Runner{opts: opts, models: map[string]*engine.Model{}, runs: map[runKey]*subjectRun{},
		verdicts: map[string]*evidence.GateRecord{}, hashes: map[string]string{}}
}

// RunID is the id evidence from this Runner carries.
func (r *Runner) RunID() string { return r.opts.RunID }

// Close releases the models the Runner loaded. It returns their
// backends' Close errors (the Vulkan backend's: validation-layer messages
// with FALSIFY_VULKAN_VALIDATE=1, leaked objects), each naming the model:
// the gates that used such a backend were judged on a device that
// reported a problem, so callers must not call the run complete.
func (r *Runner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for p, m := range r.models {
		if err := m.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		delete(r.models, p)
	}
	return errors.Join(errs...)
}

func (r *Runner) lookup(name string) (string, bool) { return r.opts.Env(name) }

func (r *Runner) logf(format string, args ...any) {
	if r.opts.Log != nil {
		fmt.Fprintf(r.opts.Log, "falsify: "+format+"\n", args...)
	}
}

// ContractRef is the evidence reference to a contract.
func ContractRef(c *contracts.Contract) evidence.ContractRef {
	return evidence.ContractRef{ID: c.ID, Version: c.Version(), SHA256: c.SHA256, Path: c.Path}
}

// RunContract evaluates every gate of c in file order.
func (r *Runner) RunContract(ctx context.Context, c *contracts.Contract) []*evidence.GateRecord {
	out := make([]*evidence.GateRecord, 0, len(c.FalsificationTests))
	for _, t := range c.FalsificationTests {
		out = append(out, r.Evaluate(ctx, c, t.ID))
	}
	return out
}

// Evaluate judges one gate of c (and, first, the gates it requires, in
// the order contracts.Prerequisites gives). The result is cached: asking
// again returns the same record. An unknown gate or a requires cycle is
// an ERROR record.
func (r *Runner) Evaluate(ctx context.Context, c *contracts.Contract, gateID string) *evidence.GateRecord {
	key := c.ID + "\x00" + gateID
	if rec := r.cached(key); rec != nil {
		return rec
	}
	order, err := c.Prerequisites(gateID)
	if err != nil {
		rec := evidence.NewGateRecord(r.opts.RunID, ContractRef(c), gateID, "unknown")
		rec.Started = time.Now().UTC()
		return r.finish(key, errorf(rec, "%v", err))
	}
	for _, t := range order {
		r.evaluateOne(ctx, c, t)
	}
	return r.cached(key)
}

// cached returns the record of a judged gate, or nil.
func (r *Runner) cached(key string) *evidence.GateRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.verdicts[key]
}

// evaluateOne judges test t, whose prerequisites have records already
// (a requires entry naming no test gets an ERROR record here).
func (r *Runner) evaluateOne(ctx context.Context, c *contracts.Contract, t *contracts.FalsificationTest) *evidence.GateRecord {
	key := c.ID + "\x00" + t.ID
	if rec := r.cached(key); rec != nil {
		return rec
	}
	rec := evidence.NewGateRecord(r.opts.RunID, ContractRef(c), t.ID, "unknown")
	rec.Started = time.Now().UTC()
	rec.Rule, rec.Requires = t.Rule, t.Requires
	if t.Gate == nil {
		rec.Verdict, rec.Reason = evidence.Skip, "the test has no machine-readable `gate`, so the harness cannot judge it (its `test` is for people to run)"
		return r.finish(key, rec)
	}
	rec.Kind, rec.Params = string(t.Gate.Kind), t.Gate.Raw
	for _, req := range t.Requires {
		dep := r.Evaluate(ctx, c, req)
		if dep.Verdict != evidence.Pass {
			rec.Verdict = evidence.Blocked
			rec.Reason = fmt.Sprintf("requires %s, which is %s: %s", req, dep.Verdict, firstLine(dep.Reason))
			return r.finish(key, rec)
		}
	}
	if err := ctx.Err(); err != nil {
		return r.finish(key, errorf(rec, "cancelled: %v", err))
	}
	r.judge(ctx, c, t.Gate, rec)
	return r.finish(key, rec)
}

func (r *Runner) finish(key string, rec *evidence.GateRecord) *evidence.GateRecord {
	rec.Finished = time.Now().UTC()
	if rec.Verdict == "" {
		rec.Verdict, rec.Reason = evidence.Error, "the gate produced no verdict (harness bug)"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.verdicts[key]; ok {
		return prev
	}
	r.verdicts[key] = rec
	return rec
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Verdict helpers on the record under construction.
type record = evidence.GateRecord

func errorf(rec *record, format string, args ...any) *record {
	rec.Verdict, rec.Reason = evidence.Error, fmt.Sprintf(format, args...)
	return rec
}

// DefaultThreads is the thread count subjects without one use.
func DefaultThreads() int { return runtime.NumCPU() }
