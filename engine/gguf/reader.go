package gguf

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/mmapfile"
)

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// Limits that mirror ggml's: GGML_MAX_DIMS, and a nesting depth for arrays
// of arrays (ggml allows none; gguf-py writes none; tokenizers never need
// more than one level).
const (
	MaxDims       = 4
	maxArrayDepth = 8
)

// MemoryBudgetFactor bounds the heap the decoded metadata may take: at most
// this many times the file's size (plus 1 MiB). A real vocabulary takes
// under twice its encoded size (a 16-byte string header per 8-byte length
// prefix); a file of nested empty arrays takes twice (a 24-byte Array per
// 12-byte encoding), so only a file built to inflate is refused.
const MemoryBudgetFactor = 3

// Go heap sizes charged per decoded value (64-bit hosts).
const (
	stringHeaderSize = 16 // string in a []string
	arrayValueSize   = 24 // Array in a []Array
	sliceHeaderSize  = 24 // a non-empty typed slice boxed in Array.Values
)

// Sentinel errors for the categories a caller may test with errors.Is.
var (
	ErrBadMagic           = errors.New("not a GGUF file (bad magic)")
	ErrUnsupportedVersion = errors.New("unsupported GGUF version")
	ErrTruncated          = errors.New("file truncated")
	ErrCorrupt            = errors.New("corrupt GGUF file")
)

