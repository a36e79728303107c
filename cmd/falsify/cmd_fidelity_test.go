package main

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
)

// packedWithExtra rewrites the qwen2 fixture at general.alignment 1 (tensor
// data at odd offsets: trace and diff panicked on it) with a
// rope_freqs.weight, which llama.cpp's qwen2 graph never loads.
func packedWithExtra(t *testing.T) string {
	f, err := gguf.Open(fixture.Require(t, "models/qwen2-tiny-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := gguf.Copy(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Set(gguf.KeyAlignment, uint32(1))
	freqs := make([]byte, 4*32)
	for i := range 32 {
		binary.LittleEndian.PutUint32(freqs[4*i:], math.Float32bits(1))
	}
	if err := w.AddTensor("rope_freqs.weight", quant.F32, []uint64{32}, freqs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "packed.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTraceWarnsAndStrictRefuses: trace runs a misaligned model, warns of
// the tensor it does not use, and --strict refuses it by name; inspect
// prints the same warning.
func TestTraceWarnsAndStrictRefuses(t *testing.T) {
	path := packedWithExtra(t)
	_, errs, code := falsifyCLI(t, "trace", path, "--tokens", "1,2,3", "-t", "2")
	if code != 0 {
		t.Fatalf("trace: exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "warning:") || !strings.Contains(errs, "rope_freqs.weight") {
		t.Errorf("trace stderr has no unused-tensor warning: %q", errs)
	}
	_, errs, code = falsifyCLI(t, "trace", "--strict", path, "--tokens", "1,2,3")
	if code != 3 || !strings.Contains(errs, "strict") || !strings.Contains(errs, "rope_freqs.weight") {
		t.Errorf("trace --strict: exit %d, stderr %q", code, errs)
	}
	_, errs, code = falsifyCLI(t, "inspect", path)
	if code != 0 || !strings.Contains(errs, "rope_freqs.weight") {
		t.Errorf("inspect: exit %d, stderr %q", code, errs)
	}
	out, _, code := falsifyCLI(t, "diff", path, fixture.Require(t, "models/qwen2-tiny-q8_0.gguf"), "--tokens", "1,2,3", "--json")
	if code != 0 || !strings.Contains(out, "{") {
		t.Errorf("diff of the packed and the original file: exit %d: %.300s", code, out)
	}
}

// TestZeroSizeTensorEverywhere: a GGUF with zero-size tensors (a dimension
// of 0, as ggml and gguf-py accept) inspects, traces (reporting them as
// unused) and converts to APR, whose trace reports them too; convert
// divided by zero on them before.
func TestZeroSizeTensorEverywhere(t *testing.T) {
	f, err := gguf.Open(fixture.Require(t, "models/qwen2-tiny-q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := gguf.Copy(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.AddTensor("extra.empty", quant.F32, []uint64{0, 4}, nil)
	w.AddTensor("extra.empty_q8", quant.Q8_0, []uint64{32, 0}, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "zero.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := falsifyCLI(t, "inspect", path); code != 0 || !strings.Contains(errs, "extra.empty_q8") {
		t.Errorf("inspect: exit %d, stderr %q", code, errs)
	}
	apr := filepath.Join(dir, "zero.apr")
	if _, errs, code := falsifyCLI(t, "convert", path, apr); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errs)
	}
	for _, p := range []string{path, apr} {
		_, errs, code := falsifyCLI(t, "trace", p, "--tokens", "1,2", "-t", "2")
		if code != 0 || !strings.Contains(errs, "extra.empty") {
			t.Errorf("trace %s: exit %d, stderr %q", filepath.Base(p), code, errs)
		}
	}
}
