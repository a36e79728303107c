package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/engine/tokenizer"
)

// ErrUnsupportedArch is returned for a model whose architecture the forward
// pass does not implement.
var ErrUnsupportedArch = errors.New("unsupported architecture")

// SupportedArchitectures lists the architectures Load accepts.
var SupportedArchitectures = []string{"llama", "mistral", "qwen2", "qwen3"}

// RopeType is how RoPE pairs the dimensions of a head.
type RopeType int

const (
	// RopeNormal rotates adjacent pairs (2i, 2i+1): llama, mistral.
	RopeNormal RopeType = 0
	// RopeNeox rotates pairs (i, i+n_rot/2): qwen2, qwen3 (GPT-NeoX style).
	RopeNeox RopeType = 2
)

func (r RopeType) String() string {
	if r == RopeNeox {
		return "neox"
	}
	return "normal"
}

// Hyper holds the hyperparameters, read once from the model's metadata.
type Hyper struct {
	Arch       string
	NLayer     int     // transformer blocks
	NEmbd      int     // hidden width
	NHead      int     // query heads
	NHeadKV    int     // key/value heads (GQA when < NHead)
	HeadDim    int     // per-head width of Q and K (and V)
	NFF        int     // FFN width
	NVocab     int     // rows of the token embedding
	NRot       int     // RoPE dimensions per head (<= HeadDim)
	NCtx       int     // trained context length (0 if unknown)
	RMSEps     float32 // RMSNorm epsilon
	RopeTheta  float32 // RoPE frequency base
	Rope       RopeType
	TiedOutput bool // logits use the token embedding (no separate output weight)
}

// QDim is the width of all query heads together.
func (h Hyper) QDim() int { return h.NHead * h.HeadDim }

// KVDim is the width of all key (or value) heads together.
func (h Hyper) KVDim() int { return h.NHeadKV * h.HeadDim }

// Tensor is a weight in its stored type: a view into the model file's
// mapping (or into memory for converted models).
type Tensor struct {
	Name string
	Type quant.Type
	Dims []uint64 // ggml ne: Dims[0] is the row length (input width)
	Data []byte
}

// Rows is the number of rows (output width for a matrix).
func (t *Tensor) Rows() int {
	n := 1
	for _, d := range t.Dims[1:] {
		n *= int(d)
	}
	return n
}

// Cols is the row length (input width for a matrix).
func (t *Tensor) Cols() int { return int(t.Dims[0]) }

// rowBytes is the byte size of one row.
func (t *Tensor) rowBytes() int { return len(t.Data) / t.Rows() }

// Layer holds the weights of one transformer block, bound by name once in
// bindWeights. Shapes are (rows, cols) = (output, input).
type Layer struct {
	AttnNorm *Tensor // (NEmbd)
	Wq       *Tensor // (QDim, NEmbd)
	Wk       *Tensor // (KVDim, NEmbd)
	Wv       *Tensor // (KVDim, NEmbd)
	Bq       *Tensor // (QDim) or nil
	Bk       *Tensor // (KVDim) or nil
	Bv       *Tensor // (KVDim) or nil
	QNorm    *Tensor // (HeadDim) or nil: qwen3's per-head RMSNorm of Q
	KNorm    *Tensor // (HeadDim) or nil
	Wo       *Tensor // (NEmbd, QDim)
	Bo       *Tensor // (NEmbd) or nil
	FFNNorm  *Tensor // (NEmbd)
	WGate    *Tensor // (NFF, NEmbd)
	WUp      *Tensor // (NFF, NEmbd)
	WDown    *Tensor // (NEmbd, NFF)
}

