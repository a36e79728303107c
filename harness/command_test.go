package harness_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/harness"
)

func commandContract(t *testing.T, gate string) *contracts.Contract {
	t.Helper()
	text := `metadata: {version: 1.0.0, description: d, references: [x]}
falsification_tests:
- id: C-1
  rule: r
  prediction: p
  gate: ` + gate + "\n"
	c, err := contracts.Parse("cmd.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := contracts.Check(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func runCommandGate(t *testing.T, gate string, allow bool, env map[string]string) *evidence.GateRecord {
	t.Helper()
	lookup := func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	r := harness.New(harness.Options{Env: lookup, AllowCommands: allow, CommandDir: t.TempDir(), WorkDir: t.TempDir()})
	defer r.Close()
	return r.Evaluate(context.Background(), commandContract(t, gate), "C-1")
}

// TestCommandNeedsPermission: without --allow-commands (or
// FALSIFY_ALLOW_COMMANDS=1) the command does not run and the gate SKIPs
// saying how to allow it.
func TestCommandNeedsPermission(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "ran")
	gate := `{kind: command, run: "touch ` + mark + `"}`
	rec := runCommandGate(t, gate, false, map[string]string{harness.AllowCommandsEnv: ""})
	if rec.Verdict != evidence.Skip || !strings.Contains(rec.Reason, "--allow-commands") || !strings.Contains(rec.Reason, "FALSIFY_ALLOW_COMMANDS=1") {
		t.Errorf("not allowed: %s: %s", rec.Verdict, rec.Reason)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("the command ran without permission")
	}
	rec = runCommandGate(t, gate, false, map[string]string{harness.AllowCommandsEnv: "1"})
	if rec.Verdict != evidence.Pass {
		t.Errorf("allowed by the environment: %s: %s", rec.Verdict, rec.Reason)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Error("the allowed command did not run")
	}
}

// TestCommandEnvironment: the command sees PATH, HOME, LANG and the
// variables its gate names, nothing else; a named variable's value is
// masked in the reason; its output is capped.
func TestCommandEnvironment(t *testing.T) {
	env := map[string]string{"FALSIFY_TEST_SECRET": "hunter2-secret-value", "FALSIFY_TEST_NAMED": "named-value-1234"}
	rec := runCommandGate(t, `{kind: command, run: "env; exit 3", env: [FALSIFY_TEST_NAMED]}`, true, env)
	if rec.Verdict != evidence.Fail {
		t.Fatalf("%s: %s", rec.Verdict, rec.Reason)
	}
	if strings.Contains(rec.Reason, "hunter2") || strings.Contains(rec.Reason, "named-value-1234") {
		t.Errorf("an environment value reached the reason:\n%s", rec.Reason)
	}
	if !strings.Contains(rec.Reason, "FALSIFY_TEST_NAMED=${FALSIFY_TEST_NAMED}") || !strings.Contains(rec.Reason, "PATH=") {
		t.Errorf("the named variable is not given (masked) or PATH is missing:\n%s", rec.Reason)
	}
	rec = runCommandGate(t, `{kind: command, run: "head -c 10000000 /dev/zero | tr '\\0' x; exit 1"}`, true, nil)
	if !strings.Contains(rec.Reason, "more bytes of output dropped") || len(rec.Reason) > 100<<10 {
		t.Errorf("output not capped: reason of %d bytes", len(rec.Reason))
	}
}

// TestCommandTimeoutKillsGroup: a command whose child keeps running (and
// holds stdout) is killed, child included, at its timeout.
func TestCommandTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	rec := runCommandGate(t, `{kind: command, run: "(sleep 60; echo late) & echo $! > `+pidFile+`; echo started; wait", timeout: 1s}`, true, nil)
	took := time.Since(start)
	t.Logf("returned after %v", took)
	if rec.Verdict != evidence.Error || !strings.Contains(rec.Reason, "did not finish within 1s") || !strings.Contains(rec.Reason, "process group was killed") {
		t.Errorf("%s: %s", rec.Verdict, rec.Reason)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if !alive(pid) {
			break
		}
		if i == 50 {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d outlived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie, killed but not yet reaped,
// does not).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}
