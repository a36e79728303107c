package quant

import (
	"errors"
	"fmt"
)

// Type is a ggml tensor type, numbered as in ggml.h's enum ggml_type (the
// numbers GGUF files store).
type Type uint32

// The ggml type ids. Gaps are ids ggml retired; they are unknown types here.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// QK_K is the super-block size of the K-quants.
const QK_K = 256

// ErrUnknownType is returned for a type id ggml does not define (or has
// retired). ErrUnsupportedType is returned for a type ggml defines whose
// blocks this package cannot decode (IQ*, TQ*, MXFP4, integer types).
var (
	ErrUnknownType     = errors.New("unknown ggml type")
	ErrUnsupportedType = errors.New("unsupported ggml type")
)

type typeInfo struct {
	name      string
	blockSize int // elements per block
	typeSize  int // bytes per block
	decodable bool
}

// Sizes from ggml.c's type_traits table (blck_size, type_size).
var types = map[Type]typeInfo{
	F32:     {"F32", 1, 4, true},
	F16:     {"F16", 1, 2, true},
	Q4_0:    {"Q4_0", 32, 18, true},
	Q4_1:    {"Q4_1", 32, 20, true},
	Q5_0:    {"Q5_0", 32, 22, true},
	Q5_1:    {"Q5_1", 32, 24, true},
	Q8_0:    {"Q8_0", 32, 34, true},
	Q8_1:    {"Q8_1", 32, 36, true},
	Q2_K:    {"Q2_K", QK_K, 84, true},
	Q3_K:    {"Q3_K", QK_K, 110, true},
	Q4_K:    {"Q4_K", QK_K, 144, true},
	Q5_K:    {"Q5_K", QK_K, 176, true},
	Q6_K:    {"Q6_K", QK_K, 210, true},
	Q8_K:    {"Q8_K", QK_K, 292, true},
	IQ2_XXS: {"IQ2_XXS", QK_K, 66, false},
	IQ2_XS:  {"IQ2_XS", QK_K, 74, false},
	IQ3_XXS: {"IQ3_XXS", QK_K, 98, false},
	IQ1_S:   {"IQ1_S", QK_K, 50, false},
	IQ4_NL:  {"IQ4_NL", 32, 18, false},
	IQ3_S:   {"IQ3_S", QK_K, 110, false},
	IQ2_S:   {"IQ2_S", QK_K, 82, false},
	IQ4_XS:  {"IQ4_XS", QK_K, 136, false},
	I8:      {"I8", 1, 1, false},
	I16:     {"I16", 1, 2, false},
	I32:     {"I32", 1, 4, false},
	I64:     {"I64", 1, 8, false},
	F64:     {"F64", 1, 8, false},
	IQ1_M:   {"IQ1_M", QK_K, 56, false},
	BF16:    {"BF16", 1, 2, true},
	TQ1_0:   {"TQ1_0", QK_K, 54, false},
	TQ2_0:   {"TQ2_0", QK_K, 66, false},
	MXFP4:   {"MXFP4", 32, 17, false},
}

// Known reports whether ggml defines the type id (whether or not this
// package can decode it).
func (t Type) Known() bool { _, ok := types[t]; return ok }

// Decodable reports whether DequantizeRow supports the type.
func (t Type) Decodable() bool { return types[t].decodable }

// String returns ggml's name for the type, or "type(N)" for an unknown id.
func (t Type) String() string {
	if info, ok := types[t]; ok {
		return info.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements in one block (1 for plain types). It
// is 0 for an unknown type.
func (t Type) BlockSize() int { return types[t].blockSize }

// TypeSize is the number of bytes in one block. It is 0 for an unknown type.
func (t Type) TypeSize() int { return types[t].typeSize }

// ParseType returns the type with ggml's name (case-sensitive, "Q4_K").
func ParseType(name string) (Type, error) {
	for t, info := range types {
		if info.name == name {
			return t, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownType, name)
}

// RowSize returns the bytes of n elements of type t. It fails for an
// unknown type and when n is not a whole number of blocks.
func RowSize(t Type, n int64) (int64, error) {
	info, ok := types[t]
	if !ok {
		return 0, fmt.Errorf("%w: %d", ErrUnknownType, uint32(t))
	}
	if n < 0 {
		return 0, fmt.Errorf("quant: negative element count %d", n)
	}
	if n%int64(info.blockSize) != 0 {
		return 0, fmt.Errorf("quant: %d elements of %s is not a whole number of %d-element blocks", n, info.name, info.blockSize)
	}
	return n / int64(info.blockSize) * int64(info.typeSize), nil
}

// CheckDecodable returns nil when DequantizeRow supports t, and otherwise an
// error wrapping ErrUnknownType or ErrUnsupportedType that names the type.
func CheckDecodable(t Type) error {
	info, ok := types[t]
	switch {
	case !ok:
		return fmt.Errorf("%w: id %d", ErrUnknownType, uint32(t))
	case !info.decodable:
		return fmt.Errorf("%w: %s (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K)", ErrUnsupportedType, info.name)
	}
	return nil
}
