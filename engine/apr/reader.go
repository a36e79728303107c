package apr

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"unicode/utf8"

	"github.com/falsify/falsify/internal/mmapfile"
)

// TensorInfo describes one tensor of the index. Dims are APR's order,
// outermost first: a weight matrix of out rows of in values has Dims =
// [out, in], the reverse of ggml's ne.
type TensorInfo struct {
	Name   string
	DType  DType // legacy ids already mapped to AprQ4 / AprQ8
	Code   uint8 // the dtype id as stored
	Dims   []uint64
	Offset uint64 // relative to Header.DataOffset
	Size   uint64 // bytes, unpadded
}

// Elements returns the product of the dims.
func (t *TensorInfo) Elements() uint64 {
	n, _ := Elements(t.Dims) // checked when the index was parsed
	return n
}

// File is a parsed APR file. Tensor data stays in the file's mapping (or
// the slice given to Parse) until Close.
type File struct {
	Path     string
	Header   Header
	Metadata *Metadata
	Tensors  []TensorInfo // in index order (sorted by name)
	Footer   uint32       // the stored footer CRC (verified)

	data   []byte
	unmap  func() error // releases the mapping (nil for Parse)
	byName map[string]int
}

// Open maps the file at path and parses it.
func Open(path string) (*File, error) { return open(path, nil) }

// OpenVerified is Open for a file whose footer CRC the caller verified
// before, for this very version of the file (engine keeps that fact in the
// digest cache, keyed by inode, size, mtime and ctime): when the stored
// footer equals footer, the CRC pass over every byte of the file is not
// repeated; every other check runs. A different stored footer is checked
// as Open checks it.
func OpenVerified(path string, footer uint32) (*File, error) { return open(path, &footer) }

