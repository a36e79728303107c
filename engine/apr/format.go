package apr

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"github.com/falsify/falsify/engine/quant"
)

// Layout constants of APR v2 (specs/apr-v2.md).
const (
	HeaderSize    = 64  // bytes of the fixed header
	Alignment     = 64  // metadata, index and every tensor start on this boundary
	FooterSize    = 4   // CRC-32 of every preceding byte
	MaxNameLen    = 256 // bytes of a tensor name
	MaxDims       = 8   // dims of a tensor
	VersionMajor  = 2
	VersionMinor  = 0
	minEntrySize  = 2 + 1 + 1 + 8 + 8 // name length, dtype, ndim, offset, size
	headerCRCFrom = 40                // the checksum field: bytes 40..44
)

// Magic is the current magic; MagicAPR2 is the older writers' spelling,
// also accepted.
var (
	Magic     = [4]byte{'A', 'P', 'R', 0}
	MagicAPR2 = [4]byte{'A', 'P', 'R', '2'}
)

// Sentinel errors for the categories a caller may test with errors.Is.
var (
	ErrBadMagic    = errors.New("not an APR file (bad magic)")
	ErrOldFormat   = errors.New("unsupported older APR format")
	ErrVersion     = errors.New("unsupported APR version")
	ErrTruncated   = errors.New("file truncated")
	ErrCorrupt     = errors.New("corrupt APR file")
	ErrChecksum    = errors.New("checksum mismatch")
	ErrUnsupported = errors.New("unsupported APR feature")
	ErrColumnMajor = errors.New("column-major layout (LAYOUT-002)")
	ErrUnknownType = errors.New("unknown APR dtype")
	ErrMetadata    = errors.New("bad APR metadata")
	ErrKeyNotFound = errors.New("key not found")
	ErrWrongType   = errors.New("wrong value type")
)

// FormatError describes a problem at one place of a file.
type FormatError struct {
	Path   string // file path (or the name given to Parse)
	Field  string // what was being read, e.g. `tensor 3 "lm_head.weight" size`
	Offset int64  // byte offset where the field starts
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: %s (offset %d): %v", e.Path, e.Field, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// Flags is the header's feature bit set.
type Flags uint16

// The header flags.
const (
	FlagLZ4            Flags = 0x0001
	FlagZSTD           Flags = 0x0002
	FlagEncrypted      Flags = 0x0004
	FlagSigned         Flags = 0x0008
	FlagSharded        Flags = 0x0010
	FlagQuantized      Flags = 0x0020
	FlagHasFilterbank  Flags = 0x0040
	FlagHasModelCard   Flags = 0x0080
	FlagStreaming      Flags = 0x0100
	FlagHasVocab       Flags = 0x0200
	FlagLayoutRowMajor Flags = 0x0400
	FlagLayoutColMajor Flags = 0x0800
)

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagLZ4, "LZ4"}, {FlagZSTD, "ZSTD"}, {FlagEncrypted, "ENCRYPTED"}, {FlagSigned, "SIGNED"},
	{FlagSharded, "SHARDED"}, {FlagQuantized, "QUANTIZED"}, {FlagHasFilterbank, "HAS_FILTERBANK"},
	{FlagHasModelCard, "HAS_MODEL_CARD"}, {FlagStreaming, "STREAMING"}, {FlagHasVocab, "HAS_VOCAB"},
	{FlagLayoutRowMajor, "LAYOUT_ROW_MAJOR"}, {FlagLayoutColMajor, "LAYOUT_COLUMN_MAJOR"},
}

// Names lists the set flags by name; unknown bits appear as hex.
func (f Flags) Names() []string {
	var out []string
	rest := f
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
			rest &^= n.f
		}
	}
	if rest != 0 {
		out = append(out, fmt.Sprintf("0x%04x", uint16(rest)))
	}
	return out
}

func (f Flags) String() string {
	if f == 0 {
		return "none"
	}
	return strings.Join(f.Names(), "|")
}

// refused are the flags whose files are out of scope: their payload is not
// plain tensors in this file.
const refused = FlagLZ4 | FlagZSTD | FlagEncrypted | FlagSigned | FlagSharded

// Header is the fixed 64-byte header.
type Header struct {
	Magic             [4]byte
	Major, Minor      uint8
	Flags             Flags
	TensorCount       uint32
	MetadataOffset    uint64
	MetadataSize      uint32 // JSON length without padding
	TensorIndexOffset uint64
	DataOffset        uint64
	Checksum          uint32 // CRC-32 of bytes 0..40 and 44..64
	Reserved          [20]byte
}

