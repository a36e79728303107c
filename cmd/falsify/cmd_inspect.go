package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
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
	FileType string          `json:"file_type,omitempty"` // general.file_type as llama.cpp names it
	Size     int64           `json:"size_bytes"`
	Metadata []inspectKV     `json:"metadata"`
	Tensors  []inspectTensor `json:"tensors"`
	// Filter is the --tensors pattern; Tensors then lists only the
	// matching ones while Summary still covers every tensor.
	Filter  string         `json:"tensor_filter,omitempty"`
	Summary inspectSummary `json:"summary"`
	Extra   map[string]any `json:"extra,omitempty"` // format-specific facts (APR flags, checksums)
	// Warnings say what the engine would do differently from the file's
	// contents: tensors it does not use, or why it refuses the model.
	Warnings []string `json:"warnings,omitempty"`
}

type inspectKV struct {
	Key    string `json:"key"`
	Type   string `json:"type"`
	Length *int   `json:"length,omitempty"` // arrays only
	Value  any    `json:"value"`
	Name   string `json:"name,omitempty"` // general.file_type: llama.cpp's name of the value
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
	fs := newFlagSet("inspect", "inspect [--json] [--full] [--tensors PATTERN] MODEL\n\n"+
		"MODEL is a .gguf or .apr file or builtin:NAME (see 'falsify models').", stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	full := fs.Bool("full", false, "print whole metadata arrays (default: first 8 elements)")
	filter := fs.String("tensors", "", "list only the tensors whose name matches this glob (e.g. 'blk.0.*', '*attn_q*'); the summary still counts all")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("inspect takes one model file, got %d arguments", len(pos))
	}
	file, err := modelArg(pos[0])
	if err != nil {
		return err
	}
	inspect, ok := inspectors[strings.ToLower(filepath.Ext(file))]
	if !ok {
		return usagef("%s: unknown model format (want %s)", file, knownExtensions())
	}
	info, err := inspect(file, *full)
	if err != nil {
		return err
	}
	info.Path = pos[0] // builtin:NAME as typed, not its cache path
	info.Warnings = append(info.Warnings, engineWarnings(file, len(info.Tensors))...)
	if *filter != "" {
		if _, err := path.Match(*filter, ""); err != nil {
			return usagef("--tensors %q: %v", *filter, err)
		}
		info.Filter = *filter
		kept := []inspectTensor{}
		for _, t := range info.Tensors {
			if ok, _ := path.Match(*filter, t.Name); ok {
				kept = append(kept, t)
			}
		}
		info.Tensors = kept
	}
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
	info := &inspection{Path: path, Format: "gguf", Version: fmt.Sprint(f.Version), Size: f.Size(),
		Metadata: []inspectKV{}, Tensors: []inspectTensor{}}
	for _, kv := range f.Metadata.KVs() {
		d := describeKV(kv, full)
		if kv.Key == gguf.KeyFileType {
			if v, ok := kv.Value.(uint32); ok {
				info.FileType = ftypeName(v)
				d.Name = info.FileType
			}
		}
		info.Metadata = append(info.Metadata, d)
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
	fmt.Fprintf(w, "%s: %s v%s, %d bytes, %d tensors, %d parameters", info.Path, strings.ToUpper(info.Format), info.Version, info.Size, info.Summary.Tensors, info.Summary.Parameters)
	if info.FileType != "" {
		fmt.Fprintf(w, ", file type %s", info.FileType)
	}
	fmt.Fprint(w, "\n\n")
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
	if info.Filter != "" {
		fmt.Fprintf(w, "(%d of %d tensors match %q)\n", len(info.Tensors), info.Summary.Tensors, info.Filter)
	}
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
	if kv.Name != "" {
		s += " (" + kv.Name + ")"
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

// ftypeNames are llama.cpp's names of general.file_type values (enum
// llama_ftype), as its loader prints them ("file type = Q4_K - Medium").
var ftypeNames = map[uint32]string{
	0: "all F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_1, some F16",
	7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K - Medium", 11: "Q3_K - Small", 12: "Q3_K - Medium", 13: "Q3_K - Large",
	14: "Q4_K - Small", 15: "Q4_K - Medium", 16: "Q5_K - Small", 17: "Q5_K - Medium",
	18: "Q6_K", 19: "IQ2_XXS - 2.0625 bpw", 20: "IQ2_XS - 2.3125 bpw", 21: "Q2_K - Small",
	22: "IQ3_XS - 3.3 bpw", 23: "IQ3_XXS - 3.0625 bpw", 24: "IQ1_S - 1.5625 bpw",
	25: "IQ4_NL - 4.5 bpw", 26: "IQ3_S - 3.4375 bpw", 27: "IQ3_S mix - 3.66 bpw",
	28: "IQ2_S - 2.5 bpw", 29: "IQ2_M - 2.7 bpw", 30: "IQ4_XS - 4.25 bpw",
	31: "IQ1_M - 1.75 bpw", 32: "BF16", 36: "TQ1_0 - 1.69 bpw ternary",
	37: "TQ2_0 - 2.06 bpw ternary", 38: "MXFP4 MoE",
}

// llamaFtypeGuessed is the flag llama.cpp ORs into a file type it inferred.
const llamaFtypeGuessed = 1024

// ftypeName returns llama.cpp's name of a general.file_type value, or
// "unknown, may not work" as llama.cpp says for values it does not know.
func ftypeName(v uint32) string {
	if v&llamaFtypeGuessed != 0 {
		return ftypeName(v&^llamaFtypeGuessed) + " (guessed)"
	}
	if n, ok := ftypeNames[v]; ok {
		return n
	}
	return "unknown, may not work"
}
