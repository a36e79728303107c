package apr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
)

// copiedTypes are the GGUF types aprender's importer stores byte for byte.
var copiedTypes = map[quant.Type]DType{quant.F32: F32, quant.F16: F16, quant.Q4_K: Q4_K, quant.Q6_K: Q6_K}

// ConvertOptions adjust FromGGUF.
type ConvertOptions struct {
	// ForceF32 dequantizes every tensor to F32 even when all types could
	// be copied: the importer's fallback path, on any model.
	ForceF32 bool
}

// ConvertReport says what FromGGUF did.
type ConvertReport struct {
	Arch           string            `json:"architecture"`
	HFNames        bool              `json:"hf_names"`        // tensors renamed to Hugging Face names
	Fallback       bool              `json:"f32_fallback"`    // the whole model was dequantized to F32
	FallbackTypes  []string          `json:"fallback_types"`  // the GGUF types that forced it (none when requested)
	TiedEmbeddings bool              `json:"tied_embeddings"` // lm_head.weight synthesized from the embedding
	SourceTypes    map[string]int    `json:"source_types"`    // GGUF type -> tensors
	OutputTypes    map[string]int    `json:"output_types"`    // APR dtype -> tensors
	TensorBytes    uint64            `json:"tensor_bytes"`    // unpadded tensor data written
	Tensors        []ConvertedTensor `json:"tensors"`
}

// ConvertedTensor is one tensor of the converted file.
type ConvertedTensor struct {
	Source     string   `json:"source"` // GGUF name ("" for nothing)
	Name       string   `json:"name"`   // APR name
	SourceType string   `json:"source_type"`
	DType      string   `json:"dtype"`
	Dims       []uint64 `json:"dims"` // APR order
	Bytes      uint64   `json:"bytes"`
	Copied     bool     `json:"copied"` // bytes identical to the GGUF tensor's
}

// FromGGUF plans the APR file aprender's importer makes of a GGUF model
// (see the package doc): tensors renamed for qwen2/qwen3, 2-D dims
// reversed, Q4_K/Q6_K/F16/F32 copied byte for byte unless some tensor's
// type forces the F32 fallback, lm_head.weight synthesized for tied
// embeddings, and the importer's metadata. The returned Writer reads
// tensor bytes from f when written, so f must stay open until then.
func FromGGUF(f *gguf.File) (*Writer, *ConvertReport, error) {
	return FromGGUFWith(f, ConvertOptions{})
}

// FromGGUFWith is FromGGUF with options.
func FromGGUFWith(f *gguf.File, opts ConvertOptions) (*Writer, *ConvertReport, error) {
	md := f.Metadata
	arch, err := md.String(gguf.KeyArchitecture)
	if err != nil {
		return nil, nil, fmt.Errorf("apr: convert %s: %w", f.Path, err)
	}
	if err := checkRopeScalingConvertible(md); err != nil {
		return nil, nil, fmt.Errorf("apr: convert %s: %w", f.Path, err)
	}
	rep := &ConvertReport{Arch: arch, HFNames: UsesHFNames(arch), SourceTypes: map[string]int{}, OutputTypes: map[string]int{}}
	forcing := []string{} // JSON [] rather than null when none
	for i := range f.Tensors {
		t := &f.Tensors[i]
		rep.SourceTypes[t.Type.String()]++
		if _, ok := copiedTypes[t.Type]; !ok && !slices.Contains(forcing, t.Type.String()) {
			forcing = append(forcing, t.Type.String())
		}
	}
	slices.Sort(forcing)
	rep.Fallback, rep.FallbackTypes = len(forcing) > 0 || opts.ForceF32, forcing

	w := NewWriter()
	c := converter{f: f, w: w, rep: rep}
	for i := range f.Tensors {
		if err := c.tensor(&f.Tensors[i], ""); err != nil {
			return nil, nil, fmt.Errorf("apr: convert %s: %w", f.Path, err)
		}
	}
	_, hasOutput := f.Tensor("output.weight")
	if emb, ok := f.Tensor("token_embd.weight"); ok && !hasOutput {
		rep.TiedEmbeddings = true
		if err := c.tensor(emb, "lm_head.weight"); err != nil {
			return nil, nil, fmt.Errorf("apr: convert %s: %w", f.Path, err)
		}
	}
	if err := importerMetadata(w.md, f, rep); err != nil {
		return nil, nil, fmt.Errorf("apr: convert %s: %w", f.Path, err)
	}
	return w, rep, nil
}

