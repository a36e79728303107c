package apr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Metadata is the JSON metadata object: aprender's known fields and the
// flattened custom keys in one ordered set. Values read from a file are
// what encoding/json decodes with UseNumber: string, json.Number, bool,
// nil, []any, map[string]any. Values set for writing may be any Go value
// encoding/json encodes (the writer checks the result reads back).
type Metadata struct {
	keys   []string
	values map[string]any
}

// NewMetadata returns an empty metadata set.
func NewMetadata() *Metadata { return &Metadata{values: map[string]any{}} }

// Set adds or replaces a key; a replaced key keeps its position.
func (m *Metadata) Set(key string, v any) {
	if _, ok := m.values[key]; !ok {
		m.keys = append(m.keys, key)
	}
	m.values[key] = v
}

// Get returns the value of key (nil, true for an explicit null).
func (m *Metadata) Get(key string) (any, bool) { v, ok := m.values[key]; return v, ok }

// Has reports whether key is present with a non-null value.
func (m *Metadata) Has(key string) bool { return m.values[key] != nil }

// Keys returns the keys in file (or insertion) order. The slice must not
// be modified.
func (m *Metadata) Keys() []string { return m.keys }

// Len is the number of keys.
func (m *Metadata) Len() int { return len(m.keys) }

// Map returns the metadata as one map (the decoded JSON object), shared
// with m: the form tokenizer.FromAPR and engine.Model.APRMetadata take.
func (m *Metadata) Map() map[string]any { return m.values }

// MarshalJSON writes the object compactly, keys in order.
func (m *Metadata) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(m.values[k])
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", k, err)
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// parseMetadata decodes one JSON object, refusing duplicate keys, trailing
// data and known fields of the wrong type.
func parseMetadata(data []byte) (*Metadata, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMetadata)
	}
	m := NewMetadata()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
		}
		key, _ := tok.(string) // object keys are always strings
		if _, dup := m.values[key]; dup {
			return nil, fmt.Errorf("%w: duplicate key %q", ErrMetadata, key)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: key %q: %v", ErrMetadata, key, err)
		}
		m.Set(key, v)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("%w: %v", ErrMetadata, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMetadata)
	}
	if err := checkKnownFields(m); err != nil {
		return nil, err
	}
	return m, nil
}

// fieldKind is how aprender's AprV2Metadata (serde) types a known field.
type fieldKind int

const (
	kindString    fieldKind = iota // String: required string when present
	kindOptString                  // Option<String>
	kindU64                        // u64: non-negative integer, not null
	kindOptUint                    // Option<usize>
	kindOptU32                     // Option<u32>
	kindOptFloat                   // Option<f32>
	kindOptObject                  // Option<struct>: checked by its own function
	kindU8                         // u8 (quantization.bits)
	kindBool                       // bool (quantization.symmetric)
)

// knownFields are AprV2Metadata's typed fields in its declaration order
// (the order the writer uses). Any other key is a custom key.
var knownFields = []struct {
	key  string
	kind fieldKind
}{
	{"model_type", kindString}, {"name", kindOptString}, {"description", kindOptString},
	{"author", kindOptString}, {"license", kindOptString}, {"data_source", kindOptString},
	{"data_license", kindOptString}, {"version", kindOptString}, {"source", kindOptString},
	{"original_format", kindOptString}, {"created_at", kindOptString},
	{"total_size", kindU64}, {"param_count", kindU64},
	{"quantization", kindOptObject}, {"sharding", kindOptObject},
	{"chat_template", kindOptString}, {"chat_format", kindOptString}, {"special_tokens", kindOptObject},
	{"architecture", kindOptString}, {"hf_architecture", kindOptString}, {"hf_model_type", kindOptString},
	{"hidden_size", kindOptUint}, {"num_layers", kindOptUint}, {"num_heads", kindOptUint},
	{"num_kv_heads", kindOptUint}, {"vocab_size", kindOptUint}, {"intermediate_size", kindOptUint},
	{"max_position_embeddings", kindOptUint}, {"rope_theta", kindOptFloat}, {"rope_type", kindOptU32},
	{"rms_norm_eps", kindOptFloat}, {"head_dim", kindOptUint}, {"num_experts", kindOptUint},
	{"num_experts_per_tok", kindOptUint}, {"moe_intermediate_size", kindOptUint},
}

