//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// kExtremes overwrites some of the blocks of a Q4_K or Q6_K row set with
// the largest quants and scales in magnitude (the VNNI kernels' int16
// products and int32 lanes at their limits), and some Q8_K activation
// blocks with all -128 or all 127.
func kExtremes(r *rand.Rand, w Type, wb []byte, xb []byte) {
	ws := w.TypeSize()
	for off := 0; off+ws <= len(wb); off += ws {
		if r.IntN(3) != 0 {
			continue
		}
		blk := wb[off : off+ws]
		switch w {
		case Q4_K:
			for i := 4; i < 16; i++ { // every scale and min 63
				blk[i] = 0xff
			}
			for i := 16; i < 144; i++ {
				blk[i] = 0xff // every quant 15
			}
		case Q6_K:
			q := byte(0x00) // every quant -32
			if r.IntN(2) == 0 {
				q = 0xff // every quant 31
			}
			for i := 0; i < 192; i++ {
				blk[i] = q
			}
			for i := 192; i < 208; i++ {
				blk[i] = 0x80 // scale -128
			}
		}
	}
	for off := 0; off+292 <= len(xb); off += 292 {
		if r.IntN(3) != 0 {
			continue
		}
		v := byte(0x80)
		if r.IntN(2) == 0 {
			v = 0x7f
		}
		for i := 4; i < 260; i++ {
			xb[off+i] = v
		}
		bs := int16(16 * int8(v))
		for j := 0; j < 16; j++ {
			binary.LittleEndian.PutUint16(xb[off+260+2*j:], uint16(bs))
		}
	}
}

// The VNNI matrix kernels give, for every (row, token), the bits of the
// scalar kernel and of the AVX2 matrix kernel: tokens 1..40 (around the
// 16-token tile), row counts odd and even, padded strides, 1..16 blocks,
// random and extreme quants and scales, random and quantized activations.
// (Unaligned strides put random bits in some fp16 scales: a NaN result
// only has to be a NaN, its payload depends on the operation order.)
func TestVNNIDotMatrixK(t *testing.T) {
	requireVNNI(t)
	for _, c := range []struct {
		w    Type
		vbmi bool
	}{{Q4_K, true}, {Q4_K, false}, {Q6_K, true}} {
		w := c.w
		name := w.String()
		if !c.vbmi {
			name += "/noVBMI"
		}
		t.Run(name, func(t *testing.T) {
			if c.vbmi && !vbmiEnabled {
				t.Skip("CPU without AVX512_VBMI: the noVBMI subtest covers Q4_K")
			}
			defer withVBMI(c.vbmi)()
			var scalar DotKernel
			withSIMD(false, func() {
				var err error
				if scalar, err = DotFunc(w); err != nil {
					t.Fatal(err)
				}
			})
			var vnni, avx2 DotMatrixKernel
			var err error
			if vnni, err = DotMatrixFunc(w); err != nil {
				t.Fatal(err)
			}
			withVNNI(false, func() { avx2, err = DotMatrixFunc(w) })
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(w), 99))
			checked := 0
			for tokens := 1; tokens <= 40; tokens++ {
				for _, nrows := range []int{1, 2, 3, 6, 9} {
					blocks := 1 + r.IntN(16)
					n := blocks * QK_K
					rb, _ := RowSize(w, int64(n))
					xrb, _ := RowSize(Q8_K, int64(n))
					stride := int(rb) + r.IntN(3)*int(w.TypeSize()) + r.IntN(2)
					xstride := int(xrb) + r.IntN(3)*292 + r.IntN(2)
					ostride := nrows + r.IntN(3)
					wb := randomBlocks(r, w, (nrows*stride/int(w.TypeSize())+1)*QK_K)
					xb := make([]byte, tokens*xstride)
					for tk := range tokens {
						row := xb[tk*xstride : tk*xstride+int(xrb)]
						if r.IntN(3) == 0 {
							copy(row, randomBlocks(r, Q8_K, n))
							if r.IntN(3) != 0 {
								narrowBsums(row) // else Q4_K's VNNI kernel hands the call to AVX2
							}
						} else if err := QuantizeRow(Q8_K, row, randomActivations(r, n, 1)); err != nil {
							t.Fatal(err)
						}
					}
					if r.IntN(2) == 0 {
						kExtremes(r, w, wb, xb)
					}
					got := make([]float32, tokens*ostride)
					ref := make([]float32, tokens*ostride)
					for i := range got {
						got[i] = float32(math.NaN()) // every output must be written
					}
					vnni(n, wb, stride, nrows, xb, xstride, tokens, got, ostride)
					withVNNI(false, func() { avx2(n, wb, stride, nrows, xb, xstride, tokens, ref, ostride) })
					for tk := range tokens {
						for i := range nrows {
							g := got[tk*ostride+i]
							want := scalar(n, wb[i*stride:], xb[tk*xstride:])
							a := ref[tk*ostride+i]
							same := func(v float32) bool {
								return math.Float32bits(v) == math.Float32bits(want) || (isNaN32(v) && isNaN32(want))
							}
							if !same(g) || !same(a) {
								t.Fatalf("%d rows x %d tokens, n=%d: row %d token %d: VNNI %.9g (%#08x), AVX2 %#08x, scalar %.9g (%#08x)",
									nrows, tokens, n, i, tk, g, math.Float32bits(g), math.Float32bits(a), want, math.Float32bits(want))
							}
							checked++
						}
						for i := nrows; i < ostride && tk*ostride+i < len(got); i++ {
							if v := got[tk*ostride+i]; v == v {
								t.Fatalf("padding out[%d] written", tk*ostride+i)
							}
						}
					}
				}
			}
			t.Logf("%d outputs bit-identical to the scalar and AVX2 kernels", checked)
		})
	}
}

