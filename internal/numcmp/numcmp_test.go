package numcmp

import (
	"math"
	"testing"
)

// Acc over several pairs gives the one-shot functions' values on the
// concatenation.
func TestAccMatchesConcatenation(t *testing.T) {
	got := [][]float32{{1, 2, 3}, {-4, 5.5}, {0, 1e-3, 7}}
	want := [][]float32{{1.1, 2, 2.9}, {-4, 5}, {0.2, 0, 7}}
	var a Acc
	var g, w []float32
	for i := range got {
		a.Add(got[i], want[i])
		g, w = append(g, got[i]...), append(w, want[i]...)
	}
	r := a.Result()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"nmse", r.NMSE, NMSE(g, w)}, {"cosine", r.Cosine, Cosine(g, w)}, {"sqnr", r.SQNR, SQNR(g, w)},
		{"max_abs", r.MaxAbs, MaxAbs(g, w)}, {"rel_l2", r.RelL2, RelL2(g, w)},
	} {
		if math.Abs(c.got-c.want) > 1e-12*math.Abs(c.want) {
			t.Errorf("%s: Acc %g, concatenated %g", c.name, c.got, c.want)
		}
	}
	if a.Count() != len(g) {
		t.Errorf("count %d, want %d", a.Count(), len(g))
	}
}

func TestAccEdgeCases(t *testing.T) {
	same := Compare([]float32{1, -2}, []float32{1, -2})
	if same.NMSE != 0 || !math.IsInf(same.SQNR, 1) || same.MaxAbs != 0 || same.Cosine != 1 {
		t.Errorf("identical: %+v", same)
	}
	nan := float32(math.NaN())
	if r := Compare([]float32{nan, 1}, []float32{1, 1}); !math.IsNaN(r.NMSE) || !math.IsNaN(r.MaxAbs) {
		t.Errorf("NaN input: %+v, want NaN", r)
	}
	var a Acc
	a.Add([]float32{1}, []float32{1, 2})
	if r := a.Result(); !math.IsNaN(r.NMSE) || !math.IsNaN(r.Cosine) {
		t.Errorf("length mismatch: %+v, want NaN", r)
	}
}

// KL divergence of two Bernoulli distributions has the closed form
// p ln(p/q) + (1-p) ln((1-p)/(1-q)); logits (0, ln(p/(1-p))) give P.
func TestKLDivergenceBernoulli(t *testing.T) {
	logit := func(p float64) []float32 { return []float32{0, float32(math.Log(p / (1 - p)))} }
	for _, c := range []struct{ p, q float64 }{{0.5, 0.5}, {0.9, 0.5}, {0.2, 0.7}, {0.999, 0.001}} {
		lp := LogSoftmax(nil, logit(c.p))
		lq := LogSoftmax(nil, logit(c.q))
		// The logits are float32, so use the probabilities they encode.
		p, q := math.Exp(lp[1]), math.Exp(lq[1])
		want := p*math.Log(p/q) + (1-p)*math.Log((1-p)/(1-q))
		if got := KLDivergence(lp, lq); math.Abs(got-want) > 1e-12 {
			t.Errorf("KL(%g||%g) = %g, want %g", c.p, c.q, got, want)
		}
	}
	big := LogSoftmax(nil, []float32{1000, 0, -1000})
	if s := math.Exp(big[0]) + math.Exp(big[1]) + math.Exp(big[2]); math.Abs(s-1) > 1e-15 {
		t.Errorf("log-softmax of large logits sums to %g", s)
	}
}

// Percentile interpolates between ranks f*(n-1), as llama-perplexity's
// percentile lambda does.
func TestPercentile(t *testing.T) {
	s := []float64{1, 2, 4, 8}
	for _, c := range []struct{ f, want float64 }{{0, 1}, {1, 8}, {0.5, 3}, {1.0 / 3, 2}, {0.99, 4 + 0.97*4}} {
		if got := Percentile(s, c.f); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Percentile(%g) = %g, want %g", c.f, got, c.want)
		}
	}
	if !math.IsNaN(Percentile(nil, 0.5)) {
		t.Error("Percentile of nothing is not NaN")
	}
}

func TestArgmax(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		v    []float32
		want int
	}{
		{nil, 0},
		{[]float32{1, 3, 3, 2}, 1},
		{[]float32{nan, -5, -1}, 2},
		{[]float32{-1, nan, -2}, 0},
	} {
		if got := Argmax(c.v); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}
