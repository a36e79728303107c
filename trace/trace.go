package trace

import (
	"encoding/json"
	"fmt"
)

// SlotTrace is what one capture point recorded.
type SlotTrace struct {
	LastToken Stats    `json:"last_token"`
	AllTokens Stats    `json:"all_tokens"`
	Last      Vector   `json:"last,omitempty"`      // the last position's vector; absent in a statistics-only trace
	Positions []Vector `json:"positions,omitempty"` // every position, when requested
}

// Empty reports whether the slot recorded nothing (no statistics, no
// vector), as for the gate slots of a non-gated FFN. A logits slot of a
// trace with last-position logits (Trace.LogitsPositions "last") has
// all_tokens count 0 but is not empty: it holds the last position.
func (s *SlotTrace) Empty() bool {
	return s.AllTokens.Count == 0 && s.LastToken.Count == 0 && len(s.Last) == 0 && len(s.Positions) == 0
}

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

// Rows returns the kept positions as plain float32 rows (sharing memory).
func (s *SlotTrace) Rows() [][]float32 {
	out := make([][]float32, len(s.Positions))
	for i, v := range s.Positions {
		out[i] = v
	}
	return out
}

// SlotFromPositions builds a slot record from every position's vector (for
// traces made elsewhere, such as llama.cpp goldens, and for traces whose
// positions were recorded one at a time): statistics over the last
// position and over all of them, the last vector, and the positions.
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

// LayerTrace holds the ten slots of one layer; Slots[i] is LayerSlots()[i].
type LayerTrace struct {
	Layer int
	Slots [NumLayerSlots]SlotTrace
}

// Slot returns the record of per-layer slot s, or nil when s is not one.
func (l *LayerTrace) Slot(s Slot) *SlotTrace {
	i := s.LayerIndex()
	if i < 0 {
		return nil
	}
	return &l.Slots[i]
}

type layerJSON struct {
	Layer int                 `json:"layer"`
	Slots map[Slot]*SlotTrace `json:"slots"`
}

// MarshalJSON writes the slots as an object keyed by slot name.
func (l LayerTrace) MarshalJSON() ([]byte, error) {
	j := layerJSON{Layer: l.Layer, Slots: make(map[Slot]*SlotTrace, NumLayerSlots)}
	for i, s := range layerSlots {
		j.Slots[s] = &l.Slots[i]
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
	for s, st := range j.Slots {
		i := s.LayerIndex()
		if i < 0 {
			return fmt.Errorf("layer %d: unknown slot %q", j.Layer, s)
		}
		if st != nil {
			l.Slots[i] = *st
		}
	}
	return nil
}

// Provenance says what produced a trace: the model file, the engine (or
// reference) and backend that ran it, and how. Fields a producer does not
// have (a golden file has no thread count) are left empty.
type Provenance struct {
	// Model is the model file the trace was made from.
	Model  string `json:"model"`
	SHA256 string `json:"sha256,omitempty"`
	// Format is gguf, apr or golden.
	Format string `json:"format,omitempty"`
	Arch   string `json:"architecture,omitempty"`
	// Backend names what computed the numbers: the engine backend, or
	// the reference engine and version of a golden.
	Backend string `json:"backend,omitempty"`
	// Device says what computed the numbers: the engine backend's
	// Device() (CPU model and SIMD level, GPU name and driver) or the
	// device a runtime such as llama.cpp names; empty for a golden.
	Device        string     `json:"device,omitempty"`
	Matmul        MatmulMode `json:"matmul,omitempty"`
	Threads       int        `json:"threads"`
	EngineVersion string     `json:"engine_version,omitempty"`
	// Seconds is the forward pass's wall time (informational).
	Seconds   float64 `json:"seconds,omitempty"`
	StartedAt string  `json:"started_at,omitempty"`
	// UnusedTensors lists the model's tensors the forward pass never read
	// (engine Model.Unused): llama.cpp would refuse such a file.
	UnusedTensors []string `json:"unused_tensors,omitempty"`
	// Libraries are the shared libraries that computed the numbers, with
	// their SHA-256 (llama.cpp subjects).
	Libraries []Library `json:"libraries,omitempty"`
	// Options are runtime settings that change the numbers (llama.cpp's
	// kv_type, flash_attn; prefill for a decode-path run).
	Options map[string]string `json:"options,omitempty"`
	// Warnings are conditions under which llama.cpp also runs but warns
	// (engine Model.Warnings), e.g. a prompt past the training context.
	Warnings []string `json:"warnings,omitempty"`
}

// Library is one shared library a runtime loaded.
type Library struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
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
	// LogitsPositions says which positions' logits the trace computed:
	// PositionsAll, or PositionsLast when the producer computed the last
	// position's logits only (the engine's default, engine
	// Options.AllLogits): the logits slot then has last_token and last,
	// all_tokens count 0 and no positions, whatever the other slots keep.
	// Empty (traces written before the field, goldens, other engines'
	// traces) means all; use HasAllLogits.
	LogitsPositions Positions `json:"logits_positions,omitempty"`
	// Vectors, when set, names the safetensors side-car that holds the
	// vectors of a trace file (ReadFile loads them into the slots).
	Vectors *VectorsRef `json:"-"`
	// format and version are what a read file declared (ReadFile checks
	// them); MarshalJSON always writes FileFormat and FileVersion.
	format  string
	version int
}

// Slot returns slot s of layer l, or for a slot beside the layers (embed,
// final_norm, logits) the model-level record, l ignored. It fails for an
// unknown slot or a layer the trace does not hold.
func (t *Trace) Slot(l int, s Slot) (*SlotTrace, error) {
	switch s {
	case SlotEmbed:
		return &t.Embed, nil
	case SlotFinalNorm:
		return &t.FinalNorm, nil
	case SlotLogits:
		return &t.Logits, nil
	}
	if !s.IsLayer() {
		return nil, fmt.Errorf("unknown slot %q", s)
	}
	if l < 0 || l >= len(t.Layers) {
		return nil, fmt.Errorf("layer %d out of range (trace has %d layers)", l, len(t.Layers))
	}
	return t.Layers[l].Slot(s), nil
}

// HasAllPositions reports whether t kept every position's vectors, so it
// can be compared with PositionsAll.
func (t *Trace) HasAllPositions() bool {
	return len(t.Tokens) > 0 && len(t.Embed.Positions) == len(t.Tokens)
}

// HasAllLogits reports whether the trace's logits cover every position
// (LogitsPositions all or unset), so its logits can be compared over all
// positions or sample all_tokens; with PositionsLast only the last
// position's logits were computed.
func (t *Trace) HasAllLogits() bool { return t.LogitsPositions != PositionsLast }

// KeepLastLogits reduces the logits slot to the last position (last
// vector and last_token statistics) and marks the trace so, as a trace
// made with last-position logits has it. It does nothing to a trace whose
// logits hold no last vector (statistics only).
func (t *Trace) KeepLastLogits() {
	if len(t.Logits.Last) == 0 {
		return
	}
	t.Logits.AllTokens, t.Logits.Positions = Stats{}, nil
	t.LogitsPositions = PositionsLast
}

// DropPositions keeps only the last position's vector of every slot (the
// statistics stay as computed over every position).
func (t *Trace) DropPositions() {
	_ = t.eachSlot(func(_ int, _ Slot, st *SlotTrace) error {
		st.Positions = nil
		return nil
	})
}