// FuzzVNNIDotMatrixK: on arbitrary bytes (NaN and infinite scales
// included) the VNNI matrix kernel gives the scalar kernel's bits, or a
// NaN where it does.
func FuzzVNNIDotMatrixK(f *testing.F) {
	f.Add(uint8(0), uint8(1), []byte{0x80, 0x7f, 0x00, 0xff})
	f.Add(uint8(1), uint8(30), []byte{0x3c, 0x00, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, ti, shape uint8, data []byte) {
		requireVNNI(t)
		w := []Type{Q4_K, Q6_K}[ti%2]
		defer withVBMI(ti&2 == 0)()
		n := (int(shape)%5 + 1) * QK_K
		nrows := 1 + int(shape)/5%4
		tokens := 2 + int(shape)/20%12
		rb, _ := RowSize(w, int64(n))
		xb, _ := RowSize(Q8_K, int64(n))
		buf := make([]byte, nrows*int(rb)+tokens*int(xb))
		for i := range buf {
			if len(data) > 0 {
				buf[i] = data[i%len(data)] ^ byte(i/len(data))
			}
		}
		wr, xs := buf[:nrows*int(rb)], buf[nrows*int(rb):]
		if shape%2 == 0 {
			// Bsums a quantizer can write, so that Q4_K's VNNI kernel runs
			// rather than the AVX2 kernel it hands wider ones to.
			for tk := range tokens {
				narrowBsums(xs[tk*int(xb) : (tk+1)*int(xb)])
			}
		}
		var scalar DotKernel
		withSIMD(false, func() { scalar, _ = DotFunc(w) })
		mat, err := DotMatrixFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, tokens*nrows)
		mat(n, wr, int(rb), nrows, xs, int(xb), tokens, out, nrows)
		for tk := range tokens {
			for i := range nrows {
				g, want := out[tk*nrows+i], scalar(n, wr[i*int(rb):], xs[tk*int(xb):])
				if math.Float32bits(g) != math.Float32bits(want) && !(isNaN32(g) && isNaN32(want)) {
					t.Fatalf("%s n=%d row %d token %d: VNNI %#08x, scalar %#08x", w, n, i, tk, math.Float32bits(g), math.Float32bits(want))
				}
			}
		}
	})
}

// narrowBsums makes every bsum of the Q8_K blocks of row a value a
// quantizer can give (16 int8s: |bsum| <= 2048): its bytes' int16 shifted
// right by 4, so random bytes keep exercising every bit pattern of the
// quants while Q4_K's S pairs (two bsums) stay int16s.
func narrowBsums(row []byte) {
	for off := 0; off+292 <= len(row); off += 292 {
		for j := range 16 {
			b := row[off+260+2*j:]
			binary.LittleEndian.PutUint16(b, uint16(int16(binary.LittleEndian.Uint16(b))>>4))
		}
	}
}

// TestPrepQ8KWide: the prep functions report bsum pairs outside int16 (so
// that Q4_K's VNNI kernel hands such a call to the AVX2 kernel) and only
// those: never for rows a quantizer wrote, extremes included (so the pair
// kernel runs for every real activation), nor at the int16 bounds; yes for
// one pair one past them, in any token and block.
func TestPrepQ8KWide(t *testing.T) {
	requireVNNI(t)
	t.Run("byte", func(t *testing.T) { testPrepWide(t, prepQ8KByteAsm, kbPrepBlock) })
	t.Run("pair", func(t *testing.T) { testPrepWide(t, prepQ8KPairAsm, kpPrepBlock) })
}

