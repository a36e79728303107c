//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Adversarial inputs for the AVX-512 VNNI K-quant kernels beyond
// TestVNNIDotMatrixK and TestVNNIDotRowsQ6_K: the real models' widths
// (6, 19, 35 and 74 blocks: 1.5B attention, 0.5B, 1.5B and 7B
// ffn_down), odd byte strides, row counts around the groups of four,
// 4..40 tokens, activations at -128 and 127, bsums at the int16 pair
// limits (and one past them in a single token of a tile), and fp16 / f32
// scales that are NaN, infinite, zero of either sign, subnormal or the
// largest finite value. The reference is the scalar kernel (DotFunc with
// the SIMD kernels off); a NaN only has to be a NaN (its payload depends
// on the operation order), every other result, infinities included, must
// have the scalar kernel's bits.

// advHalves are fp16 scale patterns a model file can hold.
var advHalves = []uint16{
	0x7c00, // +Inf
	0xfc00, // -Inf
	0x7e00, // NaN
	0x8000, // -0
	0x0000, // +0
	0x0001, // smallest subnormal
	0x03ff, // largest subnormal
	0x7bff, // 65504
	0xfbff, // -65504
}

// advFloats are Q8_K d patterns (float32).
var advFloats = []float32{
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	float32(math.Copysign(0, -1)), 0, math.SmallestNonzeroFloat32,
	math.MaxFloat32, -math.MaxFloat32, 1e-38,
}

// advMode is how advFill treats a case's bytes.
type advMode int

const (
	advRandom    advMode = iota // random blocks, quantized or random activations
	advExtreme                  // largest quants and scales, activations all -128 or 127
	advPairLimit                // bsum pairs at the int16 bounds (Q4_K's S(j) = -32768, 32767)
	advWide                     // one token's bsum pair one past int16: its tile goes to AVX2
	advSpecial                  // NaN, Inf, ±0, subnormal and huge d, dmin and activation d
)

func (m advMode) String() string {
	return [...]string{"random", "extreme", "pairlimit", "wide", "special"}[m]
}

// advFill fills nrows weight rows (stride bytes apart, n elements) and
// tokens activation rows (xstride apart) in wb and xb for mode m.
func advFill(r *rand.Rand, w Type, m advMode, n, nrows, stride int, wb []byte, tokens, xstride int, xb []byte) {
	ws := int(w.TypeSize())
	nb := n / QK_K
	rb := nb * ws
	xrb := nb * 292
	for i := range nrows {
		copy(wb[i*stride:i*stride+rb], randomBlocks(r, w, n))
	}
	for tk := range tokens {
		row := xb[tk*xstride : tk*xstride+xrb]
		if r.IntN(2) == 0 {
			copy(row, randomBlocks(r, Q8_K, n))
			narrowBsums(row)
		} else if err := QuantizeRow(Q8_K, row, randomActivations(r, n, 1)); err != nil {
			panic(err)
		}
	}
	switch m {
	case advExtreme:
		for i := range nrows {
			row := wb[i*stride : i*stride+rb]
			for off := 0; off < rb; off += ws {
				blk := row[off : off+ws]
				switch w {
				case Q4_K:
					for k := 4; k < 16; k++ {
						blk[k] = 0xff
					}
					for k := 16; k < 144; k++ {
						blk[k] = 0xff
					}
				case Q6_K:
					q := byte(0x00)
					if r.IntN(2) == 0 {
						q = 0xff
					}
					for k := 0; k < 192; k++ {
						blk[k] = q
					}
					s := byte(0x80)
					if r.IntN(2) == 0 {
						s = 0x7f
					}
					for k := 192; k < 208; k++ {
						blk[k] = s
					}
				}
			}
		}
		for tk := range tokens {
			row := xb[tk*xstride : tk*xstride+xrb]
			for off := 0; off < xrb; off += 292 {
				v := byte(0x80)
				if r.IntN(2) == 0 {
					v = 0x7f
				}
				for k := 4; k < 260; k++ {
					row[off+k] = v
				}
				for j := range 16 {
					binary.LittleEndian.PutUint16(row[off+260+2*j:], uint16(int16(16*int8(v))))
				}
			}
		}
	case advPairLimit, advWide:
		pairs := [][2]int16{{-16384, -16384}, {16384, 16383}, {32767, -32768}, {-32768, 32767}, {-32768, 0}, {32767, 0}}
		for tk := range tokens {
			row := xb[tk*xstride : tk*xstride+xrb]
			for off := 0; off < xrb; off += 292 {
				for j := range 8 {
					if r.IntN(2) == 0 {
						p := pairs[r.IntN(len(pairs))]
						binary.LittleEndian.PutUint16(row[off+260+4*j:], uint16(p[0]))
						binary.LittleEndian.PutUint16(row[off+260+4*j+2:], uint16(p[1]))
					}
				}
			}
		}
		if m == advWide {
			tk, blk, j := r.IntN(tokens), r.IntN(nb), r.IntN(8)
			off := tk*xstride + blk*292 + 260 + 4*j
			a, b := int16(16384), int16(16384)
			if r.IntN(2) == 0 {
				a, b = -16384, -16385
			}
			binary.LittleEndian.PutUint16(xb[off:], uint16(a))
			binary.LittleEndian.PutUint16(xb[off+2:], uint16(b))
		}
	case advSpecial:
		for i := range nrows {
			row := wb[i*stride : i*stride+rb]
			for off := 0; off < rb; off += ws {
				if r.IntN(3) != 0 {
					continue
				}
				h := advHalves[r.IntN(len(advHalves))]
				switch w {
				case Q4_K:
					binary.LittleEndian.PutUint16(row[off+2*r.IntN(2):], h)
				case Q6_K:
					binary.LittleEndian.PutUint16(row[off+208:], h)
				}
			}
		}
		for tk := range tokens {
			row := xb[tk*xstride : tk*xstride+xrb]
			for off := 0; off < xrb; off += 292 {
				if r.IntN(4) == 0 {
					binary.LittleEndian.PutUint32(row[off:], math.Float32bits(advFloats[r.IntN(len(advFloats))]))
				}
			}
		}
	}
}

