package trace

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// GoldenSchema is the schema tag of the golden forward files this reader
// knows.
const GoldenSchema = "golden-forward/v1"

// Golden is a llama.cpp golden forward file (fixtures golden/forward,
// schema golden-forward/v1) as written: every position's vector (one row
// per token) of every capture point. Layers may hold tensors besides the
// ten slots (kqv_out: attention before the output projection, so every
// op can be fed its golden input); Trace ignores those.
type Golden struct {
	Schema    string `json:"schema"`
	Reference struct {
		Engine  string `json:"engine"`
		Version string `json:"version"`
		Backend string `json:"backend"`
	} `json:"reference"`
	Model struct {
		File   string `json:"file"`
		SHA256 string `json:"sha256"`
	} `json:"model"`
	Tokens    []int32                  `json:"tokens"`
	Embed     [][]float32              `json:"embed"`
	Layers    []map[string][][]float32 `json:"layers"`
	FinalNorm [][]float32              `json:"final_norm"`
	Logits    [][]float32              `json:"logits"`
}

// Rows returns the golden rows of slot s (layer l ignored for embed,
// final_norm and logits), or of another tensor a layer holds (kqv_out);
// nil when absent.
func (g *Golden) Rows(l int, s Slot) [][]float32 {
	switch s {
	case SlotEmbed:
		return g.Embed
	case SlotFinalNorm:
		return g.FinalNorm
	case SlotLogits:
		return g.Logits
	}
	if l < 0 || l >= len(g.Layers) {
		return nil
	}
	return g.Layers[l][string(s)]
}

// ReadGolden reads a golden forward file: gzip-compressed JSON as the
// fixtures ship it, or plain JSON. It checks the schema tag (a missing one
// is accepted), that there are tokens and layers, and that every slot of
// capture-points.md is there with one row per token; errors name the file
// and what is missing.
func ReadGolden(path string) (*Golden, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("golden: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("golden %s: %w", path, err)
		}
		r = zr
	}
	g := &Golden{}
	if err := json.NewDecoder(r).Decode(g); err != nil {
		return nil, fmt.Errorf("golden %s: %w", path, err)
	}
	if g.Schema != "" && g.Schema != GoldenSchema {
		return nil, fmt.Errorf("golden %s: schema %q, this reader knows %q", path, g.Schema, GoldenSchema)
	}
	if len(g.Tokens) == 0 || len(g.Layers) == 0 {
		return nil, fmt.Errorf("golden %s: no tokens or layers", path)
	}
	n := len(g.Tokens)
	check := func(where string, rows [][]float32, ok bool) error {
		if !ok {
			return fmt.Errorf("golden %s: %s is missing", path, where)
		}
		if len(rows) != n {
			return fmt.Errorf("golden %s: %s has %d positions for %d tokens", path, where, len(rows), n)
		}
		return nil
	}
	for _, s := range GlobalSlots() {
		if err := check(string(s), g.Rows(-1, s), true); err != nil {
			return nil, err
		}
	}
	for l, slots := range g.Layers {
		for _, s := range layerSlots {
			rows, ok := slots[string(s)]
			if err := check(fmt.Sprintf("layer %d slot %s", l, s), rows, ok); err != nil {
				return nil, err
			}
		}
	}
	return g, nil
}

// Trace returns the golden as a trace holding every position of every
// slot. Its provenance names the model file and SHA-256 the golden was
// made from, Format "golden", and the reference engine and its version
// (Backend, EngineVersion). The trace shares the golden's rows.
func (g *Golden) Trace() *Trace {
	tr := &Trace{Tokens: g.Tokens, Embed: SlotFromPositions(g.Embed),
		FinalNorm: SlotFromPositions(g.FinalNorm), Logits: SlotFromPositions(g.Logits)}
	for l, slots := range g.Layers {
		lt := LayerTrace{Layer: l}
		for i, s := range layerSlots {
			lt.Slots[i] = SlotFromPositions(slots[string(s)])
		}
		tr.Layers = append(tr.Layers, lt)
	}
	tr.Provenance = Provenance{Model: g.Model.File, SHA256: g.Model.SHA256, Format: "golden",
		Backend: g.Reference.Engine, EngineVersion: g.Reference.Version}
	return tr
}

// LoadGolden reads a golden forward file (ReadGolden) as a trace.
func LoadGolden(path string) (*Trace, error) {
	g, err := ReadGolden(path)
	if err != nil {
		return nil, err
	}
	return g.Trace(), nil
}