func testPrepWide(t *testing.T, prepare func(x *byte, xstride, nt, nb int, dst *byte) bool, block int) {
	r := rand.New(rand.NewPCG(41, 42))
	const nb = 3
	n := nb * QK_K
	buf := make([]byte, 64+nb*block)
	a := int(-uintptr(unsafe.Pointer(&buf[0])) & 63)
	prep := buf[a : a+nb*block]
	for _, nt := range []int{1, 4, 7, 16} {
		x := make([]byte, nt*292*nb)
		for tk := range nt {
			v := randomActivations(r, n, 1)
			if tk%3 == 1 {
				for i := range v {
					v[i] = -1e3 // every quant -127 or -128: the widest sums
				}
			}
			if err := QuantizeRow(Q8_K, x[tk*292*nb:(tk+1)*292*nb], v); err != nil {
				t.Fatal(err)
			}
		}
		if prepare(&x[0], 292*nb, nt, nb, &prep[0]) {
			t.Fatalf("%d tokens of quantized activations reported wide", nt)
		}
		for _, c := range []struct {
			a, b int16
			wide bool
		}{{-16384, -16384, false}, {16384, 16383, false}, {-16384, -16385, true}, {16384, 16384, true}, {32767, -32768, false}} {
			y := append([]byte(nil), x...)
			tk, blk, j := r.IntN(nt), r.IntN(nb), r.IntN(8)
			off := tk*292*nb + blk*292 + 260 + 4*j
			binary.LittleEndian.PutUint16(y[off:], uint16(c.a))
			binary.LittleEndian.PutUint16(y[off+2:], uint16(c.b))
			if got := prepare(&y[0], 292*nb, nt, nb, &prep[0]); got != c.wide {
				t.Fatalf("%d tokens, bsums %d and %d (token %d, block %d, pair %d): wide %v, want %v", nt, c.a, c.b, tk, blk, j, got, c.wide)
			}
		}
	}
}

// The one-token K-quant kernels (vnniDotRowsK, Q4_K and Q6_K, with and
// without VBMI) give every row the scalar kernel's bits: 1..9 rows, padded
// strides, 1..28 blocks, random bytes (NaN and infinite scales among
// them, where only NaN-ness has to match; bsums of any value), the
// extreme quants, scales and activations of kExtremes, quantized
// activations.
func TestVNNIDotRowsK(t *testing.T) {
	requireVNNI(t)
	for _, w := range []Type{Q4_K, Q6_K} {
		var scalar DotKernel
		withSIMD(false, func() { scalar, _ = DotFunc(w) })
		ws := w.TypeSize()
		for _, vbmi := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/vbmi=%v", w, vbmi), func(t *testing.T) {
				if vbmi && !vbmiEnabled {
					t.Skip("CPU without AVX512_VBMI: the vbmi=false subtest covers the kernel")
				}
				defer withVBMI(vbmi)()
				rows, err := DotRowsFunc(w)
				if err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(uint64(w), 66))
				checked := 0
				for range 300 {
					nrows, blocks := 1+r.IntN(9), 1+r.IntN(28)
					n := blocks * QK_K
					rb, _ := RowSize(w, int64(n))
					stride := int(rb) + r.IntN(3)*ws + r.IntN(2)
					wb := randomBlocks(r, w, (nrows*stride/ws+1)*QK_K)
					xb := make([]byte, blocks*292)
					if r.IntN(2) == 0 {
						copy(xb, randomBlocks(r, Q8_K, n))
					} else if err := QuantizeRow(Q8_K, xb, randomActivations(r, n, 1)); err != nil {
						t.Fatal(err)
					}
					if r.IntN(2) == 0 {
						kExtremes(r, w, wb, xb)
					}
					out := make([]float32, nrows+1)
					out[nrows] = 42 // past the rows: must stay
					rows(n, wb, stride, xb, out[:nrows])
					for i := range nrows {
						g, want := out[i], scalar(n, wb[i*stride:], xb)
						if math.Float32bits(g) != math.Float32bits(want) && !(isNaN32(g) && isNaN32(want)) {
							t.Fatalf("%d rows, %d blocks, stride %d: row %d: %.9g (%#08x), scalar %.9g (%#08x)",
								nrows, blocks, stride, i, g, math.Float32bits(g), want, math.Float32bits(want))
						}
						checked++
					}
					if out[nrows] != 42 {
						t.Fatalf("out[%d] past the %d rows written", nrows, nrows)
					}
				}
				t.Logf("%d rows bit-identical to the scalar kernel", checked)
			})
		}
	}
}

