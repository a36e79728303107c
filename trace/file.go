package trace

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// FileFormat and FileVersion identify a trace file (docs/trace-format.md,
// docs/schemas/trace.schema.json). Every trace falsify writes carries
// them; a reader refuses another format name or a newer version.
const (
	FileFormat  = "falsify-trace"
	FileVersion = 1
)

// VectorsRef names the binary side-car that holds a trace's vectors when
// they are not inline: a safetensors file beside the JSON (File is
// relative to the JSON file's directory) and its SHA-256.
type VectorsRef struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// traceJSON is Trace's JSON form with the format header.
type traceJSON struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Vectors *VectorsRef `json:"vectors,omitempty"`
	traceAlias
}

type traceAlias Trace

// MarshalJSON writes the trace with its format name and version.
func (t Trace) MarshalJSON() ([]byte, error) {
	return json.Marshal(traceJSON{Format: FileFormat, Version: FileVersion, Vectors: t.Vectors, traceAlias: traceAlias(t)})
}

// UnmarshalJSON reads a trace; ReadFile adds the checks a file from
// another program needs.
func (t *Trace) UnmarshalJSON(b []byte) error {
	var j traceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*t = Trace(j.traceAlias)
	t.Vectors = j.Vectors
	t.format, t.version = j.Format, j.Version
	return nil
}

// MissingVectors names the first recorded slot (statistics present) that
// has no vector, or returns "" when every recorded slot has one. A
// statistics-only trace (as aprender's `apr trace` gives) can feed
// statistics gates but not a gate that compares vectors.
func (t *Trace) MissingVectors() string {
	where := ""
	_ = t.eachSlot(func(l int, s Slot, st *SlotTrace) error {
		if where == "" && (st.AllTokens.Count > 0 || st.LastToken.Count > 0) && len(st.Last) == 0 {
			where = sidecarName(l, s)
		}
		return nil
	})
	return where
}

// FileError is a trace file that cannot be used: the file, the field (a
// JSON path such as layers.3.slots.qkv.last) and why.
type FileError struct {
	Path  string
	Field string
	Err   error
}

