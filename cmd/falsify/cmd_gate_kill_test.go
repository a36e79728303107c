package main

import (
	"bufio"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/evidence"
)

// TestRunRefusesDuplicateContractIDs: two contract files with one id and
// different bands are refused before anything runs, naming both files.
func TestRunRefusesDuplicateContractIDs(t *testing.T) {
	variant := builtinVariant(t, [2]string{"layers: [3], numerator: apr, denominator: gguf, band: [0.5, 2.0]}", "layers: [3], numerator: apr, denominator: gguf, band: [0.9, 1.1]}"})
	dir := filepath.Join(t.TempDir(), "ev")
	_, errs, code := runCLI(t, "run", "--evidence", dir, "apr-vs-gguf-forward-parity-v1", variant)
	if code == 0 || !strings.Contains(errs, "both have the contract id apr-vs-gguf-forward-parity-v1 but different content") || !strings.Contains(errs, variant) {
		t.Errorf("duplicate ids: exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("the refused run created %s", dir)
	}
}

// TestRunUnwritableEvidence: an evidence directory that cannot be written
// is found before any model runs.
func TestRunUnwritableEvidence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCLI(t, "run", "--evidence", filepath.Join(file, "ev"), "trace-determinism-v1")
	if code == 0 || !strings.Contains(errs, "evidence directory is not writable") || strings.Contains(errs, "running builtin:") {
		t.Errorf("unwritable evidence: exit %d, stderr %q", code, errs)
	}
}

// TestGateAfterKilledRuns builds the binary once and stops `falsify run`
// at random points (SIGKILL, SIGINT, or its stderr pipe closed as by
// `2>&1 | head -4`), some into a fresh directory, some over a complete
// earlier run; `falsify gate` must exit 0 only when the run itself
// finished and exited 0 (or, over an earlier complete run, was killed
// before writing anything, leaving the directory as it was).
func TestGateAfterKilledRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it 36 times")
	}
	bin := filepath.Join(t.TempDir(), "falsify")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// One whole run to warm the model cache and time it. The builtin
	// contracts but the CPU-vs-GPU one, which SKIPs without a Vulkan
	// device and on lavapipe would make each of the runs below slower.
	var cpuOnly []string
	for _, name := range contracts.Builtin() {
		if name != "cpu-vs-gpu-forward-parity-v1.yaml" {
			cpuOnly = append(cpuOnly, "builtin:"+name)
		}
	}
	runArgs := func(dir string) []string { return append([]string{"run", "--evidence", dir}, cpuOnly...) }
	base := filepath.Join(t.TempDir(), "base")
	t0 := time.Now()
	if out, err := exec.Command(bin, runArgs(base)...).CombinedOutput(); err != nil {
		t.Fatalf("a whole run fails: %v\n%s", err, out)
	}
	full := time.Since(t0)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	modes := []string{"SIGKILL", "SIGINT", "pipe"}
	stopped := map[string]int{}
	const runs = 36
	for i := range runs {
		mode := modes[i%len(modes)]
		dir := filepath.Join(t.TempDir(), "ev")
		if i%2 == 1 { // over a complete run: the killed run must not hide behind it
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
		}
		delay := time.Duration(rng.Int64N(int64(full)/2 + 1))
		cmd := exec.Command(bin, runArgs(dir)...)
		var exitErr error
		switch mode {
		case "pipe":
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = w, w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			// head -N: read a few lines, then close the pipe.
			br := bufio.NewReader(r)
			for range 1 + rng.IntN(12) {
				if _, err := br.ReadString('\n'); err != nil {
					break
				}
			}
			r.Close()
			exitErr = cmd.Wait()
		default:
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			sig := syscall.SIGKILL
			if mode == "SIGINT" {
				sig = syscall.SIGINT
			}
			_ = cmd.Process.Signal(sig)
			exitErr = cmd.Wait()
		}
		_, errs, code := falsifyCLI(t, "gate", dir)
		if exitErr == nil {
			stopped[mode+" too late"]++
			if code != 0 {
				t.Errorf("run %d (%s after %v): the run finished, yet gate exits %d:\n%s", i, mode, delay, code, errs)
			}
			continue
		}
		if reports, _ := filepath.Glob(filepath.Join(dir, "run-*.json")); len(reports) == i%2 {
			// Killed before it wrote its first file (loading contracts):
			// the directory is as it was, empty or one complete run.
			stopped[mode+" before starting"]++
			if i%2 == 0 && code == 0 {
				t.Errorf("run %d: gate passes an empty directory", i)
			}
			continue
		}
		if killedRunComplete(t, dir, base, i%2 == 1) {
			// Stopped after its report was written complete (while
			// writing the summary or printing the table): the run did
			// finish, and its evidence proves what it says.
			stopped[mode+" after completing"]++
			if code != 0 {
				t.Errorf("run %d (%s after %v): the run's report is complete, yet gate exits %d:\n%s", i, mode, delay, code, errs)
			}
			continue
		}
		stopped[mode]++
		if code == 0 {
			t.Errorf("run %d (%s after %v, %v): gate exits 0 on an interrupted run:\n%s", i, mode, delay, exitErr, errs)
		} else if !strings.Contains(errs, "an incomplete run proves nothing") && !strings.Contains(errs, "no gate evidence") {
			t.Errorf("run %d (%s): gate fails without naming the incomplete run:\n%s", i, mode, errs)
		}
	}
	t.Logf("%d runs, a whole run takes %v; stopped: %v", runs, full, stopped)
	if stopped["SIGKILL"]+stopped["SIGINT"]+stopped["pipe"] < runs/3 {
		t.Errorf("only %v of %d runs were stopped before they finished: the loop tests too little", stopped, runs)
	}
}

