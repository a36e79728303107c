package parity

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/falsify/falsify/internal/numcmp"
	"github.com/falsify/falsify/trace"
)

// Summary is the distribution of a per-position value.
type Summary struct {
	Mean, Min, Median, P99, Max float64
	// RMS is the root mean square (the "RMS Δp" of llama-perplexity).
	RMS float64
}

// summarize returns the summary of v (NaN everywhere for no values).
// Percentiles interpolate between ranks as llama-perplexity does.
func summarize(v []float64) Summary {
	if len(v) == 0 {
		nan := math.NaN()
		return Summary{nan, nan, nan, nan, nan, nan}
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	var sum, sum2 float64
	for _, x := range v {
		sum += x
		sum2 += x * x
	}
	n := float64(len(v))
	return Summary{Mean: sum / n, Min: s[0], Median: numcmp.Percentile(s, 0.5),
		P99: numcmp.Percentile(s, 0.99), Max: s[len(s)-1], RMS: math.Sqrt(sum2 / n)}
}

// Flip is a position where A's most likely token is not B's.
type Flip struct {
	Position int
	TokenA   int // argmax of A's logits
	TokenB   int // argmax of B's logits
	// ProbA and ProbB are each side's probability of its own top token;
	// ProbAOfB is A's probability of B's top token (how close A came).
	ProbA, ProbB, ProbAOfB float64
	KLD                    float64
}

// LogitsComparison is A's next-token distributions against the reference
// B's, position by position, with the statistics llama-perplexity's
// --kl-divergence mode prints: KL divergence KL(B||A) (mean, max, 99th
// percentile), "same top p" (Top1Agreement), and Δp, the change in the
// probability of a target token.
//
// llama-perplexity's target at a position is the next token of its text;
// here the target is the next prompt token where there is one and, at the
// last position (which has none), B's most likely token. Its KLD is also
// exact: it sums every vocabulary entry in float64, where
// llama-perplexity stores the base log-probabilities in 16 bits and skips
// those below e^-16.
type LogitsComparison struct {
	// Positions are the prompt positions compared (all, or the last).
	Positions []int
	// Top1Agreement is the fraction of positions whose argmax agrees.
	Top1Agreement float64
	// TopK and TopKOverlap: the mean fraction of B's K most likely tokens
	// that are also among A's K most likely.
	TopK        int
	TopKOverlap float64
	KLD         Summary
	KLDs        []float64 // per position
	// Targets are the target tokens of DeltaP; DeltaPs are
	// p_A(target) - p_B(target) per position.
	Targets []int
	DeltaP  Summary
	DeltaPs []float64
	// PPLA and PPLB are the perplexities of the prompt continuation (the
	// positions that have a next prompt token), NaN when there is none.
	PPLA, PPLB float64
	Flips      []Flip
}

// CompareLogits compares the logits of trace a with the reference b at the
// given positions, topK (>= 1) wide for the overlap. It refuses traces of
// different tokens or vocabulary sizes, and PositionsAll on traces without
// every position or with the last position's logits only (ErrLastLogits).
func CompareLogits(a, b *trace.Trace, pos trace.Positions, topK int) (*LogitsComparison, error) {
	if _, err := trace.ParsePositions(string(pos)); err != nil {
		return nil, err
	}
	if topK < 1 {
		return nil, fmt.Errorf("parity: top-k %d must be at least 1", topK)
	}
	// Tokens only: the logits of a run without capture hooks (no layers,
	// a `trace: false` subject) compare with a traced run's.
	if err := checkTokens(a, b); err != nil {
		return nil, err
	}
	if err := CheckAllLogits(a, b, pos); err != nil {
		return nil, err
	}
	n := len(a.Tokens)
	site := Site{-1, "logits"}
	// compareSlot checks the counts and shapes; its metrics are not used.
	if _, err := compareSlot(site, &a.Logits, &b.Logits, pos, n); err != nil {
		return nil, err
	}
	if a.Logits.Empty() {
		return nil, &MismatchError{Site: "logits", Field: "recorded", A: "false", B: "false", Err: ErrMismatch}
	}
	va, _ := vectors(site, &a.Logits, pos, n, mustStats(&a.Logits, pos), "a")
	vb, _ := vectors(site, &b.Logits, pos, n, mustStats(&b.Logits, pos), "b")
	lc := &LogitsComparison{TopK: topK, PPLA: math.NaN(), PPLB: math.NaN()}
	var logA, logB []float64
	agree, overlap := 0, 0.0
	var nllA, nllB float64
	nextTokens := 0
	for i := range va {
		p := positionIndex(pos, n, i)
		logA = numcmp.LogSoftmax(logA, va[i])
		logB = numcmp.LogSoftmax(logB, vb[i])
		kld := numcmp.KLDivergence(logB, logA)
		topA, topB := numcmp.Argmax(va[i]), numcmp.Argmax(vb[i])
		target := topB
		if p+1 < n {
			target = int(a.Tokens[p+1])
			if target < 0 || target >= len(vb[i]) {
				return nil, &MismatchError{Site: "logits", Field: fmt.Sprintf("token %d at position %d vs vocabulary size", target, p+1),
					A: fmt.Sprint(len(va[i])), B: fmt.Sprint(len(vb[i])), Err: ErrMismatch}
			}
			nllA -= logA[target]
			nllB -= logB[target]
			nextTokens++
		}
		lc.Positions = append(lc.Positions, p)
		lc.KLDs = append(lc.KLDs, kld)
		lc.Targets = append(lc.Targets, target)
		lc.DeltaPs = append(lc.DeltaPs, math.Exp(logA[target])-math.Exp(logB[target]))
		overlap += topKOverlap(va[i], vb[i], topK)
		if topA == topB {
			agree++
			continue
		}
		lc.Flips = append(lc.Flips, Flip{Position: p, TokenA: topA, TokenB: topB,
			ProbA: math.Exp(logA[topA]), ProbB: math.Exp(logB[topB]), ProbAOfB: math.Exp(logA[topB]), KLD: kld})
	}
	m := float64(len(va))
	lc.Top1Agreement = float64(agree) / m
	lc.TopKOverlap = overlap / m
	lc.KLD = summarize(lc.KLDs)
	lc.DeltaP = summarize(lc.DeltaPs)
	if nextTokens > 0 {
		lc.PPLA = math.Exp(nllA / float64(nextTokens))
		lc.PPLB = math.Exp(nllB / float64(nextTokens))
	}
	return lc, nil
}

func mustStats(st *trace.SlotTrace, pos trace.Positions) int {
	s, _ := st.Stats(pos.Sample())
	return s.Count
}

// topKOverlap is |topK(a) ∩ topK(b)| / k. Ties at the edge are broken by
// the lower index, on both sides alike.
func topKOverlap(a, b []float32, k int) float64 {
	k = min(k, len(a))
	ta, tb := topKIndices(a, k), topKIndices(b, k)
	in := make(map[int]bool, k)
	for _, i := range tb {
		in[i] = true
	}
	common := 0
	for _, i := range ta {
		if in[i] {
			common++
		}
	}
	return float64(common) / float64(k)
}

func topKIndices(v []float32, k int) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool {
		vx, vy := v[idx[x]], v[idx[y]]
		if vx != vx { // NaN sorts last
			return false
		}
		return vx > vy || vy != vy
	})
	return idx[:k]
}