// FormatError describes a problem at one place of a file.
type FormatError struct {
	Path   string // file path (or the name given to Parse)
	Field  string // what was being read, e.g. `tensor 3 "blk.0.attn_q.weight" dims`
	Offset int64  // byte offset where the field starts
	Err    error
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: %s (offset %d): %v", e.Path, e.Field, e.Offset, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }

// TensorInfo describes one tensor. Dims are ggml's ne: Dims[0] is the
// innermost (contiguous) dimension, so a weight matrix of out rows of in
// values has Dims = [in, out].
type TensorInfo struct {
	Name   string
	Type   quant.Type
	Dims   []uint64
	Offset uint64 // relative to File.DataOffset
	Size   uint64 // bytes
}

// Elements returns the product of the dims.
func (t *TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a parsed GGUF file. Its tensor data stays in the file's memory
// mapping until Close.
type File struct {
	Path       string
	Version    uint32
	Alignment  uint64
	DataOffset uint64 // absolute offset of the tensor data section
	Metadata   *Metadata
	Tensors    []TensorInfo

	data   []byte       // the whole file
	unmap  func() error // releases the mapping (nil for Parse)
	byName map[string]int
}

// Open maps the file at path and parses it.
func Open(path string) (*File, error) {
	data, unmap, err := mmapfile.Map(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := Parse(path, data)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the mapping. Views returned by Data must not be used after.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data = nil, nil
	return err
}

// Size is the file's size in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Data returns the bytes of a tensor of this file: a view into the mapping,
// valid until Close, not to be modified.
func (f *File) Data(t *TensorInfo) []byte {
	start := f.DataOffset + t.Offset
	return f.data[start : start+t.Size : start+t.Size]
}

// Parse parses a GGUF file held in data; name is used in errors. The File
// keeps data (tensor views point into it).
func Parse(name string, data []byte) (*File, error) {
	p := &parser{name: name, buf: data, budget: MemoryBudgetFactor*int64(len(data)) + 1<<20}
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// parser walks the file front to back. remaining() is the budget every
// count and length is checked against before allocation.
type parser struct {
	name   string
	buf    []byte
	off    int64
	budget int64 // heap bytes the decoded metadata may still take
}

// charge takes n bytes of decoded-value heap from the budget.
func (p *parser) charge(field string, at int64, n int64) error {
	p.budget -= n
	if p.budget < 0 {
		return p.fail(field, at, fmt.Errorf("%w: decoded metadata would take more than %d times the file's %d bytes in memory", ErrCorrupt, MemoryBudgetFactor, len(p.buf)))
	}
	return nil
}

func (p *parser) remaining() int64 { return int64(len(p.buf)) - p.off }

func (p *parser) fail(field string, at int64, err error) error {
	return &FormatError{Path: p.name, Field: field, Offset: at, Err: err}
}

func (p *parser) take(field string, n int64) ([]byte, error) {
	if n < 0 || n > p.remaining() {
		return nil, p.fail(field, p.off, fmt.Errorf("%w: need %d bytes, %d left", ErrTruncated, n, max(p.remaining(), 0)))
	}
	b := p.buf[p.off : p.off+n]
	p.off += n
	return b, nil
}

func (p *parser) u32(field string) (uint32, error) {
	b, err := p.take(field, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (p *parser) u64(field string) (uint64, error) {
	b, err := p.take(field, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a u64 count of items of at least minSize bytes each and
// refuses one the rest of the file cannot hold. The field's name is
// field+suffix, joined only for an error (arrays of arrays read millions).
func (p *parser) count(field, suffix string, minSize int) (int, error) {
	at := p.off
	if p.remaining() < 8 {
		_, err := p.u64(field + suffix)
		return 0, err
	}
	n := binary.LittleEndian.Uint64(p.buf[p.off:])
	p.off += 8
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(p.remaining())/uint64(minSize) {
		return 0, p.fail(field+suffix, at, fmt.Errorf("%w: count %d needs at least %d bytes per item, only %d bytes left", ErrCorrupt, n, minSize, p.remaining()))
	}
	return int(n), nil
}

func (p *parser) str(field string) (string, error) {
	at := p.off
	if p.remaining() < 8 {
		_, err := p.u64(field + " length")
		return "", err
	}
	n := binary.LittleEndian.Uint64(p.buf[p.off:])
	p.off += 8
	if n > uint64(p.remaining()) {
		return "", p.fail(field, at, fmt.Errorf("%w: string length %d, only %d bytes left", ErrTruncated, n, p.remaining()))
	}
	if err := p.charge(field, at, int64(n)); err != nil {
		return "", err
	}
	b, _ := p.take(field, int64(n))
	return string(b), nil
}

func (p *parser) file() (*File, error) {
	magic, err := p.u32("header magic")
	if err != nil {
		return nil, err
	}
	if magic != Magic {
		return nil, p.fail("header magic", 0, fmt.Errorf("%w: got %q", ErrBadMagic, printableMagic(p.buf[:4])))
	}
	version, err := p.u32("header version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 2 || version == 3:
	case version == 1:
		return nil, p.fail("header version", 4, fmt.Errorf("%w: 1 (GGUF v1 used 32-bit counts; convert it with llama.cpp first)", ErrUnsupportedVersion))
	case version&0x00FFFFFF == 0 && version>>24 >= 1 && version>>24 <= 3:
		// A big-endian writer (gguf-py --bigendian) stores the magic as
		// "GGUF" bytes but every number swapped: version 3 reads 0x03000000.
		return nil, p.fail("header version", 4, fmt.Errorf("%w: %d is version %d byte-swapped: big-endian GGUF files are not supported (convert on a little-endian host)", ErrUnsupportedVersion, version, version>>24))
	default:
		return nil, p.fail("header version", 4, fmt.Errorf("%w: %d (supported: 2, 3)", ErrUnsupportedVersion, version))
	}
	f := &File{Path: p.name, Version: version, Metadata: NewMetadata(), data: p.buf, byName: map[string]int{}}

	// Each tensor info is at least name length (8) + n_dims (4) + type (4)
	// + offset (8); each KV at least key length (8) + type (4) + 1 byte.
	nTensors, err := p.count("header tensor_count", "", 24)
	if err != nil {
		return nil, err
	}
	nKV, err := p.count("header metadata_kv_count", "", 13)
	if err != nil {
		return nil, err
	}
	for i := range nKV {
		if err := p.kv(f.Metadata, i); err != nil {
			return nil, err
		}
	}
	if err := p.alignment(f); err != nil {
		return nil, err
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	for i := range nTensors {
		ti, err := p.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.byName[ti.Name]; dup {
			return nil, p.fail(fmt.Sprintf("tensor %d %q name", i, ti.Name), p.off, fmt.Errorf("%w: duplicate tensor name", ErrCorrupt))
		}
		f.byName[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}
	f.DataOffset = alignUp(uint64(p.off), f.Alignment)
	if err := p.checkTensorData(f); err != nil {
		return nil, err
	}
	return f, nil
}

func printableMagic(b []byte) string {
	s := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		s[i] = c
	}
	return string(s)
}

func (p *parser) kv(md *Metadata, i int) error {
	at := p.off
	key, err := p.str(fmt.Sprintf("metadata %d key", i))
	if err != nil {
		return err
	}
	if !utf8.ValidString(key) {
		return p.fail(fmt.Sprintf("metadata %d key", i), at, fmt.Errorf("%w: key is not valid UTF-8: %q", ErrCorrupt, key))
	}
	if key == "" {
		return p.fail(fmt.Sprintf("metadata %d key", i), at, fmt.Errorf("%w: empty key", ErrCorrupt))
	}
	if md.Has(key) {
		return p.fail(fmt.Sprintf("metadata %d key %q", i, key), at, fmt.Errorf("%w: duplicate key", ErrCorrupt))
	}
	field := fmt.Sprintf("metadata %q", key)
	typeAt := p.off
	t, err := p.u32(field + " type")
	if err != nil {
		return err
	}
	vt := ValueType(t)
	if vt > TypeFloat64 {
		return p.fail(field+" type", typeAt, fmt.Errorf("%w: unknown value type %d", ErrCorrupt, t))
	}
	v, err := p.value(field, vt, 0)
	if err != nil {
		return err
	}
	md.add(KV{Key: key, Type: vt, Value: v})
	return nil
}

func (p *parser) value(field string, t ValueType, depth int) (any, error) {
	if t == TypeString {
		return p.str(field)
	}
	if t == TypeArray {
		return p.array(field, depth)
	}
	b, err := p.take(field, int64(t.fixedSize()))
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeBool:
		if b[0] > 1 {
			return nil, p.fail(field, p.off-1, fmt.Errorf("%w: bool value %d", ErrCorrupt, b[0]))
		}
		return b[0] == 1, nil
	case TypeUint16:
		return binary.LittleEndian.Uint16(b), nil
	case TypeInt16:
		return int16(binary.LittleEndian.Uint16(b)), nil
	case TypeUint32:
		return binary.LittleEndian.Uint32(b), nil
	case TypeInt32:
		return int32(binary.LittleEndian.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), nil
	case TypeUint64:
		return binary.LittleEndian.Uint64(b), nil
	case TypeInt64:
		return int64(binary.LittleEndian.Uint64(b)), nil
	case TypeFloat64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	}
	return nil, p.fail(field, p.off, fmt.Errorf("%w: unknown value type %d", ErrCorrupt, t))
}

func (p *parser) array(field string, depth int) (Array, error) {
	if depth >= maxArrayDepth {
		return Array{}, p.fail(field, p.off, fmt.Errorf("%w: arrays nested deeper than %d", ErrCorrupt, maxArrayDepth))
	}
	at := p.off
	if p.remaining() < 4 {
		_, err := p.u32(field + " array element type")
		return Array{}, err
	}
	et := binary.LittleEndian.Uint32(p.buf[p.off:])
	p.off += 4
	elem := ValueType(et)
	if elem > TypeFloat64 {
		return Array{}, p.fail(field+" array element type", at, fmt.Errorf("%w: unknown value type %d", ErrCorrupt, et))
	}
	n, err := p.count(field, " array length", elem.minEncodedSize())
	if err != nil {
		return Array{}, err
	}
	a := Array{Elem: elem}
	if n == 0 {
		// One shared empty slice per type: nested empty arrays cost only
		// their Array value in the parent.
		a.Values = emptyValues[elem]
		return a, nil
	}
	if err := p.charge(field, at, sliceHeaderSize); err != nil {
		return Array{}, err
	}
	if sz := elem.fixedSize(); sz > 0 {
		if err := p.charge(field, at, (int64(n*sz)+7)&^7); err != nil {
			return Array{}, err
		}
		raw, _ := p.take(field, int64(n*sz)) // count() proved it fits
		a.Values, err = decodeFixedArray(elem, raw, n)
		if err != nil {
			return Array{}, p.fail(field, at, err)
		}
		return a, nil
	}
	switch elem {
	case TypeString:
		if err := p.charge(field, at, int64(n)*stringHeaderSize); err != nil {
			return Array{}, err
		}
		vals := make([]string, n)
		for i := range vals {
			if vals[i], err = p.str(field); err != nil {
				return Array{}, atIndex(err, field, i)
			}
		}
		a.Values = vals
	case TypeArray:
		if err := p.charge(field, at, int64(n)*arrayValueSize); err != nil {
			return Array{}, err
		}
		vals := make([]Array, n)
		for i := range vals {
			if vals[i], err = p.array(field, depth+1); err != nil {
				return Array{}, atIndex(err, field, i)
			}
		}
		a.Values = vals
	}
	return a, nil
}

// atIndex names element i of the array field in an error from reading
// it. Element names are built only on failure: formatting one per element
// cost more memory than the elements themselves.
func atIndex(err error, field string, i int) error {
	var fe *FormatError
	if errors.As(err, &fe) && strings.HasPrefix(fe.Field, field) {
		fe.Field = fmt.Sprintf("%s[%d]%s", field, i, fe.Field[len(field):])
	}
	return err
}

// emptyValues holds the Values of an empty array of each element type.
var emptyValues = [...]any{
	TypeUint8: []uint8{}, TypeInt8: []int8{}, TypeUint16: []uint16{}, TypeInt16: []int16{},
	TypeUint32: []uint32{}, TypeInt32: []int32{}, TypeFloat32: []float32{}, TypeBool: []bool{},
	TypeString: []string{}, TypeArray: []Array{}, TypeUint64: []uint64{}, TypeInt64: []int64{},
	TypeFloat64: []float64{},
}

func decodeFixedArray(t ValueType, raw []byte, n int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), raw...), nil
	case TypeInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v, nil
	case TypeBool:
		v := make([]bool, n)
		for i := range v {
			if raw[i] > 1 {
				return nil, fmt.Errorf("%w: bool value %d at index %d", ErrCorrupt, raw[i], i)
			}
			v[i] = raw[i] == 1
		}
		return v, nil
	case TypeUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(raw[2*i:])
		}
		return v, nil
	case TypeInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(raw[2*i:]))
		}
		return v, nil
	case TypeUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(raw[4*i:])
		}
		return v, nil
	case TypeInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(raw[4*i:]))
		}
		return v, nil
	case TypeFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return v, nil
	case TypeUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(raw[8*i:])
		}
		return v, nil
	case TypeInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(raw[8*i:]))
		}
		return v, nil
	case TypeFloat64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: not a fixed-size type %s", ErrCorrupt, t)
}

