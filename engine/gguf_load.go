package engine

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/falsify/falsify/engine/gguf"
)

func init() { loaders["GGUF"] = LoadGGUF }

// LoadGGUF loads a GGUF model. Tensors are views into the file's mapping,
// kept in their stored types; the model must be closed to release it.
func LoadGGUF(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	m, err := modelFromGGUF(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("engine: %s: %w", path, err)
	}
	m.closer = f
	return m, nil
}

func modelFromGGUF(f *gguf.File) (*Model, error) {
	md := f.Metadata
	h, err := hyperFromGGUF(md)
	if err != nil {
		return nil, err
	}
	m := &Model{Hyper: h, Path: f.Path, Format: "gguf", GGUFMetadata: md, Tensors: map[string]*Tensor{}}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		m.Tensors[ti.Name] = &Tensor{Name: ti.Name, Type: ti.Type, Dims: ti.Dims, Data: alignedData(f.Data(ti))}
	}
	if emb, ok := m.Tensors["token_embd.weight"]; ok && len(emb.Dims) == 2 {
		m.Hyper.NVocab = int(emb.Dims[1])
	}
	if err := validateHyper(&m.Hyper); err != nil {
		return nil, err
	}
	if err := bindWeights(m, func(name string) (*Tensor, bool) { t, ok := m.Tensors[name]; return t, ok }, nil); err != nil {
		return nil, err
	}
	return m, nil
}

// hyperFromGGUF reads the hyperparameters under "<arch>." keys, with
// llama.cpp's defaults for the optional ones.
func hyperFromGGUF(md *gguf.Metadata) (Hyper, error) {
	var h Hyper
	arch, err := md.String(gguf.KeyArchitecture)
	if err != nil {
		return h, err
	}
	h.Arch = arch
	if err := validateArchOnly(arch); err != nil {
		return h, err
	}
	u := func(key string, dst *int) {
		if err != nil {
			return
		}
		var v uint64
		v, err = md.ArchUint(key)
		if err == nil && v > 1<<31 {
			err = fmt.Errorf("metadata %q: value %d out of range", md.ArchKey(key), v)
		}
		*dst = int(v)
	}
	u(gguf.KeyBlockCount, &h.NLayer)
	u(gguf.KeyEmbeddingLength, &h.NEmbd)
	u(gguf.KeyHeadCount, &h.NHead)
	u(gguf.KeyFeedForwardLen, &h.NFF)
	if err != nil {
		return h, err
	}
	h.NHeadKV = h.NHead
	if md.ArchHas(gguf.KeyHeadCountKV) {
		u(gguf.KeyHeadCountKV, &h.NHeadKV)
	}
	if h.NHead > 0 {
		h.HeadDim = h.NEmbd / h.NHead
	}
	if md.ArchHas(gguf.KeyKeyLength) {
		u(gguf.KeyKeyLength, &h.HeadDim)
	}
	h.NRot = h.HeadDim
	if md.ArchHas(gguf.KeyRopeDimCount) {
		u(gguf.KeyRopeDimCount, &h.NRot)
	}
	// llama.cpp requires context_length (n_ctx_train).
	u(gguf.KeyContextLength, &h.NCtx)
	if err != nil {
		return h, err
	}
	if md.ArchHas(gguf.KeyValueLength) {
		var vl int
		u(gguf.KeyValueLength, &vl)
		if err == nil && vl != h.HeadDim {
			return h, fmt.Errorf("value_length %d differs from key_length %d: not supported", vl, h.HeadDim)
		}
	}
	eps, err := md.ArchFloat(gguf.KeyRMSEps)
	if err != nil {
		return h, err
	}
	h.RMSEps = float32(eps)
	h.RopeTheta = 10000
	if md.ArchHas(gguf.KeyRopeFreqBase) {
		theta, err := md.ArchFloat(gguf.KeyRopeFreqBase)
		if err != nil {
			return h, err
		}
		h.RopeTheta = float32(theta)
	}
	if err := ropeScalingFromGGUF(md, &h); err != nil {
		return h, err
	}
	// attention.causal false (an embedding model's bidirectional
	// attention) would make llama.cpp attend to later positions; the
	// engine's attention is causal only.
	if md.ArchHas(keyAttentionCausal) {
		causal, err := md.Bool(md.ArchKey(keyAttentionCausal))
		if err != nil {
			return h, err
		}
		if !causal {
			return h, fmt.Errorf("metadata %q = false: non-causal attention is not supported by the engine", md.ArchKey(keyAttentionCausal))
		}
	}
	// nextn_predict_layers > 0: llama.cpp runs block_count minus that
	// many layers (the rest are multi-token-prediction heads).
	if md.ArchHas(keyNextNLayers) {
		n, err := md.ArchUint(keyNextNLayers)
		if err != nil {
			return h, err
		}
		if n > 0 {
			return h, fmt.Errorf("metadata %q = %d: multi-token-prediction layers are not supported by the engine", md.ArchKey(keyNextNLayers), n)
		}
	}
	if md.ArchHas(gguf.KeyExpertCount) {
		if n, _ := md.ArchUint(gguf.KeyExpertCount); n > 0 {
			return h, errors.New("mixture-of-experts models are not supported")
		}
	}
	h.Rope = defaultRope(arch)
	return h, nil
}

