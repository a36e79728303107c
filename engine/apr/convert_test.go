package apr_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
)

// convertFixture converts a GGUF fixture to an APR file in a temporary
// directory and opens both.
func convertFixture(t testing.TB, path string) (*gguf.File, *apr.File, *apr.ConvertReport) {
	t.Helper()
	g, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	w, rep, err := apr.FromGGUF(g)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(path), ".gguf")+".apr")
	if _, err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	a, err := apr.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return g, a, rep
}

func fixtureModels(t *testing.T) []string {
	paths := fixture.Glob("models/qwen2-tiny-*.gguf")
	if len(paths) == 0 {
		t.Skip("no qwen2-tiny fixture models in testdata/ or ../shared/fixtures")
	}
	return paths
}

// TestFromGGUFRoundTrip: for every fixture model (llama-quantize outputs
// of one llama.cpp-written F32 model), GGUF -> APR -> read back gives the
// GGUF tensor bytes exactly for the copied types (Q4_K, Q6_K, F16, F32),
// and for models with any other type, F32 values bit-identical to ggml's
// to_float of the GGUF bytes (quant.DequantizeRow, checked against ggml's
// hashes in engine/quant). Names follow the spec's qwen2 table, 2-D dims
// are reversed, and the tied embedding is written as lm_head.weight.
func TestFromGGUFRoundTrip(t *testing.T) {
	for _, path := range fixtureModels(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g, a, rep := convertFixture(t, path)
			wantFallback := false
			for _, ti := range g.Tensors {
				switch ti.Type {
				case quant.F32, quant.F16, quant.Q4_K, quant.Q6_K:
				default:
					wantFallback = true
				}
			}
			if rep.Fallback != wantFallback {
				t.Errorf("fallback %v, want %v (types %v)", rep.Fallback, wantFallback, rep.SourceTypes)
			}
			if len(a.Tensors) != len(g.Tensors)+1 {
				t.Errorf("%d APR tensors, want %d GGUF tensors + lm_head", len(a.Tensors), len(g.Tensors))
			}
			for i := range g.Tensors {
				gt := &g.Tensors[i]
				name, ok := apr.HFName(gt.Name)
				if !ok {
					t.Fatalf("no Hugging Face name for %q", gt.Name)
				}
				checkTensor(t, g, gt, a, name, wantFallback)
			}
			emb, _ := g.Tensor("token_embd.weight")
			checkTensor(t, g, emb, a, "lm_head.weight", wantFallback)
			if tied, err := a.Metadata.Bool("tied_embeddings"); err != nil || !tied {
				t.Errorf("tied_embeddings = %v, %v; want true", tied, err)
			}
		})
	}
}

func checkTensor(t *testing.T, g *gguf.File, gt *gguf.TensorInfo, a *apr.File, name string, fallback bool) {
	t.Helper()
	at, ok := a.Tensor(name)
	if !ok {
		t.Errorf("%s: no APR tensor %q", gt.Name, name)
		return
	}
	wantDims := slices.Clone(gt.Dims)
	slices.Reverse(wantDims)
	if !slices.Equal(at.Dims, wantDims) {
		t.Errorf("%s: dims %v, want %v (GGUF %v reversed)", name, at.Dims, wantDims, gt.Dims)
	}
	src := g.Data(gt)
	got := a.Data(at)
	if !fallback {
		if qt, ok := at.DType.GGML(); !ok || qt != gt.Type {
			t.Errorf("%s: dtype %s, want the GGUF type %s", name, at.DType, gt.Type)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s: bytes differ from the GGUF tensor %s", name, gt.Name)
		}
		return
	}
	if at.DType != apr.F32 {
		t.Errorf("%s: dtype %s, want F32 (fallback)", name, at.DType)
		return
	}
	cols := int(gt.Dims[0])
	rows := len(got) / 4 / cols
	rb := len(src) / rows
	want := make([]float32, cols)
	for r := range rows {
		if err := quant.DequantizeRow(gt.Type, want, src[r*rb:(r+1)*rb]); err != nil {
			t.Fatal(err)
		}
		for i, w := range want {
			v := binary.LittleEndian.Uint32(got[4*(r*cols+i):])
			if v != math.Float32bits(w) {
				t.Fatalf("%s: row %d value %d is %v, ggml to_float gives %v", name, r, i, math.Float32frombits(v), w)
			}
		}
	}
}

