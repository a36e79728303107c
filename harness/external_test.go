package harness_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/harness"
	"github.com/falsify/falsify/internal/builtin"
	"github.com/falsify/falsify/internal/llamalib"
	"github.com/falsify/falsify/trace"
)

var promptTokens = []int32{3838, 374, 220, 17, 10, 17, 30}

// engineTraceFile writes the engine's trace of the builtin model, every
// position kept, as a trace file (side-car when sidecar != "") and
// returns its path.
func engineTraceFile(t *testing.T, dir, name, sidecar string) string {
	t.Helper()
	return engineTraceFileLogits(t, dir, name, sidecar, false)
}

// engineTraceFileLogits is engineTraceFile with the logits of the last
// position only when lastLogits (falsify trace --positions all --logits
// last), else of every position.
func engineTraceFileLogits(t *testing.T, dir, name, sidecar string, lastLogits bool) string {
	t.Helper()
	q4, err := builtin.Path("qwen2-tiny-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.Load(q4)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tr, err := engine.Run(m, promptTokens, engine.Options{Matmul: trace.MatmulQuantized, Threads: 2, AllPositions: true, AllLogits: !lastLogits})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := trace.WriteFile(p, tr, sidecar); err != nil {
		t.Fatal(err)
	}
	return p
}

