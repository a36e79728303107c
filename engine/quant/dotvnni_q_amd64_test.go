//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// vnniQKernels returns, for weights of type w, DotMatrixFunc's kernel with
// the VNNI kernels on and off (the AVX2 one) and the scalar DotFunc kernel.
func vnniQKernels(t testing.TB, w Type) (vnni, avx2 DotMatrixKernel, scalar DotKernel) {
	t.Helper()
	var err error
	if vnni, err = DotMatrixFunc(w); err != nil {
		t.Fatal(err)
	}
	withVNNI(false, func() { avx2, err = DotMatrixFunc(w) })
	if err != nil {
		t.Fatal(err)
	}
	withSIMD(false, func() { scalar, err = DotFunc(w) })
	if err != nil {
		t.Fatal(err)
	}
	return vnni, avx2, scalar
}

func vnniQSameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// vnniQSpecial puts extreme bytes into a row of Q8_0 (activation or
// weight) or Q5_0 blocks: quants -128 and 127, and now and then a NaN or
// infinite scale.
func vnniQSpecial(r *rand.Rand, t Type, row []byte, nb int) {
	ts := t.TypeSize()
	for b := range nb {
		blk := row[b*ts : (b+1)*ts]
		if t == Q8_0 {
			for j := 2; j < 34; j++ {
				switch r.IntN(8) {
				case 0:
					blk[j] = 0x80
				case 1:
					blk[j] = 0x7f
				}
			}
		}
	}
	// One row in twelve gets one non-finite scale: more would make many
	// outputs NaN, which cannot tell a wrong kernel from a right one.
	if r.IntN(12) == 0 {
		blk := row[r.IntN(nb)*ts:]
		binary.LittleEndian.PutUint16(blk, []uint16{0x7c00, 0xfc00, 0x7e01}[r.IntN(3)]) // +Inf, -Inf, NaN
	}
}

// The VNNI matrix kernels give the scalar kernels' bits, and the AVX2
// matrix kernels', for every (row, token): 1 to 40 tokens (around the
// 16-token tile and the small counts that go to the AVX2 kernels), row
// counts around the 8-row group, byte strides of any length (odd ones
// included), quants -128 and 127 on both sides, NaN and infinite scales
// (any NaN equals any NaN: a NaN's payload depends on operand order), and
// outputs outside the rows and tokens left alone.
func TestVNNIQMatrixMatchesScalarAndAVX2(t *testing.T) {
	requireVNNI(t)
	for _, w := range []Type{Q5_0, Q8_0} {
		t.Run(w.String(), func(t *testing.T) {
			vnni, avx2, scalar := vnniQKernels(t, w)
			r := rand.New(rand.NewPCG(uint64(w), 12))
			checked, nans := 0, 0
			for tokens := 1; tokens <= 40; tokens++ {
				for _, nrows := range []int{1, 3, 7, 8, 9, 13, 17, 24} {
					for _, nb := range []int{1, 3, 28} {
						n := 32 * nb
						rb, xrb := w.TypeSize()*nb, 34*nb
						stride := rb + r.IntN(5)
						xstride := xrb + r.IntN(5)
						ostride := nrows + r.IntN(3)
						wb := make([]byte, (nrows-1)*stride+rb)
						for i := range nrows {
							copy(wb[i*stride:], randomBlocks(r, w, n))
							vnniQSpecial(r, w, wb[i*stride:], nb)
						}
						xb := make([]byte, (tokens-1)*xstride+xrb)
						for tk := range tokens {
							row := xb[tk*xstride : tk*xstride+xrb]
							if r.IntN(3) == 0 {
								if err := QuantizeRow(Q8_0, row, randomActivations(r, n, 1)); err != nil {
									t.Fatal(err)
								}
							} else {
								copy(row, randomBlocks(r, Q8_0, n))
								vnniQSpecial(r, Q8_0, row, nb)
							}
						}
						got := make([]float32, tokens*ostride)
						ref := make([]float32, tokens*ostride)
						for i := range got {
							got[i] = float32(math.NaN())
							ref[i] = float32(math.NaN())
						}
						vnni(n, wb, stride, nrows, xb, xstride, tokens, got, ostride)
						withVNNI(false, func() { avx2(n, wb, stride, nrows, xb, xstride, tokens, ref, ostride) })
						for tk := range tokens {
							for i := range ostride {
								o := tk*ostride + i
								if o >= len(got) {
									break
								}
								if i >= nrows {
									if v := got[o]; v == v {
										t.Fatalf("%d rows x %d tokens, n=%d: padding out[%d] written", nrows, tokens, n, o)
									}
									continue
								}
								want := scalar(n, wb[i*stride:], xb[tk*xstride:])
								if !vnniQSameBits(got[o], want) || !vnniQSameBits(ref[o], want) {
									t.Fatalf("%d rows x %d tokens, n=%d, strides %d/%d/%d: row %d token %d: VNNI %.9g (%#08x), AVX2 %.9g (%#08x), scalar %.9g (%#08x)",
										nrows, tokens, n, stride, xstride, ostride, i, tk,
										got[o], math.Float32bits(got[o]), ref[o], math.Float32bits(ref[o]), want, math.Float32bits(want))
								}
								checked++
								if want != want {
									nans++
								}
							}
						}
					}
				}
			}
			t.Logf("%d outputs bit-identical to the scalar and AVX2 kernels (%d of them NaN)", checked, nans)
			if nans*10 > checked {
				t.Fatalf("%d of %d outputs NaN: too many to tell a wrong kernel from a right one", nans, checked)
			}
		})
	}
}

