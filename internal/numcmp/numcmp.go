package numcmp

import (
	"fmt"
	"math"
	"strings"
)

// NMSE is sum((got-want)^2) / sum(want^2), the normalized mean squared
// error of got against the reference want. It is 0 for identical vectors,
// +Inf when want is all zero and got is not, and NaN when either holds a
// NaN or the lengths differ.
func NMSE(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.NaN()
	}
	var num, den float64
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if num == 0 {
		if math.IsNaN(den) {
			return math.NaN()
		}
		return 0
	}
	return num / den
}

// Cosine is the cosine similarity of a and b (1 for parallel vectors; NaN
// when either is all zero or lengths differ).
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.NaN()
	}
	var ab, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	return ab / math.Sqrt(aa*bb)
}

// SQNR is the signal-to-quantization-noise ratio of got against want in
// decibels: -10*log10(NMSE). +Inf for identical vectors.
func SQNR(got, want []float32) float64 { return -10 * math.Log10(NMSE(got, want)) }

// MaxAbs is the largest |got[i]-want[i]| (NaN if any element is NaN).
func MaxAbs(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.NaN()
	}
	m := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.NaN()
		}
		m = math.Max(m, d)
	}
	return m
}

// RelL2 is ||got-want|| / ||want|| (the square root of NMSE).
func RelL2(got, want []float32) float64 { return math.Sqrt(NMSE(got, want)) }

// ULP returns the distance between two float32 values in units in the last
// place (0 for equal values, including +0 and -0; MaxUint32 if either is NaN).
func ULP(a, b float32) uint32 {
	if a != a || b != b {
		return math.MaxUint32
	}
	ia, ib := orderedBits(a), orderedBits(b)
	if ia > ib {
		return uint32(ia - ib)
	}
	return uint32(ib - ia)
}

// orderedBits maps float32 bits to integers that sort like the floats.
func orderedBits(f float32) int64 {
	b := int64(math.Float32bits(f))
	if b&0x80000000 != 0 {
		return -(b & 0x7fffffff)
	}
	return b
}

// Diff describes how got differs from want: the NMSE, the worst element
// and a few values side by side, for failure messages.
func Diff(name string, got, want []float32) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%s: length %d, want %d", name, len(got), len(want))
	}
	worst, worstD := -1, -1.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > worstD {
			worst, worstD = i, d
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: NMSE %.3g, max abs error %.3g at [%d] (got %g, want %g)", name, NMSE(got, want), worstD, worst, got[max(worst, 0)], want[max(worst, 0)])
	b.WriteString("; first values got/want:")
	for i := range min(4, len(got)) {
		fmt.Fprintf(&b, " %g/%g", got[i], want[i])
	}
	return b.String()
}

// Errors holds the five vector comparisons of one pair (got, want), want
// the reference.
type Errors struct {
	NMSE   float64
	Cosine float64
	SQNR   float64 // dB
	MaxAbs float64
	RelL2  float64
}

// Acc accumulates the sums behind Errors over several vector pairs (the
// positions of a trace slot) in float64, so that comparing all positions
// needs no concatenated copy. The zero value is ready; Result gives the
// same numbers as NMSE, Cosine, SQNR, MaxAbs and RelL2 of the concatenated
// vectors.
type Acc struct {
	n              int
	diff2, want2   float64 // sum((got-want)^2), sum(want^2)
	got2, gotWant  float64 // sum(got^2), sum(got*want)
	maxAbs         float64
	nan, badLength bool
}

// Add accumulates one pair; a length mismatch makes every result NaN.
func (a *Acc) Add(got, want []float32) {
	if len(got) != len(want) {
		a.badLength = true
		return
	}
	a.n += len(got)
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		d := g - w
		a.diff2 += d * d
		a.want2 += w * w
		a.got2 += g * g
		a.gotWant += g * w
		ad := math.Abs(d)
		if math.IsNaN(ad) {
			a.nan = true
		} else if ad > a.maxAbs {
			a.maxAbs = ad
		}
	}
}

// Count is the number of element pairs accumulated.
func (a *Acc) Count() int { return a.n }

// Result returns the comparisons of everything added.
func (a *Acc) Result() Errors {
	if a.badLength {
		nan := math.NaN()
		return Errors{nan, nan, nan, nan, nan}
	}
	nmse := a.diff2 / a.want2
	if a.diff2 == 0 && !math.IsNaN(a.want2) {
		nmse = 0
	}
	maxAbs := a.maxAbs
	if a.nan {
		maxAbs = math.NaN()
	}
	return Errors{
		NMSE:   nmse,
		Cosine: a.gotWant / math.Sqrt(a.got2*a.want2),
		SQNR:   -10 * math.Log10(nmse),
		MaxAbs: maxAbs,
		RelL2:  math.Sqrt(nmse),
	}
}

// Compare returns all five comparisons of got against the reference want.
func Compare(got, want []float32) Errors {
	var a Acc
	a.Add(got, want)
	return a.Result()
}

// LogSoftmax writes log(softmax(logits)) to dst (len(logits) values) in
// float64, shifting by the maximum first so that no exponential overflows.
// A NaN logit makes every output NaN.
func LogSoftmax(dst []float64, logits []float32) []float64 {
	dst = append(dst[:0], make([]float64, len(logits))...)
	if len(logits) == 0 {
		return dst
	}
	maxv := math.Inf(-1)
	for _, x := range logits {
		maxv = math.Max(maxv, float64(x))
	}
	var sum float64
	for _, x := range logits {
		sum += math.Exp(float64(x) - maxv)
	}
	lse := maxv + math.Log(sum)
	for i, x := range logits {
		dst[i] = float64(x) - lse
	}
	return dst
}

// KLDivergence is KL(P||Q) = sum p_i (log p_i - log q_i) in nats, for
// distributions given as log-probabilities (LogSoftmax of logits), P the
// reference. Terms with p_i = 0 contribute 0; lengths must match (NaN
// otherwise). Identical inputs give exactly 0.
func KLDivergence(logP, logQ []float64) float64 {
	if len(logP) != len(logQ) {
		return math.NaN()
	}
	var kl float64
	for i, lp := range logP {
		p := math.Exp(lp)
		if p == 0 {
			continue
		}
		kl += p * (lp - logQ[i])
	}
	return kl
}

// Percentile returns the value at fraction f (0..1) of sorted (ascending)
// values, interpolating linearly between the two nearest ranks (rank
// f*(n-1)), the convention of llama-perplexity's KL statistics. It is NaN
// for no values.
func Percentile(sorted []float64, f float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case f <= 0:
		return sorted[0]
	case f >= 1:
		return sorted[n-1]
	}
	r := f * float64(n-1)
	i := int(r)
	frac := r - float64(i)
	j := min(i+1, n-1)
	return (1-frac)*sorted[i] + frac*sorted[j]
}

// Argmax is the index of the largest value, the first on ties; NaN never
// wins over a number (0 for an empty slice).
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] || v[best] != v[best] {
			best = i
		}
	}
	return best
}
