package apr

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"
)

// Writer builds an APR v2 file as aprender's AprV2Writer lays it out:
// header (magic "APR\0", version 2.0, LAYOUT_ROW_MAJOR), compact metadata
// JSON, the index sorted by name, each tensor's data padded to 64 bytes in
// index order, and the footer CRC. Tensor bytes are not copied: AddTensor
// keeps the slice and AddTensorFunc a function that produces the bytes
// when the file is written, so a converted model never has to be in
// memory at once.
type Writer struct {
	md      *Metadata
	tensors []writerTensor
	names   map[string]bool

	// Progress, if set, is called before each tensor's data is written:
	// tensor i of n (from 0), its name, and the bytes written so far. An
	// error it returns (a cancelled context, say) stops the write.
	Progress func(i, n int, name string, written int64) error
}

type writerTensor struct {
	info    TensorInfo
	data    []byte
	produce func(w io.Writer) error
}

// NewWriter returns an empty writer.
func NewWriter() *Writer { return &Writer{md: NewMetadata(), names: map[string]bool{}} }

// Metadata returns the metadata being built.
func (w *Writer) Metadata() *Metadata { return w.md }

// Tensors returns the tensors added so far, in the order added (Offset is
// set only when the file is written).
func (w *Writer) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(w.tensors))
	for i, t := range w.tensors {
		out[i] = t.info
	}
	return out
}

// AddTensor adds a tensor with its bytes. dims are APR's order (outermost
// first); data must hold exactly the bytes dtype and dims call for. The
// writer keeps data until the file is written.
func (w *Writer) AddTensor(name string, d DType, dims []uint64, data []byte) error {
	info, err := w.check(name, d, dims)
	if err != nil {
		return err
	}
	if uint64(len(data)) != info.Size {
		return fmt.Errorf("apr: tensor %q: %d bytes of data, %s %v takes %d", name, len(data), d, dims, info.Size)
	}
	w.add(writerTensor{info: info, data: data})
	return nil
}

// AddTensorFunc adds a tensor whose bytes produce writes when the file is
// written; it must write exactly the size dtype and dims call for.
func (w *Writer) AddTensorFunc(name string, d DType, dims []uint64, produce func(w io.Writer) error) error {
	info, err := w.check(name, d, dims)
	if err != nil {
		return err
	}
	w.add(writerTensor{info: info, produce: produce})
	return nil
}

func (w *Writer) add(t writerTensor) {
	w.names[t.info.Name] = true
	w.tensors = append(w.tensors, t)
}

func (w *Writer) check(name string, d DType, dims []uint64) (TensorInfo, error) {
	switch {
	case name == "" || !utf8.ValidString(name) || len(name) > MaxNameLen:
		return TensorInfo{}, fmt.Errorf("apr: tensor name %q: must be 1 to %d bytes of UTF-8", name, MaxNameLen)
	case w.names[name]:
		return TensorInfo{}, fmt.Errorf("apr: tensor %q added twice", name)
	case !d.Known():
		return TensorInfo{}, fmt.Errorf("apr: tensor %q: %w: %d", name, ErrUnknownType, uint8(d))
	case len(dims) > MaxDims:
		return TensorInfo{}, fmt.Errorf("apr: tensor %q: %d dims (at most %d)", name, len(dims), MaxDims)
	}
	size, err := d.ByteSize(dims)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("apr: tensor %q: %w", name, err)
	}
	return TensorInfo{Name: name, DType: d, Code: uint8(d), Dims: slices.Clone(dims), Size: size}, nil
}

// layout is a file's plan: the metadata bytes, the sorted tensors with
// offsets, and the header.
type layout struct {
	meta    []byte
	index   []byte
	tensors []*writerTensor
	header  [HeaderSize]byte
	size    uint64 // whole file, footer included
}

