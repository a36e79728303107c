package harness

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// logitsMetrics are the next-token-distribution comparisons of the logits
// gate. TODO(parity): move to package parity once its logits analysis
// lands, so `falsify diff` and gates share one implementation.
type logitsMetrics struct {
	Top1Agreement float64 // fraction of positions whose argmax agrees
	KLMean        float64 // mean over positions of KL(B || A), nats
	KLMax         float64
	KLP99         float64
	TopKOverlap   float64 // mean fraction of B's top-k ids in A's top-k
	Flips         []int   // positions whose argmax differs
}

// compareLogits compares A's logits with the reference B's, row by row.
func compareLogits(a, b [][]float32, k int) (*logitsMetrics, error) {
	if len(a) != len(b) || len(a) == 0 {
		return nil, fmt.Errorf("logits: %d positions vs %d", len(a), len(b))
	}
	m := &logitsMetrics{}
	kls := make([]float64, len(a))
	agree, overlap := 0, 0.0
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return nil, fmt.Errorf("logits: position %d has %d values vs %d (different vocabularies)", i, len(a[i]), len(b[i]))
		}
		pa, pb := logSoftmax(a[i]), logSoftmax(b[i])
		var kl float64
		for j := range pb {
			if p := math.Exp(pb[j]); p > 0 {
				kl += p * (pb[j] - pa[j])
			}
		}
		kls[i] = math.Max(kl, 0)
		ta, tb := topK(a[i], k), topK(b[i], k)
		if ta[0] == tb[0] {
			agree++
		} else {
			m.Flips = append(m.Flips, i)
		}
		common := 0
		for _, id := range tb {
			if slices.Contains(ta, id) {
				common++
			}
		}
		overlap += float64(common) / float64(len(tb))
	}
	n := float64(len(a))
	m.Top1Agreement = float64(agree) / n
	m.TopKOverlap = overlap / n
	for _, kl := range kls {
		m.KLMean += kl / n
		m.KLMax = math.Max(m.KLMax, kl)
	}
	sorted := slices.Clone(kls)
	sort.Float64s(sorted)
	m.KLP99 = sorted[int(math.Ceil(0.99*n))-1]
	return m, nil
}

func logSoftmax(v []float32) []float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, float64(x))
	}
	var s float64
	for _, x := range v {
		s += math.Exp(float64(x) - mx)
	}
	ls := math.Log(s)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x) - mx - ls
	}
	return out
}

// topK returns the ids of the k largest values, largest first (ties by id).
func topK(v []float32, k int) []int {
	ids := make([]int, len(v))
	for i := range ids {
		ids[i] = i
	}
	sort.SliceStable(ids, func(x, y int) bool { return v[ids[x]] > v[ids[y]] })
	return ids[:min(k, len(ids))]
}
