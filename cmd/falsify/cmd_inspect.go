package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/falsify/falsify/engine"
	"github.com/falsify/falsify/engine/gguf"
)

func init() {
	register("inspect", "show a model file's metadata and tensor table", runInspect)
}

// inspection is the format-neutral view printed by inspect.
type inspection struct {
	Path     string          `json:"path"`
	Format   string          `json:"format"`
	Version  string          `json:"version"`
	Size     int64           `json:"size_bytes"`
	Metadata []inspectKV     `json:"metadata"`
	Tensors  []inspectTensor `json:"tensors"`
	Summary  inspectSummary  `json:"summary"`
	Extra    map[string]any  `json:"extra,omitempty"` // format-specific facts (APR flags, checksums)
	// Warnings say what the engine would do differently from the file's
	// contents: tensors it does not use, or why it refuses the model.
	Warnings []string `json:"warnings,omitempty"`
}

type inspectKV struct {
	Key    string `json:"key"`
	Type   string `json:"type"`
	Length *int   `json:"length,omitempty"` // arrays only
	Value  any    `json:"value"`
}

type inspectTensor struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Dims   []uint64 `json:"dims"`
	Offset uint64   `json:"offset"`
	Bytes  uint64   `json:"bytes"`
}

type inspectSummary struct {
	Tensors       int              `json:"tensors"`
	Parameters    uint64           `json:"parameters"`
	TensorBytes   uint64           `json:"tensor_bytes"`
	BytesByType   map[string]int64 `json:"bytes_by_type"`
	TensorsByType map[string]int   `json:"tensors_by_type"`
}

// inspectors maps a file extension to the reader that describes it.
var inspectors = map[string]func(path string, full bool) (*inspection, error){
	".gguf": inspectGGUF,
}

func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", "inspect [--json] [--full] MODEL", stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	full := fs.Bool("full", false, "print whole metadata arrays (default: first 8 elements)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("inspect takes one model file, got %d arguments", len(pos))
	}
	path := pos[0]
	inspect, ok := inspectors[strings.ToLower(filepath.Ext(path))]
	if !ok {
		return usagef("%s: unknown model format (want %s)", path, knownExtensions())
	}
	info, err := inspect(path, *full)
	if err != nil {
		return err
	}
	info.Warnings = append(info.Warnings, engineWarnings(path, len(info.Tensors))...)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	for _, w := range info.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return printInspection(stdout, info)
}

// engineWarnings loads a model file with tensors into the engine and
// reports the tensors it would not use, or why it refuses the model.
func engineWarnings(path string, tensors int) []string {
	if tensors == 0 {
		return nil
	}
	m, err := engine.Load(path)
	if err != nil {
		return []string{fmt.Sprintf("the engine refuses this model: %v", err)}
	}
	defer m.Close()
	if len(m.Unused) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d tensor(s) the engine does not use (llama.cpp refuses such a file; trace --strict refuses it): %s", len(m.Unused), strings.Join(m.Unused, ", "))}
}

func knownExtensions() string {
	exts := make([]string, 0, len(inspectors))
	for e := range inspectors {
		exts = append(exts, e)
	}
	return strings.Join(sortedStrings(exts), ", ")
}

func inspectGGUF(path string, full bool) (*inspection, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info := &inspection{Path: path, Format: "gguf", Version: fmt.Sprint(f.Version), Size: f.Size()}
	for _, kv := range f.Metadata.KVs() {
		info.Metadata = append(info.Metadata, describeKV(kv, full))
	}
	for _, t := range f.Tensors {
		info.Tensors = append(info.Tensors, inspectTensor{Name: t.Name, Type: t.Type.String(), Dims: t.Dims, Offset: f.DataOffset + t.Offset, Bytes: t.Size})
	}
	info.summarize()
	return info, nil
}