// checkKnownFields type-checks the known fields as serde would when
// aprender deserializes the object.
func checkKnownFields(m *Metadata) error {
	for _, f := range knownFields {
		v, ok := m.values[f.key]
		if !ok {
			continue
		}
		if err := checkKind(f.key, f.kind, v); err != nil {
			return fmt.Errorf("%w: %w", ErrMetadata, err)
		}
	}
	return nil
}

func checkKind(key string, kind fieldKind, v any) error {
	if v == nil {
		switch kind {
		case kindString, kindU64, kindU8, kindBool:
			return fmt.Errorf("%q is null, want %s", key, kindName(kind))
		}
		return nil
	}
	var err error
	switch kind {
	case kindString, kindOptString:
		if _, ok := v.(string); !ok {
			err = errType(v, "string")
		}
	case kindU64, kindOptUint:
		_, err = asUint(v, math.MaxUint64)
	case kindOptU32:
		_, err = asUint(v, math.MaxUint32)
	case kindU8:
		_, err = asUint(v, math.MaxUint8)
	case kindBool:
		if _, ok := v.(bool); !ok {
			err = errType(v, "bool")
		}
	case kindOptFloat:
		_, err = asFloat(v)
	case kindOptObject:
		err = checkObject(key, v)
	}
	if err != nil {
		return fmt.Errorf("%q: %w", key, err)
	}
	return nil
}

func kindName(k fieldKind) string {
	switch k {
	case kindU64, kindU8:
		return "an unsigned integer"
	case kindBool:
		return "a bool"
	}
	return "a string"
}

// checkObject checks the nested structs: quantization {quant_type, bits,
// block_size?, symmetric}, sharding {shard_count, shard_index, total_size,
// pattern?}, special_tokens {*_token: string or null}.
func checkObject(key string, v any) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return errType(v, "object")
	}
	type member struct {
		name     string
		kind     fieldKind
		required bool
	}
	var members []member
	switch key {
	case "quantization":
		members = []member{{"quant_type", kindString, true}, {"bits", kindU8, true}, {"block_size", kindOptUint, false}, {"symmetric", kindBool, true}}
	case "sharding":
		members = []member{{"shard_count", kindU64, true}, {"shard_index", kindU64, true}, {"total_size", kindU64, true}, {"pattern", kindOptString, false}}
	case "special_tokens":
		for _, n := range []string{"bos_token", "eos_token", "unk_token", "pad_token", "im_start_token", "im_end_token"} {
			members = append(members, member{n, kindOptString, false})
		}
	}
	for _, mb := range members {
		x, present := obj[mb.name]
		if !present {
			if mb.required {
				return fmt.Errorf("missing field %q", mb.name)
			}
			continue
		}
		if err := checkKind(mb.name, mb.kind, x); err != nil {
			return err
		}
	}
	return nil
}

func errType(v any, want string) error {
	return fmt.Errorf("%w: is %s, want %s", ErrWrongType, jsonType(v), want)
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case json.Number, float64, float32, int, int64, int32, uint64, uint32:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// toNumber returns a decoded JSON number, or a Go number set for writing,
// as a json.Number.
func toNumber(v any) (json.Number, bool) {
	switch x := v.(type) {
	case json.Number:
		return x, true
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), true
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10)), true
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), true
	case uint:
		return json.Number(strconv.FormatUint(uint64(x), 10)), true
	case uint32:
		return json.Number(strconv.FormatUint(uint64(x), 10)), true
	case uint64:
		return json.Number(strconv.FormatUint(x, 10)), true
	case float32:
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32)), true
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), true
	}
	return "", false
}

