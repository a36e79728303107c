package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
)

// Spec describes a model to generate.
type Spec struct {
	Arch    string // llama, mistral, qwen2, qwen3
	Name    string
	Layers  int
	Embd    int
	Heads   int
	KVHeads int
	HeadDim int // 0: Embd/Heads
	FF      int
	Vocab   int // 0: the tokenizer's token count
	Tied    bool
	QKVBias bool // qwen2-style Q/K/V biases
	QKNorm  bool // qwen3-style per-head RMSNorm of Q and K

	RopeTheta float32 // 0: 10000
	RMSEps    float32 // 0: 1e-6
	Seed      uint64
	// WeightScale multiplies the standard deviation 1/sqrt(fan_in) of the
	// matrices (0: 1).
	WeightScale float32

	// TypeFor picks each tensor's stored type; nil stores everything F32.
	// rows x cols is the matrix shape (cols = input width); norms and
	// biases are always F32, as llama.cpp keeps them.
	TypeFor func(name string, rows, cols int) quant.Type

	// Tokenizer supplies the tokenizer.* keys (copied as they are);
	// required, since llama.cpp will not load a model without a vocabulary.
	Tokenizer *gguf.Metadata
}

// QuantizedMix returns a TypeFor that stores matrices as t where their rows
// are whole blocks of t, and as fallback otherwise (as llama-quantize falls
// back for rows that 256-element super-blocks do not divide).
func QuantizedMix(t, fallback quant.Type) func(string, int, int) quant.Type {
	return func(_ string, _, cols int) quant.Type {
		if cols%t.BlockSize() == 0 {
			return t
		}
		return fallback
	}
}

// Build returns a GGUF writer holding the model.
func Build(s Spec) (*gguf.Writer, error) {
	if err := s.fill(); err != nil {
		return nil, err
	}
	w := gguf.NewWriter()
	g := &gen{w: w, rng: rand.New(rand.NewPCG(s.Seed, 0x5eed)), spec: &s}
	if err := g.metadata(); err != nil {
		return nil, err
	}
	qDim, kvDim := s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
	g.matrix("token_embd.weight", s.Vocab, s.Embd, 1)
	for l := range s.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		g.norm(p + "attn_norm.weight")
		g.matrix(p+"attn_q.weight", qDim, s.Embd, s.WeightScale)
		g.matrix(p+"attn_k.weight", kvDim, s.Embd, s.WeightScale)
		g.matrix(p+"attn_v.weight", kvDim, s.Embd, s.WeightScale)
		if s.QKVBias {
			g.vector(p+"attn_q.bias", qDim, 0, 0.1)
			g.vector(p+"attn_k.bias", kvDim, 0, 0.1)
			g.vector(p+"attn_v.bias", kvDim, 0, 0.1)
		}
		if s.QKNorm {
			g.vector(p+"attn_q_norm.weight", s.HeadDim, 1, 0.1)
			g.vector(p+"attn_k_norm.weight", s.HeadDim, 1, 0.1)
		}
		g.matrix(p+"attn_output.weight", s.Embd, qDim, s.WeightScale)
		g.norm(p + "ffn_norm.weight")
		g.matrix(p+"ffn_gate.weight", s.FF, s.Embd, s.WeightScale)
		g.matrix(p+"ffn_up.weight", s.FF, s.Embd, s.WeightScale)
		g.matrix(p+"ffn_down.weight", s.Embd, s.FF, s.WeightScale)
	}
	g.norm("output_norm.weight")
	if !s.Tied {
		g.matrix("output.weight", s.Vocab, s.Embd, s.WeightScale)
	}
	if g.err != nil {
		return nil, g.err
	}
	return w, nil
}

// Write generates the model into path (atomically).
func Write(path string, s Spec) error {
	w, err := Build(s)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}

func (s *Spec) fill() error {
	if s.Tokenizer == nil {
		return fmt.Errorf("synth: a tokenizer is required")
	}
	tokens, err := s.Tokenizer.Strings(gguf.KeyTokenizerTokens)
	if err != nil {
		return fmt.Errorf("synth: tokenizer: %w", err)
	}
	if s.Vocab == 0 {
		s.Vocab = len(tokens)
	}
	if s.Vocab != len(tokens) {
		return fmt.Errorf("synth: vocab %d differs from the tokenizer's %d tokens", s.Vocab, len(tokens))
	}
	if s.HeadDim == 0 && s.Heads > 0 {
		s.HeadDim = s.Embd / s.Heads
	}
	if s.RopeTheta == 0 {
		s.RopeTheta = 10000
	}
	if s.RMSEps == 0 {
		s.RMSEps = 1e-6
	}
	if s.WeightScale == 0 {
		s.WeightScale = 1
	}
	if s.TypeFor == nil {
		s.TypeFor = func(string, int, int) quant.Type { return quant.F32 }
	}
	if s.Name == "" {
		s.Name = "synthetic-" + s.Arch
	}
	if s.Layers <= 0 || s.Embd <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.FF <= 0 || s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("synth: bad shape %+v", *s)
	}
	return nil
}

