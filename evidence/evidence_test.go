package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/falsify/falsify/trace"
)

var t0 = time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)

var parity = ContractRef{ID: "apr-vs-gguf-forward-parity-v1", Version: "1.2.0",
	SHA256: strings.Repeat("ab", 32), Path: "builtin:apr-vs-gguf-forward-parity-v1.yaml"}

func provenance(subject string, matmul trace.MatmulMode) SubjectProvenance {
	return SubjectProvenance{Subject: subject, Provenance: trace.Provenance{Model: "builtin:qwen2-tiny-q4_k_m.gguf", SHA256: strings.Repeat("0f", 32),
		Format: "gguf", Backend: "cpu", Matmul: matmul, Threads: 2, EngineVersion: "v0.0.0-test"}, Duration: 1500 * time.Millisecond}
}

// records returns one record of each verdict, shaped as the harness will
// write them for the apr-vs-gguf gates.
func records(runID string, finished time.Time) []*GateRecord {
	ratio := NewGateRecord(runID, parity, "FALSIFY-APR-GGUF-PARITY-001", "ratio_band")
	ratio.Rule = "per-layer ffn_swigl std ratio in [0.5, 2.0]"
	ratio.Params = map[string]any{"kind": "ratio_band", "slot": "ffn_swiglu_inner", "band": []any{0.5, 2.0}}
	ratio.Requires = []string{"FALSIFY-APR-GGUF-PARITY-007"}
	for i, v := range []float64{1.01, 0.98, 1.1, 1.245} {
		ratio.Measurements = append(ratio.Measurements, Measurement{Layer: Layer(i), Slot: "ffn_swiglu_inner",
			Sample: "last_token", Pair: []string{"apr", "gguf"}, Name: "std_ratio", Value: trace.Float(v)}.Judge(trace.Band{Lo: 0.5, Hi: 2}))
	}
	ratio.Verdict = Pass
	ratio.Subjects = []SubjectProvenance{provenance("apr", "f32"), provenance("gguf", "quantized")}

	nan := NewGateRecord(runID, parity, "FALSIFY-APR-GGUF-PARITY-003", "ratio_band")
	bad := Measurement{Layer: Layer(3), Slot: "ffn_gate", Sample: "last_token", Pair: []string{"apr", "gguf"},
		Name: "std_ratio", Value: trace.Float(math.NaN())}.Judge(trace.Band{Lo: 0.7, Hi: 1.4})
	nan.Measurements = []Measurement{bad}
	nan.FirstOffending = &bad
	nan.Verdict = Fail
	nan.Reason = "layer 3 ffn_gate std ratio is NaN"
	nan.Subjects = []SubjectProvenance{provenance("apr", "f32"), provenance("gguf", "quantized")}

	blocked := NewGateRecord(runID, parity, "FALSIFY-APR-GGUF-PARITY-002", "ratio_band")
	blocked.Verdict = Blocked
	blocked.Reason = "requires FALSIFY-APR-GGUF-PARITY-007, which is FAIL"

	skip := NewGateRecord(runID, ContractRef{ID: "gpu-parity-v1", Version: "1.0.0"}, "FALSIFY-GPU-001", "metric_max")
	skip.Verdict = Skip
	skip.Reason = "subject cuda: no CUDA device on this machine"
	skip.Measurements = append(skip.Measurements, Measurement{Name: "inf_check", Positions: trace.PositionsAll, Variant: "run 2",
		Value: trace.Float(math.Inf(1)), Band: &trace.Band{Lo: math.Inf(-1), Hi: 1e-3}})

	out := []*GateRecord{ratio, nan, blocked, skip}
	for _, g := range out {
		g.Started, g.Finished = finished.Add(-time.Second), finished
	}
	return out
}

