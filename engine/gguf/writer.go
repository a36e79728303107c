package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/falsify/falsify/engine/quant"
)

// Writer builds a GGUF v3 file: metadata in insertion order, tensors in
// the order added, each tensor's data aligned as gguf-py and llama.cpp's
// gguf writer align it. Tensor bytes are not copied until written.
type Writer struct {
	md      *Metadata
	tensors []writerTensor
	names   map[string]bool
}

type writerTensor struct {
	info TensorInfo
	data []byte
}

// NewWriter returns an empty writer.
func NewWriter() *Writer {
	return &Writer{md: NewMetadata(), names: map[string]bool{}}
}

// Metadata returns the metadata being built; set keys with its Set method.
// general.alignment, if set, must be a power-of-two uint32.
func (w *Writer) Metadata() *Metadata { return w.md }

// Set is shorthand for Metadata().Set.
func (w *Writer) Set(key string, v any) error { return w.md.Set(key, v) }

// AddTensor appends a tensor. dims are ggml's ne (innermost first); data
// must hold exactly the bytes the type and dims call for. The writer keeps
// a reference to data until the file is written.
func (w *Writer) AddTensor(name string, t quant.Type, dims []uint64, data []byte) error {
	switch {
	case name == "" || !utf8.ValidString(name):
		return fmt.Errorf("gguf: tensor name %q is empty or not UTF-8", name)
	case w.names[name]:
		return fmt.Errorf("gguf: tensor %q added twice", name)
	case len(dims) == 0 || len(dims) > MaxDims:
		return fmt.Errorf("gguf: tensor %q: %d dims (1 to %d allowed)", name, len(dims), MaxDims)
	}
	// A dimension of 0 makes an empty tensor with no data, as gguf-py
	// writes it; only an element count past int64 is refused.
	n := uint64(1)
	for _, d := range dims {
		if d > math.MaxInt64 || (n > 0 && d > math.MaxInt64/n) {
			return fmt.Errorf("gguf: tensor %q: bad dims %v", name, dims)
		}
		n *= d
	}
	if int64(dims[0])%int64(max(t.BlockSize(), 1)) != 0 {
		return fmt.Errorf("gguf: tensor %q: row of %d is not a whole number of %s blocks", name, dims[0], t)
	}
	size, err := quant.RowSize(t, int64(n))
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	if int64(len(data)) != size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, %s %v needs %d", name, len(data), t, dims, size)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, writerTensor{
		info: TensorInfo{Name: name, Type: t, Dims: append([]uint64(nil), dims...), Size: uint64(size)},
		data: data,
	})
	return nil
}

func (w *Writer) alignment() (uint64, error) {
	kv, ok := w.md.Get(KeyAlignment)
	if !ok {
		return DefaultAlignment, nil
	}
	a, isU32 := kv.Value.(uint32)
	if !isU32 || a == 0 || a&(a-1) != 0 {
		return 0, fmt.Errorf("gguf: %s must be a power-of-two uint32, is %v (%s)", KeyAlignment, kv.Value, kv.Type)
	}
	return uint64(a), nil
}

// WriteTo writes the file to out.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	align, err := w.alignment()
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: bufio.NewWriterSize(out, 1<<20)}
	e := encoder{w: cw}
	e.u32(Magic)
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(w.md.Len()))
	for _, kv := range w.md.KVs() {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		e.value(kv.Type, kv.Value)
	}
	var offset uint64
	for i := range w.tensors {
		t := &w.tensors[i].info
		t.Offset = offset
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
		offset = alignUp(offset+t.Size, align)
	}
	// A file without tensors ends after its metadata, as gguf-py writes
	// vocab-only files.
	if len(w.tensors) > 0 {
		e.pad(align)
	}
	for _, t := range w.tensors {
		e.bytes(t.data)
		e.pad(align)
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("gguf: write: %w", e.err)
	}
	if err := cw.w.Flush(); err != nil {
		return cw.n, fmt.Errorf("gguf: write: %w", err)
	}
	return cw.n, nil
}

// WriteFile writes the file atomically: to a temporary file in the same
// directory, synced, then renamed over path.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a model file is as readable as any
	// other file the user creates.
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian fields and remembers the first error.
type encoder struct {
	w   *countingWriter
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.bytes(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bytes(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bytes(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:8])
}
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }

func (e *encoder) pad(align uint64) {
	n := uint64(e.w.n)
	if rem := alignUp(n, align) - n; rem > 0 {
		e.bytes(make([]byte, rem))
	}
}

func (e *encoder) value(t ValueType, v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	case Array:
		e.array(x)
	default:
		if e.err == nil {
			e.err = fmt.Errorf("no encoding for %T as %s", v, t)
		}
	}
}

func (e *encoder) array(a Array) {
	e.u32(uint32(a.Elem))
	e.u64(uint64(a.Len()))
	switch vals := a.Values.(type) {
	case []uint8:
		e.bytes(vals)
	case []string:
		for _, s := range vals {
			e.str(s)
		}
	default:
		forEach(a.Values, func(v any) { e.value(a.Elem, v) })
	}
}

// forEach calls fn with every element of a typed slice held in values.
func forEach(values any, fn func(any)) {
	switch v := values.(type) {
	case []int8:
		for _, x := range v {
			fn(x)
		}
	case []bool:
		for _, x := range v {
			fn(x)
		}
	case []uint16:
		for _, x := range v {
			fn(x)
		}
	case []int16:
		for _, x := range v {
			fn(x)
		}
	case []uint32:
		for _, x := range v {
			fn(x)
		}
	case []int32:
		for _, x := range v {
			fn(x)
		}
	case []float32:
		for _, x := range v {
			fn(x)
		}
	case []uint64:
		for _, x := range v {
			fn(x)
		}
	case []int64:
		for _, x := range v {
			fn(x)
		}
	case []float64:
		for _, x := range v {
			fn(x)
		}
	case []Array:
		for _, x := range v {
			fn(x)
		}
	}
}
