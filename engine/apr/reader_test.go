package apr_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/apr"
)

// TestParseSmallFile: every tensor written reads back with its dtype,
// dims and bytes, in name order, and the header says what the spec says.
func TestParseSmallFile(t *testing.T) {
	b := smallFile(t)
	f, err := apr.Parse("small.apr", b)
	if err != nil {
		t.Fatal(err)
	}
	h := f.Header
	if h.Magic != apr.Magic || h.Major != 2 || h.Minor != 0 || h.Flags != apr.FlagLayoutRowMajor || h.MetadataOffset != 64 {
		t.Errorf("header %+v", h)
	}
	if int(h.TensorCount) != len(smallTensors) || len(f.Tensors) != len(smallTensors) {
		t.Fatalf("%d tensors (header %d), want %d", len(f.Tensors), h.TensorCount, len(smallTensors))
	}
	names := make([]string, len(f.Tensors))
	for i, ti := range f.Tensors {
		names[i] = ti.Name
	}
	if !slices.IsSorted(names) {
		t.Errorf("index order %v is not sorted", names)
	}
	for i, st := range smallTensors {
		ti, ok := f.Tensor(st.name)
		if !ok {
			t.Fatalf("tensor %q missing", st.name)
		}
		if ti.DType != st.dtype || !slices.Equal(ti.Dims, st.dims) {
			t.Errorf("%s: %s %v, want %s %v", st.name, ti.DType, ti.Dims, st.dtype, st.dims)
		}
		if want := tensorBytes(i, ti.Size); !bytes.Equal(f.Data(ti), want) {
			t.Errorf("%s: bytes differ", st.name)
		}
		if (h.DataOffset+ti.Offset)%64 != 0 {
			t.Errorf("%s: file offset %d not 64-aligned", st.name, h.DataOffset+ti.Offset)
		}
	}
	if s, _ := f.Metadata.String("model_type"); s != "test" {
		t.Errorf("model_type %q", s)
	}
	if got := f.Metadata.Keys(); !slices.Equal(got, []string{"model_type", "name", "hidden_size", "param_count", "rope_theta", "tokenizer.vocabulary", "nested"}) {
		t.Errorf("metadata keys %v", got)
	}
}

// TestParseAPR2Magic: the older writers' magic "APR2" is accepted.
func TestParseAPR2Magic(t *testing.T) {
	b := smallFile(t)
	copy(b, "APR2")
	if _, err := apr.Parse("apr2.apr", resign(b)); err != nil {
		t.Fatal(err)
	}
}

// TestParseLegacyDTypes: ids 8 and 9 (AprQ4 and AprQ8 before aprender's
// GH-438) read as AprQ4 and AprQ8.
func TestParseLegacyDTypes(t *testing.T) {
	b := smallFile(t)
	for i, code := range map[int]byte{5: 8, 6: 9} { // f.aprq4, g.aprq8
		dt, _, _, _, _ := entryFields(b, i)
		b[dt] = code
	}
	f, err := apr.Parse("legacy.apr", resign(b))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]apr.DType{"f.aprq4": apr.AprQ4, "g.aprq8": apr.AprQ8} {
		ti, _ := f.Tensor(name)
		if ti.DType != want || ti.Code == uint8(want) {
			t.Errorf("%s: dtype %s (stored %d)", name, ti.DType, ti.Code)
		}
	}
}

