package engine

import (
	"errors"
	"fmt"

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
		m.Tensors[ti.Name] = &Tensor{Name: ti.Name, Type: ti.Type, Dims: ti.Dims, Data: f.Data(ti)}
	}
	if emb, ok := m.Tensors["token_embd.weight"]; ok && len(emb.Dims) == 2 {
		m.Hyper.NVocab = int(emb.Dims[1])
	}
	if err := validateHyper(&m.Hyper); err != nil {
		return nil, err
	}
	if err := bindWeights(m, func(name string) (*Tensor, bool) { t, ok := m.Tensors[name]; return t, ok }); err != nil {
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
	if md.ArchHas(gguf.KeyContextLength) {
		u(gguf.KeyContextLength, &h.NCtx)
	}
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
	if md.ArchHas(gguf.KeyRopeScalingType) {
		if s, _ := md.String(md.ArchKey(gguf.KeyRopeScalingType)); s != "" && s != "none" {
			return h, fmt.Errorf("rope scaling %q: not supported", s)
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

func validateArchOnly(arch string) error {
	return validateHyper(&Hyper{Arch: arch, NLayer: 1, NEmbd: 2, NHead: 1, NHeadKV: 1, NFF: 1, HeadDim: 2, NRot: 2, RMSEps: 1, RopeTheta: 1})
}
