package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Slot is one of the ten per-layer capture points of
// specs/capture-points.md, in forward order.
type Slot int

const (
	SlotAttnNorm Slot = iota
	SlotQKV
	SlotAttnOut
	SlotFFNNorm
	SlotFFNGate
	SlotFFNUp
	SlotFFNSiluGate
	SlotFFNSwigluInner
	SlotFFNOut
	SlotOutput
	NumSlots
)

var slotNames = [NumSlots]string{"attn_norm", "qkv", "attn_out", "ffn_norm", "ffn_gate", "ffn_up", "ffn_silu_gate", "ffn_swiglu_inner", "ffn_out", "output"}

func (s Slot) String() string {
	if s >= 0 && s < NumSlots {
		return slotNames[s]
	}
	return fmt.Sprintf("slot(%d)", int(s))
}

// SlotNames returns the ten layer slot names in forward order.
func SlotNames() []string { return append([]string(nil), slotNames[:]...) }

// ParseSlot returns the layer slot with the given name.
func ParseSlot(name string) (Slot, bool) {
	for i, n := range slotNames {
		if n == name {
			return Slot(i), true
		}
	}
	return 0, false
}

// Sample names the set of elements a statistic is taken over.
type Sample string

const (
	SampleLastToken Sample = "last_token" // the last prompt position only
	SampleAllTokens Sample = "all_tokens" // every prompt position, flattened
)

// Stats are the statistics of one slot over one sample, accumulated in
// float64 (capture-points.md, "Statistics"). Min, Max, Mean, Std, RMS,
// AbsMax and L2 are over finite elements; they are NaN when there are none
// (written as null in JSON).
type Stats struct {
	Count     int     `json:"count"`
	NaNCount  int     `json:"nan_count"`
	InfCount  int     `json:"inf_count"`
	ZeroCount int     `json:"zero_count"`
	Min       float64 `json:"min"`
	Max       float64 `json:"max"`
	Mean      float64 `json:"mean"`
	Std       float64 `json:"std"`
	RMS       float64 `json:"rms"`
	AbsMax    float64 `json:"abs_max"`
	L2        float64 `json:"l2"`
}

// ComputeStats returns the statistics of v. std is the sample standard
// deviation (divisor n-1, 0 when n <= 1), aprender's convention. Two passes
// (mean, then squared deviations) keep it accurate for large means.
func ComputeStats(v []float32) Stats {
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
		sumSq += x * x
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
			dev += (x - s.Mean) * (x - s.Mean)
		}
	}
	if finite > 1 {
		s.Std = math.Sqrt(dev / float64(finite-1))
	}
	s.RMS = math.Sqrt(sumSq / float64(finite))
	s.L2 = math.Sqrt(sumSq)
	return s
}

// Get returns a statistic by name (mean, std, min, max, rms, abs_max, l2,
// count, nan_count, inf_count, zero_count).
func (s Stats) Get(name string) (float64, bool) {
	switch name {
	case "mean":
		return s.Mean, true
	case "std":
		return s.Std, true
	case "min":
		return s.Min, true
	case "max":
		return s.Max, true
	case "rms":
		return s.RMS, true
	case "abs_max":
		return s.AbsMax, true
	case "l2":
		return s.L2, true
	case "count":
		return float64(s.Count), true
	case "nan_count":
		return float64(s.NaNCount), true
	case "inf_count":
		return float64(s.InfCount), true
	case "zero_count":
		return float64(s.ZeroCount), true
	}
	return 0, false
}

type statsJSON struct {
	Count     int      `json:"count"`
	NaNCount  int      `json:"nan_count"`
	InfCount  int      `json:"inf_count"`
	ZeroCount int      `json:"zero_count"`
	Min       *float64 `json:"min"`
	Max       *float64 `json:"max"`
	Mean      *float64 `json:"mean"`
	Std       *float64 `json:"std"`
	RMS       *float64 `json:"rms"`
	AbsMax    *float64 `json:"abs_max"`
	L2        *float64 `json:"l2"`
}

func finiteOrNil(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func nilAsNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes statistics without finite elements as null.
func (s Stats) MarshalJSON() ([]byte, error) {
	return json.Marshal(statsJSON{s.Count, s.NaNCount, s.InfCount, s.ZeroCount,
		finiteOrNil(s.Min), finiteOrNil(s.Max), finiteOrNil(s.Mean), finiteOrNil(s.Std),
		finiteOrNil(s.RMS), finiteOrNil(s.AbsMax), finiteOrNil(s.L2)})
}

// UnmarshalJSON reads null statistics back as NaN.
func (s *Stats) UnmarshalJSON(b []byte) error {
	var j statsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Stats{j.Count, j.NaNCount, j.InfCount, j.ZeroCount, nilAsNaN(j.Min), nilAsNaN(j.Max),
		nilAsNaN(j.Mean), nilAsNaN(j.Std), nilAsNaN(j.RMS), nilAsNaN(j.AbsMax), nilAsNaN(j.L2)}
	return nil
}

// Vector is a float32 vector whose JSON form round-trips every bit: finite
// values as the shortest decimal that reads back to the same float32, and
// NaN, +Inf, -Inf as the strings "NaN", "Inf", "-Inf".
type Vector []float32

// MarshalJSON implements json.Marshaler.
func (v Vector) MarshalJSON() ([]byte, error) {
	if v == nil {
		return []byte("[]"), nil
	}
	b := make([]byte, 0, 2+len(v)*12)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case math.IsNaN(float64(x)):
			b = append(b, `"NaN"`...)
		case math.IsInf(float64(x), 1):
			b = append(b, `"Inf"`...)
		case math.IsInf(float64(x), -1):
			b = append(b, `"-Inf"`...)
		default:
			b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Vector) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Vector, len(raw))
	for i, r := range raw {
		switch string(r) {
		case `"NaN"`:
			out[i] = float32(math.NaN())
		case `"Inf"`:
			out[i] = float32(math.Inf(1))
		case `"-Inf"`:
			out[i] = float32(math.Inf(-1))
		default:
			f, err := strconv.ParseFloat(string(r), 32)
			if err != nil {
				return fmt.Errorf("vector element %d: %w", i, err)
			}
			out[i] = float32(f)
		}
	}
	*v = out
	return nil
}

