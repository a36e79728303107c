// Package numcmp is the one family of numeric comparisons the project uses
// (tests, parity metrics, gates): NMSE, cosine similarity, SQNR, max
// absolute and relative L2 error, ULP distance, all in float64 and
// NaN-aware, plus a Diff that describes the worst element for failure
// messages.
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
