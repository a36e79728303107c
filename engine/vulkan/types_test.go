package vulkan

// Tests of the nine quantized weight types of shaders/types (Q4_0, Q4_1,
// Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) through the backend's public
// operations: dq32 against engine/quant's dequantization (which is
// ggml's dequantize_row_* bit for bit), and MatMul in both modes against
// float64 references computed here.

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	"github.com/falsify/falsify/engine/gguf"
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/internal/fixture"
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

// openTypesBackend opens the vulkan backend in mode (CORE's openVK: skips
// without a Vulkan device, fails on any validation message at Close).
func openTypesBackend(t *testing.T, mode trace.MatmulMode) backend.Backend {
	t.Helper()
	return openVK(t, testConfig(mode))
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

// nmse64 is sum((got-ref)^2) / sum(ref^2) against a float64 reference,
// the metric of ggml's test-backend-ops.
func nmse64(got []float32, ref []float64) float64 {
	var num, den float64
	for i, r := range ref {
		d := float64(got[i]) - r
		num += d * d
		den += r * r
	}
	return num / den
}

// Bounds on the NMSE of MatMul against the float64 references, and why:
//
//   - f32 mode vs the dequantized weights times the float32 activations:
//     only float32 rounding of products and sums over at most 2048 terms,
//     relative error well under 1e-6: NMSE <= 1e-10 (measured ~5e-14).
//   - quantized mode vs the dequantized weights times the Q8_1-rounded
//     activations (d rounded to f16, as CORE's quantize_q8_1 and ggml's
//     GPU block_q8_1 do): the integer dot products are exact, so for
//     Q2_K..Q6_K only float32 rounding of the per-block scaling is left:
//     NMSE <= 1e-10 (measured ~1e-14). Q4_0, Q4_1, Q5_0 and Q5_1 apply
//     their offset or min through the Q8_1 sum s, rounded to f16 (as
//     ggml's vec_dot_q4_0_q8_1 etc. do): an error of up to 2^-11 of
//     |8*d*s| (Q4_0), against a block result of about |d|*sqrt(32*21)
//     for unit activations, a relative 2e-4 at worst per block, about
//     5e-7 in NMSE on average and a few times that on the smallest
//     shapes: NMSE <= 1e-5 (measured up to 1.7e-6).
//   - quantized mode vs the float32 activations: the Q8_1 rounding of
//     the activations (step amax/127 for unit normals, NMSE about 3e-5
//     expected); ggml's test-backend-ops bound for quantized matmul,
//     5e-4, over all the shapes of a type together (a single 5-row
//     matrix-vector product is too few values for an NMSE).
const (
	boundF32          = 1e-10
	boundQuantizedQ81 = 1e-10
	boundQuantizedS   = 1e-5 // types whose dotq32 uses the f16 Q8_1 sum
	boundQuantizedF32 = 5e-4
)

// usesQ81Sum are the types whose dotq32 takes the offset or min term from
// the Q8_1 block's f16 sum s (ggml's vec_dot_q4_0_q8_1 .. q5_1_q8_1); the
// K-quants sum the int8 activations themselves (ggml's mmvq).
var usesQ81Sum = map[quant.Type]bool{quant.Q4_0: true, quant.Q4_1: true, quant.Q5_0: true, quant.Q5_1: true}

// cpuSameQ8_1 are the types whose quantized dot the CPU backend takes
// with Q8_1 activations too (ggml-cpu's vec_dot_type), with ggml's
// vec_dot_q4_1_q8_1 / q5_1_q8_1 and the same f16 sum s: an independent
// port of ggml's rule to compare dotq32 with. The CPU's x86 quantizer
// scales by 127/amax and rounds half to even where the GPU's (ggml's GPU
// quantize_q8_1) takes 1/d and rounds half away from zero, so an
// activation can land one int8 step apart: on the smallest shape (5 rows
// of 32) that costs up to about 3e-6 in NMSE, while a wrong offset or
// scale term costs over 1e-2. Bound 1e-5; measured ~7e-15 (no activation
// differed here). The other types' CPU activations are Q8_0 or Q8_K,
// another rounding altogether (CORE's model-level tests cover them).
var cpuSameQ8_1 = map[quant.Type]bool{quant.Q4_1: true, quant.Q5_1: true}

const boundCPUQ8_1 = 1e-5

// TestVulkanQuantMatMul runs MatMul for every type in both modes, n = 1
// (the matrix-vector shader) and n = 5 (the matrix-matrix one), logs the
// worst NMSE per type and mode, and checks that each token of the n = 5
// product has the bits of the same token multiplied alone (decode and
// prefill agree).
func TestVulkanQuantMatMul(t *testing.T) {
	for _, mode := range trace.MatmulModes() {
		t.Run(string(mode), func(t *testing.T) {
			b := openTypesBackend(t, mode)
			rng := rand.New(rand.NewSource(12))
			var cpu backend.Backend
			if mode == trace.MatmulQuantized {
				var err error
				if cpu, err = backend.Open("cpu", testConfig(mode)); err != nil {
					t.Fatalf("open cpu backend: %v", err)
				}
				defer cpu.Close()
			}
			for _, qt := range quantTypes {
				t.Run(qt.t.String(), func(t *testing.T) {
					bound := boundF32
					if mode == trace.MatmulQuantized {
						bound = boundQuantizedQ81
						if usesQ81Sum[qt.t] {
							bound = boundQuantizedS
						}
					}
					worst, worstCPU := 0.0, 0.0
					var numF32, denF32 float64 // quantized mode vs float32 activations, all shapes
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
							xref := x
							if mode == trace.MatmulQuantized {
								xref = q8_1Rounded(t, x)
								for i, r := range matmulRef(w, x, s.rows, cols, n) {
									d := float64(got[i]) - r
									numF32 += d * d
									denF32 += r * r
								}
							}
							e := nmse64(got, matmulRef(w, xref, s.rows, cols, n))
							if cpu != nil && cpuSameQ8_1[qt.t] {
								ref := runMatMul(t, cpu, qt.t, data, s.rows, cols, x, n)
								ec := nmseF32(got, ref)
								if !(ec <= boundCPUQ8_1) {
									t.Errorf("%s %s (%d, %d) x %d: NMSE %.3g vs the CPU backend > %g", qt.t, mode, s.rows, cols, n, ec, boundCPUQ8_1)
								}
								worstCPU = math.Max(worstCPU, ec)
							}
							if !(e <= bound) {
								t.Errorf("%s %s (%d, %d) x %d: NMSE %.3g > %g", qt.t, mode, s.rows, cols, n, e, bound)
							}
							worst = math.Max(worst, e)
							if n == 1 {
								continue
							}
							for tk := 0; tk < n; tk++ {
								one := runMatMul(t, b, qt.t, data, s.rows, cols, x[tk*cols:(tk+1)*cols], 1)
								for r := range one {
									if math.Float32bits(one[r]) != math.Float32bits(got[tk*s.rows+r]) {
										t.Errorf("%s %s (%d, %d): token %d row %d: %g alone, %g among %d tokens", qt.t, mode, s.rows, cols, tk, r, one[r], got[tk*s.rows+r], n)
										break
									}
								}
							}
						}
					}
					if mode == trace.MatmulQuantized {
						ef := numF32 / denF32
						if !(ef <= boundQuantizedF32) {
							t.Errorf("%s %s: NMSE %.3g vs float32 activations > %g", qt.t, mode, ef, boundQuantizedF32)
						}
						t.Logf("%s %s: worst NMSE %.3g vs Q8_1-rounded activations (bound %g), %.3g vs float32 activations (all shapes)", qt.t, mode, worst, bound, ef)
						if cpuSameQ8_1[qt.t] {
							t.Logf("%s %s: worst NMSE %.3g vs the CPU backend's quantized mode (bound %g)", qt.t, mode, worstCPU, boundCPUQ8_1)
						}
					} else {
						t.Logf("%s %s: worst NMSE %.3g (bound %g)", qt.t, mode, worst, bound)
					}
				})
			}
		})
	}
}

