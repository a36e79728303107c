package harness_test

import (
	"context"
	"encoding/binary"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/contracts"
	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/evidence"
	"github.com/falsify/falsify/harness"
	"github.com/falsify/falsify/internal/builtin"
)

// parityContract is apr-vs-gguf-forward-parity-v1's gates 001-003 and 007
// over two subjects whose models and samples the tests choose.
const parityContract = `
metadata:
  version: 1.0.0
  description: test contract
  references: [harness_test.go]
subjects:
  a: {model: "${A_MODEL:-builtin:qwen2-tiny-q4_k_m.gguf}", matmul: f32 %A_EXTRA%}
  b: {model: "${B_MODEL:-builtin:qwen2-tiny-q4_k_m.gguf}", matmul: quantized %B_EXTRA%}
input:
  prompt: "What is 2+2?"
  expect_tokens: [3838, 374, 220, 17, 10, 17, 30]
falsification_tests:
- id: T-001
  rule: per-layer swiglu std ratio
  prediction: in band
  requires: [T-007]
  gate: {kind: ratio_band, slot: ffn_swiglu_inner, stat: std, sample: last_token, layers: all, numerator: a, denominator: b, band: [%LO%, %HI%]}
- id: T-002
  rule: layer 3
  prediction: in band
  requires: [T-007]
  gate: {kind: ratio_band, slot: ffn_swiglu_inner, stat: std, sample: last_token, layers: [3], numerator: a, denominator: b, band: [0.5, 2.0]}
- id: T-003
  rule: gate matmul
  prediction: in band
  requires: [T-007]
  gate: {kind: ratio_band, slot: ffn_gate, stat: std, sample: last_token, layers: [3], numerator: a, denominator: b, band: [0.7, 1.4]}
- id: T-007
  rule: count parity
  prediction: equal counts
  gate: {kind: count_parity, subjects: [a, b]}
`

type contractVars struct {
	aExtra, bExtra, lo, hi string
	env                    map[string]string
}