// TestParseErrors: each kind of bad input fails with the sentinel error
// for its category, names the file and the field, and never panics.
func TestParseErrors(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		name   string
		mutate func(b []byte) []byte
		want   error
		field  string // substring of the error naming the field
		reason string // substring of the error explaining it
	}{
		{"wrong magic", func(b []byte) []byte { copy(b, "GGUF"); return b }, apr.ErrBadMagic, "header magic", `"GGUF"`},
		{"APR1", func(b []byte) []byte { copy(b, "APR1"); return b }, apr.ErrOldFormat, "header magic", "APR1"},
		{"APRN", func(b []byte) []byte { copy(b, "APRN"); return b }, apr.ErrOldFormat, "header magic", "APRN"},
		{"version 3", func(b []byte) []byte { b[4] = 3; return resign(b) }, apr.ErrVersion, "header version", "3.0"},
		{"header checksum", func(b []byte) []byte { b[50] ^= 1; return b }, apr.ErrChecksum, "header checksum", "stored"},
		{"LZ4", func(b []byte) []byte { b[6] |= 0x01; return resign(b) }, apr.ErrUnsupported, "header flags", "LZ4"},
		{"ZSTD", func(b []byte) []byte { b[6] |= 0x02; return resign(b) }, apr.ErrUnsupported, "header flags", "ZSTD"},
		{"encrypted", func(b []byte) []byte { b[6] |= 0x04; return resign(b) }, apr.ErrUnsupported, "header flags", "ENCRYPTED"},
		{"signed", func(b []byte) []byte { b[6] |= 0x08; return resign(b) }, apr.ErrUnsupported, "header flags", "SIGNED"},
		{"sharded", func(b []byte) []byte { b[6] |= 0x10; return resign(b) }, apr.ErrUnsupported, "header flags", "SHARDED"},
		{"column major", func(b []byte) []byte { b[7] |= 0x08; return resign(b) }, apr.ErrColumnMajor, "header flags", "LAYOUT_COLUMN_MAJOR"},
		{"metadata past the end", func(b []byte) []byte { le.PutUint32(b[20:], 1<<31); return resign(b) }, apr.ErrTruncated, "header metadata_size", "end past the footer"},
		{"metadata inside the header", func(b []byte) []byte { le.PutUint64(b[12:], 8); return resign(b) }, apr.ErrCorrupt, "header metadata_offset", "inside the header"},
		{"metadata not JSON", func(b []byte) []byte { b[64] = 'x'; return resign(b) }, apr.ErrMetadata, "metadata", "invalid character"},
		{"metadata duplicate key", func(b []byte) []byte { return replaceJSON(b, `"param_count":42`, `"name":"x"`) }, apr.ErrMetadata, "metadata", `duplicate key "name"`},
		{"metadata model_type not a string", func(b []byte) []byte { return replaceJSON(b, `"model_type":"test"`, `"model_type":12345`) }, apr.ErrMetadata, "metadata", `"model_type"`},
		{"metadata param_count negative", func(b []byte) []byte { return replaceJSON(b, `"param_count":42`, `"param_count":-1`) }, apr.ErrMetadata, "metadata", `"param_count"`},
		{"tensor_count too large", func(b []byte) []byte { le.PutUint32(b[8:], 1<<30); return resign(b) }, apr.ErrCorrupt, "header tensor_count", "at least 20 bytes"},
		{"index offset past the end", func(b []byte) []byte { le.PutUint64(b[24:], 1<<40); return resign(b) }, apr.ErrCorrupt, "header tensor_index_offset", "not between"},
		{"data offset before the index end", func(b []byte) []byte { le.PutUint64(b[32:], le.Uint64(b[24:])); return resign(b) }, apr.ErrCorrupt, "header data_offset", "not between"},
		{"unsorted index", func(b []byte) []byte { b[entryPos(b, 0)+2] = 'z'; return resign(b) }, apr.ErrCorrupt, `tensor 1 "b.f16" name`, "not sorted"},
		{"duplicate name", func(b []byte) []byte {
			b[entryPos(b, 1)+2] = 'a'
			b[entryPos(b, 1)+5] = '3'
			b[entryPos(b, 1)+6] = '2'
			return resign(b)
		}, apr.ErrCorrupt, `tensor 1 "a.f32" name`, "duplicate"},
		{"name too long", func(b []byte) []byte { le.PutUint16(b[entryPos(b, 0):], 300); return resign(b) }, apr.ErrCorrupt, "tensor 0 name length", "300 bytes"},
		{"name not UTF-8", func(b []byte) []byte { b[entryPos(b, 0)+2] = 0xff; return resign(b) }, apr.ErrCorrupt, "tensor 0 name", "not UTF-8"},
		{"unknown dtype", func(b []byte) []byte { dt, _, _, _, _ := entryFields(b, 0); b[dt] = 2; return resign(b) }, apr.ErrUnknownType, `tensor 0 "a.f32" dtype`, "id 2"},
		{"too many dims", func(b []byte) []byte { _, nd, _, _, _ := entryFields(b, 0); b[nd] = 9; return resign(b) }, apr.ErrCorrupt, `tensor 0 "a.f32" ndim`, "9 dims"},
		{"size inconsistent with dims", func(b []byte) []byte { _, _, _, _, sz := entryFields(b, 0); le.PutUint64(b[sz:], 20); return resign(b) }, apr.ErrCorrupt, `tensor 0 "a.f32" size`, "F32 [2 3] takes 24"},
		{"dims overflow", func(b []byte) []byte {
			_, _, d, _, _ := entryFields(b, 0)
			le.PutUint64(b[d:], 1<<62)
			return resign(b)
		}, apr.ErrCorrupt, `tensor 0 "a.f32" dims`, "overflows"},
		{"offset past the end", func(b []byte) []byte {
			_, _, _, off, _ := entryFields(b, 0)
			le.PutUint64(b[off:], 1<<40)
			return resign(b)
		}, apr.ErrTruncated, `tensor 0 "a.f32" offset`, "end past the footer"},
		{"size past the end", func(b []byte) []byte {
			// dims and size agree, but the data does not fit.
			_, _, d, _, sz := entryFields(b, 0)
			le.PutUint64(b[d:], 1<<20)
			le.PutUint64(b[sz:], 4*3<<20)
			return resign(b)
		}, apr.ErrTruncated, `tensor 0 "a.f32" offset`, "end past the footer"},
		{"unaligned offset", func(b []byte) []byte {
			_, _, _, off, _ := entryFields(b, 0)
			le.PutUint64(b[off:], 4)
			return resign(b)
		}, apr.ErrCorrupt, `tensor 0 "a.f32" offset`, "not a multiple of 64"},
		{"footer checksum", func(b []byte) []byte { b[len(b)-10] ^= 0x40; return b }, apr.ErrChecksum, "footer checksum", "stored"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, apr.ErrTruncated, "", ""},
		{"empty", func(b []byte) []byte { return nil }, apr.ErrTruncated, "header magic", "0 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.mutate(smallFile(t))
			_, err := apr.Parse("bad.apr", b)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var fe *apr.FormatError
			if !errors.As(err, &fe) || fe.Path != "bad.apr" {
				t.Fatalf("error %v is not a *FormatError naming the file", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "bad.apr: ") || !strings.Contains(msg, c.field) || !strings.Contains(msg, c.reason) {
				t.Errorf("error %q: want the field %q and %q", msg, c.field, c.reason)
			}
		})
	}
}

