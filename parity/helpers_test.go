package parity_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
	"github.com/falsify/falsify/parity"
	"github.com/falsify/falsify/trace"
)

// prompt is "What is 2+2?" in the Qwen2 tokenizer (specs/capture-points.md).
var prompt = []int32{3838, 374, 220, 17, 10, 17, 30}

// load loads a fixture model (skipping when it is absent) and closes it
// after the test.
func load(t *testing.T, rel string) *engine.Model {
	t.Helper()
	m, err := engine.Load(fixture.Require(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// run traces the prompt through m keeping every position.
// side is a model run for parity: its trace and the engine's layer replay
// and re-run with opts.
func side(m *engine.Model, opts engine.Options, tr *trace.Trace) parity.Side {
	return parity.Side{
		Trace: tr,
		Replay: func(l int, input [][]float32) (*trace.LayerTrace, error) {
			return engine.ReplayLayer(m, l, input, opts)
		},
		Rerun: func(tokens []int32, nudge bool) (*trace.Trace, error) {
			o := opts
			o.AllPositions, o.AllLogits, o.NudgeEmbedding = true, true, nudge
			return engine.Run(m, tokens, o)
		},
	}
}

func run(t *testing.T, m *engine.Model, mode trace.MatmulMode) *trace.Trace {
	t.Helper()
	tr, err := engine.Run(m, prompt, engine.Options{Matmul: mode, Threads: 2, AllPositions: true, AllLogits: true})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// tensorF32 returns a tensor's values dequantized to float32 (a copy).
func tensorF32(t *testing.T, m *engine.Model, name string) []float32 {
	t.Helper()
	w, ok := m.Tensors[name]
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	rows, cols := w.Rows(), w.Cols()
	rb := len(w.Data) / rows
	out := make([]float32, rows*cols)
	for r := range rows {
		if err := quant.DequantizeRow(w.Type, out[r*cols:(r+1)*cols], w.Data[r*rb:(r+1)*rb]); err != nil {
			t.Fatalf("dequantize %s row %d: %v", name, r, err)
		}
	}
	return out
}

// setF32 replaces a tensor's data by v stored as F32. The model's layer
// fields point at the same *Tensor, so the forward pass sees the change;
// the mapped file is not touched.
func setF32(m *engine.Model, name string, v []float32) {
	w := m.Tensors[name]
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	w.Type, w.Data = quant.F32, b
}

// scaleTensor stores name as F32, multiplied by f.
func scaleTensor(t *testing.T, m *engine.Model, name string, f float32) {
	t.Helper()
	v := tensorF32(t, m, name)
	for i := range v {
		v[i] *= f
	}
	setF32(m, name, v)
}

// swapRows exchanges rows [i*n, (i+1)*n) and [j*n, (j+1)*n) of a matrix in
// its stored type (rows are whole blocks in every type, so this is exact).
func swapRows(t *testing.T, m *engine.Model, name string, i, j, n int) {
	t.Helper()
	w := m.Tensors[name]
	rb := len(w.Data) / w.Rows()
	d := append([]byte(nil), w.Data...)
	a := d[i*n*rb : (i+1)*n*rb]
	b := d[j*n*rb : (j+1)*n*rb]
	tmp := append([]byte(nil), a...)
	copy(a, b)
	copy(b, tmp)
	w.Data = d
}

// goldenTrace reads a llama.cpp forward golden (fixtures README,
// golden/forward) into a trace with every position, so parity can compare
// the engine against llama.cpp's own numbers.
func goldenTrace(t *testing.T, rel string) *trace.Trace {
	t.Helper()
	tr, err := trace.LoadGolden(fixture.Require(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	tr.Provenance.Model = rel
	return tr
}