func open(path string, verified *uint32) (*File, error) {
	data, unmap, err := mmapfile.Map(path)
	if err != nil {
		return nil, fmt.Errorf("apr: %w", err)
	}
	p := &parser{name: path, buf: data, verified: verified}
	f, err := p.file()
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the mapping. Views returned by Data must not be used
// after.
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

// Data returns the bytes of a tensor of this file: a view into the
// mapping, valid until Close, not to be modified.
func (f *File) Data(t *TensorInfo) []byte {
	start := f.Header.DataOffset + t.Offset
	return f.data[start : start+t.Size : start+t.Size]
}

// Float32 decodes a tensor to float32 (see ToFloat32), in a new slice.
func (f *File) Float32(t *TensorInfo) ([]float32, error) {
	n := t.Elements()
	if n > uint64(math.MaxInt32)*4 {
		return nil, fmt.Errorf("apr: %s: tensor %q: %d values is too many to decode at once", f.Path, t.Name, n)
	}
	cols := 1
	if len(t.Dims) > 0 {
		cols = int(t.Dims[len(t.Dims)-1])
	}
	out := make([]float32, n)
	if err := ToFloat32(t.DType, out, f.Data(t), cols); err != nil {
		return nil, fmt.Errorf("apr: %s: tensor %q: %w", f.Path, t.Name, err)
	}
	return out, nil
}

// HeaderChecksum computes the CRC-32 the header field must hold: of bytes
// 0..40 followed by bytes 44..64.
func HeaderChecksum(h []byte) uint32 {
	c := crc32.Update(0, crc32.IEEETable, h[:headerCRCFrom])
	return crc32.Update(c, crc32.IEEETable, h[headerCRCFrom+4:HeaderSize])
}

// Parse parses an APR file held in data; name is used in errors. The File
// keeps data (tensor views point into it).
func Parse(name string, data []byte) (*File, error) {
	p := &parser{name: name, buf: data}
	return p.file()
}

type parser struct {
	name     string
	buf      []byte
	verified *uint32 // a footer CRC already verified for this file (OpenVerified)
}

func (p *parser) fail(field string, at uint64, err error) error {
	return &FormatError{Path: p.name, Field: field, Offset: int64(min(at, math.MaxInt64)), Err: err}
}

func (p *parser) file() (*File, error) {
	if err := p.magic(); err != nil {
		return nil, err
	}
	if len(p.buf) < HeaderSize {
		return nil, p.fail("header", 0, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(p.buf), HeaderSize))
	}
	h := decodeHeader(p.buf)
	// The checksum first: a damaged header says nothing trustworthy.
	if got := HeaderChecksum(p.buf); got != h.Checksum {
		return nil, p.fail("header checksum", headerCRCFrom, fmt.Errorf("%w: stored 0x%08x, computed 0x%08x over bytes 0..40 and 44..64", ErrChecksum, h.Checksum, got))
	}
	if h.Major != VersionMajor {
		return nil, p.fail("header version", 4, fmt.Errorf("%w: %d.%d (supported: 2.x)", ErrVersion, h.Major, h.Minor))
	}
	if err := p.flags(h.Flags); err != nil {
		return nil, err
	}
	size := uint64(len(p.buf))
	if size < HeaderSize+FooterSize {
		return nil, p.fail("footer", size, fmt.Errorf("%w: no room for the 4-byte footer after the header", ErrTruncated))
	}
	footerAt := size - FooterSize
	f := &File{Path: p.name, Header: h, data: p.buf, byName: map[string]int{}}
	f.Footer = binary.LittleEndian.Uint32(p.buf[footerAt:])

	// Sections in order: header, metadata, index, data, footer.
	metaEnd, err := p.section("metadata", h.MetadataOffset, uint64(h.MetadataSize), HeaderSize, footerAt)
	if err != nil {
		return nil, err
	}
	if f.Metadata, err = parseMetadata(p.buf[h.MetadataOffset:metaEnd]); err != nil {
		return nil, p.fail("metadata", h.MetadataOffset, err)
	}
	if h.TensorIndexOffset < metaEnd || h.TensorIndexOffset > footerAt {
		return nil, p.fail("header tensor_index_offset", 24, fmt.Errorf("%w: %d is not between the metadata end %d and the footer at %d", ErrCorrupt, h.TensorIndexOffset, metaEnd, footerAt))
	}
	indexEnd, err := p.index(f, footerAt)
	if err != nil {
		return nil, err
	}
	if h.DataOffset < indexEnd || h.DataOffset > footerAt {
		return nil, p.fail("header data_offset", 32, fmt.Errorf("%w: %d is not between the index end %d and the footer at %d", ErrCorrupt, h.DataOffset, indexEnd, footerAt))
	}
	if err := p.tensorData(f, footerAt); err != nil {
		return nil, err
	}
	if p.verified != nil && *p.verified == f.Footer {
		return f, nil
	}
	if got := crc32.ChecksumIEEE(p.buf[:footerAt]); got != f.Footer {
		return nil, p.fail("footer checksum", footerAt, fmt.Errorf("%w: stored 0x%08x, computed 0x%08x over the %d preceding bytes", ErrChecksum, f.Footer, got, footerAt))
	}
	return f, nil
}

// magic checks the first four bytes, naming aprender's older formats.
func (p *parser) magic() error {
	if len(p.buf) < 4 {
		return p.fail("header magic", 0, fmt.Errorf("%w: %d bytes", ErrTruncated, len(p.buf)))
	}
	var m [4]byte
	copy(m[:], p.buf)
	switch m {
	case Magic, MagicAPR2:
		return nil
	case [4]byte{'A', 'P', 'R', '1'}:
		return p.fail("header magic", 0, fmt.Errorf("%w: \"APR1\" (APR v1, used for Whisper models; convert it to APR v2 with aprender's `apr convert`)", ErrOldFormat))
	case [4]byte{'A', 'P', 'R', 'N'}:
		return p.fail("header magic", 0, fmt.Errorf("%w: \"APRN\" (aprender's v1 serialization of classical models, not an APR v2 tensor file)", ErrOldFormat))
	}
	return p.fail("header magic", 0, fmt.Errorf("%w: got %q, want \"APR\\x00\" or \"APR2\"", ErrBadMagic, printable(m[:])))
}

