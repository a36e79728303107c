package trace_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"

	"github.com/falsify/falsify/trace"
)

// statVectors are random and adversarial inputs for the statistics: huge
// and tiny magnitudes (float32's largest values, denormals), a large mean
// over a small spread (where a one-pass variance cancels), NaN and Inf
// mixed in, and lengths 0, 1 and 2.
func statVectors() map[string][]float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	normal := func(n int, mean, sd float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(mean + sd*rng.NormFloat64())
		}
		return v
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	mixed := normal(1000, 0, 3)
	mixed[3], mixed[500], mixed[999] = nan, inf, -inf
	return map[string][]float32{
		"empty":              {},
		"one":                {-2.5},
		"two":                {1, 4},
		"normal":             normal(4096, 0.1, 2),
		"huge":               {math.MaxFloat32, -math.MaxFloat32 / 2, 3e38, 1e38, -2e38},
		"tiny":               {1e-45, -1e-45, 2e-45, 1.17549435e-38, -3e-39, 0},
		"large mean":         normal(10000, 1e6, 1e-2),
		"mixed non-finite":   mixed,
		"only non-finite":    {nan, inf, -inf},
		"zeros":              {0, 0, float32(math.Copysign(0, -1))},
		"wide dynamic range": {1e30, 1e-30, -1e30, 1, -1e-30},
	}
}

// finite64 returns the finite elements of v in float64.
func finite64(v []float32) []float64 {
	var out []float64
	for _, x := range v {
		if f := float64(x); !math.IsNaN(f) && !math.IsInf(f, 0) {
			out = append(out, f)
		}
	}
	return out
}

// close reports whether got and want agree to rel (relative to the
// larger magnitude; absolute below 1e-300), NaN matching NaN.
func close(got, want, rel float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	if got == want {
		return true
	}
	return math.Abs(got-want) <= rel*math.Max(math.Max(math.Abs(got), math.Abs(want)), 1e-300)
}

// TestStatsAgainstGonum: ComputeStats's single-pass accumulation (and its
// second pass for std) agrees with gonum's stat and floats on the finite
// elements; the counts count every element. Conventions that differ from
// gonum's are asserted as ours: std is 0 for fewer than two finite
// elements (gonum's unbiased variance divides by zero there), and with no
// finite element every statistic is NaN.
func TestStatsAgainstGonum(t *testing.T) {
	for name, v := range statVectors() {
		t.Run(name, func(t *testing.T) { checkAgainstGonum(t, name, v, trace.ComputeStats(v)) })
	}
}

// checkAgainstGonum: s, the statistics of v, agree with gonum on v's
// finite elements to 1e-12 relative, count every element, and are all NaN
// when no element is finite (TestStatsAgainstGonum's conventions).
func checkAgainstGonum(t *testing.T, name string, v []float32, s trace.Stats) {
	t.Helper()
	const rel = 1e-12
	x := finite64(v)
	nan, inf, zero := 0, 0, 0
	for _, e := range v {
		switch f := float64(e); {
		case math.IsNaN(f):
			nan++
		case math.IsInf(f, 0):
			inf++
		case f == 0:
			zero++
		}
	}
	if s.Count != len(v) || s.NaNCount != nan || s.InfCount != inf || s.ZeroCount != zero {
		t.Errorf("%s: counts %d/%d/%d/%d, want %d/%d/%d/%d", name, s.Count, s.NaNCount, s.InfCount, s.ZeroCount, len(v), nan, inf, zero)
	}
	if len(x) == 0 {
		for _, st := range trace.StatNames() {
			if got, _ := s.Get(st); !math.IsNaN(got) {
				t.Errorf("%s: %s = %v with no finite element, want NaN", name, st, got)
			}
		}
		return
	}
	abs := make([]float64, len(x))
	for i, e := range x {
		abs[i] = math.Abs(e)
	}
	n := float64(len(x))
	want := map[trace.Stat]float64{
		trace.StatMean:   stat.Mean(x, nil),
		trace.StatMin:    floats.Min(x),
		trace.StatMax:    floats.Max(x),
		trace.StatAbsMax: floats.Max(abs),
		trace.StatL2:     floats.Norm(x, 2),
		trace.StatRMS:    floats.Norm(x, 2) / math.Sqrt(n),
		trace.StatStd:    0,
	}
	if len(x) > 1 {
		want[trace.StatStd] = stat.StdDev(x, nil)
	}
	for st, w := range want {
		if got, _ := s.Get(st); !close(got, w, rel) {
			t.Errorf("%s: %s = %.17g, gonum %.17g", name, st, got, w)
		}
	}
}
