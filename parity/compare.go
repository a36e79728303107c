package parity

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/falsify/falsify/internal/numcmp"
	"github.com/falsify/falsify/trace"
)

// Sentinel errors for the comparisons parity refuses.
var (
	// ErrMismatch: the traces are not of the same input or shape (tokens,
	// layer count, sample counts, vector lengths), so no number computed
	// from them would mean anything.
	ErrMismatch = errors.New("traces are not comparable")
	// ErrMissingPositions: every position was asked for but a trace kept
	// only the last one (trace it with AllPositions, or compare the last
	// position).
	ErrMissingPositions = errors.New("trace lacks all positions")
	// ErrLastLogits: the logits of every position were asked for (positions
	// all, sample all_tokens) but a trace computed the last position's
	// only (trace.Trace.LogitsPositions last: engine Options.AllLogits
	// off, falsify trace --logits last). Comparing its last position
	// instead would judge less than was asked.
	ErrLastLogits = errors.New("traced with last-position logits")
)

// LastLogitsError names the side ("a" or "b") whose trace holds the last
// position's logits only where every position's were asked for.
type LastLogitsError struct {
	Side string
}

func (e *LastLogitsError) Error() string {
	return fmt.Sprintf("parity: logits of %s: %v; comparing every position needs the logits of every position (falsify trace --logits all; in Go, engine.Options.AllLogits)", e.Side, ErrLastLogits)
}

func (e *LastLogitsError) Unwrap() error { return ErrLastLogits }

// CheckAllLogits refuses, with a *LastLogitsError, positions all over a
// trace whose logits cover the last position only.
func CheckAllLogits(a, b *trace.Trace, pos trace.Positions) error {
	if pos != trace.PositionsAll {
		return nil
	}
	if !a.HasAllLogits() {
		return &LastLogitsError{Side: "a"}
	}
	if !b.HasAllLogits() {
		return &LastLogitsError{Side: "b"}
	}
	return nil
}

// MismatchError says which site and field made two traces incomparable.
type MismatchError struct {
	Site  string // "tokens", "layers", or a capture point such as "layer 2 qkv"
	Field string // what differs: "tokens", "count", "last_token count", "length", ...
	A, B  string // the two sides' values
	Err   error  // ErrMismatch or ErrMissingPositions
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("parity: %s: %s differs (a %s, b %s): %v", e.Site, e.Field, e.A, e.B, e.Err)
}

func (e *MismatchError) Unwrap() error { return e.Err }

// Site names a capture point: a layer slot, or (Layer -1) one of embed,
// final_norm, logits.
type Site struct {
	Layer int
	Slot  trace.Slot
}

func (s Site) String() string {
	if s.Layer < 0 {
		return string(s.Slot)
	}
	return "layer " + strconv.Itoa(s.Layer) + " " + string(s.Slot)
}

// SlotComparison is A against the reference B at one site.
type SlotComparison struct {
	Site
	// Count is the number of elements compared (equal on both sides).
	Count int
	// Empty is true when both traces recorded nothing here (the gate slots
	// of a non-gated FFN); the metrics are NaN then, never zeros.
	Empty bool
	numcmp.Errors
	// StdA and StdB are the sample standard deviations of the matched
	// sample (last_token or all_tokens) as the traces recorded them;
	// StdRatio is StdA/StdB (NaN when StdB is 0).
	StdA, StdB, StdRatio float64
}

// Value returns metric m at this site.
func (s *SlotComparison) Value(m trace.Metric) float64 { return m.Of(s.Errors) }

// Comparison is A against B at every site, in forward order: embed, the
// ten slots of each layer, final_norm, logits.
type Comparison struct {
	Positions trace.Positions
	Tokens    []int32
	NumLayers int
	Sites     []SlotComparison
}

// At returns the comparison at a site (layer -1 for embed, final_norm,
// logits), or nil.
func (c *Comparison) At(layer int, slot trace.Slot) *SlotComparison {
	for i := range c.Sites {
		if c.Sites[i].Layer == layer && c.Sites[i].Slot == slot {
			return &c.Sites[i]
		}
	}
	return nil
}

// Layer returns the ten slot comparisons of layer l in forward order.
func (c *Comparison) Layer(l int) []SlotComparison {
	if l < 0 || l >= c.NumLayers {
		return nil
	}
	start := 1 + l*int(trace.NumLayerSlots)
	return c.Sites[start : start+int(trace.NumLayerSlots)]
}

// Compare compares trace a with the reference b at every site over the
// given positions. It refuses traces of different tokens or layer counts,
// sites whose sample counts or vector shapes differ, a slot recorded on
// one side only, PositionsAll on a trace without every position, and
// PositionsAll on a trace with the last position's logits only
// (ErrLastLogits; CompareExceptLogits compares the other sites).
func Compare(a, b *trace.Trace, pos trace.Positions) (*Comparison, error) {
	return compare(a, b, pos, true)
}

// CompareExceptLogits is Compare without the logits site (the comparison
// ends at final_norm), for a consumer that reads no logits: traces with
// the last position's logits only compare at every position there.
func CompareExceptLogits(a, b *trace.Trace, pos trace.Positions) (*Comparison, error) {
	return compare(a, b, pos, false)
}