func (info *inspection) summarize() {
	s := inspectSummary{Tensors: len(info.Tensors), BytesByType: map[string]int64{}, TensorsByType: map[string]int{}}
	for _, t := range info.Tensors {
		n := uint64(1)
		for _, d := range t.Dims {
			n *= d
		}
		s.Parameters += n
		s.TensorBytes += t.Bytes
		s.BytesByType[t.Type] += int64(t.Bytes)
		s.TensorsByType[t.Type]++
	}
	info.Summary = s
}

const previewLen = 8

func describeKV(kv gguf.KV, full bool) inspectKV {
	out := inspectKV{Key: kv.Key, Type: kv.Type.String(), Value: kv.Value}
	if a, ok := kv.Value.(gguf.Array); ok {
		n := a.Len()
		out.Length = &n
		out.Type = "array[" + a.Elem.String() + "]"
		out.Value = arrayPreview(a, full)
	}
	return out
}

// arrayPreview returns the array's values, cut to previewLen unless full.
func arrayPreview(a gguf.Array, full bool) any {
	n := a.Len()
	if b, ok := a.Values.([]uint8); ok {
		// encoding/json would print a []uint8 as base64.
		ints := make([]int, len(b))
		for i, x := range b {
			ints[i] = int(x)
		}
		a = gguf.Array{Elem: gguf.TypeInt64, Values: ints}
	}
	if full || n <= previewLen {
		if nested, ok := a.Values.([]gguf.Array); ok {
			out := make([]any, len(nested))
			for i, x := range nested {
				out[i] = arrayPreview(x, full)
			}
			return out
		}
		return a.Values
	}
	switch v := a.Values.(type) {
	case []string:
		return v[:previewLen]
	case []float32:
		return v[:previewLen]
	case []int32:
		return v[:previewLen]
	case []uint32:
		return v[:previewLen]
	case []int:
		return v[:previewLen]
	case []int64:
		return v[:previewLen]
	case []uint64:
		return v[:previewLen]
	case []float64:
		return v[:previewLen]
	case []gguf.Array:
		out := make([]any, previewLen)
		for i, x := range v[:previewLen] {
			out[i] = arrayPreview(x, false)
		}
		return out
	}
	return fmt.Sprintf("(%d values)", n)
}

func printInspection(w io.Writer, info *inspection) error {
	fmt.Fprintf(w, "%s: %s v%s, %d bytes, %d tensors, %d parameters\n\n", info.Path, strings.ToUpper(info.Format), info.Version, info.Size, info.Summary.Tensors, info.Summary.Parameters)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(info.Extra) > 0 {
		keys := make([]string, 0, len(info.Extra))
		for k := range info.Extra {
			keys = append(keys, k)
		}
		fmt.Fprintln(tw, "HEADER\tVALUE")
		for _, k := range sortedStrings(keys) {
			fmt.Fprintf(tw, "%s\t%v\n", k, info.Extra[k])
		}
		tw.Flush()
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	}
	fmt.Fprintln(tw, "KEY\tTYPE\tVALUE")
	for _, kv := range info.Metadata {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", kv.Key, kv.Type, formatValue(kv))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tTYPE\tDIMS\tBYTES")
	for _, t := range info.Tensors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", t.Name, t.Type, formatDims(t.Dims), t.Bytes)
	}
	tw.Flush()
	fmt.Fprintln(w)
	types := make([]string, 0, len(info.Summary.BytesByType))
	for t := range info.Summary.BytesByType {
		types = append(types, t)
	}
	for _, t := range sortedStrings(types) {
		fmt.Fprintf(w, "%-8s %4d tensors %12d bytes\n", t, info.Summary.TensorsByType[t], info.Summary.BytesByType[t])
	}
	return nil
}

func formatValue(kv inspectKV) string {
	s := ""
	switch v := kv.Value.(type) {
	case string:
		s = fmt.Sprintf("%q", v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	}
	if kv.Length != nil && *kv.Length > previewLen {
		s = fmt.Sprintf("(%d) %s ...", *kv.Length, strings.TrimSuffix(s, "]"))
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func formatDims(d []uint64) string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
