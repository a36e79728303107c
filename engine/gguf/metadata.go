package gguf

import (
	"errors"
	"fmt"
	"math"
)

// Errors the typed getters wrap, so callers can tell a missing key from a
// key of the wrong type.
var (
	ErrKeyNotFound = errors.New("key not found")
	ErrWrongType   = errors.New("wrong value type")
)

// Metadata is the ordered key-value section of a GGUF file.
type Metadata struct {
	kvs   []KV
	index map[string]int
}

// NewMetadata returns an empty metadata set.
func NewMetadata() *Metadata { return &Metadata{index: map[string]int{}} }

// Set adds or replaces a key. v must be a Go value with a GGUF type (see
// KV); Set fails otherwise.
func (m *Metadata) Set(key string, v any) error {
	t, err := valueTypeOf(v)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if a, ok := v.(Array); ok {
		if err := checkArray(a, 0); err != nil {
			return fmt.Errorf("gguf: key %q: %w", key, err)
		}
	}
	if i, ok := m.index[key]; ok {
		m.kvs[i] = KV{Key: key, Type: t, Value: v}
		return nil
	}
	m.index[key] = len(m.kvs)
	m.kvs = append(m.kvs, KV{Key: key, Type: t, Value: v})
	return nil
}

// add appends a key read from a file; duplicates are the caller's check.
func (m *Metadata) add(kv KV) {
	m.index[kv.Key] = len(m.kvs)
	m.kvs = append(m.kvs, kv)
}

// KVs returns the entries in file order. The slice must not be modified.
func (m *Metadata) KVs() []KV { return m.kvs }

// Keys returns the keys in file order.
func (m *Metadata) Keys() []string {
	keys := make([]string, len(m.kvs))
	for i, kv := range m.kvs {
		keys[i] = kv.Key
	}
	return keys
}

// Len is the number of entries.
func (m *Metadata) Len() int { return len(m.kvs) }

// Has reports whether key is present.
func (m *Metadata) Has(key string) bool { _, ok := m.index[key]; return ok }

// Get returns the entry for key.
func (m *Metadata) Get(key string) (KV, bool) {
	i, ok := m.index[key]
	if !ok {
		return KV{}, false
	}
	return m.kvs[i], true
}

func (m *Metadata) lookup(key string) (KV, error) {
	kv, ok := m.Get(key)
	if !ok {
		return KV{}, fmt.Errorf("metadata %q: %w", key, ErrKeyNotFound)
	}
	return kv, nil
}

func wrongType(kv KV, want string) error {
	got := kv.Type.String()
	if a, ok := kv.Value.(Array); ok {
		got = "array of " + a.Elem.String()
	}
	return fmt.Errorf("metadata %q: %w: is %s, want %s", kv.Key, ErrWrongType, got, want)
}

// String returns a string value.
func (m *Metadata) String(key string) (string, error) {
	kv, err := m.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := kv.Value.(string)
	if !ok {
		return "", wrongType(kv, "string")
	}
	return s, nil
}

// Bool returns a bool value.
func (m *Metadata) Bool(key string) (bool, error) {
	kv, err := m.lookup(key)
	if err != nil {
		return false, err
	}
	b, ok := kv.Value.(bool)
	if !ok {
		return false, wrongType(kv, "bool")
	}
	return b, nil
}

// Uint returns an integer value of any width as uint64; a negative value is
// an error.
func (m *Metadata) Uint(key string) (uint64, error) {
	kv, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	u, isInt, negative := asInteger(kv.Value)
	if !isInt {
		return 0, wrongType(kv, "unsigned integer")
	}
	if negative {
		return 0, fmt.Errorf("metadata %q: negative value %d where an unsigned one is required", key, int64(u))
	}
	return u, nil
}

// Int returns an integer value of any width as int64; a uint64 above
// math.MaxInt64 is an error.
func (m *Metadata) Int(key string) (int64, error) {
	kv, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	u, isInt, negative := asInteger(kv.Value)
	if !isInt {
		return 0, wrongType(kv, "integer")
	}
	if !negative && u > math.MaxInt64 {
		return 0, fmt.Errorf("metadata %q: value %d overflows int64", key, u)
	}
	return int64(u), nil
}

// Float returns a float32 or float64 value as float64. Integers are
// accepted too, since some writers store whole numbers (rope theta) as
// integers.
func (m *Metadata) Float(key string) (float64, error) {
	kv, err := m.lookup(key)
	if err != nil {
		return 0, err
	}
	switch v := kv.Value.(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	}
	if u, isInt, negative := asInteger(kv.Value); isInt {
		if negative {
			return float64(int64(u)), nil
		}
		return float64(u), nil
	}
	return 0, wrongType(kv, "float")
}

