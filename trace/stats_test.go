package trace

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// referenceStats is ComputeStats as first written (math.IsNaN/IsInf per
// element, math.Min/Max for the extremes): the definition the fast
// ComputeStats must reproduce bit for bit.
func referenceStats(v []float32) Stats {
	s := Stats{Count: len(v), Min: math.Inf(1), Max: math.Inf(-1)}
	var sum, sumSq float64
	finite := 0
	for _, x32 := range v {
		x := float64(x32)
		switch {
		case math.IsNaN(x):
			s.NaNCount++
			continue
		case math.IsInf(x, 0):
			s.InfCount++
			continue
		case x == 0:
			s.ZeroCount++
		}
		finite++
		sum += x
		sumSq += float64(x * x) // never fused (GOAMD64=v3, arm64 would)
		s.Min = math.Min(s.Min, x)
		s.Max = math.Max(s.Max, x)
		s.AbsMax = math.Max(s.AbsMax, math.Abs(x))
	}
	if finite == 0 {
		nan := math.NaN()
		s.Min, s.Max, s.Mean, s.Std, s.RMS, s.AbsMax, s.L2 = nan, nan, nan, nan, nan, nan, nan
		return s
	}
	s.Mean = sum / float64(finite)
	var dev float64
	for _, x32 := range v {
		x := float64(x32)
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			dev += float64((x - s.Mean) * (x - s.Mean))
		}
	}
	if finite > 1 {
		s.Std = math.Sqrt(dev / float64(finite-1))
	}
	s.RMS = math.Sqrt(sumSq / float64(finite))
	s.L2 = math.Sqrt(sumSq)
	return s
}

// sameStats reports whether a and b hold the same bits in every field
// (NaN equal to NaN, -0 not equal to +0).
func sameStats(a, b Stats) bool {
	f := func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y) || (math.IsNaN(x) && math.IsNaN(y))
	}
	return a.Count == b.Count && a.NaNCount == b.NaNCount && a.InfCount == b.InfCount && a.ZeroCount == b.ZeroCount &&
		f(a.Min, b.Min) && f(a.Max, b.Max) && f(a.Mean, b.Mean) && f(a.Std, b.Std) &&
		f(a.RMS, b.RMS) && f(a.AbsMax, b.AbsMax) && f(a.L2, b.L2)
}

var specials = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), math.Float32frombits(0x7fc00001), math.Float32frombits(0xff800001), // NaNs with payloads
	math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32, 1, -1}

// TestComputeStatsMatchesReference: on random vectors with NaN, Inf, both
// zeros, subnormals and extremes mixed in, and on every ordering of the
// signed zeros, the fast ComputeStats gives the reference's bits.
func TestComputeStatsMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(v []float32) {
		t.Helper()
		if got, want := ComputeStats(v), referenceStats(v); !sameStats(got, want) {
			t.Fatalf("ComputeStats(%v) = %+v, reference %+v", v, got, want)
		}
	}
	check(nil)
	for _, a := range specials {
		check([]float32{a})
		for _, b := range specials {
			check([]float32{a, b})
			for _, c := range specials {
				check([]float32{a, b, c})
			}
		}
	}
	for range 2000 {
		v := make([]float32, r.IntN(300))
		for i := range v {
			switch r.IntN(10) {
			case 0:
				v[i] = specials[r.IntN(len(specials))]
			case 1:
				v[i] = math.Float32frombits(r.Uint32()) // any bits
			default:
				v[i] = float32(r.NormFloat64()*3 + 1e3*float64(r.IntN(2)))
			}
		}
		check(v)
	}
}

// FuzzComputeStats: any bytes, read as float32s, give the reference's bits.
func FuzzComputeStats(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0x80, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0x80, 0x7f, 1, 0, 0xc0, 0x7f, 0, 0, 0x80, 0x3f})
	f.Fuzz(func(t *testing.T, b []byte) {
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		if got, want := ComputeStats(v), referenceStats(v); !sameStats(got, want) {
			t.Fatalf("ComputeStats(%v) = %+v, reference %+v", v, got, want)
		}
	})
}