func compare(a, b *trace.Trace, pos trace.Positions, logits bool) (*Comparison, error) {
	if _, err := trace.ParsePositions(string(pos)); err != nil {
		return nil, err
	}
	if err := checkHeads(a, b); err != nil {
		return nil, err
	}
	if logits {
		if err := CheckAllLogits(a, b, pos); err != nil {
			return nil, err
		}
	}
	c := &Comparison{Positions: pos, Tokens: slices.Clone(a.Tokens), NumLayers: len(a.Layers)}
	add := func(site Site, sa, sb *trace.SlotTrace) error {
		sc, err := compareSlot(site, sa, sb, pos, len(a.Tokens))
		if err != nil {
			return err
		}
		c.Sites = append(c.Sites, sc)
		return nil
	}
	if err := add(Site{-1, "embed"}, &a.Embed, &b.Embed); err != nil {
		return nil, err
	}
	for l := range a.Layers {
		for s, name := range trace.LayerSlots() {
			if err := add(Site{l, name}, &a.Layers[l].Slots[s], &b.Layers[l].Slots[s]); err != nil {
				return nil, err
			}
		}
	}
	if err := add(Site{-1, "final_norm"}, &a.FinalNorm, &b.FinalNorm); err != nil {
		return nil, err
	}
	if !logits {
		return c, nil
	}
	if err := add(Site{-1, "logits"}, &a.Logits, &b.Logits); err != nil {
		return nil, err
	}
	return c, nil
}

// checkHeads refuses traces of different prompts or depths.
func checkHeads(a, b *trace.Trace) error {
	if err := checkTokens(a, b); err != nil {
		return err
	}
	if len(a.Layers) != len(b.Layers) {
		return &MismatchError{Site: "layers", Field: "layer count", A: strconv.Itoa(len(a.Layers)), B: strconv.Itoa(len(b.Layers)), Err: ErrMismatch}
	}
	return nil
}

// checkTokens refuses traces of different prompts.
func checkTokens(a, b *trace.Trace) error {
	if len(a.Tokens) == 0 || len(b.Tokens) == 0 {
		return &MismatchError{Site: "tokens", Field: "token count", A: strconv.Itoa(len(a.Tokens)), B: strconv.Itoa(len(b.Tokens)), Err: ErrMismatch}
	}
	if !slices.Equal(a.Tokens, b.Tokens) {
		return &MismatchError{Site: "tokens", Field: "tokens", A: fmt.Sprint(a.Tokens), B: fmt.Sprint(b.Tokens), Err: ErrMismatch}
	}
	return nil
}

// compareSlot compares one site after checking that both sides hold the
// same sample of the same shape.
func compareSlot(site Site, sa, sb *trace.SlotTrace, pos trace.Positions, n int) (SlotComparison, error) {
	sc := SlotComparison{Site: site}
	mismatch := func(field string, va, vb any, err error) error {
		return &MismatchError{Site: site.String(), Field: field, A: fmt.Sprint(va), B: fmt.Sprint(vb), Err: err}
	}
	if sa.Empty() != sb.Empty() {
		return sc, mismatch("recorded", !sa.Empty(), !sb.Empty(), ErrMismatch)
	}
	if sa.Empty() {
		nan := math.NaN()
		sc.Empty = true
		sc.Errors = numcmp.Errors{NMSE: nan, Cosine: nan, SQNR: nan, MaxAbs: nan, RelL2: nan}
		sc.StdA, sc.StdB, sc.StdRatio = nan, nan, nan
		return sc, nil
	}
	sample := pos.Sample()
	stA, _ := sa.Stats(sample)
	stB, _ := sb.Stats(sample)
	if stA.Count != stB.Count {
		return sc, mismatch(string(sample)+" count", stA.Count, stB.Count, ErrMismatch)
	}
	va, err := vectors(site, sa, pos, n, stA.Count, "a")
	if err != nil {
		return sc, err
	}
	vb, err := vectors(site, sb, pos, n, stB.Count, "b")
	if err != nil {
		return sc, err
	}
	var acc numcmp.Acc
	for i := range va {
		if len(va[i]) != len(vb[i]) {
			return sc, mismatch(fmt.Sprintf("vector length at position %d", positionIndex(pos, n, i)), len(va[i]), len(vb[i]), ErrMismatch)
		}
		acc.Add(va[i], vb[i])
	}
	sc.Count = acc.Count()
	sc.Errors = acc.Result()
	sc.StdA, sc.StdB = stA.Std, stB.Std
	sc.StdRatio = ratio(stA.Std, stB.Std)
	return sc, nil
}

// vectors returns the vectors of the requested positions, checked against
// the sample count the trace recorded for them.
func vectors(site Site, st *trace.SlotTrace, pos trace.Positions, n, count int, side string) ([]trace.Vector, error) {
	inconsistent := func(field string, got, want int) error {
		e := &MismatchError{Site: site.String(), Field: field, Err: ErrMismatch}
		if side == "a" {
			e.A, e.B = fmt.Sprintf("%d (sample count %d)", got, want), "-"
		} else {
			e.A, e.B = "-", fmt.Sprintf("%d (sample count %d)", got, want)
		}
		return e
	}
	if pos == trace.PositionsLast {
		if len(st.Last) != count {
			return nil, inconsistent("last vector length", len(st.Last), count)
		}
		return []trace.Vector{st.Last}, nil
	}
	if len(st.Positions) != n {
		e := &MismatchError{Site: site.String(), Field: "positions kept", Err: ErrMissingPositions}
		if side == "a" {
			e.A, e.B = fmt.Sprintf("%d of %d", len(st.Positions), n), "-"
		} else {
			e.A, e.B = "-", fmt.Sprintf("%d of %d", len(st.Positions), n)
		}
		return nil, e
	}
	total := 0
	for _, v := range st.Positions {
		total += len(v)
	}
	if total != count {
		return nil, inconsistent("elements over all positions", total, count)
	}
	return st.Positions, nil
}

func positionIndex(pos trace.Positions, n, i int) int {
	if pos == trace.PositionsLast {
		return n - 1
	}
	return i
}

// ratio is a/b, NaN when b is zero or either is not finite.
func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return math.NaN()
	}
	return a / b
}