// asInteger returns v's bits as uint64 (two's complement for negative
// values), whether v is an integer, and whether it is negative.
func asInteger(v any) (u uint64, isInt, negative bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true, false
	case uint16:
		return uint64(x), true, false
	case uint32:
		return uint64(x), true, false
	case uint64:
		return x, true, false
	case int8:
		return uint64(int64(x)), true, x < 0
	case int16:
		return uint64(int64(x)), true, x < 0
	case int32:
		return uint64(int64(x)), true, x < 0
	case int64:
		return uint64(x), true, x < 0
	}
	return 0, false, false
}

func (m *Metadata) array(key string) (KV, Array, error) {
	kv, err := m.lookup(key)
	if err != nil {
		return KV{}, Array{}, err
	}
	a, ok := kv.Value.(Array)
	if !ok {
		return kv, Array{}, wrongType(kv, "array")
	}
	return kv, a, nil
}

// Strings returns an array of strings. The slice is shared with the
// metadata and must not be modified.
func (m *Metadata) Strings(key string) ([]string, error) {
	kv, a, err := m.array(key)
	if err != nil {
		return nil, err
	}
	s, ok := a.Values.([]string)
	if !ok {
		return nil, wrongType(kv, "array of string")
	}
	return s, nil
}

// Ints returns an array of any integer type as int64s.
func (m *Metadata) Ints(key string) ([]int64, error) {
	kv, a, err := m.array(key)
	if err != nil {
		return nil, err
	}
	out := make([]int64, a.Len())
	switch v := a.Values.(type) {
	case []uint8:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int8:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []uint16:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int16:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []uint32:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int32:
		for i, x := range v {
			out[i] = int64(x)
		}
	case []int64:
		copy(out, v)
	case []uint64:
		for i, x := range v {
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("metadata %q[%d]: value %d overflows int64", key, i, x)
			}
			out[i] = int64(x)
		}
	default:
		return nil, wrongType(kv, "array of integer")
	}
	return out, nil
}

// Floats returns an array of float32 or float64 as float64s.
func (m *Metadata) Floats(key string) ([]float64, error) {
	kv, a, err := m.array(key)
	if err != nil {
		return nil, err
	}
	switch v := a.Values.(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, nil
	case []float64:
		return append([]float64(nil), v...), nil
	}
	return nil, wrongType(kv, "array of float")
}

// Float32s returns an array of float32 without conversion (shared with the
// metadata; do not modify).
func (m *Metadata) Float32s(key string) ([]float32, error) {
	kv, a, err := m.array(key)
	if err != nil {
		return nil, err
	}
	v, ok := a.Values.([]float32)
	if !ok {
		return nil, wrongType(kv, "array of float32")
	}
	return v, nil
}

// Architecture returns general.architecture ("" when absent).
func (m *Metadata) Architecture() string {
	s, _ := m.String(KeyArchitecture)
	return s
}

// ArchKey returns the architecture-prefixed form of a per-architecture key
// suffix: ArchKey(KeyBlockCount) is "qwen2.block_count" in a qwen2 file.
func (m *Metadata) ArchKey(suffix string) string {
	return m.Architecture() + "." + suffix
}

// ArchUint is Uint of the architecture-prefixed key.
func (m *Metadata) ArchUint(suffix string) (uint64, error) { return m.Uint(m.ArchKey(suffix)) }

// ArchFloat is Float of the architecture-prefixed key.
func (m *Metadata) ArchFloat(suffix string) (float64, error) { return m.Float(m.ArchKey(suffix)) }

// ArchHas reports whether the architecture-prefixed key is present.
func (m *Metadata) ArchHas(suffix string) bool { return m.Has(m.ArchKey(suffix)) }

// checkArray verifies that an Array's Elem matches its slice type, at every
// nesting level, so the writer never emits a tag that disagrees with the
// data.
func checkArray(a Array, depth int) error {
	if depth >= maxArrayDepth {
		return fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
	}
	inferred, err := ArrayOf(a.Values)
	if err != nil {
		return err
	}
	if inferred.Elem != a.Elem {
		return fmt.Errorf("array declares elements of %s but holds %T", a.Elem, a.Values)
	}
	if nested, ok := a.Values.([]Array); ok {
		for i, n := range nested {
			if err := checkArray(n, depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	}
	return nil
}