func (w *Writer) plan() (*layout, error) {
	meta, err := w.md.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("apr: %w", err)
	}
	// What is written must read back as aprender reads it.
	if _, err := parseMetadata(meta); err != nil {
		return nil, fmt.Errorf("apr: metadata would not read back: %w", err)
	}
	if err := checkRealizarAliases(w.md); err != nil {
		return nil, fmt.Errorf("apr: %w", err)
	}
	if len(meta) > math.MaxUint32 {
		return nil, fmt.Errorf("apr: metadata is %d bytes, more than the header's u32 size field holds", len(meta))
	}
	if len(w.tensors) > math.MaxUint32 {
		return nil, fmt.Errorf("apr: %d tensors, more than the header's u32 count holds", len(w.tensors))
	}
	l := &layout{meta: meta}
	for i := range w.tensors {
		l.tensors = append(l.tensors, &w.tensors[i])
	}
	// Byte-wise name order, as Rust's String ordering and the reader's check.
	slices.SortFunc(l.tensors, func(a, b *writerTensor) int { return cmp.Compare(a.info.Name, b.info.Name) })
	var off uint64
	le := binary.LittleEndian
	for _, t := range l.tensors {
		t.info.Offset = off
		e := le.AppendUint16(nil, uint16(len(t.info.Name)))
		e = append(e, t.info.Name...)
		e = append(e, uint8(t.info.DType), uint8(len(t.info.Dims)))
		for _, d := range t.info.Dims {
			e = le.AppendUint64(e, d)
		}
		e = le.AppendUint64(e, t.info.Offset)
		e = le.AppendUint64(e, t.info.Size)
		l.index = append(l.index, e...)
		off += alignUp(t.info.Size, Alignment)
	}
	metaOff := uint64(HeaderSize)
	indexOff := metaOff + alignUp(uint64(len(meta)), Alignment)
	dataOff := indexOff + alignUp(uint64(len(l.index)), Alignment)
	l.size = dataOff + off + FooterSize

	h := l.header[:]
	copy(h, Magic[:])
	h[4], h[5] = VersionMajor, VersionMinor
	le.PutUint16(h[6:], uint16(FlagLayoutRowMajor))
	le.PutUint32(h[8:], uint32(len(l.tensors)))
	le.PutUint64(h[12:], metaOff)
	le.PutUint32(h[20:], uint32(len(meta)))
	le.PutUint64(h[24:], indexOff)
	le.PutUint64(h[32:], dataOff)
	le.PutUint32(h[40:], HeaderChecksum(h))
	return l, nil
}

// WriteTo writes the file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	l, err := w.plan()
	if err != nil {
		return 0, err
	}
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(out, 1<<20)
	cw := &countingWriter{w: io.MultiWriter(bw, crc)}
	pad := func() {
		if rem := alignUp(uint64(cw.n), Alignment) - uint64(cw.n); rem > 0 {
			cw.Write(make([]byte, rem))
		}
	}
	cw.Write(l.header[:])
	cw.Write(l.meta)
	pad()
	cw.Write(l.index)
	pad()
	for i, t := range l.tensors {
		if w.Progress != nil {
			if err := w.Progress(i, len(l.tensors), t.info.Name, cw.n); err != nil {
				return cw.n, err
			}
		}
		if err := writeTensor(cw, t); err != nil {
			return cw.n, err
		}
		pad()
	}
	if cw.err != nil {
		return cw.n, fmt.Errorf("apr: write: %w", cw.err)
	}
	cw.w = bw // the footer is not part of its own checksum
	var foot [FooterSize]byte
	binary.LittleEndian.PutUint32(foot[:], crc.(hash.Hash32).Sum32())
	cw.Write(foot[:])
	if cw.err != nil {
		return cw.n, fmt.Errorf("apr: write: %w", cw.err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("apr: write: %w", err)
	}
	if uint64(cw.n) != l.size {
		return cw.n, fmt.Errorf("apr: wrote %d bytes, planned %d", cw.n, l.size)
	}
	return cw.n, nil
}

func writeTensor(cw *countingWriter, t *writerTensor) error {
	if t.produce == nil {
		cw.Write(t.data)
		return nil
	}
	start := cw.n
	if err := t.produce(cw); err != nil {
		return fmt.Errorf("apr: tensor %q: %w", t.info.Name, err)
	}
	if got := uint64(cw.n - start); got != t.info.Size && cw.err == nil {
		return fmt.Errorf("apr: tensor %q: produced %d bytes, %s %v takes %d", t.info.Name, got, t.info.DType, t.info.Dims, t.info.Size)
	}
	return nil
}

// WriteFile writes the file atomically: to a temporary file in the same
// directory, synced, then renamed over path. It returns the bytes written.
func (w *Writer) WriteFile(path string) (n int64, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("apr: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if n, err = w.WriteTo(tmp); err != nil {
		return n, fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return n, fmt.Errorf("apr: %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return n, fmt.Errorf("apr: %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a model file is as readable as any
	// other file the user creates.
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return n, fmt.Errorf("apr: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return n, fmt.Errorf("apr: %w", err)
	}
	return n, nil
}

// countingWriter counts bytes and remembers the first error, so the
// layout code can write without checking each call.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}