// DType is a tensor's element type as APR numbers it. The ids below 32 are
// ggml's where ggml has the type.
type DType uint8

// The APR dtypes.
const (
	F32   DType = 0
	F16   DType = 1
	F64   DType = 3
	I32   DType = 4
	I64   DType = 5
	I8    DType = 6
	U8    DType = 7
	Q4_K  DType = 12
	Q6_K  DType = 14
	BF16  DType = 30
	AprQ4 DType = 128 // per 32 values: f16 scale, 16 bytes of nibbles (q+8)
	AprQ8 DType = 129 // one f32 scale, then one int8 per value

	legacyAprQ4 DType = 8 // the id AprQ4 had before aprender's GH-438
	legacyAprQ8 DType = 9
)

var dtypeNames = map[DType]string{
	F32: "F32", F16: "F16", F64: "F64", I32: "I32", I64: "I64", I8: "I8", U8: "U8",
	Q4_K: "Q4_K", Q6_K: "Q6_K", BF16: "BF16", AprQ4: "AprQ4", AprQ8: "AprQ8",
}

// canonical maps a stored dtype id to the dtype it means (legacy ids to
// the current ones) and reports whether the id is known.
func canonical(code uint8) (DType, bool) {
	d := DType(code)
	switch d {
	case legacyAprQ4:
		return AprQ4, true
	case legacyAprQ8:
		return AprQ8, true
	}
	_, ok := dtypeNames[d]
	return d, ok
}

// Known reports whether d is a dtype of APR v2 (legacy ids excluded).
func (d DType) Known() bool { _, ok := dtypeNames[d]; return ok }

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// ParseDType returns the dtype with the given name ("Q4_K", "AprQ8").
func ParseDType(name string) (DType, error) {
	for d, s := range dtypeNames {
		if s == name {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownType, name)
}

// GGML returns the ggml type with the same encoding, when there is one:
// F32, F16, BF16, Q4_K, Q6_K, F64, I32, I64 and I8. U8, AprQ4 and AprQ8
// have none.
func (d DType) GGML() (quant.Type, bool) {
	switch d {
	case F32:
		return quant.F32, true
	case F16:
		return quant.F16, true
	case BF16:
		return quant.BF16, true
	case Q4_K:
		return quant.Q4_K, true
	case Q6_K:
		return quant.Q6_K, true
	case F64:
		return quant.F64, true
	case I32:
		return quant.I32, true
	case I64:
		return quant.I64, true
	case I8:
		return quant.I8, true
	}
	return 0, false
}

// elemSize is the bytes per element of the plain types (0 for block types).
func (d DType) elemSize() uint64 {
	switch d {
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	case F64, I64:
		return 8
	case I8, U8:
		return 1
	}
	return 0
}

// Elements returns the product of dims (1 for no dims), or an error if it
// overflows int64.
func Elements(dims []uint64) (uint64, error) {
	n := uint64(1)
	for _, d := range dims {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("element count of dims %v overflows", dims)
		}
		n = lo
	}
	return n, nil
}

// ByteSize returns the bytes a tensor of dtype d and dims (APR order,
// outermost first) occupies, unpadded. It fails for an unknown dtype and
// when the size overflows.
func (d DType) ByteSize(dims []uint64) (uint64, error) {
	n, err := Elements(dims)
	if err != nil {
		return 0, err
	}
	mul := func(a, b uint64) (uint64, error) {
		hi, lo := bits.Mul64(a, b)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("%s size of dims %v overflows", d, dims)
		}
		return lo, nil
	}
	switch d {
	case Q4_K, Q6_K:
		// Rows of whole 256-value super-blocks (the innermost dim padded up).
		if n == 0 {
			return 0, nil
		}
		cols := uint64(1)
		if len(dims) > 0 {
			cols = dims[len(dims)-1]
		}
		rows := n / cols
		qt, _ := d.GGML()
		blocks, err := mul(rows, (cols+quant.QK_K-1)/quant.QK_K)
		if err != nil {
			return 0, err
		}
		return mul(blocks, uint64(qt.TypeSize()))
	case AprQ4:
		return mul((n+aprQ4Block-1)/aprQ4Block, aprQ4BlockBytes)
	case AprQ8:
		if n == 0 {
			return 0, nil
		}
		return n + 4, nil // n <= MaxInt64, so no overflow into uint64
	}
	if es := d.elemSize(); es != 0 {
		return mul(n, es)
	}
	return 0, fmt.Errorf("%w: %d", ErrUnknownType, uint8(d))
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
