//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// simdWant lists the weight types that must have an AVX2 kernel.
var simdWant = []Type{Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K}

// requireSIMD skips when the CPU has no AVX2 kernels to test.
func requireSIMD(t *testing.T) {
	t.Helper()
	if !cpu.X86.HasAVX2 || !cpu.X86.HasF16C {
		t.Skip("CPU without AVX2/F16C: DotFunc uses the scalar kernels")
	}
}

// kernels returns DotFunc's SIMD and scalar kernels for w.
func kernels(t *testing.T, w Type) (simd, scalar DotKernel) {
	t.Helper()
	var err error
	withSIMD(true, func() { simd, err = DotFunc(w) })
	if err != nil {
		t.Fatal(err)
	}
	withSIMD(false, func() { scalar, err = DotFunc(w) })
	if err != nil {
		t.Fatal(err)
	}
	return simd, scalar
}

func TestSIMDKernelsSelected(t *testing.T) {
	requireSIMD(t)
	for _, w := range simdWant {
		if simdDot(w) == nil {
			t.Errorf("%s: no AVX2 kernel", w)
		}
	}
	withSIMD(false, func() {
		for _, w := range dotTypes {
			if simdDot(w) != nil {
				t.Errorf("%s: SIMD kernel returned with SIMD forced off", w)
			}
		}
	})
}

// fillPattern sets every byte of the blocks in b (type t) to p and then
// every scale field to the fp16 value h (the float32 d of Q8_K to the
// float32 with h's value); the quants and the K-quants' packed 6-bit
// scales, int8 scales and bsums all take the byte pattern p.
func fillPattern(t Type, b []byte, p byte, h uint16) {
	for i := range b {
		b[i] = p
	}
	ts := t.TypeSize()
	for off := 0; off < len(b); off += ts {
		for _, f := range scaleFields[t] {
			if f < 0 {
				binary.LittleEndian.PutUint32(b[off:], math.Float32bits(FP16ToFP32(h)))
				continue
			}
			binary.LittleEndian.PutUint16(b[off+f:], h)
		}
	}
}

// simdCase is one pair of operand rows.
type simdCase struct {
	name string
	n    int
	w, x []byte
}

// simdCases returns random and extreme operand rows for weight type w:
// random bytes everywhere (so Q8 blocks hold -128 about once in 256 bytes)
// with random finite scales; activations quantized from hidden-state-like
// floats; and rows where every quant byte is one of the extreme patterns
// (0x80 is -128 in Q8 blocks, 0xff makes the K-quants' 6-bit scales and
// mins 63, Q6_K's int8 scales -1, 0x80 makes them -128) with the largest
// finite fp16 scale or a subnormal one.
func simdCases(t *testing.T, w Type, seed uint64) []simdCase {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, uint64(w)))
	xt := VecDotType(w)
	bs := max(w.BlockSize(), xt.BlockSize())
	var cases []simdCase
	for _, blocks := range []int{0, 1, 2, 3, 5, 8, 9, 19, 28, 33} {
		if bs < QK_K {
			blocks = blocks * 7 / 2 // longer rows, odd block counts too
		}
		n := blocks * bs
		cases = append(cases,
			simdCase{fmt.Sprintf("random/%d", n), n, randomBlocks(r, w, n), randomBlocks(r, xt, n)})
		x := randomActivations(r, n, math.Pow(10, float64(r.IntN(5)-2)))
		size, _ := RowSize(xt, int64(n))
		xb := make([]byte, size)
		if err := QuantizeRow(xt, xb, x); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, simdCase{fmt.Sprintf("quantized/%d", n), n, randomBlocks(r, w, n), xb})
	}
	patterns := []byte{0x00, 0x80, 0xff, 0x7f, 0x81, 0x0f, 0xf0, 0x55}
	n := 3 * bs
	if bs < QK_K {
		n = 7 * bs // through the four-block loop and the tail
	}
	for _, h := range []uint16{0x7bff, 0x3c00, 0x0001, 0xfbff} {
		for _, pw := range patterns {
			for _, px := range patterns {
				wb, _ := RowSize(w, int64(n))
				xb, _ := RowSize(xt, int64(n))
				c := simdCase{fmt.Sprintf("pattern/w%02x/x%02x/d%04x", pw, px, h), n, make([]byte, wb), make([]byte, xb)}
				fillPattern(w, c.w, pw, h)
				fillPattern(xt, c.x, px, h)
				cases = append(cases, c)
			}
		}
	}
	// Random rows with a few extreme bytes sprinkled in.
	for range 20 {
		c := simdCase{"sprinkled", n, randomBlocks(r, w, n), randomBlocks(r, xt, n)}
		for range 40 {
			c.w[r.IntN(len(c.w))] = patterns[r.IntN(len(patterns))]
			c.x[r.IntN(len(c.x))] = patterns[r.IntN(len(patterns))]
		}
		// Keep the scales finite: re-randomize the scale fields.
		for _, b := range []struct {
			t Type
			b []byte
		}{{w, c.w}, {xt, c.x}} {
			ts := b.t.TypeSize()
			for off := 0; off < len(b.b); off += ts {
				for _, f := range scaleFields[b.t] {
					if f >= 0 {
						binary.LittleEndian.PutUint16(b.b[off+f:], randomHalf(r))
					} else {
						binary.LittleEndian.PutUint32(b.b[off:], math.Float32bits(float32(r.NormFloat64())))
					}
				}
			}
		}
		cases = append(cases, c)
	}
	return cases
}