// Model is a loaded model: hyperparameters, weights as typed views, and
// where it came from.
type Model struct {
	Hyper      Hyper
	TokEmbd    *Tensor // (NVocab, NEmbd)
	OutputNorm *Tensor // (NEmbd)
	Output     *Tensor // (NVocab, NEmbd); TokEmbd when tied
	Layers     []Layer

	Path   string // file the model was loaded from
	Format string // "gguf" or "apr"

	// Tensors by the container's own names (GGUF names for GGUF files).
	Tensors map[string]*Tensor

	// The container's metadata (one of them is set), read by the tokenizer
	// and by provenance.
	GGUFMetadata *gguf.Metadata
	APRMetadata  map[string]any

	closer  io.Closer
	tokOnce sync.Once
	tok     *tokenizer.Tokenizer
	tokErr  error
	shaOnce sync.Once
	sha     string
	shaErr  error

	backendsMu sync.Mutex
	backends   map[backendKey]*boundBackend // opened on first use (backends.go)
}

// Close releases the backends opened for the model and the file mapping.
// Tensors and sessions must not be used after.
func (m *Model) Close() error {
	err := m.closeBackends()
	if m.closer == nil {
		return err
	}
	err = errors.Join(err, m.closer.Close())
	m.closer = nil
	return err
}

// SHA256 returns the hex sha256 of the model file, computed once.
func (m *Model) SHA256() (string, error) {
	m.shaOnce.Do(func() {
		if m.Path == "" {
			m.shaErr = errors.New("engine: model has no file")
			return
		}
		f, err := os.Open(m.Path)
		if err != nil {
			m.shaErr = err
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			m.shaErr = fmt.Errorf("engine: hash %s: %w", m.Path, err)
			return
		}
		m.sha = hex.EncodeToString(h.Sum(nil))
	})
	return m.sha, m.shaErr
}

// Load opens a model file, choosing the format by its magic bytes.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("engine: %s: reading magic: %w", path, err)
	}
	loader, ok := loaders[string(magic[:])]
	if !ok {
		return nil, fmt.Errorf("engine: %s: unknown model format (magic %q; supported: %s)", path, magic[:], knownFormats())
	}
	return loader(path)
}

// loaders maps a file's first four bytes to its loader. Formats register
// themselves here (gguf.go, apr.go).
var loaders = map[string]func(path string) (*Model, error){}