// The VNNI matrix kernels (Q4_K and Q6_K, with and without VBMI: Q6_K's
// rows past the last group of four take the one-token kernel) on the real
// models' widths, odd strides, 4..40 tokens and every advMode: every
// output the scalar kernel's bits, the padding between ostride and
// nrows untouched.
func TestVNNIDotMatrixKAdversarial(t *testing.T) {
	requireVNNI(t)
	for _, c := range []struct {
		w    Type
		vbmi bool
	}{{Q4_K, true}, {Q4_K, false}, {Q6_K, true}, {Q6_K, false}} {
		name := c.w.String()
		if !c.vbmi {
			name += "/noVBMI"
		}
		t.Run(name, func(t *testing.T) {
			if c.vbmi && !vbmiEnabled {
				t.Skip("CPU without AVX512_VBMI")
			}
			defer withVBMI(c.vbmi)()
			w := c.w
			var scalar DotKernel
			withSIMD(false, func() { scalar, _ = DotFunc(w) })
			mat, err := DotMatrixFunc(w)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(w), 8))
			tokenCounts := []int{4, 5, 6, 7, 8, 9, 15, 16, 17, 19, 20, 31, 33, 36, 40}
			checked, nans, payload, infs := 0, 0, 0, 0
			for _, blocks := range []int{1, 6, 19, 35, 74} {
				for _, nrows := range []int{4, 5, 7, 8, 13} {
					for k := 0; k < 3; k++ {
						tokens := tokenCounts[r.IntN(len(tokenCounts))]
						if k == 0 {
							tokens = []int{4, 40, 17}[nrows%3]
						}
						m := advMode(r.IntN(5))
						n := blocks * QK_K
						ws := int(w.TypeSize())
						stride := blocks*ws + r.IntN(7) + r.IntN(2)*ws
						xstride := blocks*292 + r.IntN(7) + r.IntN(2)*292
						ostride := nrows + r.IntN(4)
						wb := make([]byte, (nrows-1)*stride+blocks*ws)
						xb := make([]byte, (tokens-1)*xstride+blocks*292)
						advFill(r, w, m, n, nrows, stride, wb, tokens, xstride, xb)
						out := make([]float32, tokens*ostride)
						for i := range out {
							out[i] = 42
						}
						mat(n, wb, stride, nrows, xb, xstride, tokens, out, ostride)
						for tk := range tokens {
							for i := range ostride {
								g := out[tk*ostride+i]
								if i >= nrows {
									if g != 42 {
										t.Fatalf("%s: padding out[%d] written", m, tk*ostride+i)
									}
									continue
								}
								want := scalar(n, wb[i*stride:], xb[tk*xstride:])
								if !sameBits(g, want) {
									t.Fatalf("%s, %d blocks, %d rows (stride %d) x %d tokens (xstride %d): row %d token %d: VNNI %.9g (%#08x), scalar %.9g (%#08x)",
										m, blocks, nrows, stride, tokens, xstride, i, tk, g, math.Float32bits(g), want, math.Float32bits(want))
								}
								checked++
								if isNaN32(want) {
									nans++
									if math.Float32bits(g) != math.Float32bits(want) {
										payload++
									}
								} else if math.IsInf(float64(want), 0) {
									infs++
								}
							}
						}
					}
				}
			}
			t.Logf("%d outputs bit-identical to the scalar kernel (%d NaN, %d of them with another payload or sign; %d infinite)", checked, nans, payload, infs)
		})
	}
}