// TestVulkanQuantEmbed checks get_rows (Embed) of every type, which
// decodes rows with dq32, against engine/quant bit for bit, on tables
// whose rows end mid-word (odd block counts).
func TestVulkanQuantEmbed(t *testing.T) {
	b := openTypesBackend(t, trace.MatmulF32)
	rng := rand.New(rand.NewSource(13))
	tokens := []int32{4, 0, 6, 4, 1, 5}
	const rows = 7
	for _, qt := range quantTypes {
		t.Run(qt.t.String(), func(t *testing.T) {
			for _, blocks := range []int{1, 3} {
				cols := blocks * qt.t.BlockSize()
				data := randomBlocks(rng, qt.t, qt.halves, rows, cols)
				want := dequantRows(t, qt.t, data, rows, cols)
				w, err := b.Weight(backend.WeightInfo{Name: "token_embd.weight", Type: qt.t, Rows: rows, Cols: cols, Data: data})
				if err != nil {
					t.Fatalf("upload %s table (%d, %d): %v", qt.t, rows, cols, err)
				}
				ctx, err := b.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: len(tokens), MaxCtx: len(tokens)})
				if err != nil {
					t.Fatal(err)
				}
				dst := ctx.Alloc(len(tokens) * cols)
				ctx.Embed(dst, w, tokens)
				got, err := ctx.Read(dst, len(tokens)*cols)
				if err != nil {
					t.Fatalf("%s embed (%d, %d): %v", qt.t, rows, cols, err)
				}
				bad := 0
				for i, tok := range tokens {
					for c := 0; c < cols; c++ {
						g, w := got[i*cols+c], want[int(tok)*cols+c]
						if math.Float32bits(g) != math.Float32bits(w) {
							if bad < 5 {
								t.Errorf("%s (%d, %d): token %d element %d = %g (%#08x), engine/quant %g (%#08x)", qt.t, rows, cols, tok, c, g, math.Float32bits(g), w, math.Float32bits(w))
							}
							bad++
						}
					}
				}
				if bad > 0 {
					t.Errorf("%s (%d, %d): %d of %d embedded values differ from engine/quant", qt.t, rows, cols, bad, len(got))
				}
				if err := ctx.Close(); err != nil {
					t.Errorf("close context: %v", err)
				}
			}
		})
	}
}