// FuzzVNNIQMatrix: on arbitrary bytes (scales and quants) the VNNI matrix
// kernels, the AVX2 ones and the scalar kernel give the same bits (or all
// a NaN) for every (row, token).
func FuzzVNNIQMatrix(f *testing.F) {
	f.Add(uint8(0), uint8(1), uint8(20), uint8(9), []byte{0x80, 0x7f, 0x00, 0xff})
	f.Add(uint8(1), uint8(3), uint8(3), uint8(1), []byte{0x3c, 0x00, 0x80, 0x80, 0x01})
	f.Add(uint8(1), uint8(0), uint8(17), uint8(16), []byte{0x00, 0x7c, 0x81})
	f.Fuzz(func(t *testing.T, ti, blocks, tokens, nrows uint8, data []byte) {
		requireVNNI(t)
		w := []Type{Q5_0, Q8_0}[ti%2]
		vnni, avx2, scalar := vnniQKernels(t, w)
		nb := int(blocks)%10 + 1
		n := 32 * nb
		nt := int(tokens)%40 + 1
		nr := int(nrows)%20 + 1
		rb, xrb := w.TypeSize()*nb, 34*nb
		buf := make([]byte, nr*rb+nt*xrb)
		for i := range buf {
			if len(data) > 0 {
				buf[i] = data[i%len(data)] ^ byte(i/len(data))
			}
		}
		wb, xb := buf[:nr*rb], buf[nr*rb:]
		got := make([]float32, nt*nr)
		ref := make([]float32, nt*nr)
		vnni(n, wb, rb, nr, xb, xrb, nt, got, nr)
		withVNNI(false, func() { avx2(n, wb, rb, nr, xb, xrb, nt, ref, nr) })
		for tk := range nt {
			for i := range nr {
				want := scalar(n, wb[i*rb:], xb[tk*xrb:])
				if o := tk*nr + i; !vnniQSameBits(got[o], want) || !vnniQSameBits(ref[o], want) {
					t.Fatalf("%s n=%d %d rows x %d tokens: row %d token %d: VNNI %#08x, AVX2 %#08x, scalar %#08x",
						w, n, nr, nt, i, tk, math.Float32bits(got[o]), math.Float32bits(ref[o]), math.Float32bits(want))
				}
			}
		}
	})
}

