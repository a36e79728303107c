package harness

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/trace"
)

// AllowCommandsEnv is the environment variable that, set to 1, allows
// `command` gates like Options.AllowCommands does.
const AllowCommandsEnv = "FALSIFY_ALLOW_COMMANDS"

// maxCommandOutput caps what a command gate keeps of its output (stdout
// and stderr together); the rest is counted, not stored.
const maxCommandOutput = 64 << 10

// commandWaitDelay is how long Wait waits for the output pipes after the
// process group was killed: a child that escaped the group (setsid) and
// holds stdout open must not keep the gate waiting.
const commandWaitDelay = 2 * time.Second

// commandsAllowed reports whether command gates may run.
func (r *Runner) commandsAllowed() bool {
	if r.opts.AllowCommands {
		return true
	}
	v, _ := r.lookup(AllowCommandsEnv)
	return v == "1"
}

// commandEnv is the command's whole environment: PATH, HOME and LANG, and
// the variables the contract names, when set.
func (r *Runner) commandEnv(names []string) []string {
	var env []string
	for _, name := range append([]string{"PATH", "HOME", "LANG"}, names...) {
		if v, ok := r.lookup(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

// capWriter keeps the first max bytes written and counts the rest.
type capWriter struct {
	mu      sync.Mutex
	buf     []byte
	max     int
	dropped int64
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := w.max - len(w.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		w.buf = append(w.buf, p[:room]...)
	}
	w.dropped += int64(len(p) - max(room, 0))
	return len(p), nil
}

func (w *capWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := string(w.buf)
	if w.dropped > 0 {
		s += fmt.Sprintf("\n[falsify: %d more bytes of output dropped]", w.dropped)
	}
	return s
}

// mask replaces the values of the variables a command was given (other
// than PATH, HOME, LANG) in text that evidence records: the contract names
// the variables, not their values, as something to record.
func (r *Runner) mask(names []string, text string) string {
	for _, name := range names {
		if v, ok := r.lookup(name); ok && len(v) >= 4 {
			text = strings.ReplaceAll(text, v, "${"+name+"}")
		}
	}
	return text
}

// judgeCommand runs a `command` gate: only when allowed, with a minimal
// environment, in its own process group (killed whole at the timeout),
// its output capped, and compares its exit status.
func (r *Runner) judgeCommand(ctx context.Context, p *contracts.Command, rec *record) {
	if !r.commandsAllowed() {
		rec.Verdict = evidence.Skip
		rec.Reason = fmt.Sprintf("command gates run code from the contract (%q) and run only when allowed: pass --allow-commands to `falsify run`, or set %s=1", p.Run, AllowCommandsEnv)
		return
	}
	res := r.execute(ctx, []string{"sh", "-c", p.Run}, r.commandEnv(p.Env), p.Timeout)
	code := res.code
	switch {
	case res.timedOut:
		errorf(rec, "command %q did not finish within %s; its process group was killed; output ends:\n%s", p.Run, res.timeout, r.mask(p.Env, tail(res.out.String(), 20)))
		return
	case res.err != nil:
		errorf(rec, "command %q: %v", p.Run, res.err)
		return
	}
	ok := code == p.ExpectExit
	want := float64(p.ExpectExit)
	rec.Measurements = append(rec.Measurements, evidence.Measurement{Name: "exit_status", Value: trace.Float(code), Band: &trace.Band{Lo: want, Hi: want}, Pass: &ok})
	settle(rec, func(*evidence.Measurement) string {
		return fmt.Sprintf("command %q exited %d, want %d; output ends:\n%s", p.Run, code, p.ExpectExit, r.mask(p.Env, tail(res.out.String(), 20)))
	})
}

// execResult is how a command ran: its exit code, its capped output, or
// why there is none.
type execResult struct {
	code     int
	out      *capWriter
	timedOut bool
	timeout  time.Duration
	err      error // could not start, or cancelled
}

// execute runs argv (no shell unless argv asks for one) with exactly env,
// in r.opts.CommandDir, in its own process group that is killed whole
// when timeout (0: defaultCommandTimeout) passes, its output capped at
// maxCommandOutput. Command gates and command subjects both run through
// it.
func (r *Runner) execute(ctx context.Context, argv []string, env []string, timeout time.Duration) execResult {
	if timeout <= 0 {
		timeout = defaultCommandTimeout
	}
	res := execResult{out: &capWriter{max: maxCommandOutput}, timeout: timeout}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = r.opts.CommandDir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = res.out, res.out
	ownProcessGroup(cmd)
	cmd.WaitDelay = commandWaitDelay
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.timedOut = true
	case ctx.Err() != nil:
		res.err = fmt.Errorf("cancelled: %w", ctx.Err())
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case errors.Is(err, exec.ErrWaitDelay):
		// Exited, but something it started still held the output open.
		res.code = cmd.ProcessState.ExitCode()
	case err != nil:
		res.err = err
	}
	return res
}
