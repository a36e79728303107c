//go:build amd64 && !purego

package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// advStatsBits are float32 bit patterns at the edges of every class the
// kernels tell apart: signalling and quiet NaNs of either sign with the
// smallest and largest payloads, both infinities, both zeros, the
// smallest and largest subnormals and normals of either sign, the
// largest finite values.
var advStatsBits = []uint32{
	0x7f800001, 0x7fbfffff, 0x7fc00000, 0x7fc00001, 0x7fffffff, // NaNs
	0xff800001, 0xffbfffff, 0xffc00000, 0xffffffff, // negative NaNs
	0x7f800000, 0xff800000, // ±Inf
	0x00000000, 0x80000000, // ±0
	0x00000001, 0x007fffff, 0x80000001, 0x807fffff, // subnormals
	0x00800000, 0x80800000, // smallest normals
	0x7f7fffff, 0xff7fffff, // ±MaxFloat32
	0x3f800000, 0xbf800000, // ±1
}

// advStatsVec is a vector of n values for case c: random normals with
// every advStatsBits pattern mixed in (c 0), specials only (1), one
// pattern everywhere (2: pattern p), zeros of both signs with one
// subnormal (3), or huge values whose squares overflow float32 (4).
func advStatsVec(r *rand.Rand, n, c, p int) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch c {
		case 0:
			v[i] = float32(r.NormFloat64() * 1e3)
			if r.IntN(5) == 0 {
				v[i] = math.Float32frombits(advStatsBits[r.IntN(len(advStatsBits))])
			}
		case 1:
			v[i] = math.Float32frombits(advStatsBits[r.IntN(len(advStatsBits))])
		case 2:
			v[i] = math.Float32frombits(advStatsBits[p%len(advStatsBits)])
		case 3:
			v[i] = float32(math.Copysign(0, float64(1-2*r.IntN(2))))
			if r.IntN(n) == 0 {
				v[i] = math.Float32frombits(0x80000001 ^ uint32(r.IntN(2))<<31)
			}
		case 4:
			v[i] = float32(1-2*r.IntN(2)) * math.MaxFloat32 / float32(1+r.IntN(4))
		}
	}
	return v
}