// SlotTrace is what one capture point recorded.
type SlotTrace struct {
	LastToken Stats    `json:"last_token"`
	AllTokens Stats    `json:"all_tokens"`
	Last      Vector   `json:"last"`                // the last position's vector
	Positions []Vector `json:"positions,omitempty"` // every position, when requested
}

// Empty reports whether the slot recorded nothing (count 0), as for the
// gate slots of a non-gated FFN.
func (s *SlotTrace) Empty() bool { return s.AllTokens.Count == 0 }

// Stats returns the statistics for a sample.
func (s *SlotTrace) Stats(sample Sample) (Stats, bool) {
	switch sample {
	case SampleLastToken:
		return s.LastToken, true
	case SampleAllTokens:
		return s.AllTokens, true
	}
	return Stats{}, false
}

// LayerTrace holds the ten slots of one layer.
type LayerTrace struct {
	Layer int
	Slots [NumSlots]SlotTrace
}

type layerJSON struct {
	Layer int                   `json:"layer"`
	Slots map[string]*SlotTrace `json:"slots"`
}

// MarshalJSON writes the slots as an object keyed by slot name.
func (l LayerTrace) MarshalJSON() ([]byte, error) {
	j := layerJSON{Layer: l.Layer, Slots: make(map[string]*SlotTrace, NumSlots)}
	for i := range l.Slots {
		j.Slots[slotNames[i]] = &l.Slots[i]
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a layer, refusing unknown slot names.
func (l *LayerTrace) UnmarshalJSON(b []byte) error {
	var j layerJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	l.Layer = j.Layer
	for name, st := range j.Slots {
		s, ok := ParseSlot(name)
		if !ok {
			return fmt.Errorf("layer %d: unknown slot %q", j.Layer, name)
		}
		if st != nil {
			l.Slots[s] = *st
		}
	}
	return nil
}

// Provenance says what produced a trace.
type Provenance struct {
	Model         string  `json:"model"`
	SHA256        string  `json:"sha256"`
	Format        string  `json:"format"`
	Arch          string  `json:"architecture,omitempty"`
	Backend       string  `json:"backend"`          // the backend's registry name
	Device        string  `json:"device,omitempty"` // what the backend computed on (its Device())
	Matmul        string  `json:"matmul"`
	Threads       int     `json:"threads"`
	EngineVersion string  `json:"engine_version"`
	Seconds       float64 `json:"seconds"`
	StartedAt     string  `json:"started_at,omitempty"`
}

// Trace is a traced forward pass over a prompt (capture-points.md, "Trace
// JSON").
type Trace struct {
	Tokens     []int32      `json:"tokens"`
	Provenance Provenance   `json:"provenance"`
	Embed      SlotTrace    `json:"embed"`
	Layers     []LayerTrace `json:"layers"`
	FinalNorm  SlotTrace    `json:"final_norm"`
	Logits     SlotTrace    `json:"logits"`
}

// Slot returns the named slot of a layer, or of the whole model when layer
// is -1 ("embed", "final_norm", "logits").
func (t *Trace) Slot(layer int, name string) (*SlotTrace, error) {
	if layer < 0 {
		switch name {
		case "embed":
			return &t.Embed, nil
		case "final_norm":
			return &t.FinalNorm, nil
		case "logits":
			return &t.Logits, nil
		}
		return nil, fmt.Errorf("no model-level slot %q (embed, final_norm, logits)", name)
	}
	if layer >= len(t.Layers) {
		return nil, fmt.Errorf("layer %d out of range (trace has %d layers)", layer, len(t.Layers))
	}
	s, ok := ParseSlot(name)
	if !ok {
		return nil, fmt.Errorf("unknown slot %q", name)
	}
	return &t.Layers[layer].Slots[s], nil
}

// SlotFromPositions builds a slot record from every position's vector (for
// traces made elsewhere, such as llama.cpp goldens): statistics over the
// last position and over all of them, the last vector, and the positions.
func SlotFromPositions(rows [][]float32) SlotTrace {
	if len(rows) == 0 {
		return SlotTrace{}
	}
	var all []float32
	st := SlotTrace{Positions: make([]Vector, len(rows))}
	for i, r := range rows {
		all = append(all, r...)
		st.Positions[i] = Vector(r)
	}
	st.AllTokens = ComputeStats(all)
	st.LastToken = ComputeStats(rows[len(rows)-1])
	st.Last = Vector(rows[len(rows)-1])
	return st
}