func printable(b []byte) string {
	s := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		s[i] = c
	}
	return string(s)
}

func decodeHeader(b []byte) Header {
	le := binary.LittleEndian
	h := Header{
		Major: b[4], Minor: b[5],
		Flags:             Flags(le.Uint16(b[6:])),
		TensorCount:       le.Uint32(b[8:]),
		MetadataOffset:    le.Uint64(b[12:]),
		MetadataSize:      le.Uint32(b[20:]),
		TensorIndexOffset: le.Uint64(b[24:]),
		DataOffset:        le.Uint64(b[32:]),
		Checksum:          le.Uint32(b[40:]),
	}
	copy(h.Magic[:], b)
	copy(h.Reserved[:], b[44:HeaderSize])
	return h
}

func (p *parser) flags(f Flags) error {
	if bad := f & refused; bad != 0 {
		return p.fail("header flags", 6, fmt.Errorf("%w: %s files are not supported (flags %s); only uncompressed, unencrypted, unsigned single-file models are", ErrUnsupported, bad, f))
	}
	if f&FlagLayoutColMajor != 0 {
		return p.fail("header flags", 6, fmt.Errorf("%w: the file is marked LAYOUT_COLUMN_MAJOR, which aprender refuses as a GGUF import without proper layout handling; re-import it", ErrColumnMajor))
	}
	return nil
}

// section checks that [off, off+n) lies in [lo, hi) and returns its end.
func (p *parser) section(name string, off, n, lo, hi uint64) (uint64, error) {
	if off < lo {
		return 0, p.fail("header "+name+"_offset", 12, fmt.Errorf("%w: %s starts at %d, inside the header", ErrCorrupt, name, off))
	}
	if off > hi || n > hi-off {
		return 0, p.fail("header "+name+"_size", 20, fmt.Errorf("%w: %d bytes of %s at %d end past the footer at %d", ErrTruncated, n, name, off, hi))
	}
	return off + n, nil
}

