package vulkan

// Tests of the nine quantized weight types of shaders/types (Q4_0, Q4_1,
// Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) through the backend's public
// operations: dq32 against engine/quant's dequantization (which is
// ggml's dequantize_row_* bit for bit), and MatMul in both modes against
// float64 references computed here.

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/trace"
)

// quantTypes are the weight types whose type files QUANT wrote, with the
// byte offsets of each block's f16 fields (scales d and mins): random
// bytes there could be NaN or infinity, so those fields get sane values.
var quantTypes = []struct {
	t      quant.Type
	halves []int
}{
	{quant.Q4_0, []int{0}},
	{quant.Q4_1, []int{0, 2}},
	{quant.Q5_0, []int{0}},
	{quant.Q5_1, []int{0, 2}},
	{quant.Q2_K, []int{80, 82}},
	{quant.Q3_K, []int{108}},
	{quant.Q4_K, []int{0, 2}},
	{quant.Q5_K, []int{0, 2}},
	{quant.Q6_K, []int{208}},
}

// testAttn is a valid attention geometry; the matmul tests use none of it.
var testAttn = backend.Attn{NHead: 2, NHeadKV: 1, HeadDim: 8, NRot: 8, RopeTheta: 10000, RMSEps: 1e-6}

// openTypesBackend opens the vulkan backend in mode, skipping the test with
// the reason when this machine has no Vulkan loader or device.
func openTypesBackend(t *testing.T, mode trace.MatmulMode) backend.Backend {
	t.Helper()
	b, err := backend.Open("vulkan", backend.Config{Matmul: mode, Attn: testAttn})
	if errors.Is(err, backend.ErrUnavailable) {
		t.Skipf("no Vulkan device: %v", err)
	}
	if err != nil {
		t.Fatalf("open vulkan backend (%s): %v", mode, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close vulkan backend: %v", err)
		}
	})
	return b
}

// randomBlocks returns rows rows of cols elements of type t: random bytes
// (every quant, scale and min bit pattern is a valid block) with each f16
// field at the offsets halves set to +-[0.001, 0.1). Every seventh block
// gets subnormal f16 fields, which the shaders must convert exactly.
func randomBlocks(rng *rand.Rand, t quant.Type, halves []int, rows, cols int) []byte {
	ts := t.TypeSize()
	nb := rows * cols / t.BlockSize()
	data := make([]byte, nb*ts)
	rng.Read(data)
	for b := 0; b < nb; b++ {
		for _, o := range halves {
			f := float32(0.001 + 0.099*rng.Float64())
			if b%7 == 3 {
				f = float32(1+rng.Intn(1000)) * 0x1p-24 // a subnormal half
			}
			if rng.Intn(2) == 0 {
				f = -f
			}
			binary.LittleEndian.PutUint16(data[b*ts+o:], quant.FP32ToFP16(f))
		}
	}
	return data
}

// dequantRows decodes a (rows, cols) weight with engine/quant.
func dequantRows(t *testing.T, typ quant.Type, data []byte, rows, cols int) []float32 {
	t.Helper()
	out := make([]float32, rows*cols)
	rb := len(data) / rows
	for r := 0; r < rows; r++ {
		if err := quant.DequantizeRow(typ, out[r*cols:(r+1)*cols], data[r*rb:(r+1)*rb]); err != nil {
			t.Fatalf("dequantize %s row %d: %v", typ, r, err)
		}
	}
	return out
}