func knownFormats() string {
	var names []string
	for magic := range loaders {
		names = append(names, fmt.Sprintf("%q", magic))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// tensorSource resolves the names the forward pass needs to tensors; each
// format supplies one (GGUF names, or APR's Hugging Face names).
type tensorSource func(name string) (*Tensor, bool)

// bindWeights finds every weight of the llama-family graph by its GGUF
// name and checks its shape against the hyperparameters. It is the one
// place that knows tensor names.
func bindWeights(m *Model, lookup tensorSource) error {
	h := &m.Hyper
	need := func(name string, dims ...int) (*Tensor, error) {
		t, ok := lookup(name)
		if !ok {
			return nil, fmt.Errorf("tensor %q missing", name)
		}
		return t, checkDims(t, dims...)
	}
	optional := func(name string, dims ...int) (*Tensor, error) {
		t, ok := lookup(name)
		if !ok {
			return nil, nil
		}
		return t, checkDims(t, dims...)
	}
	var err error
	if m.TokEmbd, err = need("token_embd.weight", h.NEmbd, h.NVocab); err != nil {
		return err
	}
	if m.OutputNorm, err = need("output_norm.weight", h.NEmbd); err != nil {
		return err
	}
	if m.Output, err = optional("output.weight", h.NEmbd, h.NVocab); err != nil {
		return err
	}
	if m.Output == nil {
		m.Output = m.TokEmbd
		h.TiedOutput = true
	}
	m.Layers = make([]Layer, h.NLayer)
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		binds := []struct {
			dst      **Tensor
			name     string
			required bool
			dims     []int
		}{
			{&l.AttnNorm, "attn_norm.weight", true, []int{h.NEmbd}},
			{&l.Wq, "attn_q.weight", true, []int{h.NEmbd, h.QDim()}},
			{&l.Wk, "attn_k.weight", true, []int{h.NEmbd, h.KVDim()}},
			{&l.Wv, "attn_v.weight", true, []int{h.NEmbd, h.KVDim()}},
			{&l.Bq, "attn_q.bias", false, []int{h.QDim()}},
			{&l.Bk, "attn_k.bias", false, []int{h.KVDim()}},
			{&l.Bv, "attn_v.bias", false, []int{h.KVDim()}},
			{&l.QNorm, "attn_q_norm.weight", false, []int{h.HeadDim}},
			{&l.KNorm, "attn_k_norm.weight", false, []int{h.HeadDim}},
			{&l.Wo, "attn_output.weight", true, []int{h.QDim(), h.NEmbd}},
			{&l.Bo, "attn_output.bias", false, []int{h.NEmbd}},
			{&l.FFNNorm, "ffn_norm.weight", true, []int{h.NEmbd}},
			{&l.WGate, "ffn_gate.weight", true, []int{h.NEmbd, h.NFF}},
			{&l.WUp, "ffn_up.weight", true, []int{h.NEmbd, h.NFF}},
			{&l.WDown, "ffn_down.weight", true, []int{h.NFF, h.NEmbd}},
		}
		for _, b := range binds {
			get := optional
			if b.required {
				get = need
			}
			if *b.dst, err = get(p+b.name, b.dims...); err != nil {
				return err
			}
		}
		if h.Arch == "qwen3" && (l.QNorm == nil || l.KNorm == nil) {
			return fmt.Errorf("layer %d: qwen3 needs attn_q_norm and attn_k_norm", i)
		}
	}
	return checkTypes(m)
}

func checkDims(t *Tensor, want ...int) error {
	if len(t.Dims) != len(want) {
		return fmt.Errorf("tensor %q has dims %v, want %v", t.Name, t.Dims, want)
	}
	for i, w := range want {
		if int(t.Dims[i]) != w {
			return fmt.Errorf("tensor %q has dims %v, want %v", t.Name, t.Dims, want)
		}
	}
	return nil
}

// checkTypes refuses tensors whose block type the kernels cannot compute
// with, naming the tensor and the type (never reading them as another).
func checkTypes(m *Model) error {
	for name, t := range m.Tensors {
		if err := quant.CheckDecodable(t.Type); err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
	}
	return nil
}

// validateHyper checks the hyperparameters for consistency before any
// buffer is sized from them.
func validateHyper(h *Hyper) error {
	if !slices.Contains(SupportedArchitectures, h.Arch) {
		return fmt.Errorf("%w %q (supported: %s)", ErrUnsupportedArch, h.Arch, strings.Join(SupportedArchitectures, ", "))
	}
	switch {
	case h.NLayer <= 0 || h.NLayer > 1024:
		return fmt.Errorf("block_count %d out of range", h.NLayer)
	case h.NEmbd <= 0 || h.NHead <= 0 || h.NHeadKV <= 0 || h.NFF <= 0:
		return fmt.Errorf("embedding_length %d, head_count %d, head_count_kv %d, feed_forward_length %d: all must be positive", h.NEmbd, h.NHead, h.NHeadKV, h.NFF)
	case h.NHead%h.NHeadKV != 0:
		return fmt.Errorf("head_count %d is not a multiple of head_count_kv %d", h.NHead, h.NHeadKV)
	case h.HeadDim <= 0 || h.HeadDim%2 != 0:
		return fmt.Errorf("head dimension %d must be positive and even", h.HeadDim)
	case h.NRot <= 0 || h.NRot > h.HeadDim || h.NRot%2 != 0:
		return fmt.Errorf("rope dimension_count %d must be even and within the head dimension %d", h.NRot, h.HeadDim)
	case !(h.RMSEps > 0):
		return fmt.Errorf("layer_norm_rms_epsilon %g must be positive", h.RMSEps)
	case !(h.RopeTheta > 0):
		return fmt.Errorf("rope.freq_base %g must be positive", h.RopeTheta)
	}
	return nil
}

// defaultRope returns the RoPE pairing llama.cpp uses for an architecture
// (llama_model_rope_type).
func defaultRope(arch string) RopeType {
	switch arch {
	case "qwen2", "qwen3", "qwen2moe", "qwen3moe", "phi2", "phi3", "gemma", "gemma2", "gpt-neox", "falcon", "stablelm", "internlm2", "nemotron":
		return RopeNeox
	}
	return RopeNormal
}
