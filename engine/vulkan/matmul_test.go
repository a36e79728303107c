package vulkan

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/falsify/falsify/engine/backend"
	_ "github.com/falsify/falsify/engine/cpu" // the reference backend
	"github.com/falsify/falsify/engine/quant"
	"github.com/falsify/falsify/trace"
)

// randWeight returns rows x cols random weights encoded as t (F32, F16,
// BF16 or Q8_0, the types engine/quant can encode).
func randWeight(t *testing.T, rng *rand.Rand, typ quant.Type, rows, cols int) []byte {
	t.Helper()
	vals := make([]float32, cols)
	rs, err := quant.RowSize(typ, int64(cols))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, int(rs)*rows)
	for range rows {
		for i := range vals {
			vals[i] = float32(rng.NormFloat64() * 0.05)
		}
		row := make([]byte, rs)
		if typ == quant.F32 {
			for i, v := range vals {
				binary.LittleEndian.PutUint32(row[4*i:], math.Float32bits(v))
			}
		} else if err := quant.QuantizeRow(typ, row, vals); err != nil {
			t.Fatal(err)
		}
		out = append(out, row...)
	}
	return out
}

// TestMatMulVsCPU multiplies random weights of every type engine/quant
// can encode (F32, F16, BF16, Q8_0) by 7 tokens and by 1, on Vulkan and
// on the CPU backend, in both modes, through views with offsets and a
// strided destination. Bands:
//   - f32 mode, and F32/F16/BF16 weights in the quantized mode: the same
//     products summed in another order in float32 (the CPU sums blocks in
//     float32 too, or float64 for F16/BF16 in the quantized mode):
//     NMSE <= 1e-10 (measured ~1e-14).
//   - Q8_0 in the quantized mode: the GPU quantizes activations to Q8_1
//     (ggml's GPU path), the CPU to Q8_0 (ggml-cpu's vec_dot_type), so the
//     two round activations differently: NMSE <= 5e-4 vs the CPU's
//     quantized result, ggml's test-backend-ops band for quantized matmul
//     (measured ~1e-5), and the same against the CPU's f32 mode.
//
// Decode (mul_mat_vec, one token) and prefill (mul_mm, a tile of tokens)
// must give the same bits for the same token.
func TestMatMulVsCPU(t *testing.T) {
	const rows, cols, n = 67, 256, 7
	for _, mode := range []trace.MatmulMode{trace.MatmulF32, trace.MatmulQuantized} {
		for _, typ := range []quant.Type{quant.F32, quant.F16, quant.BF16, quant.Q8_0} {
			t.Run(fmt.Sprintf("%s/%s", mode, typ), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(typ)))
				info := backend.WeightInfo{Name: "w", Type: typ, Rows: rows, Cols: cols, Data: randWeight(t, rng, typ, rows, cols), Matrix: true}
				x := make([]float32, n*cols)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				cfg := testConfig(mode)
				vb := openVK(t, cfg)
				ccfg := backend.ContextConfig{Threads: 1, MaxBatch: n, MaxCtx: n}
				run := func(be backend.Backend) (pre []float32, dec [][]float32) {
					w, err := be.Weight(info)
					if err != nil {
						t.Fatal(err)
					}
					c, err := be.NewContext(ccfg)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					// x at an offset inside a larger tensor; dst strided with an
					// offset, as the engine writes Q, K, V into one qkv row.
					xs := c.Alloc(3 + n*cols)
					c.Write(xs, 3, x)
					xv := c.View(xs, 3, n*cols)
					const stride, off = rows + 5, 2
					d := c.Alloc(1 + n*stride)
					dv := c.View(d, 1, n*stride)
					c.MatMul(dv, stride, off, xv, n, w)
					all, err := c.Read(dv, n*stride)
					if err != nil {
						t.Fatal(err)
					}
					for tok := range n {
						pre = append(pre, all[tok*stride+off:tok*stride+off+rows]...)
					}
					for tok := range n {
						c.MatMul(dv, stride, off, c.View(xv, tok*cols, cols), 1, w)
						got, err := c.Read(dv, rows+off)
						if err != nil {
							t.Fatal(err)
						}
						dec = append(dec, append([]float32(nil), got[off:off+rows]...))
					}
					return pre, dec
				}
				gpre, gdec := run(vb)
				cb, err := backend.Open("cpu", cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer cb.Close()
				cpre, _ := run(cb)
				cf32, err := backend.Open("cpu", testConfig(trace.MatmulF32))
				if err != nil {
					t.Fatal(err)
				}
				defer cf32.Close()
				fpre, _ := run(cf32)
				for tok := range n {
					for r := range rows {
						if g, d := gpre[tok*rows+r], gdec[tok][r]; math.Float32bits(g) != math.Float32bits(d) {
							t.Fatalf("token %d row %d: prefill %v, decode %v (must be the same bits)", tok, r, g, d)
						}
					}
				}
				e, ef := nmseF32(gpre, cpre), nmseF32(gpre, fpre)
				bandF := 1e-10
				if mode == trace.MatmulQuantized && typ != quant.F32 {
					bandF = 5e-4
				}
				t.Logf("NMSE vs cpu %s: %.3g (band 1e-10), vs cpu f32: %.3g (band %g)", mode, e, ef, bandF)
				if !(e <= 1e-10) || !(ef <= bandF) {
					t.Errorf("NMSE %.3g / %.3g above 1e-10 / %g", e, ef, bandF)
				}
				validationClean(t, vb)
			})
		}
	}
}

// TestConcurrentContexts: two contexts of one backend record and submit
// from two goroutines at once (the queue is shared) and get the bits a
// lone context gets; the validation layer's thread checks watch the
// shared objects.
func TestConcurrentContexts(t *testing.T) {
	const rows, cols, n = 300, 256, 5
	rng := rand.New(rand.NewPCG(3, 4))
	for _, mode := range []trace.MatmulMode{trace.MatmulF32, trace.MatmulQuantized} {
		b := openVK(t, testConfig(mode))
		w, err := b.Weight(backend.WeightInfo{Name: "w", Type: quant.Q8_0, Rows: rows, Cols: cols, Data: randWeight(t, rng, quant.Q8_0, rows, cols), Matrix: true})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, n*cols)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		run := func() ([]float32, error) {
			c, err := b.NewContext(backend.ContextConfig{Threads: 1, MaxBatch: n, MaxCtx: n})
			if err != nil {
				return nil, err
			}
			defer c.Close()
			xt, d := c.Alloc(n*cols), c.Alloc(n*rows)
			var out []float32
			for range 20 {
				c.Write(xt, 0, x)
				c.MatMul(d, rows, 0, xt, n, w)
				got, err := c.Read(d, n*rows)
				if err != nil {
					return nil, err
				}
				if out == nil {
					out = append([]float32(nil), got...)
				} else if !equalF32(out, got) {
					return nil, fmt.Errorf("repeated matmul differs")
				}
			}
			return out, nil
		}
		want, err := run()
		if err != nil {
			t.Fatal(err)
		}
		results := make([][]float32, 4)
		errs := make([]error, 4)
		done := make(chan int)
		for i := range results {
			go func() { results[i], errs[i] = run(); done <- i }()
		}
		for range results {
			<-done
		}
		for i := range results {
			if errs[i] != nil || !equalF32(results[i], want) {
				t.Errorf("%s: concurrent context %d: %v (same bits: %v)", mode, i, errs[i], errs[i] == nil && equalF32(results[i], want))
			}
		}
		validationClean(t, b)
	}
}