func (p *parser) alignment(f *File) error {
	f.Alignment = DefaultAlignment
	kv, ok := f.Metadata.Get(KeyAlignment)
	if !ok {
		return nil
	}
	a, isU32 := kv.Value.(uint32)
	if !isU32 {
		return p.fail("metadata \""+KeyAlignment+"\"", p.off, fmt.Errorf("%w: is %s, want uint32", ErrCorrupt, kv.Type))
	}
	if a == 0 || a&(a-1) != 0 {
		return p.fail("metadata \""+KeyAlignment+"\"", p.off, fmt.Errorf("%w: alignment %d is not a power of two", ErrCorrupt, a))
	}
	f.Alignment = uint64(a)
	return nil
}

func (p *parser) tensorInfo(i int) (TensorInfo, error) {
	at := p.off
	name, err := p.str(fmt.Sprintf("tensor %d name", i))
	if err != nil {
		return TensorInfo{}, err
	}
	field := fmt.Sprintf("tensor %d %q", i, name)
	if !utf8.ValidString(name) {
		return TensorInfo{}, p.fail(fmt.Sprintf("tensor %d name", i), at, fmt.Errorf("%w: name is not valid UTF-8: %q", ErrCorrupt, name))
	}
	if name == "" {
		return TensorInfo{}, p.fail(fmt.Sprintf("tensor %d name", i), at, fmt.Errorf("%w: empty tensor name", ErrCorrupt))
	}
	dimsAt := p.off
	nd, err := p.u32(field + " n_dims")
	if err != nil {
		return TensorInfo{}, err
	}
	if nd == 0 || nd > MaxDims {
		return TensorInfo{}, p.fail(field+" n_dims", dimsAt, fmt.Errorf("%w: %d dims (1 to %d allowed)", ErrCorrupt, nd, MaxDims))
	}
	ti := TensorInfo{Name: name, Dims: make([]uint64, nd)}
	elements := uint64(1)
	for d := range ti.Dims {
		dimAt := p.off
		v, err := p.u64(fmt.Sprintf("%s dims[%d]", field, d))
		if err != nil {
			return TensorInfo{}, err
		}
		// A dimension of 0 is a valid empty tensor with no data (ggml's
		// gguf.cpp and gguf-py accept it); only overflow is refused.
		if v > math.MaxInt64 || (elements > 0 && v > math.MaxInt64/elements) {
			return TensorInfo{}, p.fail(fmt.Sprintf("%s dims[%d]", field, d), dimAt, fmt.Errorf("%w: dimension %d (element count overflows)", ErrCorrupt, v))
		}
		ti.Dims[d] = v
		elements *= v
	}
	typeAt := p.off
	t, err := p.u32(field + " type")
	if err != nil {
		return TensorInfo{}, err
	}
	ti.Type = quant.Type(t)
	if !ti.Type.Known() {
		return TensorInfo{}, p.fail(field+" type", typeAt, fmt.Errorf("%w: id %d", quant.ErrUnknownType, t))
	}
	if ti.Dims[0]%uint64(ti.Type.BlockSize()) != 0 {
		return TensorInfo{}, p.fail(field+" dims[0]", dimsAt, fmt.Errorf("%w: row of %d elements is not a whole number of %s blocks (%d)", ErrCorrupt, ti.Dims[0], ti.Type, ti.Type.BlockSize()))
	}
	// elements <= MaxInt64 and TypeSize/BlockSize <= 4, but the byte count
	// can still overflow: check before multiplying.
	blocks := elements / uint64(ti.Type.BlockSize())
	if blocks > math.MaxInt64/uint64(ti.Type.TypeSize()) {
		return TensorInfo{}, p.fail(field+" dims", dimsAt, fmt.Errorf("%w: tensor byte size overflows", ErrCorrupt))
	}
	ti.Size = blocks * uint64(ti.Type.TypeSize())
	if ti.Offset, err = p.u64(field + " offset"); err != nil {
		return TensorInfo{}, err
	}
	return ti, nil
}