// vnniQCPUTime runs f b.N times on one OS thread and reports, besides
// the wall time, the thread's CPU time per call (cpu-ns/op), which a
// machine shared with other work inflates much less.
func vnniQCPUTime(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t0, t1 unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f()
	}
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(t1.Nano()-t0.Nano())/float64(b.N), "cpu-ns/op")
}

// BenchmarkVNNIQ: the VNNI matrix kernel against the AVX2 one (VNNI off)
// for 448 weight rows of width 896 (half of a Qwen2-0.5B attention
// matrix: one of two workers) from 1 to 64 tokens: where the VNNI kernel
// starts to win sets vnniQType.minTokens.
func BenchmarkVNNIQ(b *testing.B) {
	requireVNNI(b)
	const n, rows = 896, 448
	for _, w := range []Type{Q5_0, Q8_0} {
		r := rand.New(rand.NewPCG(3, 4))
		wb := randomBlocks(r, w, rows*n)
		rb := w.TypeSize() * n / 32
		for _, tokens := range []int{1, 2, 3, 7, 8, 9, 16, 64} {
			x := make([]byte, tokens*34*n/32)
			for tk := range tokens {
				if err := QuantizeRow(Q8_0, x[tk*34*n/32:(tk+1)*34*n/32], randomActivations(r, n, 1)); err != nil {
					b.Fatal(err)
				}
			}
			out := make([]float32, tokens*rows)
			vnni, avx2, _ := vnniQKernels(b, w)
			b.Run(fmt.Sprintf("%s/%dtok/vnni", w, tokens), func(b *testing.B) {
				vnniQCPUTime(b, func() { vnni(n, wb, rb, rows, x, 34*n/32, tokens, out, rows) })
			})
			b.Run(fmt.Sprintf("%s/%dtok/avx2", w, tokens), func(b *testing.B) {
				withVNNI(false, func() {
					vnniQCPUTime(b, func() { avx2(n, wb, rb, rows, x, 34*n/32, tokens, out, rows) })
				})
			})
		}
	}
}

// The row-lane kernel takes up to vnniRowLaneMax tokens, more than
// DotMatrixFunc sends it (vnniRowLaneTokens): every count it takes gives
// the scalar kernels' bits, around the 8-row group.
func TestVNNIQRowLanes(t *testing.T) {
	requireVNNI(t)
	for _, w := range []Type{Q5_0, Q8_0} {
		q := vnniQ5_0
		if w == Q8_0 {
			q = vnniQ8_0
		}
		_, _, scalar := vnniQKernels(t, w)
		r := rand.New(rand.NewPCG(uint64(w), 8))
		for tokens := 1; tokens <= vnniRowLaneMax; tokens++ {
			for _, nrows := range []int{1, 7, 8, 9, 20} {
				nb := 1 + r.IntN(30)
				n, rb, xrb := 32*nb, w.TypeSize()*nb, 34*nb
				stride, xstride, ostride := rb+r.IntN(3), xrb+r.IntN(3), nrows+r.IntN(2)
				wb := make([]byte, (nrows-1)*stride+rb)
				for i := range nrows {
					copy(wb[i*stride:], randomBlocks(r, w, n))
					vnniQSpecial(r, w, wb[i*stride:], nb)
				}
				xb := make([]byte, (tokens-1)*xstride+xrb)
				for tk := range tokens {
					copy(xb[tk*xstride:], randomBlocks(r, Q8_0, n))
					vnniQSpecial(r, Q8_0, xb[tk*xstride:], nb)
				}
				out := make([]float32, (tokens-1)*ostride+nrows)
				dotMatrixQRowLanes(q, nb, wb, stride, nrows, xb, xstride, tokens, out, ostride)
				for tk := range tokens {
					for i := range nrows {
						got, want := out[tk*ostride+i], scalar(n, wb[i*stride:], xb[tk*xstride:])
						if !vnniQSameBits(got, want) {
							t.Fatalf("%s %d rows x %d tokens, n=%d: row %d token %d: %#08x, scalar %#08x",
								w, nrows, tokens, n, i, tk, math.Float32bits(got), math.Float32bits(want))
						}
					}
				}
			}
		}
	}
}
