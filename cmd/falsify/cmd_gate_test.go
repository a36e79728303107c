package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/trace"
)

var gateT0 = time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)

// writeEvidence writes one complete run (one gate record per verdict
// given, the run report last) into dir, as `falsify run` does.
func writeEvidence(t *testing.T, dir, runID string, finished time.Time, verdicts map[string]evidence.Verdict) {
	t.Helper()
	writeRun(t, dir, runSpec{id: runID, finished: finished, verdicts: verdicts})
}

// runSpec describes a synthetic run of testContract.
type runSpec struct {
	id       string
	finished time.Time
	verdicts map[string]evidence.Verdict
	// declared are the contract's gates (default: the keys of verdicts).
	declared []string
	// sha is the contract's sha256 (default: testSHA); model the gguf
	// subject's model sha256 (default: modelA).
	sha, model string
	shard      string
	// stopAfter >= 0 writes that many records and returns without
	// finishing the run (as a killed run).
	stopAfter int
}

const (
	testContract = "apr-vs-gguf-forward-parity-v1"
	testSHA      = "1111111111111111111111111111111111111111111111111111111111111111"
	otherSHA     = "2222222222222222222222222222222222222222222222222222222222222222"
	modelA       = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	modelB       = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func writeRun(t *testing.T, dir string, rs runSpec) {
	t.Helper()
	if rs.sha == "" {
		rs.sha = testSHA
	}
	if rs.model == "" {
		rs.model = modelA
	}
	if rs.stopAfter == 0 {
		rs.stopAfter = -1
	}
	ids := make([]string, 0, len(rs.verdicts))
	for id := range rs.verdicts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	decl := rs.declared
	if decl == nil {
		decl = ids
	}
	c := evidence.ContractRef{ID: testContract, Version: "1.2.0", SHA256: rs.sha}
	rep := evidence.NewRunReport(rs.id, "test", rs.finished.Add(-time.Minute))
	rep.Shard = rs.shard
	w, err := evidence.StartRun(dir, rep, []evidence.DeclaredContract{{ID: testContract, SHA256: rs.sha, Gates: decl}})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if i == rs.stopAfter {
			return
		}
		v := rs.verdicts[id]
		g := evidence.NewGateRecord(rs.id, c, id, "ratio_band")
		g.Verdict = v
		val := trace.Float(1.245)
		if v != evidence.Pass {
			g.Reason = "because " + string(v)
		}
		if v == evidence.Fail {
			val = 3.5
		}
		m := evidence.Measurement{Layer: evidence.Layer(3), Slot: "ffn_swiglu_inner",
			Pair: []string{"apr", "gguf"}, Name: "std_ratio", Value: val}.Judge(trace.Band{Lo: 0.5, Hi: 2})
		g.Measurements = append(g.Measurements, m)
		if v == evidence.Fail {
			g.FirstOffending = &m
		}
		g.Subjects = []evidence.SubjectProvenance{{Subject: "gguf", Provenance: trace.Provenance{Model: "m.gguf", SHA256: rs.model}}}
		g.Started, g.Finished = rs.finished.Add(-time.Second), rs.finished
		if _, err := w.Gate(g); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Finish(rs.finished); err != nil {
		t.Fatal(err)
	}
}

// gateIDs returns n gate ids of testContract, all mapped to v.
func gateIDs(n int, v evidence.Verdict) map[string]evidence.Verdict {
	m := map[string]evidence.Verdict{}
	for i := 1; i <= n; i++ {
		m[fmt.Sprintf("FALSIFY-APR-GGUF-PARITY-%03d", i)] = v
	}
	return m
}

// wantGateFails runs `falsify gate ARGS` and checks it exits 1 with every
// want string on stderr.
func wantGateFails(t *testing.T, args []string, want ...string) {
	t.Helper()
	out, errs, code := falsifyCLI(t, append([]string{"gate"}, args...)...)
	if code != 1 {
		t.Fatalf("gate %v: exit %d, want 1\n%s%s", args, code, out, errs)
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("gate %v: stderr lacks %q:\n%s", args, w, errs)
		}
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
		{"error", evidence.Error, false, 3}, // nothing FAILed, something could not be measured: a broken setup
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

// TestGateMerges gives two shards that judged the same gate with
// different verdicts: refused, naming both files; the JSON report is
// still the merged one (the later FAIL kept, a note saying so).
func TestGateMerges(t *testing.T) {
	const id = "FALSIFY-APR-GGUF-PARITY-001"
	a, b := t.TempDir(), t.TempDir()
	writeRun(t, a, runSpec{id: "ra", finished: gateT0, verdicts: map[string]evidence.Verdict{id: evidence.Pass}, shard: "1"})
	writeRun(t, b, runSpec{id: "rb", finished: gateT0.Add(time.Hour), verdicts: map[string]evidence.Verdict{id: evidence.Fail}, shard: "2"})
	out, errs, code := falsifyCLI(t, "gate", "--json", a, b)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the later record is a FAIL)\n%s", code, errs)
	}
	if !strings.Contains(errs, "note:") || !strings.Contains(errs, "kept FAIL of run rb") {
		t.Errorf("stderr lacks the merge note: %q", errs)
	}
	if !strings.Contains(errs, "is FAIL here but PASS in") {
		t.Errorf("stderr lacks the disagreeing shards: %q", errs)
	}
	var rep evidence.RunReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Gates) != 1 || rep.Gates[0].RunID != "rb" || rep.Counts.Fail != 1 {
		t.Errorf("merged report %+v", rep)
	}
}