// checkTensorData verifies that every tensor is aligned and lies inside the
// file, and that no two tensors overlap.
func (p *parser) checkTensorData(f *File) error {
	size := uint64(len(p.buf))
	if f.DataOffset > size && len(f.Tensors) > 0 {
		return p.fail("tensor data section", int64(f.DataOffset), fmt.Errorf("%w: data section starts at %d, past the end of the %d-byte file", ErrTruncated, f.DataOffset, size))
	}
	type span struct {
		start, end uint64
		name       string
	}
	spans := make([]span, 0, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		field := fmt.Sprintf("tensor %d %q offset", i, t.Name)
		if t.Offset%f.Alignment != 0 {
			return p.fail(field, int64(f.DataOffset), fmt.Errorf("%w: offset %d is not a multiple of the alignment %d", ErrCorrupt, t.Offset, f.Alignment))
		}
		avail := size - min(f.DataOffset, size)
		if t.Offset > avail || t.Size > avail-t.Offset {
			return p.fail(field, int64(f.DataOffset), fmt.Errorf("%w: %d bytes at data offset %d end past the end of the file (%d bytes of data)", ErrTruncated, t.Size, t.Offset, avail))
		}
		spans = append(spans, span{t.Offset, t.Offset + t.Size, t.Name})
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return p.fail(fmt.Sprintf("tensor %q offset", spans[i].name), int64(f.DataOffset), fmt.Errorf("%w: overlaps tensor %q", ErrCorrupt, spans[i-1].name))
		}
	}
	return nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