// BenchmarkComputeStats: one logits row of the Qwen2 vocabulary.
func BenchmarkComputeStats(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, 151936)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	b.SetBytes(int64(4 * len(v)))
	b.Run("fast", func(b *testing.B) {
		for range b.N {
			ComputeStats(v)
		}
	})
	b.Run("go", func(b *testing.B) {
		for range b.N {
			computeStatsGo(v)
		}
	})
	b.Run("reference", func(b *testing.B) {
		for range b.N {
			referenceStats(v)
		}
	})
}

// TestComputeStatsKernelsMatchGo: the assembly statistics (where this
// build has them) give the Go loop's bits on every tail length of the
// eight-lane groups, on specials at every lane, on signed zeros as the
// only extremes, and on long random vectors.
func TestComputeStatsKernelsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(v []float32) {
		t.Helper()
		if got, want := computeStatsAVX(v), computeStatsGo(v); !sameStats(got, want) {
			t.Fatalf("kernels on %d values %v: %+v, Go loop %+v", len(v), v[:min(len(v), 24)], got, want)
		}
	}
	for n := 1; n <= 40; n++ {
		for _, sp := range specials {
			for at := range n {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(r.NormFloat64())
				}
				v[at] = sp
				check(v)
			}
		}
		zeros := make([]float32, n)
		for i := range zeros {
			zeros[i] = float32(math.Copysign(0, float64(1-2*r.IntN(2))))
		}
		check(zeros)
		neg := make([]float32, n)
		for i := range neg {
			neg[i] = -float32(r.IntN(3)) // 0 or negative: max is a zero
		}
		check(neg)
	}
	for _, n := range []int{1000, 4097, 151936} {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()*1e3 + 7)
			if r.IntN(500) == 0 {
				v[i] = specials[r.IntN(len(specials))]
			}
		}
		check(v)
	}
}

// TestComputeStatsManyMatchesOne: ComputeStatsMany gives each vector
// ComputeStats's bits, for pairs of equal and unequal lengths (either one
// longer), empty vectors, all-non-finite vectors and odd counts.
func TestComputeStatsManyMatchesOne(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()*50 + 3)
			if r.IntN(40) == 0 {
				v[i] = specials[r.IntN(len(specials))]
			}
		}
		return v
	}
	nan := []float32{float32(math.NaN()), float32(math.Inf(1))}
	for round := range 300 {
		k := 1 + r.IntN(7)
		vs := make([][]float32, k)
		for i := range vs {
			switch r.IntN(6) {
			case 0:
				vs[i] = nil
			case 1:
				vs[i] = nan[:1+r.IntN(2)]
			default:
				vs[i] = vec(r.IntN(2000))
			}
		}
		dst := make([]Stats, k)
		ComputeStatsMany(dst, vs)
		for i, v := range vs {
			if want := computeStatsGo(v); !sameStats(dst[i], want) {
				t.Fatalf("round %d: vector %d of %d (%d values, neighbour lengths %v): %+v, Go loop %+v", round, i, k, len(v), lens(vs), dst[i], want)
			}
		}
	}
}