// The tests below are the adversarial cases: each must make
// `falsify gate` exit 1 naming the cause and the file.

func TestGateRefusesKilledRun(t *testing.T) {
	dir := t.TempDir()
	// Killed (SIGKILL, closed pipe) after 2 of 15 records: the marker
	// written before the first gate is all the report there is.
	writeRun(t, dir, runSpec{id: "rk", finished: gateT0, verdicts: gateIDs(15, evidence.Pass), stopAfter: 2})
	wantGateFails(t, []string{dir}, "run-rk.json: run rk is running", "an incomplete run proves nothing")
}

func TestGateRefusesInterruptedRun(t *testing.T) {
	dir := t.TempDir()
	// A full disk after 6 records: the run marks itself interrupted.
	rep := evidence.NewRunReport("rd", "test", gateT0)
	decl := []evidence.DeclaredContract{{ID: testContract, SHA256: testSHA, Gates: sortedIDs(gateIDs(15, evidence.Pass))}}
	w, err := evidence.StartRun(dir, rep, decl)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range decl[0].Gates[:6] {
		g := evidence.NewGateRecord("rd", evidence.ContractRef{ID: testContract, SHA256: testSHA}, id, "ratio_band")
		g.Verdict = evidence.Pass
		g.Measurements = []evidence.Measurement{evidence.Measurement{Name: "x", Value: 1}.Judge(trace.Band{Lo: 0, Hi: 2})}
		g.Started, g.Finished = gateT0, gateT0
		if _, err := w.Gate(g); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Interrupt("writing FALSIFY-APR-GGUF-PARITY-007 failed: no space left on device"); err != nil {
		t.Fatal(err)
	}
	wantGateFails(t, []string{dir}, "run-rd.json: run rd is interrupted: writing FALSIFY-APR-GGUF-PARITY-007 failed: no space left on device")
}

func sortedIDs(m map[string]evidence.Verdict) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestGateRefusesMissingDeclaredGate(t *testing.T) {
	dir := t.TempDir()
	decl := sortedIDs(gateIDs(3, evidence.Pass))
	writeRun(t, dir, runSpec{id: "rm", finished: gateT0, verdicts: gateIDs(2, evidence.Pass), declared: decl})
	wantGateFails(t, []string{dir}, "run rm judged 2 of the 3 gates", "missing: FALSIFY-APR-GGUF-PARITY-003")
}

// TestGateRefusesEditedVerdict edits a FAIL record to PASS: its digest no
// longer matches; and when the run report is edited to match too, the
// record's own measurements contradict the PASS.
func TestGateRefusesEditedVerdict(t *testing.T) {
	dir := t.TempDir()
	vs := gateIDs(2, evidence.Pass)
	vs["FALSIFY-APR-GGUF-PARITY-002"] = evidence.Fail
	writeRun(t, dir, runSpec{id: "re", finished: gateT0, verdicts: vs})
	rec := filepath.Join(dir, testContract, "FALSIFY-APR-GGUF-PARITY-002.json")
	edit(t, rec, `"verdict": "FAIL"`, `"verdict": "PASS"`)
	wantGateFails(t, []string{dir}, rec+": sha256 ", "does not match", "edited or replaced after the run")

	// Now the forger also fixes the digest and the verdict in the run report.
	runFile := filepath.Join(dir, "run-re.json")
	var rep evidence.RunReport
	readJSON(t, runFile, &rep)
	for i := range rep.Gates {
		if rep.Gates[i].GateID == "FALSIFY-APR-GGUF-PARITY-002" {
			rep.Gates[i].Verdict, rep.Gates[i].Reason = evidence.Pass, ""
			rep.Gates[i].SHA256 = sha256File(t, rec)
		}
	}
	rep.Counts = evidence.Counts{Pass: 2}
	writeJSON(t, runFile, &rep)
	wantGateFails(t, []string{dir}, rec+": ", "verdict PASS, but measurement 0 (std_ratio", "failed its band")
}

func TestGateRefusesDeletedFailures(t *testing.T) {
	dir := t.TempDir()
	vs := gateIDs(3, evidence.Pass)
	vs["FALSIFY-APR-GGUF-PARITY-003"] = evidence.Fail
	writeRun(t, dir, runSpec{id: "rx", finished: gateT0, verdicts: vs})
	rec := filepath.Join(dir, testContract, "FALSIFY-APR-GGUF-PARITY-003.json")
	if err := os.Remove(rec); err != nil {
		t.Fatal(err)
	}
	wantGateFails(t, []string{dir}, rec+": gate "+testContract+"/FALSIFY-APR-GGUF-PARITY-003 of run rx: record file missing")
	// And with the run report deleted too: the PASS records alone prove
	// nothing.
	if err := os.Remove(filepath.Join(dir, "run-rx.json")); err != nil {
		t.Fatal(err)
	}
	wantGateFails(t, []string{dir}, "FALSIFY-APR-GGUF-PARITY-001.json: no run report in", "declares contract "+testContract)
}

func TestGateRefusesTwoContractVersions(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeRun(t, a, runSpec{id: "r1", finished: gateT0, verdicts: gateIDs(2, evidence.Fail)})
	writeRun(t, b, runSpec{id: "r2", finished: gateT0.Add(time.Hour), verdicts: gateIDs(2, evidence.Pass), sha: otherSHA})
	wantGateFails(t, []string{a, b}, "contract "+testContract+" was evaluated in two versions: sha256 222222222222 here and 111111111111")
}

func TestGateRefusesTwoModelSets(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	// Shard 1 FAILs gate 1 on one model, shard 2 PASSes gate 2 on another.
	writeRun(t, a, runSpec{id: "r1", finished: gateT0, verdicts: map[string]evidence.Verdict{"FALSIFY-APR-GGUF-PARITY-001": evidence.Pass},
		declared: sortedIDs(gateIDs(2, evidence.Pass)), shard: "1"})
	writeRun(t, b, runSpec{id: "r2", finished: gateT0.Add(time.Hour), verdicts: map[string]evidence.Verdict{"FALSIFY-APR-GGUF-PARITY-002": evidence.Pass},
		declared: sortedIDs(gateIDs(2, evidence.Pass)), shard: "2", model: modelB})
	wantGateFails(t, []string{a, b}, "subject gguf of contract "+testContract+" ran on model sha256", "one model set")
	// Two whole runs of one contract that are not shards: refused too.
	c, d := t.TempDir(), t.TempDir()
	writeRun(t, c, runSpec{id: "r3", finished: gateT0, verdicts: gateIDs(2, evidence.Fail)})
	writeRun(t, d, runSpec{id: "r4", finished: gateT0.Add(time.Hour), verdicts: gateIDs(2, evidence.Pass), model: modelB})
	wantGateFails(t, []string{c, d}, "judged by two runs (r4 here and r3 in", "one model set")
}

// TestGateShardsPartition: named shards that partition the gates, on one
// contract version and one model set, pass; a gate left unjudged fails.
func TestGateShardsPartition(t *testing.T) {
	all := sortedIDs(gateIDs(3, evidence.Pass))
	a, b := t.TempDir(), t.TempDir()
	writeRun(t, a, runSpec{id: "s1", finished: gateT0, verdicts: map[string]evidence.Verdict{all[0]: evidence.Pass, all[1]: evidence.Pass}, declared: all, shard: "1"})
	writeRun(t, b, runSpec{id: "s2", finished: gateT0, verdicts: map[string]evidence.Verdict{all[2]: evidence.Pass}, declared: all, shard: "2"})
	if out, errs, code := falsifyCLI(t, "gate", a, b); code != 0 {
		t.Fatalf("partitioning shards: exit %d\n%s%s", code, out, errs)
	}
	wantGateFails(t, []string{a}, "the shards of contract "+testContract+" leave gates unjudged: "+all[2])
}

func TestGateRefusesRecordWithoutSchema(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, runSpec{id: "rs", finished: gateT0, verdicts: gateIDs(1, evidence.Pass)})
	rec := filepath.Join(dir, testContract, "FALSIFY-APR-GGUF-PARITY-001.json")
	edit(t, rec, `"schema": "falsify.gate/v1",`, ``)
	_, errs, code := falsifyCLI(t, "gate", dir)
	if code == 0 || !strings.Contains(errs, rec+`: looks like falsify evidence`) || !strings.Contains(errs, `has no "schema" key`) {
		t.Errorf("record without schema: exit %d, stderr %q", code, errs)
	}
}

