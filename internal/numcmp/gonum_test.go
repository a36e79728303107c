package numcmp

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
)

// metricPairs are (got, want) pairs for the comparison metrics: random,
// huge and tiny magnitudes, a reference of all zeros, NaN and Inf mixed
// in, identical vectors, and lengths 0 and 1.
func metricPairs() map[string][2][]float32 {
	rng := rand.New(rand.NewPCG(3, 4))
	normal := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(scale * rng.NormFloat64())
		}
		return v
	}
	perturb := func(v []float32, rel float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = x * float32(1+rel*rng.NormFloat64())
		}
		return out
	}
	a := normal(2048, 1)
	huge := normal(64, 1e37)
	tiny := normal(64, 1e-40) // denormals
	withNaN := perturb(a, 1e-3)
	withNaN[7] = float32(math.NaN())
	withInf := perturb(a, 1e-3)
	withInf[9] = float32(math.Inf(1))
	return map[string][2][]float32{
		"random":        {perturb(a, 1e-3), a},
		"opposite":      {normal(16, 1), normal(16, 1)},
		"identical":     {a, a},
		"huge":          {perturb(huge, 1e-2), huge},
		"tiny":          {perturb(tiny, 1e-1), tiny},
		"zero ref":      {normal(8, 1), make([]float32, 8)},
		"NaN in got":    {withNaN, a},
		"Inf in got":    {withInf, a},
		"empty":         {{}, {}},
		"one":           {{2}, {3}},
		"one identical": {{-5}, {-5}},
	}
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// agree reports whether got and want match to rel, NaN matching NaN and
// infinities matching exactly.
func agree(got, want, rel float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	if got == want {
		return true
	}
	return math.Abs(got-want) <= rel*math.Max(math.Abs(got), math.Abs(want))
}

// TestMetricsAgainstGonum: NMSE, cosine, SQNR, max abs and relative L2,
// one-shot and accumulated over pieces (Acc), agree with the same
// formulas written with gonum's floats (Distance, Dot, Norm). Conventions
// of ours that gonum's formulas would not give are asserted as ours:
// NMSE is exactly 0 for identical vectors (so SQNR is +Inf), a NaN
// element makes max abs NaN.
func TestMetricsAgainstGonum(t *testing.T) {
	const rel = 1e-12
	for name, p := range metricPairs() {
		t.Run(name, func(t *testing.T) {
			got, want := to64(p[0]), to64(p[1])
			d := floats.Distance(got, want, 2)
			nmse := d * d / floats.Dot(want, want)
			if d == 0 {
				nmse = 0 // identical: 0, even against an all-zero reference
			}
			cosine := floats.Dot(got, want) / (floats.Norm(got, 2) * floats.Norm(want, 2))
			maxAbs := 0.0
			if len(got) > 0 {
				maxAbs = floats.Distance(got, want, math.Inf(1))
			}
			for _, x := range got {
				if math.IsNaN(x) {
					maxAbs = math.NaN()
				}
			}
			wantErr := Errors{NMSE: nmse, Cosine: cosine, SQNR: -10 * math.Log10(nmse), MaxAbs: maxAbs, RelL2: math.Sqrt(nmse)}
			// Acc over two pieces gives the numbers of the whole.
			var acc Acc
			h := len(p[0]) / 2
			acc.Add(p[0][:h], p[1][:h])
			acc.Add(p[0][h:], p[1][h:])
			for _, c := range []struct {
				how string
				e   Errors
			}{
				{"Compare", Compare(p[0], p[1])},
				{"Acc", acc.Result()},
				{"functions", Errors{NMSE(p[0], p[1]), Cosine(p[0], p[1]), SQNR(p[0], p[1]), MaxAbs(p[0], p[1]), RelL2(p[0], p[1])}},
			} {
				for _, m := range []struct {
					name      string
					got, want float64
				}{
					{"nmse", c.e.NMSE, wantErr.NMSE}, {"cosine", c.e.Cosine, wantErr.Cosine}, {"sqnr", c.e.SQNR, wantErr.SQNR},
					{"max_abs", c.e.MaxAbs, wantErr.MaxAbs}, {"rel_l2", c.e.RelL2, wantErr.RelL2},
				} {
					if !agree(m.got, m.want, rel) {
						t.Errorf("%s %s = %.17g, gonum formula %.17g", c.how, m.name, m.got, m.want)
					}
				}
			}
		})
	}
}

// TestKLAgainstGonum: KLDivergence of LogSoftmax outputs agrees with
// gonum's stat.KullbackLeibler on the probabilities, for random logits,
// logits of huge spread (probabilities that underflow to 0, whose terms
// both drop), a one-token vocabulary, and identical distributions
// (exactly 0); a NaN logit gives NaN.
func TestKLAgainstGonum(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	logits := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(scale * rng.NormFloat64())
		}
		return v
	}
	probs := func(lp []float64) []float64 {
		p := make([]float64, len(lp))
		for i, x := range lp {
			p[i] = math.Exp(x)
		}
		return p
	}
	p1 := logits(1000, 3)
	q1 := make([]float32, len(p1))
	for i, x := range p1 {
		q1[i] = x + float32(0.05*rng.NormFloat64())
	}
	wide := logits(100, 200)
	wideQ := make([]float32, len(wide))
	for i, x := range wide {
		wideQ[i] = x * 1.001
	}
	for _, c := range []struct {
		name string
		p, q []float32
	}{{"random", p1, q1}, {"wide", wide, wideQ}, {"one token", []float32{3}, []float32{-7}}, {"identical", p1, p1}} {
		lp, lq := LogSoftmax(nil, c.p), LogSoftmax(nil, c.q)
		got := KLDivergence(lp, lq)
		want := stat.KullbackLeibler(probs(lp), probs(lq))
		if c.name == "identical" {
			want = 0
		}
		if !agree(got, want, 1e-9) && math.Abs(got-want) > 1e-15 {
			t.Errorf("%s: KL %.17g, gonum %.17g", c.name, got, want)
		}
	}
	nan := []float32{1, float32(math.NaN()), 2}
	if kl := KLDivergence(LogSoftmax(nil, nan), LogSoftmax(nil, []float32{1, 2, 3})); !math.IsNaN(kl) {
		t.Errorf("KL with a NaN logit = %v, want NaN", kl)
	}
}