type converter struct {
	f   *gguf.File
	w   *Writer
	rep *ConvertReport
}

// tensor adds one GGUF tensor under its APR name (or under name, for the
// synthesized lm_head).
func (c *converter) tensor(t *gguf.TensorInfo, name string) error {
	if name == "" {
		name = t.Name
		if c.rep.HFNames {
			name, _ = HFName(t.Name)
		}
	}
	dims := slices.Clone(t.Dims)
	if len(dims) >= 2 {
		slices.Reverse(dims) // ggml ne [in, out] -> APR [out, in]; the bytes stay
	}
	ct := ConvertedTensor{Source: t.Name, Name: name, SourceType: t.Type.String(), Dims: dims}
	var err error
	if d, ok := copiedTypes[t.Type]; ok && !c.rep.Fallback {
		ct.DType, ct.Copied = d.String(), true
		err = c.w.AddTensor(name, d, dims, c.f.Data(t))
	} else {
		if err := quant.CheckDecodable(t.Type); err != nil {
			return fmt.Errorf("tensor %q: cannot dequantize for the F32 fallback: %w", t.Name, err)
		}
		ct.DType = F32.String()
		err = c.w.AddTensorFunc(name, F32, dims, f32Producer(t, c.f.Data(t)))
	}
	if err != nil {
		return err
	}
	ct.Bytes = c.w.tensors[len(c.w.tensors)-1].info.Size
	c.rep.OutputTypes[ct.DType]++
	c.rep.TensorBytes += ct.Bytes
	c.rep.Tensors = append(c.rep.Tensors, ct)
	return nil
}