// The one-token Q6_K kernel on the same inputs (1..17 rows).
func TestVNNIDotRowsQ6_KAdversarial(t *testing.T) {
	requireVNNI(t)
	var scalar DotKernel
	withSIMD(false, func() { scalar, _ = DotFunc(Q6_K) })
	for _, vbmi := range []bool{true, false} {
		t.Run(fmt.Sprintf("vbmi=%v", vbmi), func(t *testing.T) {
			if vbmi && !vbmiEnabled {
				t.Skip("CPU without AVX512_VBMI")
			}
			defer withVBMI(vbmi)()
			rows, err := DotRowsFunc(Q6_K)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(6, 8))
			checked := 0
			for _, blocks := range []int{1, 6, 19, 35, 74} {
				for _, nrows := range []int{1, 2, 3, 4, 5, 8, 17} {
					for m := range advMode(5) {
						if m == advWide || m == advPairLimit {
							continue // Q6_K does not read the bsums
						}
						n := blocks * QK_K
						stride := blocks*210 + r.IntN(7) + r.IntN(2)*210
						wb := make([]byte, (nrows-1)*stride+blocks*210)
						xb := make([]byte, blocks*292)
						advFill(r, Q6_K, m, n, nrows, stride, wb, 1, 0, xb)
						out := make([]float32, nrows+1)
						out[nrows] = 42
						rows(n, wb, stride, xb, out[:nrows])
						if out[nrows] != 42 {
							t.Fatalf("%s: out past the %d rows written", m, nrows)
						}
						for i := range nrows {
							want := scalar(n, wb[i*stride:], xb)
							if !sameBits(out[i], want) {
								t.Fatalf("%s, %d blocks, %d rows, stride %d: row %d: %.9g (%#08x), scalar %.9g (%#08x)",
									m, blocks, nrows, stride, i, out[i], math.Float32bits(out[i]), want, math.Float32bits(want))
							}
							checked++
						}
					}
				}
			}
			t.Logf("%d rows bit-identical to the scalar kernel", checked)
		})
	}
}

