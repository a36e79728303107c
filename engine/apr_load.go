package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/digest"
)

// APR files start with "APR\0" (or "APR2", older writers). "APR1" and
// "APRN" are aprender's older formats: they are registered too so that
// Load names them instead of calling them unknown.
func init() {
	for _, magic := range []string{"APR\x00", "APR2", "APR1", "APRN"} {
		loaders[magic] = LoadAPR
	}
}

// LoadAPR loads an APR v2 model. Tensors are views into the file's
// mapping with their dims put back in ggml order (APR [out, in] becomes ne
// [in, out]); F32, F16, BF16, Q4_K and Q6_K tensors keep their stored
// bytes. AprQ4 and AprQ8 have no ggml type, so they are dequantized to F32
// at load, into memory: such a model runs as an F32 model in both matmul
// modes. Names are mapped so that bindWeights finds Hugging Face spellings
// (model.layers.N.self_attn.q_proj.weight) and GGUF spellings alike.
//
// Hyperparameters come from the metadata through aprender's aliases
// (apr.Metadata.Config): architecture (else model_type), rms_norm_eps
// (required: a default would silently change every norm), rope_theta
// (default 10000), rope_type (default: the architecture's, as for GGUF).
// The importer leaves head_dim null, so when it is absent the head width is
// the query projection's rows over the head count (qwen3 heads are wider
// than hidden/heads). An lm_head.weight that the file marks as a copy of
// the tied embedding (tied_embeddings: true, identical bytes) is bound as
// the embedding itself, so the model is tied exactly as the GGUF was. The
// model must be closed to release the mapping.
//
// The footer CRC over the whole file is verified once per file version:
// the digest cache (internal/digest) remembers it for the file's inode,
// size, mtime and ctime, and a later load of the unchanged file skips that
// pass (apr.OpenVerified).
func LoadAPR(path string) (*Model, error) {
	f, err := openAPR(path)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	m, err := modelFromAPR(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("engine: %s: %w", path, err)
	}
	m.closer = f
	return m, nil
}

// aprFooterKind names the verified footer CRC in the digest cache.
const aprFooterKind = "apr-footer-crc32"

func openAPR(path string) (*apr.File, error) {
	stored, ver, ok := digest.Lookup(path, aprFooterKind)
	if footer, err := strconv.ParseUint(stored, 16, 32); ok && err == nil {
		return apr.OpenVerified(path, uint32(footer))
	}
	f, err := apr.Open(path)
	if err == nil {
		digest.Store(ver, aprFooterKind, fmt.Sprintf("%08x", f.Footer))
	}
	return f, err
}

func modelFromAPR(f *apr.File) (*Model, error) {
	m := &Model{Path: f.Path, Format: "apr", APRMetadata: f.Metadata.Map(), Tensors: map[string]*Tensor{}}
	// byGGUF: the GGUF spelling of each tensor's name -> tensor.
	byGGUF := map[string]*Tensor{}
	origin := map[string]string{}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		t, err := aprTensor(f, ti)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", ti.Name, err)
		}
		m.Tensors[ti.Name] = t
		g := apr.GGUFName(ti.Name)
		if prev, dup := origin[g]; dup {
			return nil, fmt.Errorf("tensors %q and %q are the same weight (%s) spelled two ways", prev, ti.Name, g)
		}
		origin[g] = ti.Name
		byGGUF[g] = t
	}
	var tiedOut *Tensor
	if tiedCopy(f, byGGUF) {
		// The importer's byte copy of a tied embedding: bind the output to
		// the embedding itself, as the GGUF model does.
		tiedOut = byGGUF["output.weight"]
		delete(byGGUF, "output.weight")
	}
	h, err := hyperFromAPR(f.Metadata, byGGUF)
	if err != nil {
		return nil, err
	}
	m.Hyper = h
	if err := validateHyper(&m.Hyper); err != nil {
		return nil, err
	}
	if err := bindWeights(m, func(name string) (*Tensor, bool) { t, ok := byGGUF[name]; return t, ok }, &tensorNames{container: aprSpelling(h.Arch), gguf: apr.GGUFName}); err != nil {
		return nil, err
	}
	if tiedOut != nil {
		// Its bytes are the embedding's, which the output uses.
		m.used[tiedOut] = true
		m.listUnused()
	}
	return m, nil
}