func (e *FileError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("trace file %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("trace file %s: field %s: %v", e.Path, e.Field, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// ReadFile reads a trace file (docs/trace-format.md): the JSON, checked
// field by field, and its vector side-car when it names one. Errors are
// *FileError naming the file and the field.
func ReadFile(path string) (*Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	defer f.Close()
	return Decode(path, bufio.NewReader(f))
}

// Decode reads a trace file's JSON from r; path names it in errors and
// locates a side-car.
func Decode(path string, r io.Reader) (*Trace, error) {
	var t Trace
	dec := json.NewDecoder(r)
	if err := dec.Decode(&t); err != nil {
		return nil, jsonFileError(path, err)
	}
	ferr := func(field, format string, a ...any) error {
		return &FileError{Path: path, Field: field, Err: fmt.Errorf(format, a...)}
	}
	switch {
	case t.format == "":
		return nil, ferr("format", "missing; a trace file starts with \"format\": %q, \"version\": %d", FileFormat, FileVersion)
	case t.format != FileFormat:
		return nil, ferr("format", "%q is not %q", t.format, FileFormat)
	case t.version == 0:
		return nil, ferr("version", "missing (this falsify reads version %d)", FileVersion)
	case t.version > FileVersion:
		return nil, ferr("version", "%d is newer than this falsify reads (%d)", t.version, FileVersion)
	case t.version < 0:
		return nil, ferr("version", "%d is not a version", t.version)
	}
	if t.Vectors != nil {
		if err := t.loadSidecar(path); err != nil {
			return nil, err
		}
	}
	if err := t.check(path); err != nil {
		return nil, err
	}
	return &t, nil
}

// jsonFileError turns a decoding error into a FileError with the field
// path or the byte offset.
func jsonFileError(path string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := strings.TrimPrefix(te.Field, "traceAlias.")
		if field == "" {
			field = fmt.Sprintf("(byte %d)", te.Offset)
		}
		return &FileError{Path: path, Field: field, Err: fmt.Errorf("a JSON %s cannot be %s", te.Value, te.Type)}
	case errors.As(err, &se):
		return &FileError{Path: path, Err: fmt.Errorf("not valid JSON at byte %d: %v", se.Offset, err)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &FileError{Path: path, Err: fmt.Errorf("truncated JSON: %w", err)}
	}
	return &FileError{Path: path, Err: err}
}

// check verifies what JSON decoding cannot: layer numbering, a vector
// width per slot, positions matching the tokens, statistics counts
// matching the vectors.
func (t *Trace) check(path string) error {
	ferr := func(field, format string, a ...any) error {
		return &FileError{Path: path, Field: field, Err: fmt.Errorf(format, a...)}
	}
	if len(t.Tokens) == 0 {
		return ferr("tokens", "empty; a trace records at least one position")
	}
	for i, tok := range t.Tokens {
		if tok < 0 {
			return ferr(fmt.Sprintf("tokens.%d", i), "token id %d is negative", tok)
		}
	}
	if len(t.Layers) == 0 {
		return ferr("layers", "empty; a trace has at least one layer")
	}
	for i := range t.Layers {
		if t.Layers[i].Layer != i {
			return ferr(fmt.Sprintf("layers.%d.layer", i), "is %d; layers are listed in order from 0", t.Layers[i].Layer)
		}
	}
	switch t.LogitsPositions {
	case "", PositionsAll:
	case PositionsLast:
		// Only the last position's logits were computed: statistics or
		// vectors of every position would claim what was not measured.
		if c := t.Logits.AllTokens.Count; c != 0 {
			return ferr("logits.all_tokens.count", "%d, but logits_positions is last (only the last position's logits were computed): want 0", c)
		}
		if len(t.Logits.Positions) > 0 {
			return ferr("logits.positions", "%d rows, but logits_positions is last (only the last position's logits were computed)", len(t.Logits.Positions))
		}
	default:
		return ferr("logits_positions", "%q: want %q or %q", t.LogitsPositions, PositionsLast, PositionsAll)
	}
	n := len(t.Tokens)
	all := t.HasAllPositions()
	return t.eachSlot(func(l int, s Slot, st *SlotTrace) error {
		field := jsonPath(l, s)
		for _, c := range []struct {
			name string
			st   Stats
		}{{"last_token", st.LastToken}, {"all_tokens", st.AllTokens}} {
			if c.st.Count < 0 || c.st.NaNCount < 0 || c.st.InfCount < 0 || c.st.ZeroCount < 0 {
				return ferr(field+"."+c.name, "negative count")
			}
			if c.st.NaNCount+c.st.InfCount > c.st.Count || c.st.ZeroCount > c.st.Count {
				return ferr(field+"."+c.name, "nan_count+inf_count or zero_count exceeds count %d", c.st.Count)
			}
		}
		if len(st.Positions) > 0 && len(st.Positions) != n {
			return ferr(field+".positions", "%d rows for %d tokens", len(st.Positions), n)
		}
		// A trace keeps every position in every slot that has vectors, or
		// in none (logits with logits_positions last excepted): a
		// comparison of every position would otherwise skip this slot's
		// other positions and call the rest identical.
		if all && len(st.Positions) == 0 && len(st.Last) > 0 && !(s == SlotLogits && t.LogitsPositions == PositionsLast) {
			return ferr(field+".positions", "missing, but embed keeps every position's vector (%d): a trace keeps every position in every slot or in none", n)
		}
		w := len(st.Last)
		for i, p := range st.Positions {
			if len(p) != w {
				return ferr(fmt.Sprintf("%s.positions.%d", field, i), "%d values, last has %d", len(p), w)
			}
		}
		if len(st.Positions) > 0 && !sameBits(st.Positions[n-1], st.Last) {
			return ferr(field+".last", "differs from the last row of positions")
		}
		if w > 0 && st.LastToken.Count != 0 && st.LastToken.Count != w {
			return ferr(field+".last_token.count", "%d, but last holds %d values", st.LastToken.Count, w)
		}
		if len(st.Positions) > 0 && st.AllTokens.Count != 0 && st.AllTokens.Count != w*n {
			return ferr(field+".all_tokens.count", "%d, but positions hold %d x %d values", st.AllTokens.Count, n, w)
		}
		if w > 0 && st.LastToken.Count == 0 {
			// Vectors without statistics: compute them, so statistics gates
			// see what the vectors say.
			st.LastToken = ComputeStats(st.Last)
		}
		if len(st.Positions) > 0 && st.AllTokens.Count == 0 {
			st.AllTokens = SlotFromPositions(st.Rows()).AllTokens
		}
		// Statistics beside vectors must say what the vectors say: a
		// statistics gate reads the one, a vector gate the other, and a
		// NaN that the counts leave out would pass both.
		if w > 0 {
			if f, why := statsDisagree(st.LastToken, ComputeStats(st.Last)); f != "" {
				return ferr(field+".last_token."+f, "%s, but the last vector gives %s", why, statField(ComputeStats(st.Last), f))
			}
		}
		if len(st.Positions) > 0 {
			all := SlotFromPositions(st.Rows()).AllTokens
			if f, why := statsDisagree(st.AllTokens, all); f != "" {
				return ferr(field+".all_tokens."+f, "%s, but the positions give %s", why, statField(all, f))
			}
		}
		return nil
	})
}

func sameBits(a, b Vector) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

// jsonPath is slot s of layer l as a field path of the trace JSON.
func jsonPath(l int, s Slot) string {
	if s.IsLayer() {
		return fmt.Sprintf("layers.%d.slots.%s", l, s)
	}
	return string(s)
}

// loadSidecar reads the vectors of the side-car t.Vectors names (relative
// to the trace file's directory), after checking its SHA-256.
func (t *Trace) loadSidecar(path string) error {
	ferr := func(field string, err error) error { return &FileError{Path: path, Field: field, Err: err} }
	ref := t.Vectors
	if ref.File == "" {
		return ferr("vectors.file", errors.New("empty; name the safetensors side-car"))
	}
	if filepath.IsAbs(ref.File) || strings.Contains(filepath.ToSlash(ref.File), "..") {
		return ferr("vectors.file", fmt.Errorf("%q must be a path below the trace file's directory", ref.File))
	}
	scPath := filepath.Join(filepath.Dir(path), ref.File)
	sum, err := fileSHA256(scPath)
	if err != nil {
		return ferr("vectors.file", err)
	}
	if ref.SHA256 != sum {
		return ferr("vectors.sha256", fmt.Errorf("%s has sha256 %s, the trace names %q", scPath, sum, ref.SHA256))
	}
	sc, err := openSafetensors(scPath)
	if err != nil {
		return ferr("vectors.file", err)
	}
	defer sc.Close()
	for _, name := range sc.names() {
		if !knownSidecarName(name, len(t.Layers)) {
			return ferr("vectors.file", fmt.Errorf("%s: tensor %q is not a slot of this %d-layer trace", scPath, name, len(t.Layers)))
		}
	}
	n := len(t.Tokens)
	return t.eachSlot(func(l int, s Slot, st *SlotTrace) error {
		field := jsonPath(l, s)
		if len(st.Last) > 0 || len(st.Positions) > 0 {
			return ferr(field+".last", fmt.Errorf("vectors are in the side-car %s; the JSON must not repeat them", ref.File))
		}
		rows, err := sc.rows(sidecarName(l, s))
		if err != nil {
			return ferr("vectors.file", err)
		}
		switch {
		case len(rows) == 0:
			return nil
		case len(rows) == n:
			st.Positions = rows
		case len(rows) != 1:
			return ferr("vectors.file", fmt.Errorf("%s: tensor %q has %d rows; want 1 (last position) or %d (every position)", scPath, sidecarName(l, s), len(rows), n))
		}
		st.Last = rows[len(rows)-1]
		return nil
	})
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteFile writes t as a trace file at path. With sidecar set, the
// vectors go to a safetensors file of that name in path's directory and
// the JSON keeps only statistics and the reference; otherwise they are
// inline. Both files are written to temporary names and renamed.
func WriteFile(path string, t *Trace, sidecar string) error {
	out := *t
	if sidecar != "" {
		if strings.ContainsAny(sidecar, `/\`) {
			return fmt.Errorf("side-car %q: give a file name; it is written beside %s", sidecar, path)
		}
		scPath := filepath.Join(filepath.Dir(path), sidecar)
		var buf bytes.Buffer
		h := sha256.New()
		if err := writeAtomic(scPath, func(w io.Writer) error { return writeSafetensors(io.MultiWriter(w, h), t) }); err != nil {
			return err
		}
		buf.Reset()
		out.Vectors = &VectorsRef{File: sidecar, SHA256: hex.EncodeToString(h.Sum(nil))}
		out.stripVectors()
	}
	return writeAtomic(path, func(w io.Writer) error { return json.NewEncoder(w).Encode(&out) })
}

// stripVectors drops the vectors of a shallow copy (the layers are
// copied, the vectors shared with the original).
func (t *Trace) stripVectors() {
	t.Layers = append([]LayerTrace(nil), t.Layers...)
	_ = t.eachSlot(func(_ int, _ Slot, st *SlotTrace) error {
		st.Last, st.Positions = nil, nil
		return nil
	})
}

func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// statsTolerance is how far (relative) a statistic a trace file states may
// be from the one its own vectors give: room for another engine summing
// in float32 or in another order, far below any edit that matters.
const statsTolerance = 1e-5

// statsDisagree names the first statistic of stated that its vectors
// (computed) contradict, and says what was stated; "" when they agree.
// Counts must agree exactly.
func statsDisagree(stated, computed Stats) (field, why string) {
	for _, c := range []struct {
		name string
		a, b int
	}{{"count", stated.Count, computed.Count}, {"nan_count", stated.NaNCount, computed.NaNCount},
		{"inf_count", stated.InfCount, computed.InfCount}, {"zero_count", stated.ZeroCount, computed.ZeroCount}} {
		if c.a != c.b {
			return c.name, fmt.Sprintf("%d", c.a)
		}
	}
	for _, c := range []struct {
		name string
		a, b float64
	}{{"min", stated.Min, computed.Min}, {"max", stated.Max, computed.Max}, {"mean", stated.Mean, computed.Mean},
		{"std", stated.Std, computed.Std}, {"rms", stated.RMS, computed.RMS}, {"abs_max", stated.AbsMax, computed.AbsMax},
		{"l2", stated.L2, computed.L2}} {
		if c.a == c.b || (math.IsNaN(c.a) && math.IsNaN(c.b)) {
			continue
		}
		scale := math.Max(math.Abs(c.b), math.Max(computed.AbsMax, 1e-30))
		if !(math.Abs(c.a-c.b) <= statsTolerance*scale) {
			return c.name, fmt.Sprintf("%g", c.a)
		}
	}
	return "", ""
}

// statField formats one statistic of s by its JSON name.
func statField(s Stats, name string) string {
	switch name {
	case "count":
		return fmt.Sprint(s.Count)
	case "nan_count":
		return fmt.Sprint(s.NaNCount)
	case "inf_count":
		return fmt.Sprint(s.InfCount)
	case "zero_count":
		return fmt.Sprint(s.ZeroCount)
	case "min":
		return fmt.Sprintf("%g", s.Min)
	case "max":
		return fmt.Sprintf("%g", s.Max)
	case "mean":
		return fmt.Sprintf("%g", s.Mean)
	case "std":
		return fmt.Sprintf("%g", s.Std)
	case "rms":
		return fmt.Sprintf("%g", s.RMS)
	case "abs_max":
		return fmt.Sprintf("%g", s.AbsMax)
	}
	return fmt.Sprintf("%g", s.L2)
}