// asUint reads a JSON number that is a whole number in [0, limit].
func asUint(v any, limit uint64) (uint64, error) {
	n, ok := toNumber(v)
	if !ok {
		return 0, errType(v, "an unsigned integer")
	}
	if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
		if u > limit {
			return 0, fmt.Errorf("%w: %s exceeds %d", ErrWrongType, n, limit)
		}
		return u, nil
	}
	// serde accepts only plain integers for integer fields.
	return 0, fmt.Errorf("%w: %s is not an unsigned integer", ErrWrongType, n)
}

// asFloat reads a JSON number as float64.
func asFloat(v any) (float64, error) {
	n, ok := toNumber(v)
	if !ok {
		return 0, errType(v, "a number")
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrWrongType, n, err)
	}
	return f, nil
}

// lookup returns the non-null value of key.
func (m *Metadata) lookup(key string) (any, error) {
	v := m.values[key]
	if v == nil {
		return nil, fmt.Errorf("metadata %q: %w", key, ErrKeyNotFound)
	}
	return v, nil
}

// String returns a string value. Absent and null keys wrap ErrKeyNotFound,
// values of another type ErrWrongType.
func (m *Metadata) String(key string) (string, error) {
	v, err := m.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("metadata %q: %w", key, errType(v, "string"))
	}
	return s, nil
}

// Bool returns a bool value.
func (m *Metadata) Bool(key string) (bool, error) {
	v, err := m.lookup(key)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("metadata %q: %w", key, errType(v, "bool"))
	}
	return b, nil
}

// Uint returns a non-negative integer value.
func (m *Metadata) Uint(key string) (uint64, error) {
	v, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	u, err := asUint(v, math.MaxUint64)
	if err != nil {
		return 0, fmt.Errorf("metadata %q: %w", key, err)
	}
	return u, nil
}

// Float returns a number as float64.
func (m *Metadata) Float(key string) (float64, error) {
	v, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	f, err := asFloat(v)
	if err != nil {
		return 0, fmt.Errorf("metadata %q: %w", key, err)
	}
	return f, nil
}

