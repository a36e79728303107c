package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/falsify/falsify/engine/apr"
	"github.com/falsify/falsify/engine/gguf"
)

func init() {
	register("convert", "convert a GGUF model to APR v2 as aprender's importer does", runConvert)
}

// progressThreshold is the tensor data size above which convert reports
// progress by default: below it the whole conversion takes well under a
// second.
const progressThreshold = 256 << 20

// convertSummary is what convert prints (--json: as JSON).
type convertSummary struct {
	Input       string             `json:"input"`
	Output      string             `json:"output"`
	InputBytes  int64              `json:"input_bytes"`
	OutputBytes int64              `json:"output_bytes"`
	Seconds     float64            `json:"seconds"`
	Report      *apr.ConvertReport `json:"conversion"`
}

func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert", "convert [--json] [--f32] [--progress auto|always|never] MODEL.gguf OUT.apr", stderr)
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout")
	progress := fs.String("progress", "auto", "progress on stderr: auto (models over 256 MiB), always or never")
	forceF32 := fs.Bool("f32", false, "dequantize every tensor to F32 even when all types could be copied")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("convert takes a GGUF model and an output path, got %d arguments", len(pos))
	}
	if *progress != "auto" && *progress != "always" && *progress != "never" {
		return usagef("--progress %q: want auto, always or never", *progress)
	}
	in, out := pos[0], pos[1]
	if filepath.Clean(in) == filepath.Clean(out) {
		return usagef("convert: the output %s would overwrite the input", out)
	}
	start := time.Now()
	g, err := gguf.Open(in)
	if err != nil {
		return err
	}
	defer g.Close()
	w, rep, err := apr.FromGGUFWith(g, apr.ConvertOptions{ForceF32: *forceF32})
	if err != nil {
		return err
	}
	if len(rep.FallbackTypes) > 0 {
		fmt.Fprintf(stderr, "%s: %s cannot be stored in APR; dequantizing every tensor to F32, as aprender's importer does\n", in, strings.Join(rep.FallbackTypes, ", "))
	}
	if *progress == "always" || (*progress == "auto" && rep.TensorBytes > progressThreshold) {
		w.Progress = progressPrinter(ctx, stderr, rep.TensorBytes)
	} else {
		w.Progress = func(int, int, string, int64) error { return ctx.Err() }
	}
	n, err := w.WriteFile(out)
	if err != nil {
		return err
	}
	sum := convertSummary{Input: in, Output: out, InputBytes: g.Size(), OutputBytes: n, Seconds: time.Since(start).Seconds(), Report: rep}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	printConvertSummary(stdout, &sum)
	return nil
}

// progressPrinter reports tensor i/N and bytes at most about once a second
// (and for the last tensor); it stops the write when ctx is cancelled.
func progressPrinter(ctx context.Context, stderr io.Writer, total uint64) func(int, int, string, int64) error {
	var last time.Time
	return func(i, n int, name string, written int64) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(last) < time.Second && i != n-1 {
			return nil
		}
		last = time.Now()
		fmt.Fprintf(stderr, "tensor %d/%d %s (%s of %s written)\n", i+1, n, name, humanBytes(uint64(max(written, 0))), humanBytes(total))
		return nil
	}
}

func printConvertSummary(w io.Writer, s *convertSummary) {
	r := s.Report
	fmt.Fprintf(w, "%s -> %s: %d tensors, %s in %s, %s out, %.2fs\n", s.Input, s.Output, len(r.Tensors), r.Arch, humanBytes(uint64(s.InputBytes)), humanBytes(uint64(s.OutputBytes)), s.Seconds)
	fmt.Fprintf(w, "GGUF types: %s\n", typeCounts(r.SourceTypes))
	fmt.Fprintf(w, "APR types:  %s\n", typeCounts(r.OutputTypes))
	switch {
	case len(r.FallbackTypes) > 0:
		fmt.Fprintf(w, "F32 fallback: APR cannot store %s, so every tensor was dequantized to F32 (aprender's importer fallback); the APR model's numbers differ from the GGUF engine's quantized path\n", strings.Join(r.FallbackTypes, ", "))
	case r.Fallback:
		fmt.Fprintln(w, "every tensor dequantized to F32 (--f32)")
	default:
		fmt.Fprintln(w, "tensors copied byte for byte")
	}
	if r.HFNames {
		fmt.Fprintf(w, "names: Hugging Face (%s)\n", r.Arch)
	} else {
		fmt.Fprintln(w, "names: as in the GGUF file")
	}
	if r.TiedEmbeddings {
		fmt.Fprintln(w, "tied embeddings: lm_head.weight written as a copy of the token embedding")
	}
}

func typeCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	parts := make([]string, 0, len(keys))
	for _, k := range sortedStrings(keys) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
