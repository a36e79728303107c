package trace

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The vector side-car is a safetensors file
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte
// range, then the raw little-endian data. Only F32 tensors of rank 2
// ([positions, width]) are written and read. Tensor names are the trace
// JSON paths: "embed", "layers.L.SLOT", "final_norm", "logits".

// maxSafetensorsHeader bounds the JSON header a reader accepts (100 MB, as
// the safetensors reference implementation does).
const maxSafetensorsHeader = 100 << 20

type stEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// sidecarName is the side-car tensor name of slot s at layer l (l ignored
// for the global slots).
func sidecarName(l int, s Slot) string {
	if s.IsLayer() {
		return "layers." + strconv.Itoa(l) + "." + string(s)
	}
	return string(s)
}

// eachSlot calls f for every slot record of t in file order.
func (t *Trace) eachSlot(f func(l int, s Slot, st *SlotTrace) error) error {
	if err := f(-1, SlotEmbed, &t.Embed); err != nil {
		return err
	}
	for i := range t.Layers {
		for j, s := range layerSlots {
			if err := f(i, s, &t.Layers[i].Slots[j]); err != nil {
				return err
			}
		}
	}
	if err := f(-1, SlotFinalNorm, &t.FinalNorm); err != nil {
		return err
	}
	return f(-1, SlotLogits, &t.Logits)
}

// slotRows returns the rows a slot keeps: every position when it has
// them, else the last one alone; nil for a slot without vectors.
func slotRows(st *SlotTrace) []Vector {
	if len(st.Positions) > 0 {
		return st.Positions
	}
	if len(st.Last) > 0 {
		return []Vector{st.Last}
	}
	return nil
}

// writeSafetensors writes every slot's rows of t to w as F32 tensors of
// shape [rows, width].
func writeSafetensors(w io.Writer, t *Trace) error {
	header := map[string]any{"__metadata__": map[string]string{"format": FileFormat, "version": strconv.Itoa(FileVersion)}}
	type item struct {
		rows []Vector
	}
	var order []item
	var off int64
	err := t.eachSlot(func(l int, s Slot, st *SlotTrace) error {
		rows := slotRows(st)
		if len(rows) == 0 {
			return nil
		}
		width := len(rows[0])
		for i, r := range rows {
			if len(r) != width {
				return fmt.Errorf("%s: row %d has %d values, row 0 has %d", sidecarName(l, s), i, len(r), width)
			}
		}
		n := int64(len(rows)) * int64(width) * 4
		header[sidecarName(l, s)] = stEntry{DType: "F32", Shape: []int64{int64(len(rows)), int64(width)}, DataOffsets: [2]int64{off, off + n}}
		off += n
		order = append(order, item{rows})
		return nil
	})
	if err != nil {
		return err
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces so the data starts 8-byte aligned.
	for (8+len(hb))%8 != 0 {
		hb = append(hb, ' ')
	}
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hb)))
	if _, err := w.Write(lenb[:]); err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	var buf []byte
	for _, it := range order {
		for _, r := range it.rows {
			buf = buf[:0]
			for _, x := range r {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
	}
	return nil
}

// sidecar is an opened safetensors file: its header and the file to read
// tensors from.
type sidecar struct {
	path    string
	f       *os.File
	size    int64
	dataOff int64
	entries map[string]stEntry
}

func openSafetensors(path string) (*sidecar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sc := &sidecar{path: path, f: f, size: fi.Size()}
	fail := func(format string, a ...any) (*sidecar, error) {
		f.Close()
		return nil, fmt.Errorf("vector side-car %s: "+format, append([]any{path}, a...)...)
	}
	var lenb [8]byte
	if _, err := io.ReadFull(f, lenb[:]); err != nil {
		return fail("header length: %v", err)
	}
	hl := binary.LittleEndian.Uint64(lenb[:])
	if hl > maxSafetensorsHeader || int64(hl) > sc.size-8 {
		return fail("header length %d does not fit the %d-byte file", hl, sc.size)
	}
	hb := make([]byte, hl)
	if _, err := io.ReadFull(f, hb); err != nil {
		return fail("header: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return fail("header is not a JSON object: %v", err)
	}
	sc.dataOff = 8 + int64(hl)
	sc.entries = make(map[string]stEntry, len(raw))
	for name, r := range raw {
		if name == "__metadata__" {
			continue
		}
		var e stEntry
		if err := json.Unmarshal(r, &e); err != nil {
			return fail("tensor %q: %v", name, err)
		}
		if e.DType != "F32" {
			return fail("tensor %q: dtype %q (only F32 is read)", name, e.DType)
		}
		if len(e.Shape) != 2 || e.Shape[0] < 0 || e.Shape[1] < 0 {
			return fail("tensor %q: shape %v (want [positions, width])", name, e.Shape)
		}
		n := e.Shape[0] * e.Shape[1] * 4
		if e.DataOffsets[0] < 0 || e.DataOffsets[1]-e.DataOffsets[0] != n || sc.dataOff+e.DataOffsets[1] > sc.size {
			return fail("tensor %q: data_offsets %v do not hold shape %v inside the %d-byte file", name, e.DataOffsets, e.Shape, sc.size)
		}
		sc.entries[name] = e
	}
	return sc, nil
}

// rows reads tensor name as [positions][width]float32.
func (sc *sidecar) rows(name string) ([]Vector, error) {
	e, ok := sc.entries[name]
	if !ok {
		return nil, nil
	}
	n, w := int(e.Shape[0]), int(e.Shape[1])
	buf := make([]byte, n*w*4)
	if _, err := sc.f.ReadAt(buf, sc.dataOff+e.DataOffsets[0]); err != nil {
		return nil, fmt.Errorf("vector side-car %s: tensor %q: %w", sc.path, name, err)
	}
	flat := make([]float32, n*w)
	for i := range flat {
		flat[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	out := make([]Vector, n)
	for i := range out {
		out[i] = Vector(flat[i*w : (i+1)*w : (i+1)*w])
	}
	return out, nil
}

// names lists the tensors of the side-car, sorted.
func (sc *sidecar) names() []string {
	out := make([]string, 0, len(sc.entries))
	for k := range sc.entries {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (sc *sidecar) Close() error { return sc.f.Close() }

// knownSidecarName reports whether name is one a trace of nLayers layers
// can hold.
func knownSidecarName(name string, nLayers int) bool {
	switch Slot(name) {
	case SlotEmbed, SlotFinalNorm, SlotLogits:
		return true
	}
	rest, ok := strings.CutPrefix(name, "layers.")
	if !ok {
		return false
	}
	ls, s, ok := strings.Cut(rest, ".")
	l, err := strconv.Atoi(ls)
	return ok && err == nil && l >= 0 && l < nLayers && Slot(s).IsLayer()
}

// WriteSafetensorsTo writes t's vectors as a safetensors side-car to w
// (what WriteFile writes beside the JSON).
func WriteSafetensorsTo(w io.Writer, t *Trace) error { return writeSafetensors(w, t) }