func run(t *testing.T, v contractVars) map[string]*evidence.GateRecord {
	t.Helper()
	if v.lo == "" {
		v.lo, v.hi = "0.5", "2.0"
	}
	text := strings.NewReplacer("%A_EXTRA%", v.aExtra, "%B_EXTRA%", v.bExtra, "%LO%", v.lo, "%HI%", v.hi).Replace(parityContract)
	c, err := contracts.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := contracts.Check(c); err != nil {
		t.Fatal(err)
	}
	q4, err := builtin.Path("qwen2-tiny-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"A_MODEL": q4, "B_MODEL": q4}
	for k, val := range v.env {
		env[k] = val
	}
	r := harness.New(harness.Options{Env: func(k string) (string, bool) { val, ok := env[k]; return val, ok }, WorkDir: t.TempDir()})
	t.Cleanup(func() { r.Close() })
	out := map[string]*evidence.GateRecord{}
	for _, rec := range r.RunContract(context.Background(), c) {
		if err := rec.Check(); err != nil {
			t.Errorf("record breaks its schema: %v", err)
		}
		out[rec.GateID] = rec
	}
	return out
}

func expect(t *testing.T, recs map[string]*evidence.GateRecord, id string, want evidence.Verdict, reasonHas ...string) {
	t.Helper()
	rec := recs[id]
	if rec.Verdict != want {
		t.Errorf("%s: %s (%s), want %s", id, rec.Verdict, rec.Reason, want)
		return
	}
	for _, s := range reasonHas {
		if !strings.Contains(rec.Reason, s) {
			t.Errorf("%s: reason %q does not mention %q", id, rec.Reason, s)
		}
	}
}

// TestMatchedSamplesPass: the f32 path (APR's) against the quantized path
// (GGUF's) on the builtin Q4_K_M model, last-token samples on both sides:
// every ratio is inside its band, as upstream v1.2 found.
func TestMatchedSamplesPass(t *testing.T) {
	recs := run(t, contractVars{})
	for _, id := range []string{"T-001", "T-002", "T-003", "T-007"} {
		expect(t, recs, id, evidence.Pass)
	}
	if n := len(recs["T-001"].Measurements); n != 4 {
		t.Errorf("T-001 measured %d ratios, want one per layer (4)", n)
	}
	for _, m := range recs["T-001"].Measurements {
		t.Logf("%s", m)
	}
}

// TestSampleMismatchBlocksRatios reproduces the upstream v1.0 artifact:
// one side reports all_tokens statistics, the other last_token. Count
// parity FAILs and every ratio gate is BLOCKED, never PASS or FAIL.
func TestSampleMismatchBlocksRatios(t *testing.T) {
	recs := run(t, contractVars{aExtra: ", sample: all_tokens", bExtra: ", sample: last_token"})
	// The first slot in forward order is attn_norm (256 wide): 7 x 256 vs 256.
	expect(t, recs, "T-007", evidence.Fail, "attn_norm at layer 0", "count(a) = 1792", "count(b) = 256")
	for _, id := range []string{"T-001", "T-002", "T-003"} {
		expect(t, recs, id, evidence.Blocked, "requires T-007, which is FAIL")
	}
	if fo := recs["T-007"].FirstOffending; fo == nil || fo.Layer == nil || *fo.Layer != 0 {
		t.Errorf("T-007 first offending %+v, want layer 0", fo)
	}
}

// TestBandExcludingRatioFails: a band the measured ratio is outside FAILs
// and names the first offending layer.
func TestBandExcludingRatioFails(t *testing.T) {
	recs := run(t, contractVars{lo: "1.5", hi: "2.0"})
	expect(t, recs, "T-001", evidence.Fail, "at layer 0 ffn_swiglu_inner", "outside [1.5, 2]")
	if fo := recs["T-001"].FirstOffending; fo == nil || fo.Layer == nil || *fo.Layer != 0 {
		t.Errorf("first offending %+v, want layer 0", fo)
	}
}

// TestNaNFails: a model whose layer-1 up projection holds a NaN gives NaN
// activations from there on; the ratio gate FAILs at layer 1.
func TestNaNFails(t *testing.T) {
	f32, err := builtin.Path("qwen2-tiny-q4_k_m-as-f32.gguf")
	if err != nil {
		t.Fatal(err)
	}
	poisoned := filepath.Join(t.TempDir(), "nan.gguf")
	writeWithNaN(t, f32, poisoned, "blk.1.ffn_up.weight")
	recs := run(t, contractVars{env: map[string]string{"A_MODEL": poisoned}})
	// Every gate over the poisoned subject FAILs on its non-finite values
	// (the ratios are then BLOCKED behind count parity).
	expect(t, recs, "T-007", evidence.Fail, "subject a", "non-finite values (NaN or Inf)", "layer 1 ffn_up")
	expect(t, recs, "T-001", evidence.Blocked, "T-007, which is FAIL")
}

// TestQuantizedNaNWeightFails plants a NaN in the scale of one block of
// the quantized builtin model: in a Q4_K FFN weight of layer 1, and in
// row 0 of the Q6_K token embedding (the tied LM head), which poisons a
// single logit that every statistic would skip. Either way the gates over
// that subject FAIL, naming the first slot holding a non-finite value.
func TestQuantizedNaNWeightFails(t *testing.T) {
	q4, err := builtin.Path("qwen2-tiny-q4_k_m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tensor, where string }{
		{"blk.1.ffn_up.weight", "layer 1 ffn_up"},
		{"token_embd.weight", "at logits"},
	} {
		t.Run(c.tensor, func(t *testing.T) {
			poisoned := filepath.Join(t.TempDir(), "nan.gguf")
			writeQuantWithNaN(t, q4, poisoned, c.tensor)
			recs := run(t, contractVars{env: map[string]string{"B_MODEL": poisoned}})
			expect(t, recs, "T-007", evidence.Fail, "subject b", "non-finite values", c.where)
			m := recs["T-007"].FirstOffending
			if m == nil || m.Name != "non_finite_values" || m.Subject != "b" || m.Value < 1 {
				t.Errorf("first offending %+v", m)
			}
			for _, id := range []string{"T-001", "T-002", "T-003"} {
				if recs[id].Verdict == evidence.Pass {
					t.Errorf("%s PASSes over a trace holding NaN", id)
				}
			}
		})
	}
}

// writeQuantWithNaN copies src to dst with the f16 scale d of the first
// block of a Q4_K or Q6_K tensor set to NaN (256 weights, one row).
func writeQuantWithNaN(t *testing.T, src, dst, tensor string) {
	t.Helper()
	copyEditing(t, src, dst, tensor, func(ti *gguf.TensorInfo, data []byte) {
		switch ti.Type {
		case quant.Q4_K: // block_q4_K: d, dmin, scales[12], qs[128]
			binary.LittleEndian.PutUint16(data[0:], 0x7e00)
		case quant.Q6_K: // block_q6_K: ql[128], qh[64], scales[16], d
			binary.LittleEndian.PutUint16(data[208:], 0x7e00)
		default:
			t.Fatalf("%s is %s, want Q4_K or Q6_K", tensor, ti.Type)
		}
	})
}

// copyEditing copies the GGUF model src to dst, handing a private copy of
// the named tensor's bytes to edit.
func copyEditing(t *testing.T, src, dst, tensor string, edit func(ti *gguf.TensorInfo, data []byte)) {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := gguf.Copy(f, func(ti *gguf.TensorInfo, data []byte) (quant.Type, []uint64, []byte, error) {
		if ti.Name == tensor {
			data = append([]byte(nil), data...)
			edit(ti, data)
		}
		return ti.Type, ti.Dims, data, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(dst); err != nil {
		t.Fatal(err)
	}
}

// TestMissingModelIsError names the variable the path came from, never
// its value (an environment value could be a secret a hostile contract
// names as its model).
func TestMissingModelIsError(t *testing.T) {
	recs := run(t, contractVars{env: map[string]string{"A_MODEL": "/nonexistent/secret-model.gguf"}})
	expect(t, recs, "T-007", evidence.Error, "model file from ${A_MODEL}", "no such file")
	if strings.Contains(recs["T-007"].Reason, "secret-model") {
		t.Errorf("the reason copies the environment value: %s", recs["T-007"].Reason)
	}
	expect(t, recs, "T-001", evidence.Blocked, "ERROR")
}

// TestGPUSubjectSkips: a subject on a backend this build does not
// register is a SKIP whose reason names the backend and the ones the
// build has, and whose record names the missing backend.
func TestGPUSubjectSkips(t *testing.T) {
	for _, name := range []string{"cuda", "nosuchgpu"} {
		recs := run(t, contractVars{bExtra: ", backend: " + name})
		expect(t, recs, "T-007", evidence.Skip, "backend "+name+" not registered/available", "this build registers cpu")
		if got := recs["T-007"].UnavailableBackend; got != name {
			t.Errorf("%s: unavailable_backend %q, want %q", name, got, name)
		}
	}
}

// TestBackendWithoutDeviceSkips: a registered backend whose Open says
// its device is missing (an error wrapping backend.ErrUnavailable) makes
// the subject SKIP with that reason, never a fallback to another backend.
func TestBackendWithoutDeviceSkips(t *testing.T) {
	backend.Register("test-nodevice", func(backend.Config) (backend.Backend, error) {
		return nil, backend.Unavailable("no test device on this host")
	})
	recs := run(t, contractVars{bExtra: ", backend: test-nodevice"})
	expect(t, recs, "T-007", evidence.Skip, "backend test-nodevice not registered/available: no test device on this host")
	if got := recs["T-007"].UnavailableBackend; got != "test-nodevice" {
		t.Errorf("unavailable_backend %q, want test-nodevice", got)
	}
	// A gate whose subjects all ran has none.
	for id, rec := range recs {
		if rec.Verdict != evidence.Skip && rec.UnavailableBackend != "" {
			t.Errorf("%s: %s with unavailable_backend %q", id, rec.Verdict, rec.UnavailableBackend)
		}
	}
}

// TestBuiltinContractsPass runs every builtin contract on the builtin
// models: each gate gets a verdict with measured values, and all PASS.
func TestBuiltinContractsPass(t *testing.T) {
	cs, err := contracts.LoadAllBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	r := harness.New(harness.Options{Env: func(string) (string, bool) { return "", false }, WorkDir: t.TempDir()})
	defer r.Close()
	for _, c := range cs {
		for _, rec := range r.RunContract(context.Background(), c) {
			if skippedForNoDevice(t, rec) {
				continue
			}
			if rec.Verdict != evidence.Pass {
				t.Errorf("%s/%s: %s: %s", c.ID, rec.GateID, rec.Verdict, rec.Reason)
			}
			if len(rec.Measurements) == 0 && rec.Verdict == evidence.Pass {
				t.Errorf("%s/%s passed with nothing measured", c.ID, rec.GateID)
			}
		}
	}
}

// skippedForNoDevice reports whether rec is a SKIP because its backend
// cannot run here, and checks that this is true: a backend that opens
// here (lavapipe in CI) must not SKIP.
func skippedForNoDevice(t *testing.T, rec *evidence.GateRecord) bool {
	t.Helper()
	if rec.Verdict != evidence.Skip || rec.UnavailableBackend == "" {
		return false
	}
	if dev, err := engine.ProbeBackend(rec.UnavailableBackend); err == nil {
		t.Errorf("%s/%s: SKIP (%s), but backend %s opens here on %s", rec.Contract.ID, rec.GateID, rec.Reason, rec.UnavailableBackend, dev)
		return true
	}
	t.Logf("%s/%s: SKIP: %s", rec.Contract.ID, rec.GateID, rec.Reason)
	return true
}

// TestBuiltinParityContractForcedSamples is the upstream v1.0 bug on the
// real contract: the APR subject forced to all_tokens statistics, the GGUF
// one to last_token. Gate 007 FAILs and 001-003 are BLOCKED.
func TestBuiltinParityContractForcedSamples(t *testing.T) {
	raw, err := fs.ReadFile(contracts.BuiltinFS(), "apr-vs-gguf-forward-parity-v1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(raw), "from: gguf, backend: cpu, matmul: f32}", "from: gguf, backend: cpu, matmul: f32, sample: all_tokens}", 1)
	text = strings.Replace(text, "backend: cpu, matmul: quantized}", "backend: cpu, matmul: quantized, sample: last_token}", 1)
	if text == string(raw) {
		t.Fatal("the subject lines of the builtin contract changed; update this test")
	}
	c, err := contracts.Parse("forced.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	r := harness.New(harness.Options{Env: func(string) (string, bool) { return "", false }, WorkDir: t.TempDir()})
	defer r.Close()
	recs := map[string]*evidence.GateRecord{}
	for _, rec := range r.RunContract(context.Background(), c) {
		recs[rec.GateID] = rec
	}
	expect(t, recs, "FALSIFY-APR-GGUF-PARITY-007", evidence.Fail, "count(apr) = 1792", "count(gguf) = 256")
	for _, id := range []string{"FALSIFY-APR-GGUF-PARITY-001", "FALSIFY-APR-GGUF-PARITY-002", "FALSIFY-APR-GGUF-PARITY-003"} {
		expect(t, recs, id, evidence.Blocked, "FALSIFY-APR-GGUF-PARITY-007, which is FAIL")
	}
	if got := recs["FALSIFY-APR-GGUF-PARITY-007"].Subjects; len(got) != 2 || got[0].Format != "apr" || got[0].ConvertedFrom == "" {
		t.Errorf("provenance %+v: want the APR subject converted from the GGUF one", got)
	}
}

// writeWithNaN copies a GGUF model, setting element 0 of one F32 tensor to
// NaN.
func writeWithNaN(t *testing.T, src, dst, tensor string) {
	t.Helper()
	copyEditing(t, src, dst, tensor, func(ti *gguf.TensorInfo, data []byte) {
		if ti.Type != quant.F32 {
			t.Fatalf("%s is %s, want F32", tensor, ti.Type)
		}
		binary.LittleEndian.PutUint32(data, math.Float32bits(float32(math.NaN())))
	})
}

func TestMain(m *testing.M) {
	// Keep builtin materializations out of the user's cache.
	dir, err := os.MkdirTemp("", "falsify-harness-test")
	if err != nil {
		panic(err)
	}
	os.Setenv("FALSIFY_CACHE", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