// FuzzVNNIDotRowsK: on arbitrary bytes the one-token K-quant kernels give
// the scalar kernel's bits, or a NaN where it does.
func FuzzVNNIDotRowsK(f *testing.F) {
	f.Add(uint8(0), []byte{0x80, 0x7f, 0x00, 0xff})
	f.Add(uint8(7), []byte{0x3c, 0x00, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, shape uint8, data []byte) {
		requireVNNI(t)
		w := []Type{Q4_K, Q6_K}[shape&1]
		defer withVBMI(shape&2 == 0)()
		n := (int(shape)/4%4 + 1) * QK_K
		nrows := 1 + int(shape)/16%5
		rb, _ := RowSize(w, int64(n))
		xb, _ := RowSize(Q8_K, int64(n))
		buf := make([]byte, nrows*int(rb)+int(xb))
		for i := range buf {
			if len(data) > 0 {
				buf[i] = data[i%len(data)] ^ byte(i/len(data))
			}
		}
		var scalar DotKernel
		withSIMD(false, func() { scalar, _ = DotFunc(w) })
		rows, err := DotRowsFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		wr, x := buf[:nrows*int(rb)], buf[nrows*int(rb):]
		out := make([]float32, nrows)
		rows(n, wr, int(rb), x, out)
		for i := range nrows {
			g, want := out[i], scalar(n, wr[i*int(rb):], x)
			if math.Float32bits(g) != math.Float32bits(want) && !(isNaN32(g) && isNaN32(want)) {
				t.Fatalf("%s n=%d row %d: %#08x, scalar %#08x", w, n, i, math.Float32bits(g), math.Float32bits(want))
			}
		}
	})
}

// BenchmarkVNNIDotMatrixK: the VNNI kernels against the AVX2 ones on the
// shapes of BenchmarkDotMatrix (448 rows of the FFN width) and of the
// 1.5B model's attention (1536 x 1536).
func BenchmarkVNNIDotMatrixK(b *testing.B) {
	requireVNNI(b)
	for _, w := range []Type{Q4_K, Q6_K} {
		for _, shape := range [][2]int{{4864, 448}, {1536, 1536}} {
			n, rows := shape[0], shape[1]
			for _, tokens := range []int{7, 16, 64} {
				r := rand.New(rand.NewPCG(3, 4))
				wb := randomBlocks(r, w, rows*n)
				xs, _ := RowSize(Q8_K, int64(n))
				x := make([]byte, tokens*int(xs))
				for tk := range tokens {
					if err := QuantizeRow(Q8_K, x[tk*int(xs):(tk+1)*int(xs)], randomActivations(r, n, 1)); err != nil {
						b.Fatal(err)
					}
				}
				rb, _ := RowSize(w, int64(n))
				out := make([]float32, tokens*rows)
				for _, kind := range []string{"vnni", "vnni-novbmi", "avx2"} {
					if kind == "vnni-novbmi" && w != Q4_K {
						continue
					}
					on := kind != "avx2"
					var mat DotMatrixKernel
					restore := withVBMI(kind == "vnni")
					withVNNI(on, func() { mat, _ = DotMatrixFunc(w) })
					restore()
					b.Run(fmt.Sprintf("%s/n%d/%drows/%dtok/%s", w, n, rows, tokens, kind), func(b *testing.B) {
						withVNNI(on, func() {
							for b.Loop() {
								mat(n, wb, int(rb), rows, x, int(xs), tokens, out, rows)
							}
						})
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows*n/QK_K), "ns/rowblock")
					})
				}
			}
		}
	}
}

// BenchmarkVNNIDotRowsK: the one-token K-quant kernels against the AVX2
// one-row kernels, rows of the 1.5B shape's width: 512 rows (in cache)
// and 16384 (14 or 20 MiB, streamed from memory like a decode step's
// weights).
func BenchmarkVNNIDotRowsK(b *testing.B) {
	requireVNNI(b)
	const n = 1536
	for _, c := range []struct {
		w     Type
		nrows int
	}{{Q4_K, 512}, {Q4_K, 16384}, {Q6_K, 512}, {Q6_K, 16384}} {
		w, nrows := c.w, c.nrows
		r := rand.New(rand.NewPCG(3, 4))
		wb := randomBlocks(r, w, nrows*n)
		xb := make([]byte, 292*n/QK_K)
		if err := QuantizeRow(Q8_K, xb, randomActivations(r, n, 1)); err != nil {
			b.Fatal(err)
		}
		out := make([]float32, nrows)
		for _, kind := range []string{"vnni", "vnni-novbmi", "avx2"} {
			var k DotRowsKernel
			restore := withVBMI(kind == "vnni")
			withVNNI(kind != "avx2", func() { k, _ = DotRowsFunc(w) })
			restore()
			b.Run(fmt.Sprintf("%s/n%d/%drows/%s", w, n, nrows, kind), func(b *testing.B) {
				b.SetBytes(int64(len(wb)))
				for b.Loop() {
					k(n, wb, len(wb)/nrows, xb, out)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(nrows*n/QK_K), "ns/rowblock")
			})
		}
	}
}