// externalContract has subject eng (the builtin model in the engine) and
// subject other (declared by the test), and gates M (nmse at every layer
// and slot, all positions, band 0), B (bit_exact), L (logits) and R (a
// statistics ratio).
func externalContract(t *testing.T, other string) *contracts.Contract {
	t.Helper()
	text := `metadata: {version: 1.0.0, description: d, references: [x]}
subjects:
  eng: {model: "builtin:qwen2-tiny-q4_k_m.gguf", threads: 2}
  other: ` + other + `
input:
  tokens: [3838, 374, 220, 17, 10, 17, 30]
falsification_tests:
- id: M
  rule: r
  prediction: p
  gate: {kind: metric_max, metric: nmse, a: other, b: eng, layers: all, positions: all, max: %MAX%}
- id: L
  rule: r
  prediction: p
  gate: {kind: logits, a: other, b: eng, positions: all, top1_min: 1.0}
- id: R
  rule: r
  prediction: p
  gate: {kind: ratio_band, slot: ffn_swiglu_inner, stat: std, sample: all_tokens, layers: all, numerator: other, denominator: eng, band: [0.9, 1.1]}
`
	c, err := contracts.Parse("ext.yaml", []byte(strings.Replace(text, "%MAX%", "0", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := contracts.Check(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func evaluate(t *testing.T, c *contracts.Contract, opts harness.Options, ids ...string) map[string]*evidence.GateRecord {
	t.Helper()
	opts.WorkDir = t.TempDir()
	if opts.Env == nil {
		opts.Env = func(k string) (string, bool) {
			if k == harness.AllowCommandsEnv {
				return "", false
			}
			return os.LookupEnv(k)
		}
	}
	r := harness.New(opts)
	defer r.Close()
	out := map[string]*evidence.GateRecord{}
	for _, id := range ids {
		out[id] = r.Evaluate(context.Background(), c, id)
	}
	return out
}

// TestTraceFileSubject: the engine's own trace, written as a trace file
// (inline and with a side-car), judged against the engine: every gate
// PASSes with NMSE 0; a statistics-only copy PASSes the statistics gate
// and BLOCKs the vector gates with the reason.
func TestTraceFileSubject(t *testing.T) {
	dir := t.TempDir()
	for _, sidecar := range []string{"", "vectors.safetensors"} {
		p := engineTraceFile(t, dir, "eng"+sidecar+".json", sidecar)
		recs := evaluate(t, externalContract(t, `{trace: "`+p+`"}`), harness.Options{}, "M", "L", "R")
		for id, rec := range recs {
			if rec.Verdict != evidence.Pass {
				t.Errorf("side-car %q gate %s: %s: %s", sidecar, id, rec.Verdict, rec.Reason)
			}
		}
		// 4 layers x 10 slots (the gate's default slots are the layers').
		if n := len(recs["M"].Measurements); n != 40 {
			t.Errorf("side-car %q: M measured %d sites, want 40", sidecar, n)
		}
	}

	// One value changed in the file: the vector gate sees it.
	planted, err := trace.ReadFile(filepath.Join(dir, "eng.json"))
	if err != nil {
		t.Fatal(err)
	}
	planted.Layers[2].Slots[9].Positions[3][0] *= 1.5
	// Stated statistics that the vectors contradict are refused by name...
	plantedPath := filepath.Join(dir, "planted.json")
	if err := trace.WriteFile(plantedPath, planted, ""); err != nil {
		t.Fatal(err)
	}
	if rec := evaluate(t, externalContract(t, `{trace: "`+plantedPath+`"}`), harness.Options{}, "M")["M"]; rec.Verdict != evidence.Error || !strings.Contains(rec.Reason, "layers.2.slots.output.all_tokens.mean") {
		t.Errorf("planted change, statistics left stale: %s: %s", rec.Verdict, rec.Reason)
	}
	// ...and with statistics that agree, the vector gate sees the change.
	sl := &planted.Layers[2].Slots[9]
	*sl = trace.SlotFromPositions(sl.Rows())
	if err := trace.WriteFile(plantedPath, planted, ""); err != nil {
		t.Fatal(err)
	}
	if rec := evaluate(t, externalContract(t, `{trace: "`+plantedPath+`"}`), harness.Options{}, "M")["M"]; rec.Verdict != evidence.Fail || !strings.Contains(rec.Reason, "layer 2 output") {
		t.Errorf("planted change: %s: %s", rec.Verdict, rec.Reason)
	}

	// Statistics only: drop every vector.
	tr, err := trace.ReadFile(filepath.Join(dir, "eng.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr.DropPositions()
	b, _ := json.Marshal(tr)
	var m map[string]any
	json.Unmarshal(b, &m)
	drop := func(s any) { delete(s.(map[string]any), "last") }
	drop(m["embed"])
	drop(m["final_norm"])
	drop(m["logits"])
	for _, l := range m["layers"].([]any) {
		for _, s := range l.(map[string]any)["slots"].(map[string]any) {
			drop(s)
		}
	}
	b, _ = json.Marshal(m)
	stats := filepath.Join(dir, "stats.json")
	os.WriteFile(stats, b, 0o644)
	recs := evaluate(t, externalContract(t, `{trace: "`+stats+`"}`), harness.Options{}, "M", "L", "R")
	for _, id := range []string{"M", "L"} {
		if rec := recs[id]; rec.Verdict != evidence.Blocked || !strings.Contains(rec.Reason, "statistics-only") {
			t.Errorf("statistics-only, vector gate %s: %s: %s", id, rec.Verdict, rec.Reason)
		}
	}
	if rec := recs["R"]; rec.Verdict != evidence.Pass {
		t.Errorf("statistics-only, ratio gate: %s: %s", rec.Verdict, rec.Reason)
	}

	// A malformed file is an ERROR naming the file and the field.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"format":"falsify-trace","version":1,"tokens":"x"}`), 0o644)
	rec := evaluate(t, externalContract(t, `{trace: "`+bad+`"}`), harness.Options{}, "M")["M"]
	if rec.Verdict != evidence.Error || !strings.Contains(rec.Reason, bad) || !strings.Contains(rec.Reason, "field tokens") {
		t.Errorf("malformed: %s: %s", rec.Verdict, rec.Reason)
	}
}

// TestLastPositionLogitsRefused: a trace file with every position of
// every slot but the logits of the last position only, judged against the
// engine: each gate that reads the logits of every position is BLOCKED
// naming the subject, the slot and why (never a PASS over logits nobody
// computed); the gates that read the last position's logits, or no
// logits, PASS; the engine subject computed every position's logits
// because gate L asked, and its provenance says so.
func TestLastPositionLogitsRefused(t *testing.T) {
	p := engineTraceFileLogits(t, t.TempDir(), "last.json", "", true)
	text := `metadata: {version: 1.0.0, description: d, references: [x]}
subjects:
  eng: {model: "builtin:qwen2-tiny-q4_k_m.gguf", threads: 2}
  other: {trace: "` + p + `"}
input:
  tokens: [3838, 374, 220, 17, 10, 17, 30]
falsification_tests:
- {id: L, rule: r, prediction: p, gate: {kind: logits, a: other, b: eng, positions: all, top1_min: 1.0}}
- {id: ML, rule: r, prediction: p, gate: {kind: metric_max, metric: nmse, a: other, b: eng, slots: [final_norm, logits], positions: all, max: 0}}
- {id: RL, rule: r, prediction: p, gate: {kind: ratio_band, slot: logits, stat: std, sample: all_tokens, numerator: eng, denominator: other, band: [0.9, 1.1]}}
- {id: CP, rule: r, prediction: p, gate: {kind: count_parity, subjects: [eng, other], slots: [embed, logits]}}
- {id: B, rule: r, prediction: p, gate: {kind: bit_exact, a: other, b: eng}}
- {id: M, rule: r, prediction: p, gate: {kind: metric_max, metric: nmse, a: other, b: eng, layers: all, positions: all, max: 0}}
- {id: LL, rule: r, prediction: p, gate: {kind: logits, a: other, b: eng, positions: last, top1_min: 1.0}}
- {id: MLL, rule: r, prediction: p, gate: {kind: metric_max, metric: nmse, a: other, b: eng, slots: [logits], max: 0}}
- {id: RLL, rule: r, prediction: p, gate: {kind: ratio_band, slot: logits, stat: std, sample: last_token, numerator: eng, denominator: other, band: [1, 1]}}
- {id: BE, rule: r, prediction: p, gate: {kind: bit_exact, a: other, b: eng, slots: [embed, final_norm]}}
`
	c, err := contracts.Parse("last.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := contracts.Check(c); err != nil {
		t.Fatal(err)
	}
	need := harness.NeedsAllLogits(c)
	if need["eng"] != "L" || need["other"] != "L" || len(need) != 2 {
		t.Errorf("NeedsAllLogits: %v, want eng and other for gate L", need)
	}
	ids := []string{"L", "ML", "RL", "CP", "B", "M", "LL", "MLL", "RLL", "BE"}
	recs := evaluate(t, c, harness.Options{}, ids...)
	for _, id := range ids[:5] {
		rec := recs[id]
		if rec.Verdict != evidence.Blocked || !strings.Contains(rec.Reason, "subject other: logits: traced with last-position logits") {
			t.Errorf("gate %s: %s: %s, want BLOCKED naming subject other", id, rec.Verdict, rec.Reason)
		}
		if len(rec.Measurements) != 0 {
			t.Errorf("gate %s: BLOCKED with %d measurements", id, len(rec.Measurements))
		}
	}
	for _, id := range ids[5:] {
		if rec := recs[id]; rec.Verdict != evidence.Pass {
			t.Errorf("gate %s: %s: %s, want PASS", id, rec.Verdict, rec.Reason)
		}
	}
	for _, sp := range recs["L"].Subjects {
		want := map[string]string{"eng": "all L", "other": "last "}[sp.Subject]
		if got := string(sp.LogitsPositions) + " " + sp.AllLogitsFor; got != want {
			t.Errorf("provenance of %s: logits_positions, all_logits_for = %q, want %q", sp.Subject, got, want)
		}
	}
}

// TestCommandSubject: a tracer run as a command: SKIP unless allowed;
// allowed, it sees only PATH, HOME, LANG, the FALSIFY_* inputs and the
// variables it names, and its trace is judged; at its timeout the whole
// process group is killed.
func TestCommandSubject(t *testing.T) {
	dir := t.TempDir()
	src := engineTraceFile(t, dir, "eng.json", "")
	envOut := filepath.Join(dir, "env.txt")
	cmd := `{command: [sh, -c, 'env > ` + envOut + `; cp ` + src + ` "$FALSIFY_TRACE_OUT"'], env: [NAMED]}`
	c := externalContract(t, cmd)
	recs := evaluate(t, c, harness.Options{}, "M")
	if rec := recs["M"]; rec.Verdict != evidence.Skip || !strings.Contains(rec.Reason, "--allow-commands") {
		t.Errorf("not allowed: %s: %s", rec.Verdict, rec.Reason)
	}
	if _, err := os.Stat(envOut); err == nil {
		t.Fatal("the command ran without permission")
	}
	env := func(k string) (string, bool) {
		switch k {
		case "NAMED":
			return "named-value", true
		case "SECRET":
			return "not-for-the-tracer", true
		}
		return os.LookupEnv(k)
	}
	recs = evaluate(t, c, harness.Options{AllowCommands: true, Env: env}, "M", "L")
	for id, rec := range recs {
		if rec.Verdict != evidence.Pass {
			t.Errorf("allowed, gate %s: %s: %s", id, rec.Verdict, rec.Reason)
		}
	}
	got, _ := os.ReadFile(envOut)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
		name, _, _ := strings.Cut(line, "=")
		switch name {
		case "PATH", "HOME", "LANG", "NAMED", harness.TraceOutEnv, harness.TokensEnv, harness.PromptEnv, "PWD", "SHLVL", "_", "OLDPWD":
		default:
			names = append(names, name)
		}
	}
	if len(names) > 0 || !strings.Contains(string(got), "FALSIFY_TOKENS=3838,374,220,17,10,17,30") || !strings.Contains(string(got), "NAMED=named-value") {
		t.Errorf("command environment: unexpected %v in\n%s", names, got)
	}

	// {out} in an argument is the same path.
	viaArg := externalContract(t, `{command: [cp, `+src+`, "{out}"]}`)
	if rec := evaluate(t, viaArg, harness.Options{AllowCommands: true}, "M")["M"]; rec.Verdict != evidence.Pass {
		t.Errorf("{out} argument: %s: %s", rec.Verdict, rec.Reason)
	}

	// Timeout: the background child dies with the group.
	pidFile := filepath.Join(dir, "child.pid")
	slow := externalContract(t, `{command: [sh, -c, '(sleep 60) & echo $! > `+pidFile+`; sleep 60'], timeout: 1s}`)
	start := time.Now()
	rec := evaluate(t, slow, harness.Options{AllowCommands: true}, "M")["M"]
	if rec.Verdict != evidence.Error || !strings.Contains(rec.Reason, "process group was killed") {
		t.Errorf("timeout: %s: %s", rec.Verdict, rec.Reason)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("timeout took %s", d)
	}
	assertDead(t, pidFile)

	// A tracer that writes no trace file is an ERROR saying so.
	none := externalContract(t, `{command: ["true"]}`)
	rec = evaluate(t, none, harness.Options{AllowCommands: true}, "M")["M"]
	if rec.Verdict != evidence.Error || !strings.Contains(rec.Reason, harness.TraceOutEnv) {
		t.Errorf("no trace written: %s: %s", rec.Verdict, rec.Reason)
	}
}

// TestLlamaCppSubject: the builtin model run live in llama.cpp against
// the engine (quantized: within the drift the golden contract allows),
// and the same on llama.cpp's Vulkan backend: it runs on the Vulkan device
// (provenance names it, and the placement read from the graph nodes
// shows it) or SKIPs naming what is missing and how to install it.
func TestLlamaCppSubject(t *testing.T) {
	c := externalContract(t, `{model: "builtin:qwen2-tiny-q4_k_m.gguf", runtime: llamacpp, kv_type: f32, threads: 2}`)
	c.FalsificationTests[0].Gate.Params.(*contracts.MetricMax).Max = 1e-3
	recs := evaluate(t, c, harness.Options{}, "M", "L", "R")
	if rec := recs["M"]; rec.Verdict == evidence.Skip {
		t.Skipf("llama.cpp: %s", rec.Reason)
	}
	for id, rec := range recs {
		if rec.Verdict != evidence.Pass {
			t.Errorf("gate %s: %s: %s", id, rec.Verdict, rec.Reason)
		}
	}
	worst := 0.0
	for _, m := range recs["M"].Measurements {
		worst = max(worst, float64(m.Value))
	}
	t.Logf("llama.cpp (f32 KV) vs engine, quantized, 7 tokens: worst NMSE %.3g over %d sites", worst, len(recs["M"].Measurements))
	if worst == 0 {
		t.Error("NMSE 0 everywhere: the llama.cpp subject did not compute its own numbers")
	}
	var sub *evidence.SubjectProvenance
	for i := range recs["M"].Subjects {
		if recs["M"].Subjects[i].Subject == "other" {
			sub = &recs["M"].Subjects[i]
		}
	}
	if sub == nil || sub.Options["kv_type"] != "f32" || len(sub.Libraries) < 3 || sub.Device == "" {
		t.Errorf("llama.cpp provenance: %+v", sub)
	}
	if os.Getenv("MESA_SHADER_CACHE_DIR") == "" {
		// TestMain's FALSIFY_CACHE is private; lavapipe's pipeline cache
		// is worth keeping (a minute cold, seconds warm).
		if c, err := os.UserCacheDir(); err == nil {
			t.Setenv("MESA_SHADER_CACHE_DIR", filepath.Join(c, "falsify", "mesa-shader-cache"))
		}
	}
	vk := externalContract(t, `{model: "builtin:qwen2-tiny-q4_k_m.gguf", runtime: llamacpp, backend: vulkan, kv_type: f32, threads: 2}`)
	vk.FalsificationTests[0].Gate.Params.(*contracts.MetricMax).Max = 1e-2
	rec := evaluate(t, vk, harness.Options{}, "M")["M"]
	if rec.Verdict == evidence.Skip {
		if !strings.Contains(rec.Reason, "Vulkan") || !strings.Contains(rec.Reason, llamalib.VulkanInstallCommand) {
			t.Errorf("vulkan SKIP without the reason and the install command: %s", rec.Reason)
		}
		t.Logf("vulkan: %s", rec.Reason)
		return
	}
	if rec.Verdict != evidence.Pass {
		t.Fatalf("vulkan: %s: %s", rec.Verdict, rec.Reason)
	}
	var vsub *evidence.SubjectProvenance
	for i := range rec.Subjects {
		if rec.Subjects[i].Subject == "other" {
			vsub = &rec.Subjects[i]
		}
	}
	if vsub == nil || vsub.Backend != "llama.cpp vulkan" || vsub.Options["vulkan_device"] == "" ||
		!strings.Contains(vsub.Options["placement"], strings.SplitN(vsub.Options["vulkan_device"], ":", 2)[0]+":") {
		t.Errorf("vulkan provenance: %+v", vsub)
	}
}

// assertDead waits up to 5 s for the pid in pidFile to be gone.
func assertDead(t *testing.T, pidFile string) {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the command did not start its child: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if !alive(pid) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("the command's child %d outlived the timeout", pid)
}

// TestPythonTraceFile: contrib/write_trace.py (standard-library Python,
// none of falsify's Go code) converts the builtin model's llama.cpp
// golden into trace files (inline vectors, a safetensors side-car,
// statistics only); falsify reads them and judges them against the
// engine. Python's statistics must agree with Go's ComputeStats over the
// same vectors.
func TestPythonTraceFile(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	golden, err := builtin.Path("qwen2-tiny-q4_k_m.golden")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join("..", "contrib", "write_trace.py")
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		args  []string
		stats bool
	}{
		{"inline", nil, false},
		{"sidecar", []string{"--sidecar", "sidecar.safetensors"}, false},
		{"stats", []string{"--stats-only"}, true},
	} {
		out := filepath.Join(dir, c.name+".json")
		cmd := exec.Command(py, append([]string{script, "--from-golden", golden, out}, c.args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, b)
		}
		tr, err := trace.ReadFile(out)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		g, err := trace.LoadGolden(golden)
		if err != nil {
			t.Fatal(err)
		}
		for l := range g.Layers {
			for i, s := range trace.LayerSlots() {
				py, goStats := tr.Layers[l].Slots[i].AllTokens, g.Layers[l].Slots[i].AllTokens
				if py.Count != goStats.Count || math.Abs(py.Std-goStats.Std) > 1e-12*math.Abs(goStats.Std) || math.Abs(py.Mean-goStats.Mean) > 1e-12*(math.Abs(goStats.Mean)+goStats.RMS) {
					t.Errorf("%s layer %d %s: Python stats %+v, Go %+v", c.name, l, s, py, goStats)
				}
			}
		}
		con := externalContract(t, `{trace: "`+out+`"}`)
		con.FalsificationTests[0].Gate.Params.(*contracts.MetricMax).Max = 1e-9
		recs := evaluate(t, con, harness.Options{}, "M", "L", "R")
		for id, rec := range recs {
			want := evidence.Pass
			if c.stats && id != "R" {
				want = evidence.Blocked
			}
			if rec.Verdict != want {
				t.Errorf("%s gate %s: %s, want %s: %s", c.name, id, rec.Verdict, want, rec.Reason)
			}
		}
	}
}

// TestLlamaCppMissingSkips: with no llama.cpp library where falsify looks
// (FALSIFY_NODE_LLAMA_CPP pointing nowhere), a llamacpp subject's gate
// SKIPs, saying what is missing and the command that installs it. The
// library loads once per process, so the check runs in a child process.
func TestLlamaCppMissingSkips(t *testing.T) {
	if os.Getenv("FALSIFY_TEST_LLAMACPP_CHILD") == "1" {
		c := externalContract(t, `{model: "builtin:qwen2-tiny-q4_k_m.gguf", runtime: llamacpp}`)
		rec := evaluate(t, c, harness.Options{}, "M")["M"]
		os.Stdout.WriteString("VERDICT " + string(rec.Verdict) + " REASON " + rec.Reason + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLlamaCppMissingSkips$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FALSIFY_TEST_LLAMACPP_CHILD=1", "FALSIFY_NODE_LLAMA_CPP="+filepath.Join(t.TempDir(), "absent"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "VERDICT SKIP") || !strings.Contains(s, "absent") || !strings.Contains(s, "scripts/fetch-llamacpp.sh") {
		t.Errorf("child output:\n%s", s)
	}
}

// TestPromptOnlyInputAndATraceFile: with only a prompt there is nothing
// to check a trace file's tokens against, so every gate that reads it is
// an ERROR saying to add expect_tokens, the statistics gate included
// (it would otherwise compare two different inputs and could PASS).
func TestPromptOnlyInputAndATraceFile(t *testing.T) {
	p := engineTraceFile(t, t.TempDir(), "eng.json", "")
	c := externalContract(t, `{trace: "`+p+`"}`)
	c.Input.Tokens, c.Input.Prompt, c.Input.ExpectTokens = nil, "What is 3+3?", nil
	for id, rec := range evaluate(t, c, harness.Options{}, "M", "L", "R") {
		if rec.Verdict == evidence.Pass || !strings.Contains(rec.Reason, "expect_tokens") {
			t.Errorf("gate %s over a prompt-only input: %s: %s", id, rec.Verdict, rec.Reason)
		}
	}
}
