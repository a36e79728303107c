package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/trace"
)

// Subjects whose trace another engine makes: a trace file, a command that
// writes one, and llama.cpp run live (llamacpp.go).

// Environment a command subject gets besides PATH, HOME, LANG and the
// variables it names (README "Judge your own engine").
const (
	// TraceOutEnv is where the command must write its trace file.
	TraceOutEnv = "FALSIFY_TRACE_OUT"
	// TokensEnv holds the input's token ids, comma-separated (empty when
	// the contract gives only a prompt).
	TokensEnv = "FALSIFY_TOKENS"
	// PromptEnv holds the contract's prompt (empty when it lists tokens).
	PromptEnv = "FALSIFY_PROMPT"
)

// externalTokens are the tokens a trace made elsewhere must hold: the
// listed tokens, else expect_tokens, else none (the trace's own are used).
func externalTokens(_ *Runner, c *contracts.Contract, _ *resolvedSubject) ([]int32, error) {
	return goldenTokens(nil, c, nil)
}

// adoptTrace checks a trace made elsewhere against the contract's tokens
// and wraps it as a run.
func adoptTrace(tr *trace.Trace, display string, tokens []int32) *subjectRun {
	run := &subjectRun{}
	if len(tokens) > 0 && !slices.Equal(tokens, tr.Tokens) {
		run.err = fmt.Errorf("%s holds tokens %v, the contract's input is %v", display, tr.Tokens, tokens)
		return run
	}
	run.trace = tr
	run.prov = evidence.SubjectProvenance{Provenance: tr.Provenance}
	run.prov.Model = display
	return run
}

// runTraceFile reads a trace file a `trace: PATH` subject names.
func (r *Runner) runTraceFile(_ context.Context, rs *resolvedSubject, tokens []int32, _ engine.Options, _ bool) *subjectRun {
	tr, err := trace.ReadFile(rs.path)
	if err != nil {
		return &subjectRun{err: err}
	}
	return adoptTrace(tr, rs.display, tokens)
}

// runCommandSubject runs a command subject's tracer, only when commands
// are allowed, with the minimal environment of command gates plus the
// FALSIFY_* inputs, in its own process group killed at the timeout, and
// reads the trace file it wrote.
func (r *Runner) runCommandSubject(ctx context.Context, rs *resolvedSubject, tokens []int32, _ engine.Options, _ bool) *subjectRun {
	s := rs.spec
	if !r.commandsAllowed() {
		return &subjectRun{skip: fmt.Sprintf("command subject %q runs code from the contract (%q) and runs only when allowed: pass --allow-commands to `falsify run`, or set %s=1", s.Name, strings.Join(s.Command, " "), AllowCommandsEnv)}
	}
	dir, err := os.MkdirTemp("", "falsify-subject-")
	if err != nil {
		return &subjectRun{err: err}
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "trace.json")
	ids := make([]string, len(tokens))
	for i, t := range tokens {
		ids[i] = strconv.Itoa(int(t))
	}
	prompt := rs.prompt
	argv := make([]string, len(s.Command))
	for i, a := range s.Command {
		argv[i] = strings.NewReplacer("{out}", out, "{tokens}", strings.Join(ids, ",")).Replace(a)
	}
	env := append(r.commandEnv(s.Env), TraceOutEnv+"="+out, TokensEnv+"="+strings.Join(ids, ","), PromptEnv+"="+prompt)
	r.logf("running command subject %s: %s", s.Name, strings.Join(s.Command, " "))
	start := time.Now()
	res := r.execute(ctx, argv, env, s.Timeout)
	name := strconv.Quote(strings.Join(s.Command, " "))
	switch {
	case res.timedOut:
		return &subjectRun{err: fmt.Errorf("command %s did not finish within %s; its process group was killed; output ends:\n%s", name, res.timeout, r.mask(s.Env, tail(res.out.String(), 20)))}
	case res.err != nil:
		return &subjectRun{err: fmt.Errorf("command %s: %v", name, res.err)}
	case res.code != 0:
		return &subjectRun{err: fmt.Errorf("command %s exited %d; output ends:\n%s", name, res.code, r.mask(s.Env, tail(res.out.String(), 20)))}
	}
	tr, err := trace.ReadFile(out)
	if err != nil {
		return &subjectRun{err: fmt.Errorf("command %s exited 0, but its trace file (%s): %w", name, TraceOutEnv, err)}
	}
	run := adoptTrace(tr, "command: "+strings.Join(s.Command, " "), tokens)
	run.prov.Duration = time.Since(start)
	return run
}