// TestComputeStatsLanes: the eight-lane chains (where the CPU has
// AVX-512) give every vector ComputeStats's bits in groups of up to 20
// vectors: equal lengths (every lane to the end), lengths that end at
// every offset within and past a group of eight elements, specials at any
// element of any lane, lanes that end early (their places read another
// vector's elements), and a single long vector among short ones.
func TestComputeStatsLanes(t *testing.T) {
	if !useStats512 {
		t.Skip("no eight-lane kernels here (a purego or non-amd64 build, or a CPU without AVX-512 F/DQ/VL): ComputeStatsMany runs the two-vector kernels or Go")
	}
	r := rand.New(rand.NewPCG(11, 12))
	vec := func(n int, special int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()*float64(1+r.IntN(100)) - 2)
			if special > 0 && r.IntN(special) == 0 {
				v[i] = specials[r.IntN(len(specials))]
			}
		}
		return v
	}
	check := func(round int, vs [][]float32) {
		t.Helper()
		dst := make([]Stats, len(vs))
		ComputeStatsMany(dst, vs)
		for i, v := range vs {
			if want := computeStatsGo(v); !sameStats(dst[i], want) {
				t.Fatalf("round %d: vector %d of %d (lengths %v): %+v, Go loop %+v", round, i, len(vs), lens(vs), dst[i], want)
			}
		}
	}
	for round := range 400 {
		k := 1 + r.IntN(20)
		base := r.IntN(300)
		vs := make([][]float32, k)
		for i := range vs {
			n := base
			switch r.IntN(4) {
			case 0:
				n = base + r.IntN(17) - 8
			case 1:
				n = r.IntN(40)
			case 2:
				n = base * (1 + r.IntN(3))
			}
			vs[i] = vec(max(n, 0), 1+r.IntN(60))
		}
		check(round, vs)
	}
	// One vector per lane with a special at each position of a
	// transposed 8x8 tile, the others ordinary.
	for lane := range 8 {
		for at := range 24 {
			for _, sp := range specials {
				vs := make([][]float32, 8)
				for i := range vs {
					vs[i] = vec(24, 0)
				}
				vs[lane][at] = sp
				check(lane*1000+at, vs)
			}
		}
	}
	long := [][]float32{vec(5, 0), vec(100003, 500), vec(64, 9), vec(0, 0), vec(9, 3)}
	check(-1, long)
	// Signed zeros as the only extremes (the sign settled from the
	// counts), lanes of only non-finite values, and non-positive lanes
	// whose maximum is a zero.
	for round := range 50 {
		vs := make([][]float32, 8)
		for i := range vs {
			n := 8 + r.IntN(30)
			vs[i] = make([]float32, n)
			for j := range vs[i] {
				switch i % 3 {
				case 0:
					vs[i][j] = float32(math.Copysign(0, float64(1-2*r.IntN(2))))
				case 1:
					vs[i][j] = specials[2+r.IntN(len(specials)-2)] // never a zero
					if f := vs[i][j]; !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
						vs[i][j] = float32(math.NaN())
					}
				default:
					vs[i][j] = -float32(r.IntN(3))
				}
			}
		}
		check(10000+round, vs)
	}
}

// FuzzComputeStatsMany: any bytes, cut into up to eleven vectors of
// float32s at lengths the input gives, give each vector the reference's
// bits through ComputeStatsMany (the eight-lane kernels where the CPU has
// them).
func FuzzComputeStatsMany(f *testing.F) {
	f.Add([]byte{3, 9, 17, 0, 0, 0, 0x80, 0, 0, 0x80, 0x7f, 1, 0, 0xc0, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		k := 1 + int(b[0])%11
		cuts, b := b[1:min(1+k, len(b))], b[min(1+k, len(b)):]
		all := make([]float32, len(b)/4)
		for i := range all {
			all[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		vs := make([][]float32, 0, k)
		for _, c := range cuts {
			n := min(int(c), len(all))
			vs, all = append(vs, all[:n:n]), all[n:]
		}
		vs = append(vs, all)
		dst := make([]Stats, len(vs))
		ComputeStatsMany(dst, vs)
		for i, v := range vs {
			if want := referenceStats(v); !sameStats(dst[i], want) {
				t.Fatalf("vector %d of %d (lengths %v): %+v, reference %+v", i, len(vs), lens(vs), dst[i], want)
			}
		}
	})
}

func lens(vs [][]float32) []int {
	n := make([]int, len(vs))
	for i, v := range vs {
		n[i] = len(v)
	}
	return n
}

// BenchmarkComputeStatsMany: eight logits-row-sized vectors, one at a time
// and through ComputeStatsMany (eight at a time where the CPU has
// AVX-512; many-pairs: two at a time, the kernels without it).
func BenchmarkComputeStatsMany(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	vs := make([][]float32, 8)
	for i := range vs {
		vs[i] = make([]float32, 151936)
		for j := range vs[i] {
			vs[i][j] = float32(r.NormFloat64())
		}
	}
	dst := make([]Stats, len(vs))
	b.SetBytes(int64(4 * 8 * 151936))
	b.Run("one", func(b *testing.B) {
		for range b.N {
			for i, v := range vs {
				dst[i] = ComputeStats(v)
			}
		}
	})
	b.Run("many", func(b *testing.B) {
		for range b.N {
			ComputeStatsMany(dst, vs)
		}
	})
	if useStats512 {
		b.Run("many-pairs", func(b *testing.B) {
			useStats512 = false
			defer func() { useStats512 = true }()
			for range b.N {
				ComputeStatsMany(dst, vs)
			}
		})
	}
}