// TestVulkanQuantGGMLDequantHashes decodes every tensor of the nine types
// in the fixture models (llama-quantize's output) on the device through
// get_rows (Embed of every row) and compares the sha256 of the float32
// bytes with the one ggml's own to_float gave (fixtures
// golden/dequant/*.json): dq32 is ggml's dequantization bit for bit on real
// blocks, not only on engine/quant's. testdata/ holds the Q6_K and Q8_0
// models; the other types are checked where ../shared/fixtures is present.
func TestVulkanQuantGGMLDequantHashes(t *testing.T) {
	mine := map[quant.Type]bool{}
	for _, qt := range quantTypes {
		mine[qt.t] = true
	}
	models := fixture.Glob("models/qwen2-tiny-*.gguf")
	if len(models) == 0 {
		t.Fatal("no fixture models found")
	}
	b := openTypesBackend(t, trace.MatmulF32)
	const chunk = 512 // rows per Embed call
	checked := map[quant.Type]int{}
	for _, path := range models {
		name := strings.TrimSuffix(filepath.Base(path), ".gguf")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(fixture.Require(t, "golden/dequant/"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var golden struct {
				Tensors []struct {
					Name   string `json:"name"`
					SHA256 string `json:"f32_sha256"`
				} `json:"tensors"`
			}
			if err := json.Unmarshal(raw, &golden); err != nil {
				t.Fatalf("golden/dequant/%s.json: %v", name, err)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx, err := b.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: chunk, MaxCtx: chunk})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := ctx.Close(); err != nil {
					t.Errorf("close context: %v", err)
				}
			}()
			for _, g := range golden.Tensors {
				ti, ok := f.Tensor(g.Name)
				if !ok {
					t.Errorf("%s: tensor %s of the golden is missing", name, g.Name)
					continue
				}
				if !mine[ti.Type] {
					continue
				}
				if len(ti.Dims) != 2 {
					t.Errorf("%s: %s tensor %s has %d dims, want 2", name, ti.Type, g.Name, len(ti.Dims))
					continue
				}
				cols, rows := int(ti.Dims[0]), int(ti.Dims[1])
				w, err := b.Weight(backend.WeightInfo{Name: g.Name, Type: ti.Type, Rows: rows, Cols: cols, Data: f.Data(ti)})
				if err != nil {
					t.Fatalf("upload %s: %v", g.Name, err)
				}
				dst := ctx.Alloc(rows * cols)
				tokens := make([]int32, rows)
				for i := range tokens {
					tokens[i] = int32(i)
				}
				for r0 := 0; r0 < rows; r0 += chunk {
					n := min(chunk, rows-r0)
					ctx.Embed(ctx.View(dst, r0*cols, n*cols), w, tokens[r0:r0+n])
				}
				got, err := ctx.Read(dst, rows*cols)
				if err != nil {
					t.Fatalf("embed %s: %v", g.Name, err)
				}
				h := sha256.New()
				buf := make([]byte, 4*cols)
				for r := 0; r < rows; r++ {
					for c, v := range got[r*cols : (r+1)*cols] {
						binary.LittleEndian.PutUint32(buf[4*c:], math.Float32bits(v))
					}
					h.Write(buf)
				}
				if sum := hex.EncodeToString(h.Sum(nil)); sum != g.SHA256 {
					t.Errorf("%s: %s (%s, %d x %d) decoded on the device: sha256 %s, ggml's to_float %s", name, g.Name, ti.Type, rows, cols, sum, g.SHA256)
				}
				checked[ti.Type]++
			}
		})
	}
	var parts []string
	for _, qt := range quantTypes {
		parts = append(parts, fmt.Sprintf("%s %d", qt.t, checked[qt.t]))
	}
	t.Logf("tensors checked against ggml's to_float sha256, per type: %s", strings.Join(parts, ", "))
	if checked[quant.Q6_K] == 0 {
		t.Error("no Q6_K tensor checked: testdata/ should hold qwen2-tiny-q6_k")
	}
}

