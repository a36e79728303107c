package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/engine/tokenizer"
	"github.com/falsify/falsify/internal/digest"
	"github.com/falsify/falsify/internal/mmapfile"
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

	// RoPE scaling as llama.cpp applies it for these architectures:
	// RopeScaling "none", "linear" or "yarn" (rope.scaling.type; a factor
	// without a type is linear, as llama.cpp reads it), RopeFreqScale the inverse
	// of rope.scaling.factor (or the old rope.scale_linear), 1 when
	// unscaled, and RopeAttnFactor rope.scaling.attn_factor (ggml's
	// mscale, multiplying cos and sin; 1 when absent). Zero values mean 1.
	RopeScaling    string
	RopeFreqScale  float32
	RopeAttnFactor float32
	// YaRN ("yarn"): RopeExtFactor is ggml's ext_factor (1 for YaRN, 0
	// otherwise) and RopeCorrDims the first and last dimension pair of the
	// ramp between interpolated and extrapolated angles
	// (ggml_rope_yarn_corr_dims for original_context_length, beta_fast 32,
	// beta_slow 1). RopeAttnFactor then holds llama.cpp's YaRN attention
	// factor (llama_context's yarn_attn_factor).
	RopeExtFactor float32
	RopeCorrDims  [2]float32
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

	// RopeFreqs holds llama.cpp's per-dimension RoPE frequency factors
	// (rope_freqs.weight, NRot/2 values; Llama 3.1/3.2 "llama3" scaling):
	// each pair's angle is divided by its factor. Nil when absent.
	RopeFreqs []float32

	// Unused lists, sorted, the tensors of the file (by the container's
	// names) that the forward pass never reads. llama.cpp refuses a file
	// with tensors its graph does not create; the engine reports them
	// (trace, inspect, provenance) and refuses them in strict mode
	// (CheckStrict).
	Unused []string
	used   map[*Tensor]bool

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

// SHA256 returns the hex sha256 of the model file, computed once per
// Model, and read from the digest cache (internal/digest) while the file
// is unchanged since it was last hashed.
func (m *Model) SHA256() (string, error) {
	m.shaOnce.Do(func() {
		if m.Path == "" {
			m.shaErr = errors.New("engine: model has no file")
			return
		}
		m.sha, _, m.shaErr = digest.SHA256(context.Background(), m.Path)
		if m.shaErr != nil {
			m.shaErr = fmt.Errorf("engine: %w", m.shaErr)
		}
	})
	return m.sha, m.shaErr
}

// Load opens a model file, choosing the format by its magic bytes.
func Load(path string) (*Model, error) {
	f, err := mmapfile.OpenRegular(path)
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

// tensorNames translates tensor names between GGUF spelling and a
// container's own (nil functions: the same).
type tensorNames struct {
	container func(gguf string) string // GGUF name -> the file's name
	gguf      func(name string) string // the file's name -> GGUF name
}

// tensorSource resolves the names the forward pass needs to tensors; each
// format supplies one (GGUF names, or APR's Hugging Face names).
type tensorSource func(name string) (*Tensor, bool)

// bindWeights finds every weight of the llama-family graph by its GGUF
// name and checks its shape against the hyperparameters. It is the one
// place that knows tensor names. names translates between GGUF names and
// the container's own (APR files name tensors the Hugging Face way), so
// that errors name tensors as the file does; nil for GGUF files. Tensors
// llama.cpp's graph computes with for the architecture but this engine
// does not implement are refused by name (unimplementedTensor) before
// anything is bound.
func bindWeights(m *Model, lookup tensorSource, names *tensorNames) error {
	h := &m.Hyper
	if names == nil {
		names = &tensorNames{}
	}
	spell := func(g string) string {
		if names.container != nil {
			return names.container(g)
		}
		return g
	}
	for _, name := range slices.Sorted(maps.Keys(m.Tensors)) {
		g := name
		if names.gguf != nil {
			g = names.gguf(name)
		}
		if why := unimplementedTensor(h.Arch, g); why != "" {
			if g != name {
				name = fmt.Sprintf("%s (GGUF name %q)", strconv.Quote(name), g)
			} else {
				name = strconv.Quote(name)
			}
			return fmt.Errorf("tensor %s: %s: not supported by the engine (llama.cpp computes with it, so ignoring it would compute something else)", name, why)
		}
	}
	m.used = map[*Tensor]bool{}
	need := func(name string, dims ...int) (*Tensor, error) {
		t, ok := lookup(name)
		if !ok {
			if s := spell(name); s != name {
				return nil, fmt.Errorf("tensor %q (GGUF name %q) missing", s, name)
			}
			return nil, fmt.Errorf("tensor %q missing", name)
		}
		m.used[t] = true
		return t, checkDims(t, dims...)
	}
	optional := func(name string, dims ...int) (*Tensor, error) {
		t, ok := lookup(name)
		if !ok {
			return nil, nil
		}
		m.used[t] = true
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
	if err := bindRopeFreqs(m, optional); err != nil {
		return err
	}
	if err := checkTypes(m); err != nil {
		return err
	}
	m.listUnused()
	return nil
}

// listUnused sets m.Unused from the tensors no binding read.
func (m *Model) listUnused() {
	m.Unused = m.Unused[:0]
	for name, t := range m.Tensors {
		if !m.used[t] {
			m.Unused = append(m.Unused, name)
		}
	}
	slices.Sort(m.Unused)
}

// CheckStrict refuses a model with tensors the forward pass does not read
// (strict mode: llama.cpp refuses such files too), naming them.
func (m *Model) CheckStrict() error {
	if len(m.Unused) == 0 {
		return nil
	}
	return fmt.Errorf("engine: %s: strict mode: %d tensor(s) the engine does not use: %s", m.Path, len(m.Unused), strings.Join(m.Unused, ", "))
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
// buffer is sized from them, and fills the RoPE scaling defaults.
func validateHyper(h *Hyper) error {
	if h.RopeScaling == "" {
		h.RopeScaling = "none"
	}
	if h.RopeFreqScale == 0 {
		h.RopeFreqScale = 1
	}
	if h.RopeAttnFactor == 0 {
		h.RopeAttnFactor = 1
	}
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
	case h.NRot != h.HeadDim:
		// Partial RoPE: llama.cpp refuses it for llama ("invalid n_rot")
		// and asserts n_rot == head dim in the qwen2 and qwen3 graphs, so
		// there is nothing to check such a model against.
		return fmt.Errorf("rope.dimension_count %d differs from the head dimension %d (partial RoPE): llama.cpp refuses it for %s, so the engine does too", h.NRot, h.HeadDim, h.Arch)
	case !(h.RMSEps > 0):
		return fmt.Errorf("layer_norm_rms_epsilon %g must be positive", h.RMSEps)
	case !(h.RopeTheta > 0):
		return fmt.Errorf("rope.freq_base %g must be positive", h.RopeTheta)
	case !(h.RopeFreqScale > 0) || math.IsInf(float64(h.RopeFreqScale), 0):
		return fmt.Errorf("rope.scaling.factor gives frequency scale %g: must be positive and finite", h.RopeFreqScale)
	case !(h.RopeAttnFactor > 0) || math.IsInf(float64(h.RopeAttnFactor), 0):
		return fmt.Errorf("rope.scaling.attn_factor %g must be positive and finite", h.RopeAttnFactor)
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