// f32Producer returns a function writing the tensor as little-endian F32,
// one ggml row (Dims[0] values) at a time, with quant.DequantizeRow
// (ggml's to_float).
func f32Producer(t *gguf.TensorInfo, data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		if t.Elements() == 0 {
			return nil // a zero-size tensor has no rows
		}
		cols := int(t.Dims[0])
		rows := int(t.Elements()) / cols
		rb := len(data) / rows
		vals := make([]float32, cols)
		buf := make([]byte, 4*cols)
		for r := range rows {
			if err := quant.DequantizeRow(t.Type, vals, data[r*rb:(r+1)*rb]); err != nil {
				return fmt.Errorf("row %d: %w", r, err)
			}
			for i, v := range vals {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	}
}

// ropeNeox are the architectures whose RoPE rotates split halves
// (rope_type 2) in aprender's inference, matched by prefix.
var ropeNeox = []string{"qwen", "phi", "gemma", "gpt-neox", "gptneox", "falcon", "deepseek", "internlm2", "nemotron", "stablelm"}

// RopeTypeFor returns the rope_type aprender's importer infers from the
// architecture: 2 (NEOX) for the qwen, phi, gemma, gpt-neox, falcon,
// deepseek, internlm2 and nemotron families, 0 otherwise (llama, mistral).
func RopeTypeFor(arch string) int {
	for _, p := range ropeNeox {
		if strings.HasPrefix(arch, p) {
			return 2
		}
	}
	return 0
}

// orderedObject is a JSON object that keeps its key order when written.
type orderedObject struct {
	keys []string
	vals []any
}

func (o *orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// importerMetadata fills md as aprender's raw GGUF import path does
// (write_apr_file_raw): the known fields in AprV2Metadata's order, then
// the custom keys.
func importerMetadata(md *Metadata, f *gguf.File, rep *ConvertReport) error {
	g := f.Metadata
	arch := rep.Arch
	var firstErr error
	archUint := func(suffix string) any {
		if !g.ArchHas(suffix) {
			return nil
		}
		u, err := g.ArchUint(suffix)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return u
	}
	archFloat32 := func(suffix string) any {
		if !g.ArchHas(suffix) {
			return nil
		}
		v, err := g.ArchFloat(suffix)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return float32(v)
	}
	vocab := archUint(gguf.KeyVocabSizeArch)
	if emb, ok := f.Tensor("token_embd.weight"); vocab == nil && ok && len(emb.Dims) == 2 {
		vocab = emb.Dims[1]
	}
	var chatTemplate any
	if g.Has(gguf.KeyTokenizerChatTmpl) {
		s, err := g.String(gguf.KeyTokenizerChatTmpl)
		if err != nil {
			return err
		}
		chatTemplate = s
	}
	var params uint64
	for _, t := range rep.Tensors {
		n, _ := Elements(t.Dims)
		params += n
	}
	config := []struct {
		key string
		val any
	}{
		{"hidden_size", archUint(gguf.KeyEmbeddingLength)},
		{"num_layers", archUint(gguf.KeyBlockCount)},
		{"num_heads", archUint(gguf.KeyHeadCount)},
		{"num_kv_heads", archUint(gguf.KeyHeadCountKV)},
		{"vocab_size", vocab},
		{"intermediate_size", archUint(gguf.KeyFeedForwardLen)},
		{"max_position_embeddings", archUint(gguf.KeyContextLength)},
		{"rope_theta", archFloat32(gguf.KeyRopeFreqBase)},
		{"rope_type", RopeTypeFor(arch)},
		{"rms_norm_eps", archFloat32(gguf.KeyRMSEps)},
	}
	if firstErr != nil {
		return firstErr
	}
	description := "GGUF model imported with native quantization"
	switch {
	case len(rep.FallbackTypes) > 0:
		description = fmt.Sprintf("GGUF model dequantized to F32 on import (APR cannot store %s)", strings.Join(rep.FallbackTypes, ", "))
	case rep.Fallback:
		description = "GGUF model dequantized to F32 on import (on request)"
	}
	for _, kv := range []struct {
		key string
		val any
	}{
		{"model_type", arch}, {"name", arch}, {"description", description}, {"author", nil},
		{"license", nil}, {"version", "1.0.0"}, {"source", nil}, {"original_format", "gguf"},
		{"created_at", nil}, {"total_size", 0}, {"param_count", params},
		{"quantization", nil}, {"sharding", nil}, {"chat_template", chatTemplate},
		{"chat_format", nil}, {"special_tokens", nil}, {"architecture", arch},
	} {
		md.Set(kv.key, kv.val)
	}
	for _, kv := range config {
		md.Set(kv.key, kv.val)
	}
	for _, k := range []string{"head_dim", "num_experts", "num_experts_per_tok", "moe_intermediate_size"} {
		md.Set(k, nil)
	}

	// Custom keys.
	shapes := &orderedObject{}
	byName := slices.Clone(rep.Tensors)
	slices.SortFunc(byName, func(a, b ConvertedTensor) int { return strings.Compare(a.Name, b.Name) })
	for _, t := range byName {
		shapes.keys = append(shapes.keys, t.Name)
		shapes.vals = append(shapes.vals, t.Dims)
	}
	md.Set("tensor_shapes", shapes)
	if err := tokenizerMetadata(md, g); err != nil {
		return err
	}
	md.Set("model.architecture", arch)
	for _, kv := range config {
		if kv.val != nil {
			md.Set("model."+kv.key, kv.val)
		}
	}
	if rep.TiedEmbeddings {
		md.Set("tied_embeddings", true)
	}
	return nil
}

// tokenizerMetadata copies the GGUF tokenizer under the keys aprender's
// importer uses (insert_tokenizer_metadata).
func tokenizerMetadata(md *Metadata, g *gguf.Metadata) error {
	var err error
	set := func(key string, v any, e error) {
		if err == nil && e == nil {
			md.Set(key, v)
		}
		if err == nil && e != nil && !errors.Is(e, gguf.ErrKeyNotFound) {
			err = e
		}
	}
	if g.Has(gguf.KeyTokenizerTokens) {
		toks, e := g.Strings(gguf.KeyTokenizerTokens)
		set("tokenizer.vocabulary", toks, e)
		set("tokenizer.vocab_size", len(toks), e)
	}
	model, e := g.String(gguf.KeyTokenizerModel)
	set("tokenizer.model", model, e)
	bos, e := g.Uint(gguf.KeyTokenizerBOS)
	set("tokenizer.bos_token_id", bos, e)
	eos, e := g.Uint(gguf.KeyTokenizerEOS)
	set("tokenizer.eos_token_id", eos, e)
	pre, e := g.String(gguf.KeyTokenizerPre)
	set("tokenizer.pre_type", pre, e)
	merges, e := g.Strings(gguf.KeyTokenizerMerges)
	set("tokenizer.merges", merges, e)
	if g.Has(gguf.KeyTokenizerScores) {
		scores, e := g.Floats(gguf.KeyTokenizerScores)
		if e == nil {
			for i, s := range scores {
				if math.IsNaN(s) || math.IsInf(s, 0) {
					e = fmt.Errorf("%s[%d] = %v: JSON has no such number", gguf.KeyTokenizerScores, i, s)
					break
				}
			}
		}
		f32 := make([]float32, len(scores))
		for i, s := range scores {
			f32[i] = float32(s)
		}
		set("tokenizer.scores", f32, e)
	}
	types, e := g.Ints(gguf.KeyTokenizerTypes)
	set("tokenizer.token_type", types, e)
	pad, e := g.Uint(gguf.KeyTokenizerPAD)
	set("tokenizer.padding_token_id", pad, e)
	addBOS, e := g.Bool(gguf.KeyTokenizerAddBOS)
	set("tokenizer.add_bos_token", addBOS, e)
	tmpl, e := g.String(gguf.KeyTokenizerChatTmpl)
	set("tokenizer.chat_template", tmpl, e)
	return err
}

// checkRopeScalingConvertible refuses a GGUF whose RoPE is scaled (a
// rope.scaling.type other than none with a factor, rope.scale_linear, an
// attn_factor other than 1): aprender's metadata has no field for any of
// it, so the converted model would silently compute unscaled RoPE.
// (rope_freqs.weight is a tensor and travels with the others.)
func checkRopeScalingConvertible(md *gguf.Metadata) error {
	typ := ""
	if md.ArchHas(gguf.KeyRopeScalingType) {
		typ, _ = md.String(md.ArchKey(gguf.KeyRopeScalingType))
	}
	for _, k := range []string{gguf.KeyRopeScaleFactor, "rope.scale_linear"} {
		if !md.ArchHas(k) || typ == "none" {
			continue
		}
		if v, err := md.ArchFloat(k); err != nil || (v != 0 && v != 1) {
			return fmt.Errorf("metadata %q: RoPE scaling cannot be stored in APR (no metadata field for it); the converted model would compute without it", md.ArchKey(k))
		}
	}
	if typ != "" && typ != "none" && typ != "linear" {
		return fmt.Errorf("metadata %q = %q: RoPE scaling cannot be stored in APR (no metadata field for it); the converted model would compute without it", md.ArchKey(gguf.KeyRopeScalingType), typ)
	}
	if k := "rope.scaling.attn_factor"; md.ArchHas(k) {
		if v, err := md.ArchFloat(k); err != nil || v != 1 {
			return fmt.Errorf("metadata %q: RoPE attention factor cannot be stored in APR (no metadata field for it); the converted model would compute without it", md.ArchKey(k))
		}
	}
	return nil
}

// ConvertFile converts the GGUF model at src to an APR file at dst as
// aprender's importer does (FromGGUF) and returns the report. The file is
// written through a temporary beside dst and renamed, so dst is whole or
// absent.
func ConvertFile(src, dst string) (*ConvertReport, error) {
	f, err := gguf.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w, rep, err := FromGGUF(f)
	if err != nil {
		return nil, err
	}
	if _, err := w.WriteFile(dst); err != nil {
		return nil, fmt.Errorf("writing %s: %w", dst, err)
	}
	return rep, nil
}