// Strings returns an array of strings.
func (m *Metadata) Strings(key string) ([]string, error) {
	v, err := m.lookup(key)
	if err != nil {
		return nil, err
	}
	switch a := v.(type) {
	case []string:
		return a, nil
	case []any:
		out := make([]string, len(a))
		for i, x := range a {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("metadata %q[%d]: %w", key, i, errType(x, "string"))
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("metadata %q: %w", key, errType(v, "array of strings"))
}

// Aliases of the hyperparameters: the first key is aprender's field, the
// others the spellings readers accept (specs/apr-v2.md).
var (
	AliasHidden   = []string{"hidden_size", "hidden_dim"}
	AliasLayers   = []string{"num_layers", "num_hidden_layers"}
	AliasHeads    = []string{"num_heads", "num_attention_heads"}
	AliasKVHeads  = []string{"num_kv_heads", "num_key_value_heads"}
	AliasFFN      = []string{"intermediate_size", "intermediate_dim"}
	AliasContext  = []string{"max_position_embeddings", "context_length", "max_seq_len", "n_ctx"}
	realizarAlias = map[string][]string{ // realizar's serde aliases (PMAT-111): canonical -> aliases
		"hidden_size":             {"hidden_dim", "d_model", "n_embd"},
		"num_layers":              {"n_layers", "num_hidden_layers", "n_layer"},
		"num_heads":               {"n_heads", "num_attention_heads", "n_head"},
		"num_kv_heads":            {"n_kv_heads"},
		"vocab_size":              {"n_vocab"},
		"intermediate_size":       {"ffn_dim", "intermediate_dim", "n_inner"},
		"max_position_embeddings": {"max_seq_len", "context_length", "n_ctx"},
		"rms_norm_eps":            {"layer_norm_eps", "norm_eps"},
	}
)

// UintAlias returns the value of the first of keys present (non-null) and
// the key it came from. If several are present with different values, it
// fails naming both: the file is ambiguous.
func (m *Metadata) UintAlias(keys ...string) (uint64, string, error) {
	var found string
	var val uint64
	for _, k := range keys {
		if !m.Has(k) {
			continue
		}
		u, err := m.Uint(k)
		if err != nil {
			return 0, k, err
		}
		if found == "" {
			found, val = k, u
		} else if u != val {
			return 0, k, fmt.Errorf("metadata %q = %d and %q = %d disagree", found, val, k, u)
		}
	}
	if found == "" {
		return 0, keys[0], fmt.Errorf("metadata %q: %w", keys[0], ErrKeyNotFound)
	}
	return val, found, nil
}

// Config is the transformer configuration a file's metadata describes,
// read through the aliases. Absent optional values are zero (nil for
// RopeType).
type Config struct {
	Architecture  string
	HiddenSize    int
	NumLayers     int
	NumHeads      int
	NumKVHeads    int // NumHeads when absent
	Intermediate  int
	ContextLength int
	VocabSize     int
	HeadDim       int
	RopeTheta     float64 // 0 when absent
	RopeType      *int
	RMSNormEps    float64 // 0 when absent
	NumExperts    int
}

// Config reads the transformer configuration. Architecture, hidden size,
// layers, heads and intermediate size are required.
func (m *Metadata) Config() (Config, error) {
	var c Config
	var err error
	if c.Architecture, err = m.String("architecture"); errors.Is(err, ErrKeyNotFound) {
		c.Architecture, err = m.String("model_type")
	}
	if err != nil {
		return c, err
	}
	intOf := func(keys []string, required bool, dst *int) {
		if err != nil {
			return
		}
		u, key, e := m.UintAlias(keys...)
		switch {
		case errors.Is(e, ErrKeyNotFound) && !required:
		case e != nil:
			err = e
		case u > math.MaxInt32:
			err = fmt.Errorf("metadata %q: value %d out of range", key, u)
		default:
			*dst = int(u)
		}
	}
	intOf(AliasHidden, true, &c.HiddenSize)
	intOf(AliasLayers, true, &c.NumLayers)
	intOf(AliasHeads, true, &c.NumHeads)
	intOf(AliasFFN, true, &c.Intermediate)
	intOf(AliasKVHeads, false, &c.NumKVHeads)
	intOf(AliasContext, false, &c.ContextLength)
	intOf([]string{"vocab_size"}, false, &c.VocabSize)
	intOf([]string{"head_dim"}, false, &c.HeadDim)
	intOf([]string{"num_experts"}, false, &c.NumExperts)
	if err != nil {
		return c, err
	}
	if c.NumKVHeads == 0 {
		c.NumKVHeads = c.NumHeads
	}
	if m.Has("rope_type") {
		u, err := m.Uint("rope_type")
		if err != nil {
			return c, err
		}
		if u > math.MaxInt32 {
			return c, fmt.Errorf("metadata %q: value %d out of range", "rope_type", u)
		}
		rt := int(u)
		c.RopeType = &rt
	}
	for _, f := range []struct {
		key string
		dst *float64
	}{{"rope_theta", &c.RopeTheta}, {"rms_norm_eps", &c.RMSNormEps}} {
		if !m.Has(f.key) {
			continue
		}
		if *f.dst, err = m.Float(f.key); err != nil {
			return c, err
		}
	}
	return c, nil
}

// checkRealizarAliases refuses metadata that spells one field twice to
// realizar: a canonical key (even null) and one of its serde aliases, or
// two aliases. realizar's deserializer then fails with "duplicate field".
func checkRealizarAliases(m *Metadata) error {
	for canon, aliases := range realizarAlias {
		var present []string
		for _, k := range append([]string{canon}, aliases...) {
			if _, ok := m.values[k]; ok {
				present = append(present, k)
			}
		}
		if len(present) > 1 {
			return fmt.Errorf("%w: keys %q are one field (%q) to realizar's serde aliases: write only one", ErrMetadata, present, canon)
		}
	}
	return nil
}