// BenchmarkVulkanQuantMatMul times MatMul of a (1024, 2048) weight of each
// type in both modes, for one token (mul_mat_vec, decode) and for 8 (a
// mul_mm tile, prefill), including the submit and the wait of Read.
// Reported, never asserted (lavapipe is a correctness platform).
func BenchmarkVulkanQuantMatMul(b *testing.B) {
	const rows, cols = 1024, 2048
	for _, mode := range trace.MatmulModes() {
		for _, qt := range quantTypes {
			for _, n := range []int{1, 8} {
				b.Run(fmt.Sprintf("%s/%s/n=%d", mode, qt.t, n), func(b *testing.B) {
					be := openVK(b, testConfig(mode))
					rng := rand.New(rand.NewSource(14))
					data := randomBlocks(rng, qt.t, qt.halves, rows, cols)
					w, err := be.Weight(backend.WeightInfo{Name: "blk.0.ffn_up.weight", Type: qt.t, Rows: rows, Cols: cols, Data: data, Matrix: true})
					if err != nil {
						b.Fatal(err)
					}
					ctx, err := be.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: n, MaxCtx: n})
					if err != nil {
						b.Fatal(err)
					}
					defer ctx.Close()
					x := make([]float32, n*cols)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					xt, dst := ctx.Alloc(n*cols), ctx.Alloc(n*rows)
					ctx.Write(xt, 0, x)
					ctx.MatMul(dst, rows, 0, xt, n, w) // pipeline creation outside the timing
					if _, err := ctx.Read(dst, 1); err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(len(data)))
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						ctx.MatMul(dst, rows, 0, xt, n, w)
						if _, err := ctx.Read(dst, 1); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