// ComputeStats and ComputeStatsMany (the AVX-512 extremes, the AVX2
// extremes and the two-at-a-time path) give computeStatsGo's bits on
// every class boundary of float32, lengths 0..100 and 1e6+3, at every
// start offset within a 64-byte line, and with the backing array
// continuing past len with values that would change every statistic
// (NaNs, infinities, huge values, -0) if read.
func TestComputeStatsAdversarial(t *testing.T) {
	r := rand.New(rand.NewPCG(90, 91))
	poison := []uint32{0x7fc00000, 0x7f800000, 0xff800000, 0x7f7fffff, 0x80000000, 0xff7fffff}
	type cfg struct {
		name       string
		ext512, s5 bool
	}
	var cfgs []cfg
	if useStatsAVX {
		cfgs = append(cfgs, cfg{"avx2", false, false})
		if useExtremes512 {
			cfgs = append(cfgs, cfg{"ext512", true, false})
		}
		if useStats512 {
			cfgs = append(cfgs, cfg{"ext512+lanes", useExtremes512, true})
		}
	} else {
		t.Skip("no AVX2: ComputeStats is the Go loop")
	}
	saved512, savedS := useExtremes512, useStats512
	defer func() { useExtremes512, useStats512 = saved512, savedS }()
	checked := 0
	for _, c := range cfgs {
		useExtremes512, useStats512 = c.ext512, c.s5
		lengths := []int{}
		for n := range 101 {
			lengths = append(lengths, n)
		}
		lengths = append(lengths, 1000003)
		for _, n := range lengths {
			cases := 5
			if n > 1000 {
				cases = 2
			}
			for cs := range cases {
				reps := 1
				if cs == 2 && n <= 100 {
					reps = len(advStatsBits)
				}
				for p := range reps {
					base := advStatsVec(r, n, cs, p)
					off := r.IntN(16)
					buf := make([]float32, off+n+17)
					for i := range buf {
						buf[i] = math.Float32frombits(poison[r.IntN(len(poison))])
					}
					copy(buf[off:], base)
					v := buf[off : off+n]
					want := computeStatsGo(base)
					if got := ComputeStats(v); !sameStats(got, want) {
						t.Fatalf("%s: %d values (case %d, pattern %d, offset %d): %+v, Go loop %+v", c.name, n, cs, p, off, got, want)
					}
					// Many: the vector among neighbours of other lengths,
					// at every place in a group of eight.
					k := 1 + r.IntN(11)
					at := r.IntN(k)
					vs := make([][]float32, k)
					for i := range vs {
						vs[i] = advStatsVec(r, r.IntN(n+9), r.IntN(2), 0)
					}
					vs[at] = v
					dst := make([]Stats, k)
					ComputeStatsMany(dst, vs)
					for i := range vs {
						w := want
						if i != at {
							w = computeStatsGo(vs[i])
						}
						if !sameStats(dst[i], w) {
							t.Fatalf("%s: Many, vector %d of %d (%d values, lengths %v): %+v, Go loop %+v", c.name, i, k, len(vs[i]), lens(vs), dst[i], w)
						}
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d vectors with the Go loop's bits", checked)
}

// guardedFloats returns n float32s that end where an inaccessible page
// begins, so that a read past the last element faults.
func guardedFloats(t *testing.T, n int) []float32 {
	t.Helper()
	pg := unix.Getpagesize()
	size := 4 * n
	data := (size + pg - 1) / pg * pg
	mem, err := unix.Mmap(-1, 0, data+pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	if err := unix.Mprotect(mem[data:], unix.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[data-size])), n)
}

// No statistics kernel reads past the end of its vector: every length
// 1..70 ending against an inaccessible page (the test crashes if one
// does), alone and in ComputeStatsMany groups.
func TestComputeStatsGuardPage(t *testing.T) {
	if !useStatsAVX {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(92, 93))
	saved512, savedS := useExtremes512, useStats512
	defer func() { useExtremes512, useStats512 = saved512, savedS }()
	for _, e512 := range []bool{false, true} {
		for _, s512 := range []bool{false, true} {
			useExtremes512, useStats512 = e512 && saved512, s512 && savedS
			var vs [][]float32
			for n := 1; n <= 70; n++ {
				v := guardedFloats(t, n)
				copy(v, advStatsVec(r, n, 0, 0))
				if got, want := ComputeStats(v), computeStatsGo(v); !sameStats(got, want) {
					t.Fatalf("%d values: %+v, Go loop %+v", n, got, want)
				}
				vs = append(vs, v)
			}
			dst := make([]Stats, len(vs))
			ComputeStatsMany(dst, vs)
			for i, v := range vs {
				if want := computeStatsGo(v); !sameStats(dst[i], want) {
					t.Fatalf("Many: %d values: %+v, Go loop %+v", len(v), dst[i], want)
				}
			}
		}
	}
}

// ComputeStats and ComputeStatsMany called from many goroutines at once
// (the kernels keep no state) give every vector the Go loop's bits.
func TestComputeStatsConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(94, 95))
	var vs [][]float32
	var want []Stats
	for range 64 {
		v := advStatsVec(r, r.IntN(5000), r.IntN(2), 0)
		vs = append(vs, v)
		want = append(want, computeStatsGo(v))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range 20 {
				if (g+it)%2 == 0 {
					dst := make([]Stats, len(vs))
					ComputeStatsMany(dst, vs)
					for i := range vs {
						if !sameStats(dst[i], want[i]) {
							errs <- fmt.Errorf("goroutine %d: Many vector %d: %+v, want %+v", g, i, dst[i], want[i])
							return
						}
					}
					continue
				}
				for i, v := range vs {
					if got := ComputeStats(v); !sameStats(got, want[i]) {
						errs <- fmt.Errorf("goroutine %d: vector %d: %+v, want %+v", g, i, got, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