type gen struct {
	w    *gguf.Writer
	rng  *rand.Rand
	spec *Spec
	err  error
}

func (g *gen) set(key string, v any) {
	if g.err == nil {
		g.err = g.w.Set(key, v)
	}
}

func (g *gen) metadata() error {
	s := g.spec
	a := s.Arch + "."
	g.set(gguf.KeyArchitecture, s.Arch)
	g.set(gguf.KeyName, s.Name)
	g.set(a+gguf.KeyBlockCount, uint32(s.Layers))
	g.set(a+gguf.KeyContextLength, uint32(4096))
	g.set(a+gguf.KeyEmbeddingLength, uint32(s.Embd))
	g.set(a+gguf.KeyFeedForwardLen, uint32(s.FF))
	g.set(a+gguf.KeyHeadCount, uint32(s.Heads))
	g.set(a+gguf.KeyHeadCountKV, uint32(s.KVHeads))
	if s.HeadDim != s.Embd/s.Heads {
		g.set(a+gguf.KeyKeyLength, uint32(s.HeadDim))
		g.set(a+gguf.KeyValueLength, uint32(s.HeadDim))
	}
	g.set(a+gguf.KeyRopeDimCount, uint32(s.HeadDim))
	g.set(a+gguf.KeyRopeFreqBase, s.RopeTheta)
	g.set(a+gguf.KeyRMSEps, s.RMSEps)
	g.set(a+gguf.KeyVocabSizeArch, uint32(s.Vocab))
	for _, kv := range s.Tokenizer.KVs() {
		if len(kv.Key) > 10 && kv.Key[:10] == "tokenizer." {
			g.set(kv.Key, kv.Value)
		}
	}
	g.set(gguf.KeyQuantVersion, uint32(2))
	return g.err
}

// matrix adds a (rows, cols) matrix with entries drawn from
// N(0, (scale/sqrt(cols))^2), stored in the type TypeFor picks.
func (g *gen) matrix(name string, rows, cols int, scale float32) {
	if g.err != nil {
		return
	}
	t := g.spec.TypeFor(name, rows, cols)
	rowBytes, err := quant.RowSize(t, int64(cols))
	if err != nil {
		g.err = fmt.Errorf("synth: %s as %s: %w", name, t, err)
		return
	}
	data := make([]byte, int(rowBytes)*rows)
	row := make([]float32, cols)
	std := float64(scale) / math.Sqrt(float64(cols))
	for r := range rows {
		for i := range row {
			row[i] = float32(g.rng.NormFloat64() * std)
		}
		if err := quant.QuantizeWeights(t, data[r*int(rowBytes):(r+1)*int(rowBytes)], row); err != nil {
			g.err = fmt.Errorf("synth: %s: %w", name, err)
			return
		}
	}
	g.err = g.w.AddTensor(name, t, []uint64{uint64(cols), uint64(rows)}, data)
}

// vector adds an F32 vector with entries mean + N(0, std^2).
func (g *gen) vector(name string, n int, mean, std float64) {
	if g.err != nil {
		return
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(mean + g.rng.NormFloat64()*std)
	}
	data := make([]byte, 4*n)
	if err := quant.QuantizeWeights(quant.F32, data, v); err != nil {
		g.err = err
		return
	}
	g.err = g.w.AddTensor(name, quant.F32, []uint64{uint64(n)}, data)
}

// norm adds an RMSNorm weight near 1.
func (g *gen) norm(name string) { g.vector(name, g.spec.Embd, 1, 0.1) }

// Qwen05BenchModel writes, once, the Qwen2-0.5B-shaped model the engine's
// and the Vulkan backend's benchmarks share (24 layers, hidden 896, 14
// heads, 2 KV heads, FFN 4864, the tokenizer of the GGUF file at vocab,
// tied output, QKV bias; random weights, Q4_K where rows are whole
// 256-blocks (ffn_down), Q8_0 elsewhere) under os.TempDir()/falsify-bench,
// and returns its path. A file already there is reused.
func Qwen05BenchModel(vocab string) (string, error) {
	dir := filepath.Join(os.TempDir(), "falsify-bench")
	path := filepath.Join(dir, "qwen2-0.5b-shape-q4k-q8_0-v1.gguf")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	f, err := gguf.Open(vocab)
	if err != nil {
		return "", err
	}
	defer f.Close()
	spec := Spec{
		Arch: "qwen2", Name: "qwen2-0.5b-shape", Layers: 24, Embd: 896, Heads: 14, KVHeads: 2, FF: 4864,
		Tied: true, QKVBias: true, RopeTheta: 1e6, Seed: 1, Tokenizer: f.Metadata,
		TypeFor: QuantizedMix(quant.Q4_K, quant.Q8_0),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return path, Write(path, spec)
}
