package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/internal/schemacheck"
)

// TestRunBuiltinContracts is `make falsify` without Ginkgo on a fresh
// clone: every builtin contract on the builtin models, every gate with a
// verdict and measured values, all PASS; the Markdown summary exists and
// every evidence file validates against the JSON Schemas.
func TestRunBuiltinContracts(t *testing.T) {
	dir := t.TempDir()
	// The CPU-vs-GPU gates SKIP where no Vulkan device is (checked below:
	// only there); everything else must PASS.
	out, errs, code := runCLI(t, "run", "--allow-unavailable", "vulkan", "--evidence", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	ev, err := evidence.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, name := range contracts.Builtin() {
		c, err := contracts.LoadBuiltin(name)
		if err != nil {
			t.Fatal(err)
		}
		want += len(c.FalsificationTests)
	}
	if len(ev.Gates) != want {
		t.Errorf("%d gate records, the builtin contracts have %d gates", len(ev.Gates), want)
	}
	skips := 0
	for _, g := range ev.Gates {
		if g.Verdict == evidence.Skip && g.UnavailableBackend == "vulkan" {
			skips++
			if dev, err := engine.ProbeBackend("vulkan"); err == nil {
				t.Errorf("%s/%s: SKIP (%s), but vulkan opens here on %s", g.Contract.ID, g.GateID, g.Reason, dev)
			}
			continue
		}
		if g.Verdict != evidence.Pass || len(g.Measurements) == 0 {
			t.Errorf("%s/%s: %s with %d measurements: %s", g.Contract.ID, g.GateID, g.Verdict, len(g.Measurements), g.Reason)
		}
	}
	summary, err := os.ReadFile(filepath.Join(dir, evidence.SummaryFile))
	if err != nil || !strings.Contains(string(summary), "FALSIFY-APR-GGUF-PARITY-002") {
		t.Errorf("summary.md missing or incomplete (%v)", err)
	}
	s, err := schemacheck.Compile()
	if err != nil {
		t.Fatal(err)
	}
	gates, runs, err := s.ValidateDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if gates != want || runs != 1 {
		t.Errorf("validated %d gate records and %d run reports, want %d and 1", gates, runs, want)
	}
	if _, _, code := runCLI(t, "gate", "--allow-unavailable", "vulkan", dir); code != 0 {
		t.Errorf("falsify gate --allow-unavailable vulkan on a run that PASSed where it could: exit %d", code)
	}
	// A plain gate stays strict: the SKIPs of a missing Vulkan device fail it.
	strict := 0
	if skips > 0 {
		strict = 1
	}
	if _, errs, code := runCLI(t, "gate", dir); code != strict {
		t.Errorf("falsify gate with %d SKIPs of vulkan: exit %d, want %d\n%s", skips, code, strict, errs)
	}
}

// builtinVariant writes the builtin apr-vs-gguf contract with edits.
func builtinVariant(t *testing.T, edits ...[2]string) string {
	t.Helper()
	raw, err := fs.ReadFile(contracts.BuiltinFS(), "apr-vs-gguf-forward-parity-v1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, e := range edits {
		if !strings.Contains(text, e[0]) {
			t.Fatalf("builtin contract has no %q; update this test", e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	path := filepath.Join(t.TempDir(), "apr-vs-gguf-forward-parity-v1.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func verdicts(t *testing.T, dir string) map[string]*evidence.GateRecord {
	t.Helper()
	ev, err := evidence.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*evidence.GateRecord{}
	for _, g := range ev.Gates {
		out[g.GateID] = g
	}
	return out
}

// TestRunNegativeCases: each kind of non-PASS verdict makes `falsify run`
// and `falsify gate` exit non-zero, with the reason in the evidence.
func TestRunNegativeCases(t *testing.T) {
	const p = "FALSIFY-APR-GGUF-PARITY-"
	cases := []struct {
		name    string
		args    func(t *testing.T) []string
		gate    string
		verdict evidence.Verdict
		reason  string
		others  map[string]evidence.Verdict
	}{
		{
			name: "forced samples",
			args: func(t *testing.T) []string {
				return []string{builtinVariant(t,
					[2]string{"from: gguf, backend: cpu, matmul: f32}", "from: gguf, backend: cpu, matmul: f32, sample: all_tokens}"},
					[2]string{"backend: cpu, matmul: quantized}", "backend: cpu, matmul: quantized, sample: last_token}"})}
			},
			gate: p + "007", verdict: evidence.Fail, reason: "count(apr) = 1792",
			others: map[string]evidence.Verdict{p + "001": evidence.Blocked, p + "002": evidence.Blocked, p + "003": evidence.Blocked},
		},
		{
			name: "band excludes the ratio",
			args: func(t *testing.T) []string {
				return []string{builtinVariant(t, [2]string{"layers: [3], numerator: apr, denominator: gguf, band: [0.5, 2.0]}", "layers: [3], numerator: apr, denominator: gguf, band: [1.5, 2.0]}"})}
			},
			gate: p + "002", verdict: evidence.Fail, reason: "at layer 3 ffn_swiglu_inner",
		},
		{
			name: "missing model file",
			args: func(t *testing.T) []string {
				return []string{"apr-vs-gguf-forward-parity-v1", "--set", "gguf=/nonexistent/qwen.gguf"}
			},
			gate: p + "006", verdict: evidence.Error, reason: "/nonexistent/qwen.gguf",
		},
		{
			name: "GPU subject without a GPU",
			args: func(t *testing.T) []string {
				return []string{builtinVariant(t, [2]string{"gguf: {model: \"${FALSIFY_GGUF_MODEL:-builtin:qwen2-tiny-q4_k_m.gguf}\", backend: cpu", "gguf: {model: \"${FALSIFY_GGUF_MODEL:-builtin:qwen2-tiny-q4_k_m.gguf}\", backend: cuda"})}
			},
			gate: p + "006", verdict: evidence.Skip, reason: "cuda",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"run", "--evidence", dir}, c.args(t)...)
			out, errs, code := runCLI(t, args...)
			want := 1
			if c.verdict == evidence.Error {
				want = 3 // nothing FAILed, a subject could not run: a broken setup
			}
			if code != want {
				t.Fatalf("falsify run: exit %d, want %d\n%s\n%s", code, want, out, errs)
			}
			recs := verdicts(t, dir)
			rec := recs[c.gate]
			if rec == nil || rec.Verdict != c.verdict || !strings.Contains(rec.Reason, c.reason) {
				t.Fatalf("%s: %+v, want %s mentioning %q", c.gate, rec, c.verdict, c.reason)
			}
			for id, v := range c.others {
				if recs[id].Verdict != v {
					t.Errorf("%s: %s (%s), want %s", id, recs[id].Verdict, recs[id].Reason, v)
				}
			}
			if _, _, code := runCLI(t, "gate", dir); code != want {
				t.Errorf("falsify gate: exit %d, want %d", code, want)
			}
			var rep evidence.RunReport
			jsonOut, _, _ := runCLI(t, "gate", "--json", dir)
			if err := json.Unmarshal([]byte(jsonOut), &rep); err != nil {
				t.Fatalf("gate --json: %v", err)
			}
			if rep.Counts.Get(c.verdict) == 0 {
				t.Errorf("gate --json counts %+v lack a %s", rep.Counts, c.verdict)
			}
		})
	}
}

func TestRunUsageErrors(t *testing.T) {
	if _, errs, code := runCLI(t, "run", "--set", "nosuch=/x.gguf", "trace-determinism-v1"); code != 2 || !strings.Contains(errs, "nosuch") {
		t.Errorf("--set of an unknown subject: exit %d, %s", code, errs)
	}
	if _, errs, code := runCLI(t, "run", "no-such-contract"); code != 3 || !strings.Contains(errs, "no-such-contract") {
		t.Errorf("unknown contract: exit %d, %s", code, errs)
	}
}