// guarded returns a slice of size bytes that ends where an inaccessible
// page begins (atEnd) or starts where one ends (!atEnd), so that a kernel
// reading or writing a byte past (or before) its slice faults.
func guarded(t *testing.T, size int, atEnd bool) []byte {
	t.Helper()
	pg := unix.Getpagesize()
	data := (size + pg - 1) / pg * pg
	mem, err := unix.Mmap(-1, 0, data+2*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Mprotect(mem[:pg], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mprotect(mem[pg+data:], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if atEnd {
		return mem[pg+data-size : pg+data : pg+data]
	}
	return mem[pg : pg+size : pg+size]
}

// The kernels touch no byte outside the weights, activations and outputs
// they are given: each buffer sits against an inaccessible page (after
// it, then before it), with the exact sizes a caller passes, so that a
// read or write past either end faults (the test crashes).
func TestVNNIKQuantGuardPages(t *testing.T) {
	requireVNNI(t)
	r := rand.New(rand.NewPCG(7, 7))
	for _, atEnd := range []bool{true, false} {
		for _, vbmi := range []bool{true, false} {
			restore := withVBMI(vbmi)
			for _, w := range []Type{Q4_K, Q6_K} {
				var scalar DotKernel
				withSIMD(false, func() { scalar, _ = DotFunc(w) })
				mat, _ := DotMatrixFunc(w)
				rows, _ := DotRowsFunc(w)
				for _, blocks := range []int{1, 3, 35} {
					for _, sh := range [][2]int{{4, 4}, {5, 9}, {8, 16}, {7, 17}} {
						nrows, tokens := sh[0], sh[1]
						n := blocks * QK_K
						ws := int(w.TypeSize())
						stride := blocks*ws + 3
						xstride := blocks*292 + 5
						wsize := (nrows-1)*stride + blocks*ws
						xsize := (tokens-1)*xstride + blocks*292
						wb, xb := guarded(t, wsize, atEnd), guarded(t, xsize, atEnd)
						tmp := make([]byte, len(wb))
						tmpx := make([]byte, len(xb))
						advFill(r, w, advRandom, n, nrows, stride, tmp, tokens, xstride, tmpx)
						copy(wb, tmp)
						copy(xb, tmpx)
						outb := guarded(t, 4*tokens*nrows, atEnd)
						out := unsafeFloats(outb)
						mat(n, wb, stride, nrows, xb, xstride, tokens, out, nrows)
						one := unsafeFloats(guarded(t, 4*nrows, atEnd))
						rows(n, wb, stride, xb[(tokens-1)*xstride:], one)
						for i := range nrows {
							if want := scalar(n, wb[i*stride:], xb[(tokens-1)*xstride:]); !sameBits(one[i], want) || !sameBits(out[(tokens-1)*nrows+i], want) {
								t.Fatalf("%s %d blocks row %d: rows %#08x, matrix %#08x, scalar %#08x", w, blocks, i,
									math.Float32bits(one[i]), math.Float32bits(out[(tokens-1)*nrows+i]), math.Float32bits(want))
							}
						}
					}
				}
			}
			restore()
		}
	}
}

// unsafeFloats views a 4-byte-aligned byte slice as float32s.
func unsafeFloats(b []byte) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// The kernels share their scratch buffers (kMatFree) across goroutines
// and calls of different widths and token counts: concurrent calls of
// the matrix and one-token kernels still give the scalar bits.
func TestVNNIKQuantConcurrent(t *testing.T) {
	requireVNNI(t)
	scalars := map[Type]DotKernel{}
	withSIMD(false, func() {
		for _, w := range []Type{Q4_K, Q6_K} {
			scalars[w], _ = DotFunc(w)
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 77))
			w := []Type{Q4_K, Q6_K}[g%2]
			scalar := scalars[w]
			mat, _ := DotMatrixFunc(w)
			rows, _ := DotRowsFunc(w)
			for range 25 {
				blocks := []int{1, 6, 19, 35}[r.IntN(4)]
				nrows, tokens := 4+r.IntN(6), 4+r.IntN(30)
				n := blocks * QK_K
				ws := int(w.TypeSize())
				stride, xstride := blocks*ws, blocks*292
				wb := make([]byte, nrows*stride)
				xb := make([]byte, tokens*xstride)
				advFill(r, w, advMode(r.IntN(3)), n, nrows, stride, wb, tokens, xstride, xb)
				out := make([]float32, tokens*nrows)
				mat(n, wb, stride, nrows, xb, xstride, tokens, out, nrows)
				one := make([]float32, nrows)
				rows(n, wb, stride, xb, one)
				for tk := range tokens {
					for i := range nrows {
						want := scalar(n, wb[i*stride:], xb[tk*xstride:])
						if !sameBits(out[tk*nrows+i], want) || (tk == 0 && !sameBits(one[i], want)) {
							errs <- fmt.Errorf("goroutine %d: %s %d blocks row %d token %d: matrix %#08x, one-token %#08x, scalar %#08x",
								g, w, blocks, i, tk, math.Float32bits(out[tk*nrows+i]), math.Float32bits(one[i]), math.Float32bits(want))
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzVNNIDotMatrixKShapes is FuzzVNNIDotMatrixK with shapes that always
// reach the VNNI kernels (FuzzVNNIDotMatrixK's 1..3 rows and 2..3 tokens
// go to the AVX2 kernel): 4..11 rows, 4..40 tokens, 1..8 blocks, strides
// 0..3 bytes past the rows, the one-token Q6_K kernel on token 0 too.
func FuzzVNNIDotMatrixKShapes(f *testing.F) {
	f.Add(uint8(0), uint16(0), []byte{0x80, 0x7f, 0x00, 0xff})
	f.Add(uint8(3), uint16(999), []byte{0x3c, 0x00, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, ti uint8, shape uint16, data []byte) {
		requireVNNI(t)
		w := []Type{Q4_K, Q6_K}[ti%2]
		defer withVBMI(ti&2 == 0)()
		s := int(shape)
		blocks := s%8 + 1
		s /= 8
		nrows := 4 + s%8
		s /= 8
		tokens := 4 + s%37
		s /= 37
		pad := s % 4
		n := blocks * QK_K
		ws := int(w.TypeSize())
		stride, xstride := blocks*ws+pad, blocks*292+(3-pad)
		buf := make([]byte, (nrows-1)*stride+blocks*ws+(tokens-1)*xstride+blocks*292)
		for i := range buf {
			if len(data) > 0 {
				buf[i] = data[i%len(data)] ^ byte(i/len(data))
			}
		}
		wr, xs := buf[:(nrows-1)*stride+blocks*ws], buf[(nrows-1)*stride+blocks*ws:]
		if ti&4 == 0 {
			for tk := range tokens {
				narrowBsums(xs[tk*xstride : tk*xstride+blocks*292])
			}
		}
		var scalar DotKernel
		withSIMD(false, func() { scalar, _ = DotFunc(w) })
		mat, err := DotMatrixFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := DotRowsFunc(w)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, tokens*nrows)
		mat(n, wr, stride, nrows, xs, xstride, tokens, out, nrows)
		one := make([]float32, nrows)
		rows(n, wr, stride, xs, one)
		for tk := range tokens {
			for i := range nrows {
				g, want := out[tk*nrows+i], scalar(n, wr[i*stride:], xs[tk*xstride:])
				if !sameBits(g, want) || (tk == 0 && !sameBits(one[i], want)) {
					t.Fatalf("%s n=%d %d rows x %d tokens: row %d token %d: VNNI %#08x, one-token %#08x, scalar %#08x",
						w, n, nrows, tokens, i, tk, math.Float32bits(g), math.Float32bits(one[i]), math.Float32bits(want))
				}
			}
		}
	})
}

// panics reports whether f panics (a recovered runtime error, not a
// fault: the kernels check every extent before the assembly runs).
func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}

// The VNNI K-quant paths panic, as the scalar kernels do, on weights,
// activations or outputs one element short and on negative strides,
// rather than reading or writing past them: the matrix kernels at 4 and
// 17 tokens (the VNNI kernel with and without the AVX2 tail), the
// one-token Q6_K kernel. The short slices have spare capacity, so that
// only an explicit check (not the allocation's end) catches them.
func TestVNNIKQuantShortPanics(t *testing.T) {
	requireVNNI(t)
	r := rand.New(rand.NewPCG(5, 5))
	for _, vbmi := range []bool{true, false} {
		restore := withVBMI(vbmi)
		for _, w := range []Type{Q4_K, Q6_K} {
			mat, _ := DotMatrixFunc(w)
			rows, _ := DotRowsFunc(w)
			const blocks, nrows = 3, 8
			n := blocks * QK_K
			ws := int(w.TypeSize())
			stride, xstride := blocks*ws+1, blocks*292+1
			for _, tokens := range []int{4, 17} {
				wb := make([]byte, (nrows-1)*stride+blocks*ws, (nrows+1)*stride)
				xb := make([]byte, (tokens-1)*xstride+blocks*292, (tokens+1)*xstride)
				advFill(r, w, advRandom, n, nrows, stride, wb, tokens, xstride, xb)
				out := make([]float32, tokens*nrows, (tokens+1)*nrows)
				if panics(func() { mat(n, wb, stride, nrows, xb, xstride, tokens, out, nrows) }) {
					t.Fatalf("%s vbmi=%v %d tokens: panic on exact sizes", w, vbmi, tokens)
				}
				for name, f := range map[string]func(){
					"weights short":     func() { mat(n, wb[:len(wb)-1], stride, nrows, xb, xstride, tokens, out, nrows) },
					"activations short": func() { mat(n, wb, stride, nrows, xb[:len(xb)-1], xstride, tokens, out, nrows) },
					"output short":      func() { mat(n, wb, stride, nrows, xb, xstride, tokens, out[:len(out)-1], nrows) },
					"negative stride":   func() { mat(n, wb, -stride, nrows, xb, xstride, tokens, out, nrows) },
				} {
					if !panics(f) {
						t.Errorf("%s vbmi=%v %d tokens, matrix: no panic with %s", w, vbmi, tokens, name)
					}
				}
			}
			one := make([]float32, nrows)
			wb := make([]byte, (nrows-1)*stride+blocks*ws, (nrows+1)*stride)
			xb := make([]byte, blocks*292, 2*blocks*292)
			for name, f := range map[string]func(){
				"weights short":     func() { rows(n, wb[:len(wb)-1], stride, xb, one) },
				"activations short": func() { rows(n, wb, stride, xb[:len(xb)-1], one) },
				"negative stride":   func() { rows(n, wb, -stride, xb, one) },
			} {
				if !panics(f) {
					t.Errorf("%s vbmi=%v, one token: no panic with %s", w, vbmi, name)
				}
			}
		}
		restore()
	}
}
