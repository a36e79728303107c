package contracts

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Slot names a capture point (specs/capture-points.md).
type Slot string

// The ten per-layer slots, in forward order, and the three beside the
// layers.
const (
	SlotAttnNorm       Slot = "attn_norm"
	SlotQKV            Slot = "qkv"
	SlotAttnOut        Slot = "attn_out"
	SlotFFNNorm        Slot = "ffn_norm"
	SlotFFNGate        Slot = "ffn_gate"
	SlotFFNUp          Slot = "ffn_up"
	SlotFFNSiluGate    Slot = "ffn_silu_gate"
	SlotFFNSwigluInner Slot = "ffn_swiglu_inner"
	SlotFFNOut         Slot = "ffn_out"
	SlotOutput         Slot = "output"

	SlotEmbed     Slot = "embed"
	SlotFinalNorm Slot = "final_norm"
	SlotLogits    Slot = "logits"
)

// LayerSlots returns the ten per-layer slots in forward order.
func LayerSlots() []Slot {
	return []Slot{SlotAttnNorm, SlotQKV, SlotAttnOut, SlotFFNNorm, SlotFFNGate,
		SlotFFNUp, SlotFFNSiluGate, SlotFFNSwigluInner, SlotFFNOut, SlotOutput}
}

// GlobalSlots returns the slots outside the layers.
func GlobalSlots() []Slot { return []Slot{SlotEmbed, SlotFinalNorm, SlotLogits} }

// IsLayer reports whether s is one of the ten per-layer slots.
func (s Slot) IsLayer() bool { return slices.Contains(LayerSlots(), s) }

// Known reports whether s is a slot of capture-points.md.
func (s Slot) Known() bool { return s.IsLayer() || slices.Contains(GlobalSlots(), s) }

// Stat is a statistic of a slot sample (capture-points.md, Statistics).
type Stat string

// Statistics a ratio_band gate can compare.
const (
	StatMean   Stat = "mean"
	StatStd    Stat = "std"
	StatMin    Stat = "min"
	StatMax    Stat = "max"
	StatRMS    Stat = "rms"
	StatAbsMax Stat = "abs_max"
	StatL2     Stat = "l2"
)

// Stats lists the known statistics.
func Stats() []Stat {
	return []Stat{StatMean, StatStd, StatMin, StatMax, StatRMS, StatAbsMax, StatL2}
}

// Known reports whether s is a known statistic.
func (s Stat) Known() bool { return slices.Contains(Stats(), s) }

// Sample names which token positions a statistic is taken over.
type Sample string

// Samples.
const (
	SampleLastToken Sample = "last_token"
	SampleAllTokens Sample = "all_tokens"
)

// Samples lists both samples.
func Samples() []Sample { return []Sample{SampleLastToken, SampleAllTokens} }

// Known reports whether s is a known sample.
func (s Sample) Known() bool { return slices.Contains(Samples(), s) }

// Metric is a vector comparison between two subjects.
type Metric string

// Metrics.
const (
	// MetricNMSE is sum((a-b)^2) / sum(b^2), b the second subject.
	MetricNMSE Metric = "nmse"
	// MetricCosine is the cosine similarity of a and b.
	MetricCosine Metric = "cosine"
	// MetricSQNR is 10*log10(sum(b^2) / sum((a-b)^2)) in dB.
	MetricSQNR Metric = "sqnr"
	// MetricMaxAbs is max |a-b|.
	MetricMaxAbs Metric = "max_abs"
	// MetricRelL2 is ||a-b|| / ||b||.
	MetricRelL2 Metric = "rel_l2"
)

// Metrics lists the known metrics.
func Metrics() []Metric {
	return []Metric{MetricNMSE, MetricCosine, MetricSQNR, MetricMaxAbs, MetricRelL2}
}

// Known reports whether m is a known metric.
func (m Metric) Known() bool { return slices.Contains(Metrics(), m) }

// HigherIsBetter reports whether larger values of m mean closer vectors
// (cosine, SQNR); those belong under metric_min, the others under
// metric_max.
func (m Metric) HigherIsBetter() bool { return m == MetricCosine || m == MetricSQNR }

// Positions says which token positions' vectors a comparison uses.
type Positions string

// Positions.
const (
	// PositionsLast compares the last prompt position's vectors.
	PositionsLast Positions = "last"
	// PositionsAll compares every position (the trace must hold them all).
	PositionsAll Positions = "all"
)

// Known reports whether p is a known positions value.
func (p Positions) Known() bool { return p == PositionsLast || p == PositionsAll }

// Band is an inclusive interval [Lo, Hi]; a valid band has finite ends and
// Lo <= Hi.
type Band struct {
	Lo, Hi float64
}

// Contains reports whether v lies in the band, ends included. NaN and
// infinities are never contained.
func (b Band) Contains(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return v >= b.Lo && v <= b.Hi
}

func (b Band) String() string {
	return fmt.Sprintf("[%s, %s]", strconv.FormatFloat(b.Lo, 'g', -1, 64), strconv.FormatFloat(b.Hi, 'g', -1, 64))
}

// Layers selects layers: every layer of the model, or a list.
type Layers struct {
	All  bool
	List []int // when !All, in file order
}

// AllLayers is the "all" selection.
var AllLayers = Layers{All: true}

// Select returns the selected layer indices for a model with n layers,
// and the listed layers that do not exist in it.
func (l Layers) Select(n int) (layers, missing []int) {
	if l.All {
		layers = make([]int, n)
		for i := range layers {
			layers[i] = i
		}
		return layers, nil
	}
	for _, i := range l.List {
		if i < 0 || i >= n {
			missing = append(missing, i)
			continue
		}
		layers = append(layers, i)
	}
	return layers, missing
}

func (l Layers) String() string {
	if l.All {
		return "all"
	}
	return fmt.Sprint(l.List)
}