// TestFromGGUFMetadata: the importer's metadata fields carry the GGUF
// hyperparameters (the fixture README: 4 layers, hidden 256, 4 heads, 2 KV
// heads, FFN 512, eps 1e-6, theta 1e6) and the tokenizer.
func TestFromGGUFMetadata(t *testing.T) {
	g, a, _ := convertFixture(t, fixture.Require(t, "models/qwen2-tiny-q4_k_m.gguf"))
	c, err := a.Metadata.Config()
	if err != nil {
		t.Fatal(err)
	}
	gm := g.Metadata
	u := func(k string) int { v, _ := gm.ArchUint(k); return int(v) }
	fl := func(k string) float64 { v, _ := gm.ArchFloat(k); return v }
	if c.Architecture != "qwen2" || c.HiddenSize != u(gguf.KeyEmbeddingLength) || c.NumLayers != u(gguf.KeyBlockCount) ||
		c.NumHeads != u(gguf.KeyHeadCount) || c.NumKVHeads != u(gguf.KeyHeadCountKV) || c.Intermediate != u(gguf.KeyFeedForwardLen) ||
		c.ContextLength != u(gguf.KeyContextLength) || c.VocabSize != 4099 || c.RopeType == nil || *c.RopeType != 2 {
		t.Errorf("config %+v", c)
	}
	if float32(c.RopeTheta) != float32(fl(gguf.KeyRopeFreqBase)) || float32(c.RMSNormEps) != float32(fl(gguf.KeyRMSEps)) {
		t.Errorf("rope_theta %v, rms_norm_eps %v: want the GGUF float32 values %v, %v", c.RopeTheta, c.RMSNormEps, fl(gguf.KeyRopeFreqBase), fl(gguf.KeyRMSEps))
	}
	toks, err := a.Metadata.Strings("tokenizer.vocabulary")
	gtoks, _ := gm.Strings(gguf.KeyTokenizerTokens)
	if err != nil || !slices.Equal(toks, gtoks) {
		t.Errorf("tokenizer.vocabulary: %d tokens, %v; want the GGUF's %d", len(toks), err, len(gtoks))
	}
	merges, err := a.Metadata.Strings("tokenizer.merges")
	gmerges, _ := gm.Strings(gguf.KeyTokenizerMerges)
	if err != nil || !slices.Equal(merges, gmerges) {
		t.Errorf("tokenizer.merges: %d, %v; want the GGUF's %d", len(merges), err, len(gmerges))
	}
	for key, want := range map[string]string{"tokenizer.model": "gpt2", "tokenizer.pre_type": "qwen2", "original_format": "gguf", "model.architecture": "qwen2"} {
		if got, err := a.Metadata.String(key); got != want {
			t.Errorf("%s = %q, %v; want %q", key, got, err, want)
		}
	}
	for key, gkey := range map[string]string{"tokenizer.bos_token_id": gguf.KeyTokenizerBOS, "tokenizer.eos_token_id": gguf.KeyTokenizerEOS, "tokenizer.padding_token_id": gguf.KeyTokenizerPAD} {
		want, _ := gm.Uint(gkey)
		if got, err := a.Metadata.Uint(key); got != want || err != nil {
			t.Errorf("%s = %d, %v; want %d", key, got, err, want)
		}
	}
	shapes, ok := a.Metadata.Get("tensor_shapes")
	if m, isMap := shapes.(map[string]any); !ok || !isMap || len(m) != len(a.Tensors) {
		t.Errorf("tensor_shapes: %T with %v entries, want one per tensor (%d)", shapes, shapes, len(a.Tensors))
	}
}

// TestFromGGUFReport: the report counts tensors by type as the GGUF file
// holds them, and the written types follow the copy/fallback rule.
func TestFromGGUFReport(t *testing.T) {
	for _, name := range []string{"qwen2-tiny-q4_k_m.gguf", "qwen2-tiny-q8_0.gguf"} {
		path := fixture.Require(t, "models/"+name)
		g, a, rep := convertFixture(t, path)
		counts := map[string]int{}
		for _, ti := range g.Tensors {
			counts[ti.Type.String()]++
		}
		for k, v := range counts {
			if rep.SourceTypes[k] != v {
				t.Errorf("%s: source %s: %d, want %d", name, k, rep.SourceTypes[k], v)
			}
		}
		out := map[string]int{}
		var bytesWritten uint64
		for _, ti := range a.Tensors {
			out[ti.DType.String()]++
			bytesWritten += ti.Size
		}
		for k, v := range out {
			if rep.OutputTypes[k] != v {
				t.Errorf("%s: output %s: %d, file has %d", name, k, rep.OutputTypes[k], v)
			}
		}
		if rep.TensorBytes != bytesWritten {
			t.Errorf("%s: report says %d tensor bytes, file has %d", name, rep.TensorBytes, bytesWritten)
		}
		if rep.Fallback != (name == "qwen2-tiny-q8_0.gguf") || (rep.Fallback && !slices.Equal(rep.FallbackTypes, []string{"Q8_0"})) {
			t.Errorf("%s: fallback %v %v", name, rep.Fallback, rep.FallbackTypes)
		}
	}
}