// Metadata keys of RoPE scaling (per-architecture suffixes), as
// llama_model_base::load_hparams reads them.
const (
	keyRopeScaleLinear = "rope.scale_linear" // the factor's old key
	keyRopeAttnFactor  = "rope.scaling.attn_factor"
	keyRopeOrigCtx     = "rope.scaling.original_context_length"
	keyAttentionCausal = "attention.causal"
	keyNextNLayers     = "nextn_predict_layers"
)

// ropeScalingFromGGUF reads RoPE scaling as llama.cpp does: the type
// defaults to "linear" when absent; the factor is rope.scaling.factor,
// else the old rope.scale_linear, and 0 or absent means unscaled; type
// "none" never scales. "linear" and "yarn" are implemented (with
// attn_factor; YaRN with original_context_length and ggml's default betas
// 32 and 1, which llama.cpp does not read from these architectures'
// files); "longrope" is refused by name, and so is any other type string
// (llama.cpp aborts on it).
func ropeScalingFromGGUF(md *gguf.Metadata, h *Hyper) error {
	typ := "linear"
	if md.ArchHas(gguf.KeyRopeScalingType) {
		s, err := md.String(md.ArchKey(gguf.KeyRopeScalingType))
		if err != nil {
			return err
		}
		typ = s
	}
	float := func(key string) (float32, bool, error) {
		if !md.ArchHas(key) {
			return 0, false, nil
		}
		v, err := md.ArchFloat(key)
		return float32(v), true, err
	}
	factor, ok, err := float(gguf.KeyRopeScaleFactor)
	if err != nil {
		return err
	}
	if !ok {
		if factor, _, err = float(keyRopeScaleLinear); err != nil {
			return err
		}
	}
	attn, ok, err := float(keyRopeAttnFactor)
	if err != nil {
		return err
	}
	if ok {
		h.RopeAttnFactor = attn
		if !(attn > 0) {
			return fmt.Errorf("metadata %q = %g: must be positive", md.ArchKey(keyRopeAttnFactor), attn)
		}
	}
	switch typ {
	case "none":
		h.RopeScaling, h.RopeFreqScale = "none", 1
	case "linear":
		h.RopeScaling, h.RopeFreqScale = "linear", 1
		if factor != 0 {
			if !(factor > 0) || math.IsInf(float64(factor), 0) {
				return fmt.Errorf("metadata %q = %g: must be positive and finite", md.ArchKey(gguf.KeyRopeScaleFactor), factor)
			}
			h.RopeFreqScale = 1 / factor
		}
		if h.RopeFreqScale == 1 {
			h.RopeScaling = "none"
		}
	case "yarn":
		h.RopeScaling, h.RopeFreqScale = "yarn", 1
		if factor != 0 {
			if !(factor > 0) || math.IsInf(float64(factor), 0) {
				return fmt.Errorf("metadata %q = %g: must be positive and finite", md.ArchKey(gguf.KeyRopeScaleFactor), factor)
			}
			h.RopeFreqScale = 1 / factor
		}
		// n_ctx_orig_yarn: original_context_length, else context_length.
		nCtxOrig := h.NCtx
		if md.ArchHas(keyRopeOrigCtx) {
			v, err := md.ArchUint(keyRopeOrigCtx)
			if err != nil {
				return err
			}
			if v == 0 || v > 1<<31 {
				return fmt.Errorf("metadata %q = %d: out of range", md.ArchKey(keyRopeOrigCtx), v)
			}
			nCtxOrig = int(v)
		}
		if nCtxOrig <= 0 {
			return fmt.Errorf("yarn RoPE scaling needs %q or %q", md.ArchKey(keyRopeOrigCtx), md.ArchKey(gguf.KeyContextLength))
		}
		attnFactor := h.RopeAttnFactor
		if attnFactor == 0 {
			attnFactor = 1
		}
		h.RopeExtFactor = 1
		h.RopeAttnFactor = yarnAttnFactor(h.RopeFreqScale, attnFactor)
		h.RopeCorrDims = yarnCorrDims(h.NRot, nCtxOrig, h.RopeTheta, 32, 1)
	case "longrope":
		return fmt.Errorf("metadata %q = %q: LongRoPE scaling is not supported by the engine (refused rather than computed without it)", md.ArchKey(gguf.KeyRopeScalingType), typ)
	default:
		return fmt.Errorf("metadata %q = %q: unknown RoPE scaling type (llama.cpp knows none, linear, yarn, longrope)", md.ArchKey(gguf.KeyRopeScalingType), typ)
	}
	return nil
}

func validateArchOnly(arch string) error {
	return validateHyper(&Hyper{Arch: arch, NLayer: 1, NEmbd: 2, NHead: 1, NHeadKV: 1, NFF: 1, HeadDim: 2, NRot: 2, RMSEps: 1, RopeTheta: 1})
}

// tensorAlign is the address alignment the kernels read tensor data at
// (f32View reinterprets F32 bytes in place).
const tensorAlign = 4

// alignedData returns b, or a copy of it when it does not start at a
// tensorAlign boundary: general.alignment may be 1 or 2, and llama.cpp
// runs such files (its loader copies or reads unaligned). Go's allocator
// aligns a fresh slice of 4 bytes or more to at least 4.
func alignedData(b []byte) []byte {
	if len(b) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%tensorAlign == 0 {
		return b
	}
	return append(make([]byte, 0, len(b)), b...)
}