// replaceJSON replaces old in the metadata JSON with new and rewrites the
// header's metadata size. The JSON may grow into its padding only, which
// the tests' replacements fit.
func replaceJSON(b []byte, old, new string) []byte {
	size := int(binary.LittleEndian.Uint32(b[20:]))
	meta := string(b[64 : 64+size])
	if !strings.Contains(meta, old) {
		panic("replaceJSON: " + old + " not in " + meta)
	}
	meta = strings.Replace(meta, old, new, 1)
	index := int(binary.LittleEndian.Uint64(b[24:]))
	if 64+len(meta) > index {
		panic("replaceJSON: metadata outgrows its padding")
	}
	clear(b[64:index])
	copy(b[64:], meta)
	binary.LittleEndian.PutUint32(b[20:], uint32(len(meta)))
	return resign(b)
}

// TestParseEveryTruncation: every prefix of a small file is an error (a
// *FormatError naming the file), never a panic.
func TestParseEveryTruncation(t *testing.T) {
	b := smallFile(t)
	for n := range len(b) {
		_, err := apr.Parse("cut.apr", b[:n:n])
		var fe *apr.FormatError
		if !errors.As(err, &fe) || fe.Path != "cut.apr" {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
}

// TestOpen: Open maps a file and names it in errors; a missing file, a
// directory and an empty file fail cleanly.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "small.apr")
	if err := os.WriteFile(p, smallFile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := apr.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := f.Tensor("a.f32")
	if f.Path != p || len(f.Data(ti)) != 24 || f.Size() != int64(len(smallFile(t))) {
		t.Errorf("path %q, data %d bytes, size %d", f.Path, len(f.Data(ti)), f.Size())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.apr")
	os.WriteFile(empty, nil, 0o644)
	for _, path := range []string{filepath.Join(dir, "missing.apr"), dir, empty} {
		if _, err := apr.Open(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%s): %v", path, err)
		}
	}
}