func writeRun(t *testing.T, dir, runID string, finished time.Time, recs []*GateRecord) *RunReport {
	t.Helper()
	// As `falsify run` writes it: the report marked running and declaring
	// every gate first, each record, the complete report last.
	var decl []DeclaredContract
	for _, g := range recs {
		if len(decl) == 0 || decl[len(decl)-1].ID != g.Contract.ID {
			decl = append(decl, DeclaredContract{ID: g.Contract.ID, SHA256: g.Contract.SHA256})
		}
		decl[len(decl)-1].Gates = append(decl[len(decl)-1].Gates, g.GateID)
	}
	w, err := StartRun(dir, NewRunReport(runID, "v0.0.0-test", finished.Add(-time.Minute)), decl)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range recs {
		if _, err := w.Gate(g); err != nil {
			t.Fatal(err)
		}
	}
	r, err := w.Finish(finished)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func compiler(t *testing.T) (gate, run *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	for _, f := range []string{GateSchemaFile, RunSchemaFile} {
		data, err := SchemaFS().(interface{ ReadFile(string) ([]byte, error) }).ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := c.AddResource(f, doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	var err error
	if gate, err = c.Compile(GateSchemaFile); err != nil {
		t.Fatalf("compile gate schema: %v", err)
	}
	if run, err = c.Compile(RunSchemaFile); err != nil {
		t.Fatalf("compile run schema: %v", err)
	}
	return gate, run
}

func validateJSON(t *testing.T, s *jsonschema.Schema, path string) error {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s.Validate(doc)
}

// TestWrittenRecordsMatchSchema validates what WriteGate and WriteRun
// write with an independent JSON Schema validator
// (santhosh-tekuri/jsonschema, draft 2020-12).
func TestWrittenRecordsMatchSchema(t *testing.T) {
	gateSchema, runSchema := compiler(t)
	dir := t.TempDir()
	writeRun(t, dir, "r1", t0, records("r1", t0))
	gates, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(gates) != 4 {
		t.Fatalf("wrote %d gate files, want 4: %v", len(gates), gates)
	}
	for _, p := range gates {
		if err := validateJSON(t, gateSchema, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if err := validateJSON(t, runSchema, filepath.Join(dir, "run-r1.json")); err != nil {
		t.Errorf("run report: %v", err)
	}
	// The merged report validates too.
	ev, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	merged := ev.Report()
	mdir := t.TempDir()
	p, err := WriteRun(mdir, merged)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(t, runSchema, p); err != nil {
		t.Errorf("merged report: %v", err)
	}
}

// TestSchemaRejects checks that the schema, not only Check, refuses
// records that break the rules: no verdict, a FAIL with no reason, an
// unknown verdict, a run report with a count missing.
func TestSchemaRejects(t *testing.T) {
	gateSchema, runSchema := compiler(t)
	dir := t.TempDir()
	g := records("r1", t0)[0]
	path, err := WriteGate(dir, g)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	mutate := func(edit func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		out, _ := json.Marshal(m)
		p := filepath.Join(t.TempDir(), "x.json")
		os.WriteFile(p, out, 0o644)
		return p
	}
	cases := map[string]func(m map[string]any){
		"missing verdict":   func(m map[string]any) { delete(m, "verdict") },
		"FAIL without why":  func(m map[string]any) { m["verdict"] = "FAIL"; delete(m, "reason") },
		"ERROR blank why":   func(m map[string]any) { m["verdict"] = "ERROR"; m["reason"] = "  " },
		"unknown verdict":   func(m map[string]any) { m["verdict"] = "MAYBE" },
		"value not number":  func(m map[string]any) { m["measurements"].([]any)[0].(map[string]any)["value"] = "1.0" },
		"gate id with path": func(m map[string]any) { m["gate_id"] = "../x" },
		"wrong schema id":   func(m map[string]any) { m["schema"] = "falsify.gate/v2" },
		"unknown positions": func(m map[string]any) { m["measurements"].([]any)[0].(map[string]any)["positions"] = "first" },
		"Inf without sign":  func(m map[string]any) { m["measurements"].([]any)[0].(map[string]any)["value"] = "Inf" },
		"unknown matmul":    func(m map[string]any) { m["subjects"].([]any)[0].(map[string]any)["matmul"] = "int8" },
	}
	for name, edit := range cases {
		if err := validateJSON(t, gateSchema, mutate(edit)); err == nil {
			t.Errorf("%s: schema accepted it", name)
		}
	}
	r := NewRunReport("r1", "v", t0)
	r.Finished = t0
	rp, err := WriteRun(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	rdata, _ := os.ReadFile(rp)
	var m map[string]any
	json.Unmarshal(rdata, &m)
	delete(m["counts"].(map[string]any), "FAIL")
	out, _ := json.Marshal(m)
	bad := filepath.Join(t.TempDir(), "run.json")
	os.WriteFile(bad, out, 0o644)
	if err := validateJSON(t, runSchema, bad); err == nil {
		t.Error("run schema accepted counts without FAIL")
	}
}

func TestCheckRejects(t *testing.T) {
	g := records("r1", t0)[1] // FAIL
	g.Reason = ""
	if _, err := WriteGate(t.TempDir(), g); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("WriteGate(FAIL without reason) = %v, want ErrInvalidRecord", err)
	}
	g = records("r1", t0)[0]
	g.Verdict = ""
	if err := g.Check(); !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "verdict") {
		t.Errorf("Check(no verdict) = %v", err)
	}
	g = records("r1", t0)[0]
	g.GateID = "../../etc/passwd"
	if _, err := WriteGate(t.TempDir(), g); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("WriteGate(path in gate id) = %v, want ErrInvalidRecord", err)
	}
}

var cmpOpts = []cmp.Option{
	cmpopts.IgnoreUnexported(GateRecord{}, RunReport{}),
	cmp.Comparer(func(a, b trace.Float) bool {
		return a == b || (math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
	}),
	cmpopts.EquateEmpty(),
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	recs := records("r1", t0)
	run := writeRun(t, dir, "r1", t0, recs)
	ev, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*GateRecord{}
	for _, g := range ev.Gates {
		byID[g.GateID] = g
		if g.Source() == "" {
			t.Errorf("%s: no source", g.GateID)
		}
	}
	for _, want := range recs {
		if diff := cmp.Diff(want, byID[want.GateID], cmpOpts...); diff != "" {
			t.Errorf("%s (-want +got):\n%s", want.GateID, diff)
		}
	}
	if len(ev.Runs) != 1 {
		t.Fatalf("%d runs", len(ev.Runs))
	}
	if diff := cmp.Diff(run, ev.Runs[0], cmpOpts...); diff != "" {
		t.Errorf("run report (-want +got):\n%s", diff)
	}
	if len(ev.Notes) != 0 {
		t.Errorf("notes on a single run: %v", ev.Notes)
	}
	rep := ev.Report()
	if rep.RunID != "r1" || rep.Counts != (Counts{Pass: 1, Fail: 1, Blocked: 1, Skip: 1}) {
		t.Errorf("report run %s counts %+v", rep.RunID, rep.Counts)
	}
}

func TestFloatJSON(t *testing.T) {
	for _, x := range []float64{0, -0.5, 1.245, 1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		b, err := json.Marshal(trace.Float(x))
		if err != nil {
			t.Fatalf("%v: %v", x, err)
		}
		var back trace.Float
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if float64(back) != x && !(math.IsNaN(x) && math.IsNaN(float64(back))) {
			t.Errorf("%v -> %s -> %v", x, b, back)
		}
		if math.Float64bits(float64(back)) != math.Float64bits(x) && !math.IsNaN(x) {
			t.Errorf("%v round trip changed bits", x)
		}
	}
	var f trace.Float
	if err := json.Unmarshal([]byte(`"abc"`), &f); err == nil {
		t.Error(`"abc" accepted as a trace.Float`)
	}
}

// TestMergeKeepsLatest merges two shards that both judged one gate.
func TestMergeKeepsLatest(t *testing.T) {
	root := t.TempDir()
	early, late := t0, t0.Add(time.Hour)
	a := records("ra", early)
	b := records("rb", late)
	b[0].Verdict, b[0].Reason = Fail, "layer 3 std ratio 2.5 outside [0.5, 2]"
	writeRun(t, filepath.Join(root, "shard-0"), "ra", early, a)
	writeRun(t, filepath.Join(root, "shard-1"), "rb", late, b[:1]) // only gate 001 again

	ev, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Gates) != 4 {
		t.Fatalf("%d gates after merge, want 4", len(ev.Gates))
	}
	var g001 *GateRecord
	for _, g := range ev.Gates {
		if g.GateID == "FALSIFY-APR-GGUF-PARITY-001" {
			g001 = g
		}
	}
	if g001.RunID != "rb" || g001.Verdict != Fail {
		t.Errorf("kept %s %s, want the later run rb's FAIL", g001.RunID, g001.Verdict)
	}
	if len(ev.Notes) != 1 || !strings.Contains(ev.Notes[0], "kept FAIL of run rb") || !strings.Contains(ev.Notes[0], "over PASS of run ra") {
		t.Errorf("notes = %q", ev.Notes)
	}
	rep := ev.Report()
	if rep.RunID != "merged" || !cmp.Equal(rep.MergedFrom, []string{"ra", "rb"}) {
		t.Errorf("merged report run %q from %v", rep.RunID, rep.MergedFrom)
	}
	if rep.Counts != (Counts{Fail: 2, Blocked: 1, Skip: 1}) {
		t.Errorf("counts %+v", rep.Counts)
	}
	if !rep.Started.Equal(early.Add(-time.Minute)) || !rep.Finished.Equal(late) {
		t.Errorf("span %v .. %v", rep.Started, rep.Finished)
	}
	if err := rep.Check(); err != nil {
		t.Error(err)
	}
	// Merging in the other order decides the same.
	e1, _ := Load(filepath.Join(root, "shard-1"))
	e0, _ := Load(filepath.Join(root, "shard-0"))
	if diff := cmp.Diff(Merge(e1, e0).Gates, Merge(e0, e1).Gates, cmpOpts...); diff != "" {
		t.Errorf("merge depends on order:\n%s", diff)
	}
}

func TestLoadGateOnlyInRunReport(t *testing.T) {
	dir := t.TempDir()
	recs := records("r1", t0)
	writeRun(t, dir, "r1", t0, recs)
	os.Remove(filepath.Join(dir, filepath.FromSlash(GatePath(parity.ID, "FALSIFY-APR-GGUF-PARITY-003"))))
	ev, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := ev.Report()
	if rep.Counts.Fail != 1 || len(rep.Gates) != 4 {
		t.Errorf("report lost the FAIL known only from the run report: %+v", rep.Counts)
	}
	if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "no gate record file") {
		t.Errorf("notes %q", rep.Notes)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNoEvidence) {
		t.Errorf("empty dir: %v, want ErrNoEvidence", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ginkgo-report.json"), []byte(`[{"SuiteDescription": "x"}]`), 0o644)
	if _, err := Load(dir); !errors.Is(err, ErrNoEvidence) {
		t.Errorf("dir with only foreign JSON: %v, want ErrNoEvidence", err)
	}
	if _, err := Load(filepath.Join(dir, "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
	dir = t.TempDir()
	writeRun(t, dir, "r1", t0, records("r1", t0))
	bad := filepath.Join(dir, "broken.json")
	os.WriteFile(bad, []byte(`{"schema": "falsify.gate/v1", "gate_id": `), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("truncated record: %v, want an error naming broken.json", err)
	}
	os.WriteFile(bad, []byte(`{"schema": "falsify.gate/v1", "run_id": "r", "contract": {"id": "c"}, "gate_id": "g", "kind": "k", "verdict": "FAIL", "started": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:00:00Z"}`), 0o644)
	if _, err := Load(dir); !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("FAIL without reason: %v, want ErrInvalidRecord naming the file", err)
	}
}

func TestAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.json")
	for _, content := range []string{"first\n", "second, longer\n"} {
		if err := WriteFileAtomic(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != content {
			t.Errorf("read %q, want %q", got, content)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// A temporary file left by a crash is not read as evidence.
	dir = t.TempDir()
	writeRun(t, dir, "r1", t0, records("r1", t0))
	os.WriteFile(filepath.Join(dir, parity.ID, ".tmp-FALSIFY-X.json-123"), []byte(`{"schema": "falsify.gate/v1", "trunc`), 0o644)
	if _, err := Load(dir); err != nil {
		t.Errorf("Load read a hidden temporary file: %v", err)
	}
}

func TestKey(t *testing.T) {
	g := records("r1", t0)[0]
	k := g.Key()
	// 1.245 is closest to the band's edge relative to the end (2.0).
	if k == nil || *k.Layer != 3 {
		t.Errorf("Key = %v, want layer 3", k)
	}
	f := records("r1", t0)[1]
	if f.Key() != f.FirstOffending {
		t.Errorf("Key of a FAIL is not its first offending measurement")
	}
	if (&GateRecord{}).Key() != nil {
		t.Error("Key of an empty record is not nil")
	}
}

func TestPassed(t *testing.T) {
	r := NewRunReport("r", "", t0)
	if r.Passed(true) {
		t.Error("a report with no gates passed")
	}
	pass := records("r", t0)[0]
	r.Add(pass)
	if !r.Passed(false) {
		t.Error("all PASS did not pass")
	}
	r.Add(records("r", t0)[3]) // SKIP
	if r.Passed(false) || !r.Passed(true) {
		t.Error("SKIP should pass only with allowSkip")
	}
	r.Add(records("r", t0)[2]) // BLOCKED
	if r.Passed(true) {
		t.Error("BLOCKED passed")
	}
}

func TestMarkdown(t *testing.T) {
	r := NewRunReport("r1", "", t0)
	recs := records("r1", t0)
	recs[2].Reason = "requires 007 | which FAILED\nsee log"
	for _, i := range []int{3, 1, 0, 2} { // out of order on purpose
		r.Add(recs[i])
	}
	md := Markdown(r)
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if !strings.HasPrefix(lines[0], "### falsify: 1 PASS, 1 FAIL, 1 BLOCKED, 1 SKIP (4 gates") {
		t.Errorf("heading %q", lines[0])
	}
	var order []string
	for _, l := range lines[4:] {
		cells := strings.Split(l, " | ")
		order = append(order, cells[1])
		if n := strings.Count(strings.ReplaceAll(l, `\|`, ""), "|"); n != 8 {
			t.Errorf("row has %d unescaped pipes, want 8: %s", n, l)
		}
	}
	want := []string{"FALSIFY-APR-GGUF-PARITY-001", "FALSIFY-APR-GGUF-PARITY-002", "FALSIFY-APR-GGUF-PARITY-003", "FALSIFY-GPU-001"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("row order (-want +got):\n%s", diff)
	}
	for _, s := range []string{
		"std_ratio apr/gguf layer 3 ffn_swiglu_inner last_token = 1.245 | [0.5, 2]",
		"std_ratio apr/gguf layer 3 ffn_gate last_token = NaN | [0.7, 1.4] | apr: builtin:qwen2-tiny-q4_k_m.gguf 0f0f0f0f; gguf: builtin:qwen2-tiny-q4_k_m.gguf 0f0f0f0f | layer 3 ffn_gate std ratio is NaN",
		`requires 007 \| which FAILED see log`,
		"| **SKIP** |", "<= 0.001",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	if Markdown(r) != md {
		t.Error("Markdown is not deterministic")
	}
}