// runMatMul uploads the weight, runs MatMul for n tokens of x (n, cols)
// with output rows of width rows, and returns dst (n, rows).
func runMatMul(t *testing.T, b backend.Backend, typ quant.Type, data []byte, rows, cols int, x []float32, n int) []float32 {
	t.Helper()
	w, err := b.Weight(backend.WeightInfo{Name: "blk.0.test.weight", Type: typ, Rows: rows, Cols: cols, Data: data, Matrix: true})
	if err != nil {
		t.Fatalf("upload %s weight (%d, %d): %v", typ, rows, cols, err)
	}
	ctx, err := b.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: n, MaxCtx: n})
	if err != nil {
		t.Fatalf("new context: %v", err)
	}
	defer func() {
		if err := ctx.Close(); err != nil {
			t.Errorf("close context: %v", err)
		}
	}()
	xt := ctx.Alloc(n * cols)
	ctx.Write(xt, 0, x)
	dst := ctx.Alloc(n * rows)
	ctx.MatMul(dst, rows, 0, xt, n, w)
	got, err := ctx.Read(dst, n*rows)
	if err != nil {
		t.Fatalf("%s matmul (%d, %d) x %d tokens: %v", typ, rows, cols, n, err)
	}
	return append([]float32(nil), got...)
}

// The shapes: odd and even block counts per row and row counts that are
// not multiples of a workgroup. With an odd block count, rows of Q4_0
// (18-byte blocks), Q5_0 (22), Q3_K (110) and Q6_K (210) are not a whole
// number of 4-byte words, and with an odd row count neither is the whole
// weight, so blocks straddle words and the last one ends mid-word.
var typeShapes = []struct{ rows, blocks int }{
	{5, 1},
	{5, 3},
	{67, 8},
}

// exactShapes are the shapes of the dequantization test, whose identity
// matmul costs rows*cols^2: small, with the same odd block and row counts.
var exactShapes = []struct{ rows, blocks int }{
	{5, 1},
	{5, 3},
	{3, 4},
}

// TestVulkanQuantDequantExact checks dq32 of every type against
// engine/quant's dequantization bit for bit (the shaders use `precise`, so
// no FMA contraction changes a rounding): MatMul in f32 mode of the weight
// with the identity matrix (n = cols tokens, token t = e_t) gives
// dst[t][r] = w[r][t] exactly, because every other product is a zero and
// adding zeros rounds nothing. (A -0 weight comes back +0: compared as
// equal values.)
func TestVulkanQuantDequantExact(t *testing.T) {
	b := openTypesBackend(t, trace.MatmulF32)
	rng := rand.New(rand.NewSource(11))
	for _, qt := range quantTypes {
		t.Run(qt.t.String(), func(t *testing.T) {
			for _, s := range exactShapes {
				cols := s.blocks * qt.t.BlockSize()
				data := randomBlocks(rng, qt.t, qt.halves, s.rows, cols)
				want := dequantRows(t, qt.t, data, s.rows, cols)
				eye := make([]float32, cols*cols)
				for i := 0; i < cols; i++ {
					eye[i*cols+i] = 1
				}
				got := runMatMul(t, b, qt.t, data, s.rows, cols, eye, cols)
				bad := 0
				for c := 0; c < cols; c++ {
					for r := 0; r < s.rows; r++ {
						g, w := got[c*s.rows+r], want[r*cols+c]
						if g != w || math.IsNaN(float64(g)) != math.IsNaN(float64(w)) {
							if bad < 5 {
								t.Errorf("%s (%d, %d): w[%d][%d] = %g (%#08x), engine/quant %g (%#08x)", qt.t, s.rows, cols, r, c, g, math.Float32bits(g), w, math.Float32bits(w))
							}
							bad++
						}
					}
				}
				if bad > 0 {
					t.Errorf("%s (%d, %d): %d of %d weights differ from engine/quant", qt.t, s.rows, cols, bad, s.rows*cols)
				}
			}
		})
	}
}

// q8_1Rounded returns x as the quantized matmul mode sees it: each block of
// 32 quantized to Q8_1 by ggml's reference quantizer (d = amax/127 rounded
// to f16, q = round(x/d)) and decoded as d*q.
func q8_1Rounded(t *testing.T, x []float32) []float32 {
	t.Helper()
	q := make([]byte, len(x)/32*36)
	if err := quant.QuantizeRowRef(quant.Q8_1, q, x); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(x))
	if err := quant.DequantizeRow(quant.Q8_1, out, q); err != nil {
		t.Fatal(err)
	}
	return out
}