// killedRunComplete says whether the run report the stopped run wrote in
// dir (the one not copied from base when overBase) is marked complete.
// Run ids have one-second resolution, so the report is found by name,
// not by sorting.
func killedRunComplete(t *testing.T, dir, base string, overBase bool) bool {
	t.Helper()
	reports, _ := filepath.Glob(filepath.Join(dir, "run-*.json"))
	for _, r := range reports {
		if overBase {
			if _, err := os.Stat(filepath.Join(base, filepath.Base(r))); err == nil {
				continue
			}
		}
		b, err := os.ReadFile(r)
		if err != nil {
			return false
		}
		var rep struct {
			Status string `json:"status"`
		}
		return json.Unmarshal(b, &rep) == nil && rep.Status == evidence.StatusComplete
	}
	return false
}

// TestRunShards: `falsify run --shard NAME -k ID` judges part of a
// contract; the gate passes the shards together and refuses one alone.
func TestRunShards(t *testing.T) {
	const c = "trace-determinism-v1"
	a, b := t.TempDir(), t.TempDir()
	// A filtered run that is not a shard judges its gates and warns that
	// the release gate will refuse the directory, which it does.
	partial := t.TempDir()
	if _, errs, code := runCLI(t, "run", "--evidence", partial, "--gate", "FALSIFY-TRACE-DETERMINISM-001", c); code != 0 || !strings.Contains(errs, "--shard") {
		t.Errorf("--gate without --shard: exit %d, %s", code, errs)
	}
	wantGateFails(t, []string{partial}, "FALSIFY-TRACE-DETERMINISM-003")
	if _, errs, code := runCLI(t, "run", "--evidence", a, "--shard", "1", "--gate", "FALSIFY-TRACE-DETERMINISM-001", "--gate", "FALSIFY-TRACE-DETERMINISM-002", c); code != 0 {
		t.Fatalf("shard 1: exit %d\n%s", code, errs)
	}
	if _, errs, code := runCLI(t, "run", "--evidence", b, "--shard", "2", "--gate", "FALSIFY-TRACE-DETERMINISM-003", c); code != 0 {
		t.Fatalf("shard 2: exit %d\n%s", code, errs)
	}
	if out, errs, code := falsifyCLI(t, "gate", a, b); code != 0 {
		t.Fatalf("both shards: exit %d\n%s%s", code, out, errs)
	}
	wantGateFails(t, []string{a}, "the shards of contract trace-determinism-v1 leave gates unjudged: FALSIFY-TRACE-DETERMINISM-003")
}

// TestRunWriteFailure: a record that cannot be written (here its path is
// taken by a directory, as a full disk would fail the write) stops the
// run, marked interrupted with the reason; the gate refuses the directory.
func TestRunWriteFailure(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "trace-determinism-v1", "FALSIFY-TRACE-DETERMINISM-002.json")
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCLI(t, "run", "--evidence", dir, "trace-determinism-v1")
	if code == 0 || !strings.Contains(errs, "FALSIFY-TRACE-DETERMINISM-002") {
		t.Fatalf("run over an unwritable record: exit %d\n%s", code, errs)
	}
	wantGateFails(t, []string{dir}, "is interrupted: writing FALSIFY-TRACE-DETERMINISM-002 failed", "an incomplete run proves nothing")
}