// TestGateRerunSupersedes: running twice into one directory is fine (the
// later run rewrote every record); a stale record of a gate the later run
// no longer declares is not.
func TestGateRerunSupersedes(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, runSpec{id: "r1", finished: gateT0, verdicts: gateIDs(3, evidence.Fail)})
	writeRun(t, dir, runSpec{id: "r2", finished: gateT0.Add(time.Hour), verdicts: gateIDs(3, evidence.Pass)})
	if out, errs, code := falsifyCLI(t, "gate", dir); code != 0 {
		t.Fatalf("rerun: exit %d\n%s%s", code, out, errs)
	}
	writeRun(t, dir, runSpec{id: "r3", finished: gateT0.Add(2 * time.Hour), verdicts: gateIDs(2, evidence.Pass), sha: otherSHA})
	wantGateFails(t, []string{dir}, "FALSIFY-APR-GGUF-PARITY-003.json: record of run r2 is not listed by run r3")
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// TestGateShardsInSubdirectories: shards written into subdirectories of
// one directory are checked each against its own run report.
func TestGateShardsInSubdirectories(t *testing.T) {
	all := sortedIDs(gateIDs(2, evidence.Pass))
	root := t.TempDir()
	writeRun(t, filepath.Join(root, "s1"), runSpec{id: "s1", finished: gateT0, verdicts: map[string]evidence.Verdict{all[0]: evidence.Pass}, declared: all, shard: "1"})
	writeRun(t, filepath.Join(root, "s2"), runSpec{id: "s2", finished: gateT0, verdicts: map[string]evidence.Verdict{all[1]: evidence.Pass}, declared: all, shard: "2"})
	if out, errs, code := falsifyCLI(t, "gate", root); code != 0 {
		t.Fatalf("shards in subdirectories: exit %d\n%s%s", code, out, errs)
	}
	// A whole run beside them that is not a shard: refused.
	writeRun(t, filepath.Join(root, "s3"), runSpec{id: "s3", finished: gateT0, verdicts: gateIDs(2, evidence.Pass)})
	wantGateFails(t, []string{root}, "judged by two runs")
}