// aprTensor makes the engine's view of one APR tensor.
func aprTensor(f *apr.File, ti *apr.TensorInfo) (*Tensor, error) {
	dims := slices.Clone(ti.Dims)
	slices.Reverse(dims) // APR outermost-first -> ggml ne innermost-first
	if len(dims) == 0 {
		dims = []uint64{1}
	}
	t := &Tensor{Name: ti.Name, Dims: dims}
	if qt, ok := ti.DType.GGML(); ok {
		if bs := uint64(qt.BlockSize()); dims[0]%bs != 0 {
			return nil, fmt.Errorf("%s rows of %d values are padded to whole %d-value blocks; the kernels need unpadded rows", ti.DType, dims[0], bs)
		}
		t.Type, t.Data = qt, f.Data(ti)
		return t, nil
	}
	switch ti.DType {
	case apr.AprQ4, apr.AprQ8:
		vals, err := f.Float32(ti)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		t.Type, t.Data = quant.F32, buf
		return t, nil
	}
	return nil, fmt.Errorf("dtype %s has no ggml equivalent the engine can compute with", ti.DType)
}

// tiedCopy reports whether the file marks tied embeddings and its output
// weight is a byte-identical copy of the embedding.
func tiedCopy(f *apr.File, byGGUF map[string]*Tensor) bool {
	if tied, err := f.Metadata.Bool("tied_embeddings"); err != nil || !tied {
		return false
	}
	out, ok1 := byGGUF["output.weight"]
	emb, ok2 := byGGUF["token_embd.weight"]
	return ok1 && ok2 && out.Type == emb.Type && slices.Equal(out.Dims, emb.Dims) && bytes.Equal(out.Data, emb.Data)
}

// hyperFromAPR reads the hyperparameters from APR metadata through
// aprender's aliases (apr.Metadata.Config).
func hyperFromAPR(md *apr.Metadata, byGGUF map[string]*Tensor) (Hyper, error) {
	var h Hyper
	c, err := md.Config()
	h.Arch = c.Architecture
	if h.Arch != "" {
		// An unsupported architecture is the clearer error.
		if err := validateArchOnly(h.Arch); err != nil {
			return h, err
		}
	}
	if err != nil {
		return h, err
	}
	if c.NumExperts > 0 {
		return h, errors.New("mixture-of-experts models are not supported")
	}
	// aprender's schema has no RoPE scaling; a Hugging Face style
	// rope_scaling object would otherwise be ignored.
	for _, k := range []string{"rope_scaling", "rope_scaling_type", "rope_scaling_factor"} {
		if md.Has(k) {
			return h, fmt.Errorf("metadata %q: RoPE scaling in APR metadata is not supported by the engine", k)
		}
	}
	h.NLayer, h.NEmbd, h.NHead, h.NHeadKV, h.NFF, h.NCtx = c.NumLayers, c.HiddenSize, c.NumHeads, c.NumKVHeads, c.Intermediate, c.ContextLength
	h.HeadDim = c.HeadDim
	if h.HeadDim == 0 && h.NHead > 0 {
		// aprender's importer leaves head_dim null; where the query
		// projection says otherwise (qwen3), it is the truth.
		h.HeadDim = h.NEmbd / h.NHead
		if wq, ok := byGGUF["blk.0.attn_q.weight"]; ok && len(wq.Dims) == 2 && int(wq.Dims[1])%h.NHead == 0 {
			h.HeadDim = int(wq.Dims[1]) / h.NHead
		}
	}
	h.NRot = h.HeadDim
	if c.RMSNormEps == 0 {
		return h, errors.New(`metadata "rms_norm_eps" is missing`)
	}
	h.RMSEps = float32(c.RMSNormEps)
	h.RopeTheta = 10000
	if c.RopeTheta != 0 {
		h.RopeTheta = float32(c.RopeTheta)
	}
	h.Rope = defaultRope(h.Arch)
	if c.RopeType != nil {
		switch RopeType(*c.RopeType) {
		case RopeNormal, RopeNeox:
			h.Rope = RopeType(*c.RopeType)
		default:
			return h, fmt.Errorf(`metadata "rope_type" %d: want 0 (normal) or 2 (neox)`, *c.RopeType)
		}
	}
	if emb, ok := byGGUF["token_embd.weight"]; ok && len(emb.Dims) == 2 {
		h.NVocab = int(emb.Dims[1])
	}
	return h, nil
}

// aprSpelling gives the name an APR file of arch uses for a GGUF tensor
// name (Hugging Face names for the architectures aprender's importer
// renames), so that a missing tensor is reported as the file spells it.
func aprSpelling(arch string) func(string) string {
	return func(name string) string {
		if apr.UsesHFNames(arch) {
			if hf, ok := apr.HFName(name); ok {
				return hf
			}
		}
		return name
	}
}
