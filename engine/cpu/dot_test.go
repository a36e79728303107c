package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// dotLengths covers every tail length around the 32-element step and the
// row lengths of the models the engine runs (head dims 64 and 128, hidden
// sizes 896 and 4096, FFN sizes 4864 and 11008).
func dotLengths() []int {
	var ns []int
	for n := 0; n <= 200; n++ {
		ns = append(ns, n)
	}
	return append(ns, 255, 256, 257, 896, 1000, 4096, 4864, 4864+31, 11008)
}

// randomF32 returns n floats of varied magnitude (sums with cancellation,
// so the order of additions shows in the bits), with occasional zeros and
// negative zeros and, when withInf, infinities.
func randomF32(r *rand.Rand, n int, withInf bool) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(64) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		case 2:
			if withInf {
				x[i] = float32(math.Inf(1 - 2*r.IntN(2)))
				continue
			}
			fallthrough
		default:
			x[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(24)-12)))
		}
	}
	return x
}

// dotSpec is dotF32's documented order written element by element: the
// specification the Go kernel is checked against.
func dotSpec(a, b []float32) float32 {
	var s [32]float32
	for i := range a {
		p := float32(a[i] * b[i])
		s[i%32] = s[i%32] + p
	}
	var t [8]float32
	for l := range 8 {
		t[l] = (s[l] + s[16+l]) + (s[8+l] + s[24+l])
	}
	var u [4]float32
	for l := range 4 {
		u[l] = t[l] + t[4+l]
	}
	return (u[0] + u[2]) + (u[1] + u[3])
}

// sameFloat reports whether a and b have the same bits, or are both NaN.
func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// TestDotF32MatchesSpec: the kernel dotF32 runs here (assembly on amd64
// with AVX2, dotF32Go elsewhere) and dotF32Go both give the bits of the
// documented order, for every tail length, at unaligned offsets too.
func TestDotF32MatchesSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range dotLengths() {
		for trial := range 20 {
			off := trial % 8 // start at every float offset within 32 bytes
			a := randomF32(r, n+off, trial%5 == 4)[off:]
			b := randomF32(r, n+off+3, false)[off:]
			want := dotSpec(a, b[:n])
			if got := dotF32Go(a, b); !sameFloat(got, want) {
				t.Fatalf("dotF32Go n=%d trial %d: %v (%#08x), spec %v (%#08x)", n, trial, got, math.Float32bits(got), want, math.Float32bits(want))
			}
			if got := dotF32(a, b); !sameFloat(got, want) {
				t.Fatalf("dotF32 (AVX2 %v) n=%d trial %d: %v (%#08x), spec %v (%#08x)", useAVX2, n, trial, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// TestDotF32MatrixMatchesSpec: 0 to 7 weight rows against 0 to 8 tokens
// (the three-dot kernel over tokens and over rows, and single dots for the
// rest) give every output the bits of the documented order, write only
// their outputs, and do so at every tail length.
func TestDotF32MatrixMatchesSpec(t *testing.T) {
	for _, z := range []bool{true, false} {
		saved := useAVX512
		useAVX512 = z && saved
		t.Run(fmt.Sprintf("avx512=%v", useAVX512), testDotF32MatrixMatchesSpec)
		useAVX512 = saved
	}
}

func testDotF32MatrixMatchesSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, cols := range dotLengths() {
		if cols > 100 && cols != 896 && cols != 4864+31 {
			continue
		}
		for rows := 0; rows <= 7; rows++ {
			for n := 0; n <= 8; n++ {
				const off = 2
				stride := rows + 3
				w := randomF32(r, rows*cols, n == 7)
				x := randomF32(r, n*cols+cols, false) // longer than n rows
				out := make([]float32, n*stride+off)
				for i := range out {
					out[i] = -3
				}
				dotF32Matrix(out[off:], stride, w, rows, x, n)
				for i, v := range out {
					tok, row := (i-off)/stride, (i-off)%stride
					if i < off || row >= rows || tok >= n {
						if v != -3 {
							t.Fatalf("cols=%d rows=%d n=%d: out[%d] written", cols, rows, n, i)
						}
						continue
					}
					want := dotSpec(w[row*cols:(row+1)*cols], x[tok*cols:(tok+1)*cols])
					if !sameFloat(v, want) {
						t.Fatalf("cols=%d rows=%d n=%d: row %d token %d: %v (%#08x), spec %v (%#08x)",
							cols, rows, n, row, tok, v, math.Float32bits(v), want, math.Float32bits(want))
					}
				}
			}
		}
	}
}

// TestDotF32Accuracy checks the fixed order against float64 arithmetic:
// float32 rounding error only (relative to sum |a*b|).
func TestDotF32Accuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{7, 64, 896, 4864, 11008} {
		a, b := randomF32(r, n, false), randomF32(r, n, false)
		var exact, mag float64
		for i := range a {
			p := float64(a[i]) * float64(b[i])
			exact += p
			mag += math.Abs(p)
		}
		got := float64(dotF32(a, b))
		if e := math.Abs(got-exact) / mag; e > float64(n)*0x1p-24 {
			t.Errorf("n=%d: |dotF32 - exact| / sum|a*b| = %.3g, above n*2^-24", n, e)
		}
	}
}

// benchmarkDotF32 is one dotF32 of n elements per op (kernel as selected
// when simd, dotF32Go otherwise); SetBytes counts both operands.
func benchmarkDotF32(b *testing.B, n int, simd bool) {
	saved := useAVX2
	useAVX2 = simd && saved
	defer func() { useAVX2 = saved }()
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randomF32(r, n, false), randomF32(r, n, false)
	b.SetBytes(int64(8 * n))
	var sink float32
	for b.Loop() {
		sink += dotF32(x, y)
	}
	_ = sink
}

// BenchmarkDotF32: head dim 64, hidden 896, FFN 4864, with the assembly
// kernel and with dotF32Go, in one run.
func BenchmarkDotF32(b *testing.B) {
	for _, n := range []int{64, 896, 4864} {
		for _, simd := range []bool{true, false} {
			name := "go"
			if simd {
				name = "simd"
			}
			b.Run(fmt.Sprintf("%d/%s", n, name), func(b *testing.B) { benchmarkDotF32(b, n, simd) })
		}
	}
}