// matmulRef is w (rows, cols) times n tokens of x (n, cols) in float64,
// laid out as dst (n, rows).
func matmulRef(w, x []float32, rows, cols, n int) []float64 {
	out := make([]float64, n*rows)
	for tk := 0; tk < n; tk++ {
		for r := 0; r < rows; r++ {
			var s float64
			for c := 0; c < cols; c++ {
				s += float64(w[r*cols+c]) * float64(x[tk*cols+c])
			}
			out[tk*rows+r] = s
		}
	}
	return out
}

// nmse is sum((got-ref)^2) / sum(ref^2), the metric of ggml's
// test-backend-ops.
func nmse(got []float32, ref []float64) float64 {
	var num, den float64
	for i, r := range ref {
		d := float64(got[i]) - r
		num += d * d
		den += r * r
	}
	return num / den
}

// Bounds on the worst NMSE of MatMul, per mode, against the float64
// references (why each is what it is):
//
//   - f32 mode vs the dequantized weights times the float32 activations:
//     only float32 rounding of the products and sums over at most 2048
//     terms, relative error well under 1e-6, so NMSE < 1e-10 (measured
//     values are in the test log).
//   - quantized mode vs the dequantized weights times the Q8_1-rounded
//     activations: the integer dot products are exact; what is left is
//     float32 rounding of the per-block scaling and the f16 rounding of
//     the Q8_1 sum s (Q4_0, Q4_1, Q5_0, Q5_1 use it, as ggml does), a
//     relative 2^-11 of a term of the block's size: bound 1e-5.
//   - quantized mode vs the float32 activations: the Q8_1 rounding of the
//     activations itself; ggml's test-backend-ops bound for quantized
//     matmul, 5e-4.
const (
	boundF32          = 1e-10
	boundQuantizedQ81 = 1e-5
	boundQuantizedF32 = 5e-4
)

// TestVulkanQuantMatMul runs MatMul for every type in both modes, n = 1
// (the matrix-vector shader) and n = 5 (the matrix-matrix one), and logs
// the worst NMSE per type and mode.
func TestVulkanQuantMatMul(t *testing.T) {
	for _, mode := range trace.MatmulModes() {
		t.Run(string(mode), func(t *testing.T) {
			b := openTypesBackend(t, mode)
			rng := rand.New(rand.NewSource(12))
			for _, qt := range quantTypes {
				t.Run(qt.t.String(), func(t *testing.T) {
					worst, worstF32 := 0.0, 0.0
					for _, s := range typeShapes {
						cols := s.blocks * qt.t.BlockSize()
						data := randomBlocks(rng, qt.t, qt.halves, s.rows, cols)
						w := dequantRows(t, qt.t, data, s.rows, cols)
						for _, n := range []int{1, 5} {
							x := make([]float32, n*cols)
							for i := range x {
								x[i] = float32(rng.NormFloat64())
							}
							got := runMatMul(t, b, qt.t, data, s.rows, cols, x, n)
							refF32 := matmulRef(w, x, s.rows, cols, n)
							e, ef := nmse(got, refF32), 0.0
							bound := boundF32
							if mode == trace.MatmulQuantized {
								ef = e
								e = nmse(got, matmulRef(w, q8_1Rounded(t, x), s.rows, cols, n))
								bound = boundQuantizedQ81
								if ef > boundQuantizedF32 {
									t.Errorf("%s %s (%d, %d) x %d: NMSE %.3g vs float32 activations > %g", qt.t, mode, s.rows, cols, n, ef, boundQuantizedF32)
								}
							}
							if !(e <= bound) {
								t.Errorf("%s %s (%d, %d) x %d: NMSE %.3g > %g", qt.t, mode, s.rows, cols, n, e, bound)
							}
							worst, worstF32 = math.Max(worst, e), math.Max(worstF32, ef)
						}
					}
					if mode == trace.MatmulQuantized {
						t.Logf("%s %s: worst NMSE %.3g vs Q8_1-rounded activations, %.3g vs float32 activations", qt.t, mode, worst, worstF32)
					} else {
						t.Logf("%s %s: worst NMSE %.3g", qt.t, mode, worst)
					}
				})
			}
		})
	}
}