// index parses the tensor index, which must end before the footer, and
// returns where it ends.
func (p *parser) index(f *File, footerAt uint64) (uint64, error) {
	h := &f.Header
	pos := h.TensorIndexOffset
	avail := footerAt - pos
	if uint64(h.TensorCount) > avail/minEntrySize {
		return 0, p.fail("header tensor_count", 8, fmt.Errorf("%w: %d tensors need at least %d bytes of index each, only %d bytes before the footer", ErrCorrupt, h.TensorCount, minEntrySize, avail))
	}
	f.Tensors = make([]TensorInfo, 0, h.TensorCount)
	for i := range int(h.TensorCount) {
		t, next, err := p.entry(i, pos, footerAt)
		if err != nil {
			return 0, err
		}
		if len(f.Tensors) > 0 {
			prev := f.Tensors[len(f.Tensors)-1].Name
			if t.Name < prev {
				return 0, p.fail(fmt.Sprintf("tensor %d %q name", i, t.Name), pos, fmt.Errorf("%w: index not sorted: %q comes after %q", ErrCorrupt, t.Name, prev))
			}
			if t.Name == prev {
				return 0, p.fail(fmt.Sprintf("tensor %d %q name", i, t.Name), pos, fmt.Errorf("%w: duplicate tensor name", ErrCorrupt))
			}
		}
		f.byName[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
		pos = next
	}
	return pos, nil
}

// entry parses index entry i at pos: u16 name length, name, u8 dtype, u8
// ndim, ndim u64 dims, u64 offset, u64 size.
func (p *parser) entry(i int, pos, end uint64) (TensorInfo, uint64, error) {
	le := binary.LittleEndian
	field := fmt.Sprintf("tensor %d", i)
	need := func(what string, at, n uint64) error {
		if n > end-at {
			return p.fail(field+" "+what, at, fmt.Errorf("%w: need %d bytes, %d left before the footer", ErrTruncated, n, end-at))
		}
		return nil
	}
	if err := need("name length", pos, 2); err != nil {
		return TensorInfo{}, 0, err
	}
	nameLen := uint64(le.Uint16(p.buf[pos:]))
	if nameLen > MaxNameLen {
		return TensorInfo{}, 0, p.fail(field+" name length", pos, fmt.Errorf("%w: %d bytes (at most %d)", ErrCorrupt, nameLen, MaxNameLen))
	}
	if err := need("name", pos+2, nameLen+2); err != nil {
		return TensorInfo{}, 0, err
	}
	nameAt := pos + 2
	t := TensorInfo{Name: string(p.buf[nameAt : nameAt+nameLen])}
	if t.Name == "" || !utf8.ValidString(t.Name) {
		return TensorInfo{}, 0, p.fail(field+" name", nameAt, fmt.Errorf("%w: name %q is empty or not UTF-8", ErrCorrupt, t.Name))
	}
	field = fmt.Sprintf("tensor %d %q", i, t.Name)
	pos = nameAt + nameLen
	t.Code = p.buf[pos]
	var ok bool
	if t.DType, ok = canonical(t.Code); !ok {
		return TensorInfo{}, 0, p.fail(field+" dtype", pos, fmt.Errorf("%w: id %d (known: 0 F32, 1 F16, 3 F64, 4 I32, 5 I64, 6 I8, 7 U8, 12 Q4_K, 14 Q6_K, 30 BF16, 128 AprQ4, 129 AprQ8)", ErrUnknownType, t.Code))
	}
	ndim := uint64(p.buf[pos+1])
	if ndim > MaxDims {
		return TensorInfo{}, 0, p.fail(field+" ndim", pos+1, fmt.Errorf("%w: %d dims (at most %d)", ErrCorrupt, ndim, MaxDims))
	}
	pos += 2
	if err := need("dims, offset and size", pos, 8*ndim+16); err != nil {
		return TensorInfo{}, 0, err
	}
	t.Dims = make([]uint64, ndim)
	for d := range t.Dims {
		t.Dims[d] = le.Uint64(p.buf[pos:])
		pos += 8
	}
	dimsAt := pos - 8*ndim
	t.Offset = le.Uint64(p.buf[pos:])
	t.Size = le.Uint64(p.buf[pos+8:])
	want, err := t.DType.ByteSize(t.Dims)
	if err != nil {
		return TensorInfo{}, 0, p.fail(field+" dims", dimsAt, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	if t.Size != want {
		return TensorInfo{}, 0, p.fail(field+" size", pos+8, fmt.Errorf("%w: %d bytes, but %s %v takes %d", ErrCorrupt, t.Size, t.DType, t.Dims, want))
	}
	return t, pos + 16, nil
}

// tensorData checks that every tensor is 64-byte aligned in the file and
// lies between the data offset and the footer.
func (p *parser) tensorData(f *File, footerAt uint64) error {
	h := &f.Header
	avail := footerAt - h.DataOffset
	for i := range f.Tensors {
		t := &f.Tensors[i]
		field := fmt.Sprintf("tensor %d %q offset", i, t.Name)
		if t.Offset > avail || t.Size > avail-t.Offset {
			return p.fail(field, h.DataOffset, fmt.Errorf("%w: %d bytes at data offset %d end past the footer (%d bytes of data)", ErrTruncated, t.Size, t.Offset, avail))
		}
		if (h.DataOffset+t.Offset)%Alignment != 0 {
			return p.fail(field, h.DataOffset+t.Offset, fmt.Errorf("%w: tensor starts at file offset %d, not a multiple of %d", ErrCorrupt, h.DataOffset+t.Offset, Alignment))
		}
	}
	return nil
}