// The AVX2 kernels must return exactly the bits of the scalar kernels
// (which TestVecDotScalarOracle proves equal to ggml's scalar C kernels in
// libggml-cpu-x64) on random rows of several seeds and lengths and on
// rows of extreme values.
func TestSIMDMatchesScalar(t *testing.T) {
	requireSIMD(t)
	for _, w := range simdWant {
		t.Run(w.String(), func(t *testing.T) {
			simd, scalar := kernels(t, w)
			checked := 0
			for seed := uint64(1); seed <= 4; seed++ {
				for _, c := range simdCases(t, w, seed) {
					got, want := simd(c.n, c.w, c.x), scalar(c.n, c.w, c.x)
					if math.Float32bits(got) != math.Float32bits(want) && !(isNaN32(got) && isNaN32(want)) {
						t.Fatalf("seed %d, %s (n=%d): AVX2 %.9g (%#08x), scalar %.9g (%#08x)",
							seed, c.name, c.n, got, math.Float32bits(got), want, math.Float32bits(want))
					}
					checked++
				}
			}
			t.Logf("%d rows bit-identical to the scalar kernel", checked)
		})
	}
}

func isNaN32(f float32) bool { return f != f }

// With the SIMD kernels forced off, VecDot still matches ggml's scalar
// kernels (TestVecDotScalarOracle itself runs with them on).
func TestVecDotScalarOracleNoSIMD(t *testing.T) {
	withSIMD(false, func() { TestVecDotScalarOracle(t) })
}

// The AVX2 kernels, like the scalar ones, panic on rows too short for n
// rather than reading past them.
func TestSIMDShortRowsPanic(t *testing.T) {
	requireSIMD(t)
	for _, w := range simdWant {
		simd, _ := kernels(t, w)
		n := 2 * max(w.BlockSize(), VecDotType(w).BlockSize())
		wb, _ := RowSize(w, int64(n))
		xb, _ := RowSize(VecDotType(w), int64(n))
		for _, short := range [][2]int64{{wb - 1, xb}, {wb, xb - 1}} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic for rows of %d and %d bytes, n=%d", w, short[0], short[1], n)
					}
				}()
				simd(n, make([]byte, short[0], 2*wb), make([]byte, short[1], 2*xb))
			}()
		}
	}
}

// FuzzSIMDDot: on arbitrary bytes (NaN and infinite scales included) the
// AVX2 kernel and the scalar kernel of each type give the same bits, or
// both a NaN, row by row and through DotRowsFunc and DotMatrixFunc.
func FuzzSIMDDot(f *testing.F) {
	f.Add(uint8(0), uint8(1), []byte{0x80, 0x7f, 0x00, 0xff})
	f.Add(uint8(4), uint8(3), []byte{0x3c, 0x00, 0x80, 0x80, 0x01})
	f.Add(uint8(9), uint8(2), []byte{0xff})
	f.Fuzz(func(t *testing.T, ti, blocks uint8, data []byte) {
		requireSIMD(t)
		w := simdWant[int(ti)%len(simdWant)]
		xt := VecDotType(w)
		n := (int(blocks)%12 + 1) * max(w.BlockSize(), xt.BlockSize())
		rb, _ := RowSize(w, int64(n))
		xb, _ := RowSize(xt, int64(n))
		// Five weight rows (a four-row group and one more) and 2 to 18
		// activation rows (around the K-quant kernels' 16-token chunk),
		// filled by repeating data.
		const nrows = 5
		ntok := 2 + int(blocks)/12%17
		buf := make([]byte, nrows*int(rb)+ntok*int(xb))
		for i := range buf {
			if len(data) > 0 {
				buf[i] = data[i%len(data)] ^ byte(i/len(data))
			}
		}
		wr, xs := buf[:nrows*rb], buf[nrows*rb:]
		x := xs[:xb]
		simd, scalar := kernels(t, w)
		same := func(a, b float32) bool {
			return math.Float32bits(a) == math.Float32bits(b) || (isNaN32(a) && isNaN32(b))
		}
		for i := range nrows {
			if got, want := simd(n, wr[i*int(rb):], x), scalar(n, wr[i*int(rb):], x); !same(got, want) {
				t.Fatalf("%s n=%d row %d: AVX2 %#08x, scalar %#08x", w, n, i, math.Float32bits(got), math.Float32bits(want))
			}
		}
		rows, err := DotRowsFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, nrows)
		rows(n, wr, int(rb), x, out)
		for i := range out {
			if want := scalar(n, wr[i*int(rb):], x); !same(out[i], want) {
				t.Fatalf("%s n=%d DotRows row %d: %#08x, scalar %#08x", w, n, i, math.Float32bits(out[i]), math.Float32bits(want))
			}
		}
		// The matrix kernel, all the tokens (the Q8_0 kernel's fast path
		// where no activation quant is -128, its fallback otherwise; the
		// K-quant kernels whatever the bytes).
		mat, err := DotMatrixFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		mout := make([]float32, ntok*nrows)
		mat(n, wr, int(rb), nrows, xs, int(xb), ntok, mout, nrows)
		for tk := range ntok {
			for i := range nrows {
				if want := scalar(n, wr[i*int(rb):], xs[tk*int(xb):]); !same(mout[tk*nrows+i], want) {
					t.Fatalf("%s n=%d DotMatrix row %d token %d: %#08x, scalar %#08x", w, n, i, tk, math.Float32bits(mout[tk*nrows+i]), math.Float32bits(want))
				}
			}
		}
	})
}
