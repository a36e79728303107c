package apr_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/apr"
)

// TestWriterRefuses: the writer refuses what would make a file aprender
// (or realizar) rejects or misreads, naming the tensor or key.
func TestWriterRefuses(t *testing.T) {
	tensorCases := []struct {
		name  string
		add   func(w *apr.Writer) error
		field string
	}{
		{"empty name", func(w *apr.Writer) error { return w.AddTensor("", apr.F32, []uint64{1}, make([]byte, 4)) }, `""`},
		{"name over 256 bytes", func(w *apr.Writer) error {
			return w.AddTensor(strings.Repeat("x", 257), apr.F32, []uint64{1}, make([]byte, 4))
		}, "256"},
		{"duplicate", func(w *apr.Writer) error {
			w.AddTensor("t", apr.F32, []uint64{1}, make([]byte, 4))
			return w.AddTensor("t", apr.F32, []uint64{1}, make([]byte, 4))
		}, "added twice"},
		{"unknown dtype", func(w *apr.Writer) error { return w.AddTensor("t", apr.DType(2), []uint64{1}, nil) }, "unknown APR dtype"},
		{"legacy dtype id", func(w *apr.Writer) error { return w.AddTensor("t", apr.DType(8), []uint64{32}, make([]byte, 18)) }, "unknown APR dtype"},
		{"nine dims", func(w *apr.Writer) error { return w.AddTensor("t", apr.F32, make([]uint64, 9), nil) }, "9 dims"},
		{"wrong size", func(w *apr.Writer) error { return w.AddTensor("t", apr.AprQ8, []uint64{4}, make([]byte, 4)) }, "takes 8"},
	}
	for _, c := range tensorCases {
		if err := c.add(apr.NewWriter()); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v (want %q)", c.name, err, c.field)
		}
	}
	metaCases := []struct {
		name  string
		set   func(md *apr.Metadata)
		field string
	}{
		{"model_type not a string", func(md *apr.Metadata) { md.Set("model_type", 3) }, `"model_type"`},
		{"param_count null", func(md *apr.Metadata) { md.Set("param_count", nil) }, `"param_count"`},
		{"rope_type negative", func(md *apr.Metadata) { md.Set("rope_type", -2) }, `"rope_type"`},
		{"quantization without bits", func(md *apr.Metadata) {
			md.Set("quantization", map[string]any{"quant_type": "int8", "symmetric": true})
		}, `"bits"`},
		{"canonical and alias", func(md *apr.Metadata) { md.Set("num_layers", nil); md.Set("num_hidden_layers", 4) }, "num_hidden_layers"},
		{"two aliases", func(md *apr.Metadata) { md.Set("hidden_dim", 4); md.Set("n_embd", 4) }, "n_embd"},
		{"not JSON", func(md *apr.Metadata) { md.Set("x", func() {}) }, `"x"`},
	}
	for _, c := range metaCases {
		w := apr.NewWriter()
		c.set(w.Metadata())
		if _, err := w.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v (want %q)", c.name, err, c.field)
		}
	}
}

// TestWriterProduce: AddTensorFunc's bytes land in the file; a function
// that writes the wrong number of bytes is an error naming the tensor.
func TestWriterProduce(t *testing.T) {
	w := apr.NewWriter()
	w.AddTensorFunc("lazy", apr.F16, []uint64{3}, func(out io.Writer) error {
		_, err := out.Write([]byte{1, 2, 3, 4, 5, 6})
		return err
	})
	var buf bytes.Buffer
	var progress []string
	w.Progress = func(i, n int, name string, written int64) error { progress = append(progress, name); return nil }
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := apr.Parse("lazy.apr", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := f.Tensor("lazy")
	if !bytes.Equal(f.Data(ti), []byte{1, 2, 3, 4, 5, 6}) || len(progress) != 1 {
		t.Errorf("data %v, progress %v", f.Data(ti), progress)
	}
	w = apr.NewWriter()
	w.AddTensorFunc("short", apr.F16, []uint64{3}, func(out io.Writer) error { _, err := out.Write([]byte{1}); return err })
	if _, err := w.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), `"short"`) {
		t.Errorf("short producer: %v", err)
	}
}

// TestWriteFileAtomic: a failed write leaves the existing file as it was
// and no temporary file behind; a successful one replaces it whole.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.apr")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := apr.NewWriter()
	boom := errors.New("boom")
	w.AddTensorFunc("t", apr.F32, []uint64{1 << 20}, func(out io.Writer) error {
		out.Write(make([]byte, 1<<19))
		return boom
	})
	if _, err := w.WriteFile(path); !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Errorf("failed write: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old contents" {
		t.Errorf("file changed by a failed write: %q...", b[:min(len(b), 20)])
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(entries))
	}
	n, err := smallWriter(t).WriteFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if int64(len(b)) != n || !bytes.Equal(b, smallFile(t)) {
		t.Errorf("wrote %d bytes, file has %d; equal to WriteTo: %v", n, len(b), bytes.Equal(b, smallFile(t)))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	if _, err := smallWriter(t).WriteFile(filepath.Join(dir, "missing", "m.apr")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// TestMetadataAccessors: typed getters and aliases; a value spelled two
// ways with different values is an error naming both keys.
func TestMetadataAccessors(t *testing.T) {
	w := smallWriter(t)
	md := w.Metadata()
	md.Set("num_hidden_layers", 4)
	md.Set("num_attention_heads", 2)
	md.Set("intermediate_dim", 16)
	md.Set("architecture", "qwen2")
	md.Set("flag", true)
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := apr.Parse("m.apr", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m := f.Metadata
	c, err := m.Config()
	if err != nil {
		t.Fatal(err)
	}
	if c.HiddenSize != 8 || c.NumLayers != 4 || c.NumHeads != 2 || c.NumKVHeads != 2 || c.Intermediate != 16 || c.RopeTheta != 10000 || c.RopeType != nil {
		t.Errorf("config %+v", c)
	}
	if b, err := m.Bool("flag"); !b || err != nil {
		t.Errorf("Bool: %v %v", b, err)
	}
	if _, err := m.Uint("model_type"); !errors.Is(err, apr.ErrWrongType) {
		t.Errorf("Uint of a string: %v", err)
	}
	if _, err := m.String("absent"); !errors.Is(err, apr.ErrKeyNotFound) {
		t.Errorf("absent key: %v", err)
	}
	// A file that spells the layer count twice, differently.
	amb := apr.NewMetadata()
	for _, k := range m.Keys() {
		v, _ := m.Get(k)
		amb.Set(k, v)
	}
	amb.Set("num_layers", 5)
	if _, err := amb.Config(); err == nil || !strings.Contains(err.Error(), `"num_layers" = 5`) || !strings.Contains(err.Error(), `"num_hidden_layers" = 4`) {
		t.Errorf("disagreeing aliases: %v", err)
	}
}
