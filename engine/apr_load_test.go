package engine

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/internal/numcmp"
	"github.com/falsify/falsify/trace"
)

// convertToAPR converts a GGUF fixture to APR (as `falsify convert` does)
// in a temporary directory and returns the APR path.
func convertToAPR(t testing.TB, ggufPath string, opts apr.ConvertOptions) string {
	t.Helper()
	g, err := gguf.Open(ggufPath)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	w, _, err := apr.FromGGUFWith(g, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(ggufPath), ".gguf")+".apr")
	if _, err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// loadPair loads a GGUF fixture and its APR conversion.
func loadPair(t testing.TB, name string) (g, a *Model) {
	t.Helper()
	path := fixture.Require(t, "models/"+name)
	g = loadFixture(t, name)
	a, err := Load(convertToAPR(t, path, apr.ConvertOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return g, a
}

// traceNumbers is a trace's numbers as JSON (every bit of every vector and
// statistic), without provenance, which names the file and format.
func traceNumbers(t testing.TB, tr *trace.Trace) []byte {
	t.Helper()
	b, err := json.Marshal(struct {
		Tokens    []int32
		Embed     trace.SlotTrace
		Layers    []trace.LayerTrace
		FinalNorm trace.SlotTrace
		Logits    trace.SlotTrace
	}{tr.Tokens, tr.Embed, tr.Layers, tr.FinalNorm, tr.Logits})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAPRTraceBitIdenticalToGGUF: for the fixtures whose types APR stores
// byte for byte (Q4_K_M holds Q4_K and Q6_K; Q6_K; F16; F32), the APR
// model's trace equals the GGUF model's trace bit for bit in both matmul
// modes, every position kept. The GGUF trace is itself checked against
// llama.cpp's goldens in golden_test.go.
func TestAPRTraceBitIdenticalToGGUF(t *testing.T) {
	for _, name := range []string{"qwen2-tiny-q4_k_m.gguf", "qwen2-tiny-q6_k.gguf", "qwen2-tiny-f16.gguf", "qwen2-tiny-f32.gguf"} {
		t.Run(name, func(t *testing.T) {
			g, a := loadPair(t, name)
			if a.Format != "apr" || a.Hyper != g.Hyper {
				t.Fatalf("APR model: format %q, hyper %+v; GGUF hyper %+v", a.Format, a.Hyper, g.Hyper)
			}
			for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
				opts := Options{Matmul: mode, Threads: 2, AllPositions: true}
				tg, err := Run(g, prompt, opts)
				if err != nil {
					t.Fatal(err)
				}
				ta, err := Run(a, prompt, opts)
				if err != nil {
					t.Fatal(err)
				}
				if ta.Provenance.Format != "apr" {
					t.Errorf("provenance format %q", ta.Provenance.Format)
				}
				if !bytes.Equal(traceNumbers(t, tg), traceNumbers(t, ta)) {
					t.Errorf("%s mode: APR trace differs from the GGUF trace: %s", mode, firstDifference(tg, ta))
				}
			}
		})
	}
}

// firstDifference names the first slot whose last-position vectors differ.
func firstDifference(a, b *trace.Trace) string {
	eq := func(x, y []float32) bool { return slices.Equal(x, y) }
	if !eq(a.Embed.Last, b.Embed.Last) {
		return "embed"
	}
	for l := range a.Layers {
		for s, name := range trace.LayerSlots() {
			if !eq(a.Layers[l].Slots[s].Last, b.Layers[l].Slots[s].Last) {
				return fmt.Sprintf("layer %d %s", l, name)
			}
		}
	}
	if !eq(a.Logits.Last, b.Logits.Last) {
		return "logits"
	}
	return "statistics or other positions"
}

// TestAPRTokenizer: the tokenizer carried in the APR metadata gives the
// ids the fixture README lists for the contract prompt (the real Qwen2
// tokenizer's ids, checked there against llama.cpp).
func TestAPRTokenizer(t *testing.T) {
	_, a := loadPair(t, "qwen2-tiny-q4_k_m.gguf")
	got, err := a.Tokenize("What is 2+2?")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{3838, 374, 220, 17, 10, 17, 30}; !slices.Equal(got, want) {
		t.Errorf("Tokenize = %v, want %v", got, want)
	}
}

// TestAPRQ8_0 covers the fixture APR cannot store: its Q8_0 tensors are
// dequantized to F32 on conversion, so the APR model in either mode must
// equal the GGUF model in f32 mode bit for bit (both multiply ggml's
// to_float values in float32), while against the GGUF model's quantized
// mode (llama.cpp's arithmetic) it drifts. The test logs that drift per
// layer and slot (NMSE of the last position) for the report.
func TestAPRQ8_0(t *testing.T) {
	g, a := loadPair(t, "qwen2-tiny-q8_0.gguf")
	run := func(m *Model, mode trace.MatmulMode) *trace.Trace {
		tr, err := Run(m, prompt, Options{Matmul: mode, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	gq, gf := run(g, trace.MatmulQuantized), run(g, trace.MatmulF32)
	aq, af := run(a, trace.MatmulQuantized), run(a, trace.MatmulF32)
	if !bytes.Equal(traceNumbers(t, af), traceNumbers(t, gf)) {
		t.Errorf("APR f32 trace differs from the GGUF f32 trace: %s", firstDifference(af, gf))
	}
	if !bytes.Equal(traceNumbers(t, aq), traceNumbers(t, af)) {
		t.Errorf("APR quantized trace differs from APR f32 (all weights are F32): %s", firstDifference(aq, af))
	}
	if bytes.Equal(traceNumbers(t, aq), traceNumbers(t, gq)) {
		t.Errorf("APR trace equals the GGUF quantized trace; the F32 fallback should drift from llama.cpp's Q8_0 arithmetic")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Q8_0: NMSE of the last position, APR (F32 weights; quantized and f32 mode give the same trace) vs GGUF quantized mode\n%-6s", "layer")
	for _, name := range trace.LayerSlots() {
		fmt.Fprintf(&b, " %16s", name)
	}
	b.WriteString("\n")
	for l := range gq.Layers {
		fmt.Fprintf(&b, "%-6d", l)
		for s := range trace.NumLayerSlots {
			fmt.Fprintf(&b, " %16.3e", numcmp.NMSE(aq.Layers[l].Slots[s].Last, gq.Layers[l].Slots[s].Last))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "embed %.3e  final_norm %.3e  logits %.3e\n", numcmp.NMSE(aq.Embed.Last, gq.Embed.Last),
		numcmp.NMSE(aq.FinalNorm.Last, gq.FinalNorm.Last), numcmp.NMSE(aq.Logits.Last, gq.Logits.Last))
	t.Log(b.String())
}

// TestAPRForcedF32: the Q4_K_M fixture converted with every tensor
// dequantized to F32 runs, in either mode, exactly as the GGUF model runs
// in f32 mode: the F32 fallback is the f32 matmul mode, moved into the file.
func TestAPRForcedF32(t *testing.T) {
	path := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	g := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	a, err := Load(convertToAPR(t, path, apr.ConvertOptions{ForceF32: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tg, err := Run(g, prompt, Options{Matmul: trace.MatmulF32, Threads: 2, AllPositions: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []trace.MatmulMode{trace.MatmulQuantized, trace.MatmulF32} {
		ta, err := Run(a, prompt, Options{Matmul: mode, Threads: 2, AllPositions: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(traceNumbers(t, tg), traceNumbers(t, ta)) {
			t.Errorf("APR (F32) in %s mode differs from GGUF f32 mode: %s", mode, firstDifference(tg, ta))
		}
	}
}

// quantizeAprQ8 and quantizeAprQ4 encode as aprender's writer does
// (add_q8_tensor: one scale max|v|/127, q = round(v/s) clamped to ±127;
// add_q4_tensor: per 32 values an f16 scale max|v|/7, q = round(v/s)
// clamped to -8..7, stored as q+8, element 2k in the low nibble).
func quantizeAprQ8(v []float32) []byte {
	var maxAbs float32
	for _, x := range v {
		maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
	}
	s := float32(1)
	if maxAbs != 0 {
		s = maxAbs / 127
	}
	out := binary.LittleEndian.AppendUint32(nil, math.Float32bits(s))
	for _, x := range v {
		out = append(out, byte(int8(min(max(math.Round(float64(x/s)), -127), 127))))
	}
	return out
}

func quantizeAprQ4(v []float32) []byte {
	var out []byte
	for b := 0; b < len(v); b += 32 {
		blk := v[b:min(b+32, len(v))]
		var maxAbs float32
		for _, x := range blk {
			maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
		}
		s := float32(1)
		if maxAbs != 0 {
			s = maxAbs / 7
		}
		out = binary.LittleEndian.AppendUint16(out, quant.FP32ToFP16(s))
		var packed [16]byte
		for i, x := range blk {
			q := byte(int8(min(max(math.Round(float64(x/s)), -8), 7)) + 8)
			packed[i/2] |= q << (4 * (i % 2))
		}
		out = append(out, packed[:]...)
	}
	return out
}

// TestAPRNativeQuantTypes: a model whose attention matrices are AprQ8 and
// FFN matrices AprQ4 (quantized from the F32 fixture as aprender's writer
// does) loads with those tensors dequantized to F32 (apr.DequantizeAprQ8 /
// Q4), runs identically in both matmul modes, and stays close to the F32
// model: a tensor laid out wrongly (dims not reversed, rows transposed)
// would put the logits' NMSE near 1.
func TestAPRNativeQuantTypes(t *testing.T) {
	path := fixture.Require(t, "models/qwen2-tiny-f32.gguf")
	ref := loadFixture(t, "qwen2-tiny-f32.gguf")
	f, err := apr.Open(convertToAPR(t, path, apr.ConvertOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := apr.NewWriter()
	for _, k := range f.Metadata.Keys() {
		v, _ := f.Metadata.Get(k)
		w.Metadata().Set(k, v)
	}
	written := map[string][]byte{}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		data, dtype := f.Data(ti), ti.DType
		if len(ti.Dims) == 2 && strings.Contains(ti.Name, ".layers.") {
			vals, err := f.Float32(ti)
			if err != nil {
				t.Fatal(err)
			}
			dtype, data = apr.AprQ8, quantizeAprQ8(vals)
			if strings.Contains(ti.Name, ".mlp.") {
				dtype, data = apr.AprQ4, quantizeAprQ4(vals)
			}
			written[ti.Name] = data
		}
		if err := w.AddTensor(ti.Name, dtype, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "aprq.apr")
	if _, err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	m, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for name, dequant := range map[string]func([]float32, []byte) error{
		"model.layers.0.self_attn.q_proj.weight": apr.DequantizeAprQ8,
		"model.layers.3.mlp.down_proj.weight":    apr.DequantizeAprQ4,
	} {
		mt := m.Tensors[name]
		want := make([]float32, mt.Rows()*mt.Cols())
		if err := dequant(want, written[name]); err != nil {
			t.Fatal(err)
		}
		if mt.Type != quant.F32 || !slices.Equal(f32s(mt.Data), want) {
			t.Errorf("%s: type %s, values differ from the dequantized bytes", name, mt.Type)
		}
	}
	opts := Options{Matmul: trace.MatmulQuantized, Threads: 2}
	tq, err := Run(m, prompt, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Matmul = trace.MatmulF32
	tf, err := Run(m, prompt, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(traceNumbers(t, tq), traceNumbers(t, tf)) {
		t.Errorf("modes differ on an all-F32 model: %s", firstDifference(tq, tf))
	}
	tr, err := Run(ref, prompt, opts)
	if err != nil {
		t.Fatal(err)
	}
	if nmse := numcmp.NMSE(tf.Logits.Last, tr.Logits.Last); !(nmse < 0.2) {
		t.Errorf("logits NMSE %.3g against the F32 model, want < 0.2 (unrelated outputs give about 1 or more)", nmse)
	} else {
		t.Logf("AprQ8 attention + AprQ4 FFN: logits NMSE %.3g against the F32 model", nmse)
	}
}

// TestAPRAliasesAndGGUFNames: a file with GGUF tensor names and the
// metadata's alias spellings (num_hidden_layers, hidden_dim, ...) loads
// into the same model, and traces the same, as the importer's spelling.
func TestAPRAliasesAndGGUFNames(t *testing.T) {
	path := fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf")
	g := loadFixture(t, "qwen2-tiny-q4_k_m.gguf")
	f, err := apr.Open(convertToAPR(t, path, apr.ConvertOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := apr.NewWriter()
	aliases := map[string]string{"hidden_size": "hidden_dim", "num_layers": "num_hidden_layers", "num_heads": "num_attention_heads",
		"num_kv_heads": "num_key_value_heads", "intermediate_size": "intermediate_dim", "max_position_embeddings": "n_ctx"}
	for _, k := range f.Metadata.Keys() {
		v, _ := f.Metadata.Get(k)
		if alias, ok := aliases[k]; ok {
			k = alias
		}
		w.Metadata().Set(k, v)
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if err := w.AddTensor(apr.GGUFName(ti.Name), ti.DType, ti.Dims, f.Data(ti)); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "gguf-names.apr")
	if _, err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	a, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Hyper != g.Hyper {
		t.Fatalf("hyper %+v, want %+v", a.Hyper, g.Hyper)
	}
	tg, _ := Run(g, prompt, Options{Matmul: trace.MatmulQuantized, Threads: 2})
	ta, err := Run(a, prompt, Options{Matmul: trace.MatmulQuantized, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(traceNumbers(t, tg), traceNumbers(t, ta)) {
		t.Errorf("trace differs: %s", firstDifference(tg, ta))
	}
}

// TestLoadAPRErrors: bad APR files fail with the file, the field and the
// reason, through engine.Load's magic dispatch.
func TestLoadAPRErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("old.apr", append([]byte("APR1"), make([]byte, 100)...))
	if _, err := Load(old); !errors.Is(err, apr.ErrOldFormat) || !strings.Contains(err.Error(), old) || !strings.Contains(err.Error(), "APR1") {
		t.Errorf("APR1 file: %v", err)
	}
	// A valid container whose metadata lacks the transformer config.
	w := apr.NewWriter()
	w.Metadata().Set("model_type", "linear_regression")
	if err := w.AddTensor("weights", apr.F32, []uint64{2}, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "not-a-transformer.apr")
	if _, err := w.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) || !errors.Is(err, ErrUnsupportedArch) {
		t.Errorf("non-transformer APR: %v", err)
	}
}

// TestAPRMissingTensorNamedAsInFile: an APR file without a weight is
// refused naming the tensor as the file spells it (the Hugging Face name
// aprender's importer writes), with the GGUF name alongside.
func TestAPRMissingTensorNamedAsInFile(t *testing.T) {
	path := fixture.Require(t, "models/qwen2-tiny-f32.gguf")
	f, err := apr.Open(convertToAPR(t, path, apr.ConvertOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const drop = "model.layers.1.self_attn.k_proj.weight"
	w := apr.NewWriter()
	for _, k := range f.Metadata.Keys() {
		v, _ := f.Metadata.Get(k)
		w.Metadata().Set(k, v)
	}
	found := false
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if ti.Name == drop {
			found = true
			continue
		}
		if err := w.AddTensor(ti.Name, ti.DType, ti.Dims, f.Data(ti)); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("converted file has no %s", drop)
	}
	out := filepath.Join(t.TempDir(), "missing.apr")
	if _, err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	_, err = Load(out)
	if err == nil || !strings.Contains(err.Error(), `"`+drop+`"`) || !strings.Contains(err.Error(), "blk.1.attn_k.weight") {
		t.Errorf("error %v should name %q (and its GGUF name)", err, drop)
	}
}

// f32s decodes little-endian float32 bytes.
func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}
