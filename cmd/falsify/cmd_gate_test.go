package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/trace"
)

var gateT0 = time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)

// writeEvidence writes one run's gate records (one per verdict given) and
// its run report into dir.
func writeEvidence(t *testing.T, dir, runID string, finished time.Time, verdicts map[string]evidence.Verdict) {
	t.Helper()
	c := evidence.ContractRef{ID: "apr-vs-gguf-forward-parity-v1", Version: "1.2.0"}
	run := evidence.NewRunReport(runID, "test", finished.Add(-time.Minute))
	for id, v := range verdicts {
		g := evidence.NewGateRecord(runID, c, id, "ratio_band")
		g.Verdict = v
		if v != evidence.Pass {
			g.Reason = "because " + string(v)
		}
		g.Measurements = append(g.Measurements, evidence.Measurement{Layer: evidence.Layer(3), Slot: "ffn_swiglu_inner",
			Pair: []string{"apr", "gguf"}, Name: "std_ratio", Value: 1.245}.Judge(trace.Band{Lo: 0.5, Hi: 2}))
		g.Started, g.Finished = finished.Add(-time.Second), finished
		if _, err := evidence.WriteGate(dir, g); err != nil {
			t.Fatal(err)
		}
		run.Add(g)
	}
	run.Finished = finished
	if _, err := evidence.WriteRun(dir, run); err != nil {
		t.Fatal(err)
	}
}

func TestGateVerdicts(t *testing.T) {
	const g1, g2 = "FALSIFY-APR-GGUF-PARITY-001", "FALSIFY-APR-GGUF-PARITY-002"
	tests := []struct {
		name      string
		second    evidence.Verdict
		allowSkip bool
		want      int
	}{
		{"all pass", evidence.Pass, false, 0},
		{"fail", evidence.Fail, false, 1},
		{"blocked", evidence.Blocked, false, 1},
		{"error", evidence.Error, false, 1},
		{"skip", evidence.Skip, false, 1},
		{"skip allowed", evidence.Skip, true, 0},
		{"fail with skip allowed", evidence.Fail, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeEvidence(t, dir, "r1", gateT0, map[string]evidence.Verdict{g1: evidence.Pass, g2: tt.second})
			args := []string{"gate", dir}
			if tt.allowSkip {
				args = []string{"gate", "--allow-skip", dir}
			}
			out, errs, code := falsifyCLI(t, args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.want, out, errs)
			}
			row := "| apr-vs-gguf-forward-parity-v1 | " + g2 + " | "
			if !strings.Contains(out, row) {
				t.Errorf("table lacks row %q:\n%s", row, out)
			}
			if tt.second != evidence.Pass && !strings.Contains(out, "because "+string(tt.second)) {
				t.Errorf("table lacks the reason:\n%s", out)
			}
		})
	}
}

func TestGateEmptyIsError(t *testing.T) {
	_, errs, code := falsifyCLI(t, "gate", t.TempDir())
	if code != 1 || !strings.Contains(errs, "no gate evidence") {
		t.Errorf("empty dir: exit %d, stderr %q", code, errs)
	}
	if _, _, code := falsifyCLI(t, "gate"); code != 2 {
		t.Errorf("no dir: exit %d, want 2", code)
	}
	if _, _, code := falsifyCLI(t, "gate", filepath.Join(t.TempDir(), "missing")); code != 1 {
		t.Errorf("missing dir: exit %d, want 1", code)
	}
}

// TestGateMerges gives two shards that judged the same gate; the later
// FAIL wins, a note says so, and the JSON report is the merged one.
func TestGateMerges(t *testing.T) {
	const id = "FALSIFY-APR-GGUF-PARITY-001"
	a, b := t.TempDir(), t.TempDir()
	writeEvidence(t, a, "ra", gateT0, map[string]evidence.Verdict{id: evidence.Pass})
	writeEvidence(t, b, "rb", gateT0.Add(time.Hour), map[string]evidence.Verdict{id: evidence.Fail})
	out, errs, code := falsifyCLI(t, "gate", "--json", a, b)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the later record is a FAIL)\n%s", code, errs)
	}
	if !strings.Contains(errs, "note:") || !strings.Contains(errs, "kept FAIL of run rb") {
		t.Errorf("stderr lacks the merge note: %q", errs)
	}
	var rep evidence.RunReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Gates) != 1 || rep.Gates[0].RunID != "rb" || rep.Counts.Fail != 1 {
		t.Errorf("merged report %+v", rep)
	}
}
